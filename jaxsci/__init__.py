"""jaxsci: research methods as composable, jit-compiled JAX functions, trained by one shared loop.

Subpackages: ``jaxsci.core`` (the loop, steps, sharding, checkpoints, logging) and one package per
method (added as they land). Nothing here has global state: every random draw takes a key.
"""

__version__ = "0.1.0.dev0"
