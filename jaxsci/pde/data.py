"""Training windows from the HDF5 files of :mod:`jaxsci.pde.generate`, for the shared training loop.

The loop's data protocol: ``loader(step) -> batch``, a dict of NumPy arrays with the (process-local
slice of the) global batch on the leading axis, a pure function of ``step`` and the seed, so a
resumed run sees exactly the batches of an uninterrupted one.

Sampling (MP-PDE's): an epoch is a permutation of the trajectories drawn from ``(seed, epoch)``; step
``s`` takes the next ``batch_size`` trajectories of its epoch (the last incomplete batch is dropped)
and, for each, a start time ``t0`` uniform in ``[K, nt - K]`` drawn from ``(seed, step)``. The window
is ``history = u[t0 - K : t0]`` and ``target = u[t0 : t0 + K]``, both ``(K, nx)``.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from jaxsci.core.data import ArrayLoader

_GRIDS = ("t", "x", "y", "z")


class WindowLoader:
    """Batches of (history, target) windows of one field of a generated file.

    Args:
      path: an HDF5 file written by ``python -m jaxsci.pde.generate``.
      field: the dataset holding ``(N, nt, *spatial)`` trajectories, e.g. ``"u_50"``.
      batch_size: the global batch size B.
      time_window: K, the number of history steps and of target steps.
      seed: seed of the shuffling and of the start times.
      params: per-trajectory datasets added to every batch (default: every 1D or 2D dataset whose
        leading axis is N, e.g. ``alpha``, ``beta``, ``A``).
      in_memory: read the field into memory once (fast) or read each window from the file.
      process_index, process_count: in a multi-process run each process gets the slice
        ``[p B / P, (p + 1) B / P)`` of every global batch (defaults: JAX's own).

    ``loader(step)`` returns ``{"history": (b, K, *spatial), "target": (b, K, *spatial), "t0": (b,),
    "trajectory": (b,), **params}`` with ``b = B / P``. Attributes: ``num_trajectories``, ``nt``,
    ``steps_per_epoch``, ``grids`` (the file's ``t`` and ``x_*`` arrays), ``attrs``.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        field: str,
        batch_size: int,
        *,
        time_window: int = 25,
        seed: int = 0,
        params: Sequence[str] | None = None,
        in_memory: bool = True,
        process_index: int | None = None,
        process_count: int | None = None,
    ):
        import h5py

        if process_index is None or process_count is None:
            import jax

            process_index = jax.process_index() if process_index is None else process_index
            process_count = jax.process_count() if process_count is None else process_count
        self.path, self.field = str(path), field
        with h5py.File(self.path, "r") as f:
            if field not in f:
                fields = sorted(k for k in f if f[k].ndim >= 3)
                raise ValueError(f"{self.path} has no field {field!r}; trajectory fields: {fields}")
            done = f["done"][()] if "done" in f else np.ones(1, bool)
            if not done.all():
                raise ValueError(f"{self.path} is incomplete ({int(done.sum())}/{done.size} chunks): "
                                 "rerun the same generate command to finish it")
            shape = f[field].shape
            self.num_trajectories, self.nt = shape[0], shape[1]
            if params is None:
                params = [k for k in f if k not in ("done", field) and f[k].ndim in (1, 2)
                          and f[k].shape[0] == self.num_trajectories and k not in _GRIDS and not k.startswith("x_")]
            self.params = {k: f[k][()] for k in params}
            self.grids = {k: f[k][()] for k in f if k in _GRIDS or k.startswith("x_")}
            self.attrs = dict(f.attrs)
            self._data = f[field][()] if in_memory else None
        k = time_window
        if not (1 <= k and 2 * k <= self.nt):
            raise ValueError(f"time_window={k} needs 2K <= nt={self.nt}")
        # the trajectories of each (global) batch: core's per-epoch shuffle and per-process slicing
        self._trajectories = ArrayLoader(np.arange(self.num_trajectories), batch_size, seed=(seed, 0),
                                         process_index=process_index, process_count=process_count)
        self.batch_size, self.time_window, self.seed = batch_size, k, seed
        self.process_index, self.process_count = process_index, process_count
        self.steps_per_epoch = self._trajectories.steps_per_epoch
        self._file = None

    def global_indices(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """Trajectory indices and start times ``t0`` of the whole global batch ``step``."""
        traj = self._trajectories.global_indices(step)
        k = self.time_window
        t0 = np.random.default_rng([self.seed, 1, int(step)]).integers(k, self.nt - k + 1, size=self.batch_size)
        return traj, t0

    def _read(self, traj: int, lo: int, hi: int) -> np.ndarray:
        if self._data is not None:
            return self._data[traj, lo:hi]
        if self._file is None:
            import h5py

            self._file = h5py.File(self.path, "r")
        return self._file[self.field][traj, lo:hi]

    def __call__(self, step: int) -> dict[str, np.ndarray]:
        traj, t0 = self.global_indices(step)
        sl = self._trajectories.local_slice()
        traj, t0 = traj[sl], t0[sl]
        k = self.time_window
        windows = np.stack([self._read(j, t - k, t + k) for j, t in zip(traj, t0)])
        batch = {"history": windows[:, :k], "target": windows[:, k:], "t0": t0, "trajectory": traj}
        batch.update({name: arr[traj] for name, arr in self.params.items()})
        return batch

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
