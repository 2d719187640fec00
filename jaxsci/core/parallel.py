"""Data parallelism: a 1D ``data`` mesh over all devices, the batch sharded, the state replicated.

Under ``jit`` the semantics of a computation never depend on its sharding; the shardings only say
where the data live, and XLA inserts the collectives (the gradient all-reduce) itself. Hence a step
written for one device runs unchanged on many, and gives the same numbers up to summation order.

Multi-process (several hosts, or several processes on one host): each process passes the slice of
the global batch that it loaded (its *local* batch); :func:`shard_batch` assembles the global array
from the processes' slices with ``jax.make_array_from_process_local_data``.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = "data"


def make_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1D mesh with axis ``data`` over ``devices`` (default: every device of every process)."""
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("make_mesh needs at least one device")
    kwargs = {}
    if hasattr(jax.sharding, "AxisType"):  # JAX >= 0.5: keep the classic (auto) sharding semantics
        kwargs["axis_types"] = (jax.sharding.AxisType.Auto,)
    return jax.make_mesh((len(devices),), (DATA_AXIS,), devices=devices, **kwargs)


def replicated(mesh: Mesh) -> NamedSharding:
    """The sharding of a value held whole on every device (params, optimizer state, metrics)."""
    return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh, ndim: int = 1) -> NamedSharding:
    """The sharding of a batch leaf: leading axis split over ``data``; a 0-d leaf is replicated."""
    return NamedSharding(mesh, P(DATA_AXIS) if ndim > 0 else P())


def batch_shardings(batch: Any, mesh: Mesh) -> Any:
    """A pytree of shardings matching ``batch`` (see :func:`batch_sharding`)."""
    return jax.tree.map(lambda x: batch_sharding(mesh, np.ndim(x)), batch)


def global_batch_size(batch: Any, mesh: Mesh) -> int:
    """Check a *local* batch and return the global batch size, or raise a clear ``ValueError``.

    Every non-scalar leaf must share the same leading size, and the global size (local size times
    the number of processes) must divide evenly over the devices of ``mesh``.
    """
    leaves = jax.tree_util.tree_leaves_with_path(batch)
    sizes = {jax.tree_util.keystr(path): np.shape(x)[0] for path, x in leaves if np.ndim(x) > 0}
    if not sizes:
        raise ValueError("the batch has no array with a leading (batch) axis to shard")
    if len(set(sizes.values())) > 1:
        raise ValueError(f"batch leaves disagree on the leading (batch) axis: {sizes}")
    local = next(iter(sizes.values()))
    total = local * jax.process_count()
    if total % mesh.size:
        raise ValueError(
            f"the global batch size {total} does not divide by the {mesh.size} devices of the mesh; "
            f"use a batch size that is a multiple of {mesh.size}"
        )
    return total


def shard_batch(batch: Any, mesh: Mesh) -> Any:
    """Place a local batch (numpy or jax arrays) on ``mesh``, leading axis sharded over ``data``."""
    shardings = batch_shardings(batch, mesh)
    if jax.process_count() == 1:
        return jax.device_put(batch, shardings)
    return place_batch(batch, shardings)


def place_batch(batch: Any, shardings: Any) -> Any:
    """Prepare a local batch as the argument of a ``jit`` whose ``in_shardings`` are ``shardings``.

    Single process: numpy leaves are passed as they are (the transfer inside the jitted call is the
    fastest path, ~2x cheaper than a separate ``device_put``); jax arrays placed elsewhere are moved.
    Several processes: the global arrays are assembled from every process's local slice.
    """
    if jax.process_count() > 1:
        return jax.tree.map(lambda x, s: jax.make_array_from_process_local_data(s, np.asarray(x)), batch, shardings)

    def place(x, s):
        if isinstance(x, jax.Array):
            return x if x.sharding == s else jax.device_put(x, s)
        return np.asarray(x)

    return jax.tree.map(place, batch, shardings)


def batch_placer(example: Any, shardings: Any):
    """A function that prepares every batch shaped like ``example`` (see :func:`place_batch`).

    For a single process fed numpy batches it is the identity (no per-step Python work at all).
    """
    if jax.process_count() == 1 and all(isinstance(x, (np.ndarray, np.generic)) for x in jax.tree.leaves(example)):
        return lambda batch: batch
    return lambda batch: place_batch(batch, shardings)


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Place a pytree whole on every device of ``mesh`` (every process must pass the same values)."""
    sharding = replicated(mesh)
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)
    return jax.tree.map(
        lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x), np.shape(x)), tree
    )


def to_host(tree: Any) -> Any:
    """Fetch a replicated pytree to numpy on this process (works for multi-process arrays too)."""

    def get(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            return np.asarray(x.addressable_data(0))
        return np.asarray(x)

    return jax.tree.map(get, tree)
