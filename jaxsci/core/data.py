"""Data streams for the shared loop: ``data(step) -> batch``, a pure function of the step index.

Making the batch a function of the step (and a seed) is what lets a resumed run see exactly the
batches an uninterrupted one would have seen, without saving iterator state.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

import jax
import numpy as np


class ArrayLoader:
    """Shuffled minibatches of in-memory arrays, deterministic in the step index.

    Step ``s`` falls in epoch ``s // steps_per_epoch``; each epoch is a fresh permutation drawn from
    ``(seed, epoch)``; the last incomplete batch of an epoch is dropped.

    Args:
      arrays: a pytree of arrays sharing the leading (example) axis of size N.
      batch_size: the *global* batch size B.
      seed: seed of the shuffling: an int, or a tuple of ints (epoch e is shuffled by the NumPy
        generator seeded with ``[*seed, e]``), so that loaders built on this one get their own streams.
      shuffle: False keeps the order (batches ``s*B:(s+1)*B`` mod epoch).
      process_index, process_count: in a multi-process run, each process gets the slice
        ``[p*B/P, (p+1)*B/P)`` of every global batch (defaults: this JAX process, all processes).

    Call: ``loader(step)`` returns the pytree of this process's ``(B/P, ...)`` slices.
    """

    def __init__(
        self,
        arrays: Any,
        batch_size: int,
        *,
        seed: int | tuple[int, ...] = 0,
        shuffle: bool = True,
        process_index: int | None = None,
        process_count: int | None = None,
    ):
        leaves = jax.tree.leaves(arrays)
        if not leaves:
            raise ValueError("ArrayLoader needs at least one array")
        sizes = {np.shape(x)[0] if np.ndim(x) else None for x in leaves}
        if len(sizes) != 1 or None in sizes:
            raise ValueError(f"all arrays need the same leading (example) axis; got sizes {sizes}")
        self.num_examples = sizes.pop()
        self.process_count = jax.process_count() if process_count is None else process_count
        self.process_index = jax.process_index() if process_index is None else process_index
        if not 0 < batch_size <= self.num_examples:
            raise ValueError(f"batch_size must be in [1, {self.num_examples}], got {batch_size}")
        if batch_size % self.process_count:
            raise ValueError(f"batch_size {batch_size} does not divide by {self.process_count} processes")
        if not 0 <= self.process_index < self.process_count:
            raise ValueError(f"process_index {self.process_index} not in [0, {self.process_count})")
        self.arrays = jax.tree.map(np.asarray, arrays)
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.steps_per_epoch = self.num_examples // batch_size
        self._cached_epoch: tuple[int, np.ndarray] | None = None

    def _order(self, epoch: int) -> np.ndarray:
        if not self.shuffle:
            return np.arange(self.num_examples)
        if self._cached_epoch is None or self._cached_epoch[0] != epoch:
            rng = np.random.default_rng([*np.atleast_1d(self.seed).tolist(), epoch])
            self._cached_epoch = (epoch, rng.permutation(self.num_examples))
        return self._cached_epoch[1]

    def global_indices(self, step: int) -> np.ndarray:
        """The example indices of the whole global batch ``step`` (every process's part)."""
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        epoch, i = divmod(int(step), self.steps_per_epoch)
        return self._order(epoch)[i * self.batch_size : (i + 1) * self.batch_size]

    def local_slice(self) -> slice:
        """This process's slice of a global batch: ``[p B / P, (p + 1) B / P)``."""
        local = self.batch_size // self.process_count
        return slice(self.process_index * local, (self.process_index + 1) * local)

    def indices(self, step: int) -> np.ndarray:
        """The example indices of this process's part of global batch ``step``."""
        return self.global_indices(step)[self.local_slice()]

    def __call__(self, step: int) -> Any:
        idx = self.indices(step)
        return jax.tree.map(lambda a: a[idx], self.arrays)


def as_stream(data: Callable[[int], Any] | Iterable[Any], start_step: int = 0) -> Callable[[int], Any]:
    """A ``data(step)`` callable from a callable (returned as is) or an iterable.

    An iterable has no notion of step: to resume at ``start_step`` its first ``start_step`` batches
    are read and dropped, so the stream continues where an uninterrupted run would be (for a
    deterministic iterable). The returned callable must then be called with consecutive steps.
    """
    if callable(data):
        return data
    iterator: Iterator[Any] = iter(data)
    for _ in range(start_step):
        next(iterator)
    expected = [start_step]

    def stream(step: int) -> Any:
        if step != expected[0]:
            raise ValueError(f"an iterable data stream must be read in order: asked step {step}, expected {expected[0]}")
        expected[0] += 1
        return next(iterator)

    return stream


def map_chunks(fn: Callable[[Any], Any], arrays: Any, chunk_size: int) -> Any:
    """``fn`` over ``arrays`` (a pytree with a shared leading axis of size N) in chunks of ``chunk_size``, results
    concatenated along axis 0 as NumPy. The last chunk is padded with copies of its first example (their results
    dropped), so a jitted ``fn`` compiles once; ``fn`` must treat examples independently."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    n = len(jax.tree.leaves(arrays)[0])
    outs = []
    for lo in range(0, n, chunk_size):
        chunk = jax.tree.map(lambda a: a[lo:lo + chunk_size], arrays)
        k = min(chunk_size, n - lo)
        if k < chunk_size:
            chunk = jax.tree.map(lambda a: np.concatenate([a, np.repeat(a[:1], chunk_size - k, 0)]), chunk)
        outs.append(jax.tree.map(lambda r: np.asarray(r)[:k], fn(chunk)))
    return jax.tree.map(lambda *rs: np.concatenate(rs), *outs)
