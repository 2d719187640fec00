"""Classical PDE solvers in JAX: the training data and the classical baselines of MP-PDE, Clifford
layers and GCAN. Every solver is a pure function, jit-compiled and vmappable over a batch, and takes
new parameters without recompiling.

Modules (each docstring gives the equation, the units, the grid and the choices made):

* :mod:`~jaxsci.pde.burgers`: MP-PDE's combined equation (families E1, E2, E3), WENO5 + diffrax.
* :mod:`~jaxsci.pde.weno`: WENO5-JS reconstruction, Godunov and Lax-Friedrichs fluxes.
* :mod:`~jaxsci.pde.wave`: MP-PDE's wave equation (WE1-3), Chebyshev collocation, exact in time.
* :mod:`~jaxsci.pde.navier_stokes`: 2D smoke with buoyancy (Clifford layers / PDEArena).
* :mod:`~jaxsci.pde.shallow_water`: 2D planar periodic shallow water (a substitute for SpeedyWeather).
* :mod:`~jaxsci.pde.maxwell`: 3D Maxwell, Yee FDTD with random sources.
* :mod:`~jaxsci.pde.generate`: ``python -m jaxsci.pde.generate`` writes resumable HDF5 data sets.
* :mod:`~jaxsci.pde.data`: :class:`WindowLoader`, training windows for the shared loop.

Example::

    import jax
    from jaxsci import pde
    batch = jax.jit(jax.vmap(lambda k: pde.burgers.generate(k, "E1")))(jax.random.split(jax.random.key(0), 8))
    batch["u_50"].shape  # (8, 250, 50)
"""

from jaxsci.pde import burgers, maxwell, navier_stokes, shallow_water, wave, weno
from jaxsci.pde.data import WindowLoader
from jaxsci.pde.weno import weno5

__all__ = ["burgers", "wave", "navier_stokes", "shallow_water", "maxwell", "weno", "weno5", "WindowLoader"]
