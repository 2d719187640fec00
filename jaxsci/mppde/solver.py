"""MP-PDE as pure functions: the setup of an experiment, prediction, pushforward loss, rollout, metric.

Shapes: a batch of trajectories ``u`` is ``(B, nt, nx)`` (time major, as the PDE data);
windows are ``(B, K, nx)``; the equation parameters ``eq`` are ``(B, P)`` raw values in the order
of :attr:`Setup.variables`.

Original quirks (Brandstetter et al.'s code) and what we do, selected by ``Setup.faithful``:
  - beta enters the network with a flipped sign (``-beta / 0.4``): reproduced when faithful.
  - the graph ignores the periodic boundary: reproduced when faithful; otherwise edges wrap around.
  Fixed in the data generator regardless (see :mod:`jaxsci.pde.burgers`): the grid's repeated
  endpoint and the WENO stencil that zeroed the advection term at index 0.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import jraph

from jaxsci.core import per_example_keys
from jaxsci.mppde.graph import grid_graph, knn_graph, relative_positions
from jaxsci.mppde.model import MPPDESolver

# Equation parameters fed to the network per family, with the original's normalising scales.
FAMILY_VARIABLES = {
    "E1": {},
    "E2": {"beta": 0.2},
    "E3": {"alpha": 3.0, "beta": 0.4, "gamma": 1.0},
    "WE1": {},
    "WE2": {},
    "WE3": {"bc_left": 1.0, "bc_right": 1.0},  # boundary codes 0 Dirichlet / 1 Neumann
}


@dataclasses.dataclass(frozen=True)
class Setup:
    """Static description of an MP-PDE experiment (hashable; closes over nothing traced).

    Attributes:
      family: "E1", "E2", "E3" (combined equation: periodic regular grid ``x_i = i L / nx``, radius
        graph of ``neighbours * dx``) or "WE1", "WE2", "WE3" (wave equation: Chebyshev points on
        ``[-L/2, L/2]``, each node receiving from its ``neighbours`` nearest nodes, as the original).
      nx: grid points. nt: time points over ``[0, t_end]``.
      length: domain length L. t_end: final time T (E1/E2 4, E3 2, WE 100). time_window: K.
      faithful: reproduce the original's quirks (module docstring). gt_steps: windows of ground truth
        before the metric's rollout starts (the original's ``nr_gt_steps = 2``).
    """

    family: str = "E1"
    nx: int = 50
    nt: int = 250
    length: float = 16.0
    t_end: float = 4.0
    time_window: int = 25
    neighbours: int = 3
    faithful: bool = True
    gt_steps: int = 2

    def __post_init__(self):
        if self.family not in FAMILY_VARIABLES:
            raise ValueError(f"unknown family {self.family!r}; known: {sorted(FAMILY_VARIABLES)}")
        if self.nt < 3 * self.time_window:
            raise ValueError(f"nt={self.nt} is too short for time_window={self.time_window} (needs >= 3 windows)")

    @property
    def dt(self) -> float:
        return self.t_end / (self.nt - 1)

    @property
    def dx(self) -> float:
        return self.length / self.nx

    @property
    def is_wave(self) -> bool:
        return self.family.startswith("WE")

    @property
    def variables(self) -> tuple[str, ...]:
        """Names of the equation parameters the network reads, in order."""
        return tuple(FAMILY_VARIABLES[self.family])

    def grid_np(self):
        import numpy as np

        if self.is_wave:  # ascending Chebyshev-Gauss-Lobatto points, those of jaxsci.pde.wave
            return -self.length / 2 * np.cos(np.pi * np.arange(self.nx) / (self.nx - 1))
        return np.arange(self.nx) * self.dx

    def grid(self) -> jax.Array:
        return jnp.asarray(self.grid_np(), jnp.float32)

    @property
    def periodic_length(self) -> float | None:
        """The period the graph wraps around: none for the wave equation or when faithful."""
        return None if (self.faithful or self.is_wave) else self.length

    def graph(self) -> jraph.GraphsTuple:
        """Combined equation: radius ``neighbours * dx`` (periodic unless faithful); wave: k nearest."""
        if self.is_wave:
            return knn_graph(self.grid_np(), self.neighbours)
        return grid_graph(self.grid_np(), self.neighbours, periodic_length=self.periodic_length)

    def normalise(self, eq: jax.Array) -> jax.Array:
        """``(..., P)`` raw parameters -> the network's scaled inputs (beta negated when faithful)."""
        scales = jnp.asarray([FAMILY_VARIABLES[self.family][v] for v in self.variables], eq.dtype)
        signs = jnp.asarray([-1.0 if (v == "beta" and self.faithful) else 1.0 for v in self.variables], eq.dtype)
        return eq * signs / scales


def init(key: jax.Array, model: MPPDESolver, setup: Setup) -> Any:
    """Initial parameters of ``model`` for ``setup``."""
    n, k = setup.nx, setup.time_window
    graph = setup.graph()
    offsets = relative_positions(graph, setup.periodic_length) / setup.length
    return model.init(key, jnp.zeros((n, k)), setup.grid() / setup.length, offsets, jnp.zeros(1 + len(setup.variables)), setup.dt, graph)


def predict(model: MPPDESolver, params: Any, setup: Setup, u: jax.Array, step: jax.Array, eq: jax.Array) -> jax.Array:
    """The next K values of each trajectory.

    Args:
      u: ``(B, K, nx)`` the last K values. step: ``(B,)`` int, the time index of the first predicted
        value. eq: ``(B, P)`` raw equation parameters.

    Returns:
      ``(B, K, nx)``.
    """
    graph = setup.graph()
    offsets = relative_positions(graph, setup.periodic_length) / setup.length
    x_norm = setup.grid() / setup.length
    t_norm = step.astype(u.dtype) * setup.dt / setup.t_end
    variables = jnp.concatenate([t_norm[:, None], setup.normalise(eq.astype(u.dtype))], axis=-1)

    def one(u_b, var_b):
        return model.apply(params, u_b.T, x_norm, offsets, var_b, setup.dt, graph).T

    return jax.vmap(one)(u, variables)


def _windows(u: jax.Array, start: jax.Array, k: int) -> jax.Array:
    """``u[b, start[b] : start[b] + k]`` for every b: ``(B, nt, nx)``, ``(B,)`` -> ``(B, k, nx)``."""
    return jax.vmap(lambda ub, s: jax.lax.dynamic_slice_in_dim(ub, s, k, axis=0))(u, start)


def pushforward_loss(model: MPPDESolver, setup: Setup, max_unrolling: int = 1):
    """The training loss with the pushforward trick (Sec. 2.3), as ``loss(params, batch, key)``.

    Per batch, the number of unrolled steps ``n`` is uniform in ``{0, ..., min(epoch, max_unrolling)}``
    (the original's schedule); each trajectory gets a random start ``s`` in
    ``[K, nt - K - nK]``. The model is applied ``n`` times without gradient from the true window
    ``u[s-K:s]``, then once with gradient; the loss is ``sqrt(sum of squared errors)`` over the
    batch against ``u[s+nK : s+nK+K]`` (the original's ``sqrt(MSELoss(reduction='sum'))``).

    ``batch``: ``{"u": (B, nt, nx), "eq": (B, P), "epoch": int scalar}``.
    """
    k = setup.time_window

    def loss(params, batch, key):
        u, eq = batch["u"], batch["eq"]
        b, nt, _ = u.shape
        key_n, key_s = jax.random.split(key)
        max_n = jnp.minimum(batch["epoch"], max_unrolling)
        n = jax.random.randint(key_n, (), 0, max_n + 1)
        span = nt - 2 * k - k * n + 1  # number of admissible starts
        uniforms = jax.vmap(jax.random.uniform)(per_example_keys(key_s, b))
        start = k + jnp.floor(uniforms * span).astype(jnp.int32)
        frozen = jax.lax.stop_gradient(params)

        def unroll(i, carry):
            window, s = carry
            return predict(model, frozen, setup, window, s, eq), s + k

        window, s = jax.lax.fori_loop(0, n, unroll, (_windows(u, start - k, k), start))
        pred = predict(model, params, setup, jax.lax.stop_gradient(window), s, eq)
        sq = jnp.sum((pred - _windows(u, s, k)) ** 2)
        return jnp.sqrt(sq), {"unrolled": n.astype(jnp.float32), "mse": sq / pred.size}

    return loss


def rollout(model: MPPDESolver, params: Any, setup: Setup, u_init: jax.Array, eq: jax.Array, start: int, num_windows: int) -> jax.Array:
    """Autoregressive rollout as one ``lax.scan``.

    Args:
      u_init: ``(B, K, nx)`` the true window ending just before time index ``start``.
      start: time index of the first predicted value. num_windows: windows to predict.

    Returns:
      ``(B, num_windows * K, nx)``: predictions for time indices ``start ... start + num_windows K - 1``.
    """
    k = setup.time_window
    b = u_init.shape[0]

    def body(window, i):
        step = jnp.full((b,), start + i * k, jnp.int32)
        nxt = predict(model, params, setup, window, step, eq)
        return nxt, nxt

    _, windows = jax.lax.scan(body, u_init, jnp.arange(num_windows))
    return jnp.moveaxis(windows, 0, 1).reshape(b, num_windows * k, -1)


def accumulated_error(pred: jax.Array, target: jax.Array) -> jax.Array:
    """The paper's metric per trajectory: sum over time of the spatial mean of squared errors.

    ``(B, T, nx)``, ``(B, T, nx)`` -> ``(B,)``.
    """
    return jnp.sum(jnp.mean((pred - target) ** 2, axis=-1), axis=-1)


def evaluate_rollout(model: MPPDESolver, params: Any, setup: Setup, u: jax.Array, eq: jax.Array) -> jax.Array:
    """Accumulated error of the full rollout of ``u`` ``(B, nt, nx)`` from ``gt_steps`` true windows.

    The network reads the true window ending at ``start = gt_steps * K`` (the original's
    ``nr_gt_steps``) and rolls out to ``nt``; the error is summed over ``start .. nt - 1``.
    """
    k = setup.time_window
    start = setup.gt_steps * k
    num_windows = (setup.nt - start) // k
    pred = rollout(model, params, setup, u[:, start - k : start], eq, start, num_windows)
    end = start + num_windows * k
    return accumulated_error(pred, u[:, start:end])
