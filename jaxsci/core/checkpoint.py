"""Checkpoints with orbax: atomic, the last ``k`` kept, resumable.

A checkpoint of step ``s`` holds the loop's state after ``s`` steps. Orbax writes each one into a
temporary directory and renames it when complete, so a crash mid-write never leaves a checkpoint
that looks valid; :meth:`Checkpointer.latest_step` sees finished ones only.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import orbax.checkpoint as ocp


class Checkpointer:
    """Save and restore the loop state under ``directory`` (``<workdir>/checkpoints``).

    Args:
      directory: where checkpoints live; created if missing.
      keep: how many of the latest checkpoints to keep (0 keeps all).
    """

    def __init__(self, directory: str | os.PathLike, keep: int = 3):
        self.directory = os.path.abspath(os.fspath(directory))
        options = ocp.CheckpointManagerOptions(max_to_keep=keep or None, create=True)
        self._manager = ocp.CheckpointManager(self.directory, options=options)

    def latest_step(self) -> int | None:
        """The step of the newest complete checkpoint, or None."""
        return self._manager.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self._manager.all_steps())

    def save(self, step: int, state: Any) -> None:
        """Save ``state`` as step ``step`` (asynchronously; :meth:`wait` blocks until written)."""
        self._manager.save(step, args=ocp.args.StandardSave(state), force=True)

    def restore(self, step: int | None, like: Any) -> Any:
        """Restore step ``step`` (latest if None) with the structure, dtypes and shardings of ``like``."""
        if step is None:
            step = self.latest_step()
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
        return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))

    def wait(self) -> None:
        """Block until pending saves are on disk."""
        self._manager.wait_until_finished()

    def close(self) -> None:
        self._manager.wait_until_finished()
        self._manager.close()


def latest_checkpoint_step(workdir: str | os.PathLike) -> int | None:
    """The newest checkpoint step in ``<workdir>/checkpoints`` without creating anything, or None."""
    directory = os.path.join(os.fspath(workdir), "checkpoints")
    if not os.path.isdir(directory):
        return None
    steps = [int(name) for name in os.listdir(directory) if name.isdigit()]
    return max(steps) if steps else None
