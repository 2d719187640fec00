"""The shared core: one training loop for every method, and what it needs.

- :func:`fit`: run a pure ``step(state, batch, key) -> (state, metrics)`` under ``jit``, data-parallel.
- :func:`gradient_step`, :class:`TrainState`, :func:`init_train_state`: steps from pure losses.
- :func:`make_mesh`, :func:`shard_batch`, :func:`replicate`: the ``data`` mesh and placement.
- :class:`Checkpointer`: orbax checkpoints; :class:`ArrayLoader`: deterministic minibatches.
- :class:`FitConfig`, :class:`ConfigError`: the loop's config, with strict keys.
"""

from jaxsci.core.checkpoint import Checkpointer, latest_checkpoint_step
from jaxsci.core.config import ConfigError, FitConfig, apply_overrides, check_keys
from jaxsci.core.data import ArrayLoader, as_stream, map_chunks
from jaxsci.core.log import plot_metrics, read_metrics
from jaxsci.core.loop import FitResult, NonFiniteError, fit
from jaxsci.core.parallel import DATA_AXIS, make_mesh, replicate, replicated, shard_batch, to_host
from jaxsci.core.step import TrainState, clip_by_recent_norms, gradient_step, init_train_state, per_example_keys

__all__ = [
    "ArrayLoader",
    "Checkpointer",
    "ConfigError",
    "DATA_AXIS",
    "FitConfig",
    "FitResult",
    "NonFiniteError",
    "TrainState",
    "apply_overrides",
    "as_stream",
    "map_chunks",
    "check_keys",
    "clip_by_recent_norms",
    "fit",
    "gradient_step",
    "init_train_state",
    "latest_checkpoint_step",
    "make_mesh",
    "per_example_keys",
    "plot_metrics",
    "read_metrics",
    "replicate",
    "replicated",
    "shard_batch",
    "to_host",
]
