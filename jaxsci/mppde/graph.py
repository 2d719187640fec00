"""Graphs on 1D grids for MP-PDE: nodes are grid points, edges join neighbours within a radius.

The topology of a grid is fixed for a whole experiment, so it is built once on the host (numpy)
and enters the jitted model as constants: a ``jraph.GraphsTuple`` of ONE graph whose node features
are the positions ``x`` (length units of the PDE) and whose edges run ``senders -> receivers``
(a message from node j to node i is an edge with sender j and receiver i). Batches of trajectories
on the same grid share it: the model is ``vmap``-ed over the batch.
"""

from __future__ import annotations

import jax.numpy as jnp
import jraph
import numpy as np


def _pairwise_offsets(x: np.ndarray, periodic_length: float | None) -> np.ndarray:
    """``d[i, j] = x_j - x_i``, wrapped into ``[-L/2, L/2)`` on a periodic domain of length L."""
    d = x[None, :] - x[:, None]
    if periodic_length is not None:
        d = (d + periodic_length / 2) % periodic_length - periodic_length / 2
    return d


def _to_graph(x: np.ndarray, receivers: np.ndarray, senders: np.ndarray) -> jraph.GraphsTuple:
    order = np.lexsort((senders, receivers))  # sorted by receiver, then sender
    receivers, senders = receivers[order], senders[order]
    return jraph.GraphsTuple(
        nodes={"x": jnp.asarray(x)},
        edges=None,
        senders=jnp.asarray(senders, jnp.int32),
        receivers=jnp.asarray(receivers, jnp.int32),
        n_node=jnp.asarray([len(x)], jnp.int32),
        n_edge=jnp.asarray([len(senders)], jnp.int32),
        globals=None,
    )


def _check_grid(x) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim != 1 or len(x) < 2:
        raise ValueError(f"a 1D grid needs a (nx,) array of at least 2 points, got shape {x.shape}")
    if not np.all(np.isfinite(x)) or len(np.unique(x)) != len(x):
        raise ValueError("grid points must be finite and distinct")
    return x


def radius_graph(x, radius: float, *, periodic_length: float | None = None) -> jraph.GraphsTuple:
    """Edges between distinct points with ``|x_i - x_j| <= radius`` (no self-loops).

    Args:
      x: ``(nx,)`` positions, regular or irregular.
      radius: in the units of ``x``. MP-PDE uses ``neighbours * dx + 1e-4`` (3 on each side).
      periodic_length: if given, distances wrap around a periodic domain of this length (the
        original ignores periodicity; see :func:`grid_graph`).
    """
    x = _check_grid(x)
    if not radius > 0:
        raise ValueError(f"radius must be positive, got {radius}")
    d = np.abs(_pairwise_offsets(x, periodic_length))
    receivers, senders = np.nonzero((d <= radius) & ~np.eye(len(x), dtype=bool))
    return _to_graph(x, receivers, senders)


def knn_graph(x, k: int, *, periodic_length: float | None = None) -> jraph.GraphsTuple:
    """Each node receives from its ``k`` nearest other nodes (ties broken by index)."""
    x = _check_grid(x)
    if not 0 < k < len(x):
        raise ValueError(f"k must be in [1, {len(x) - 1}], got {k}")
    d = np.abs(_pairwise_offsets(x, periodic_length)) + np.where(np.eye(len(x), dtype=bool), np.inf, 0.0)
    senders = np.argsort(d, axis=1, kind="stable")[:, :k]
    receivers = np.repeat(np.arange(len(x)), k)
    return _to_graph(x, receivers, senders.reshape(-1))


def grid_graph(x, neighbours: int = 3, *, periodic_length: float | None = None) -> jraph.GraphsTuple:
    """MP-PDE's graph on a regular grid: a radius of ``neighbours * dx + 1e-4``, dx = x[1] - x[0]."""
    x = _check_grid(x)
    dx = float(x[1] - x[0])
    return radius_graph(x, neighbours * dx + 1e-4, periodic_length=periodic_length)


def relative_positions(graph: jraph.GraphsTuple, periodic_length: float | None = None) -> jnp.ndarray:
    """``(E,)`` offsets ``x_receiver - x_sender`` along every edge (wrapped when periodic)."""
    x = graph.nodes["x"]
    d = x[graph.receivers] - x[graph.senders]
    if periodic_length is not None:
        d = (d + periodic_length / 2) % periodic_length - periodic_length / 2
    return d
