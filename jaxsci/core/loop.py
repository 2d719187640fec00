"""The one training loop shared by every method: :func:`fit`.

``fit`` runs a pure ``step(state, batch, key) -> (state, metrics)`` under ``jit``: the batch sharded
over every device along the ``data`` mesh axis, the state and the metrics replicated. It owns the
PRNG stream, logging, evaluation, checkpoints and resumption; it never knows which method it runs.

Randomness: the key of step ``i`` is ``fold_in(fold_in(key(seed), 0), i)`` and the key of the
evaluation at step ``i`` is ``fold_in(fold_in(key(seed), 1), i)``. Inside the step, draw per-example
noise with :func:`jaxsci.core.per_example_keys` so that each device's examples get different
numbers while the result does not depend on the number of devices.

Resumption: ``data`` is a function of the step index, so a run resumed from the checkpoint of step
``k`` sees the same batches and keys as an uninterrupted run from step ``k`` on.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Iterable, Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from tqdm.auto import tqdm

from jaxsci.core import parallel
from jaxsci.core.checkpoint import Checkpointer, latest_checkpoint_step
from jaxsci.core.config import FitConfig
from jaxsci.core.data import as_stream
from jaxsci.core.log import METRICS_FILE, MetricsWriter, format_metrics, plot_metrics, write_summary

Step = Callable[[Any, Any, jax.Array], "tuple[Any, Mapping[str, jax.Array]]"]
Evaluate = Callable[..., Mapping[str, jax.Array]]  # evaluate(state, key) or evaluate(state, key, eval_data)


# Stacks a logging interval's per-step metrics on device, so the host fetches them in one transfer
# (fetching each step's scalars separately cost ~10% of a small model's step time).
_stack = jax.jit(lambda ms: jax.tree.map(lambda *xs: jnp.stack(xs), *ms))


class NonFiniteError(FloatingPointError):
    """A training metric became NaN or infinite; the last good checkpoint is kept."""


class FitResult(NamedTuple):
    """What :func:`fit` returns: the final state (replicated jax arrays) and the run summary."""

    state: Any
    summary: dict


def _truncate_records(workdir: str, after_step: int) -> None:
    """Drop records newer than ``after_step`` (left by an interrupted run that is now resumed)."""
    import json

    path = os.path.join(workdir, METRICS_FILE)
    if jax.process_index() != 0 or not os.path.exists(path):
        return
    with open(path) as f:
        lines = [line for line in f if line.strip() and json.loads(line)["step"] <= after_step]
    with open(path, "w") as f:
        f.writelines(lines)


def _check_finite(steps: list[int], stacked: Mapping[str, np.ndarray], last_good: int | None, ckpt_dir: str | None) -> None:
    """Raise :class:`NonFiniteError` at the first of ``steps`` whose metrics (stacked on axis 0) are NaN/inf."""
    bad = np.zeros(len(steps), bool)
    for v in stacked.values():
        if np.issubdtype(v.dtype, np.inexact):
            bad |= ~np.isfinite(v.reshape(len(steps), -1)).all(axis=1)
    if bad.any():
        j = int(np.argmax(bad))
        values = {k: v[j] for k, v in stacked.items() if not np.all(np.isfinite(v[j]))}
        where = (
            f"the last good checkpoint is step {last_good} in {ckpt_dir}"
            if last_good is not None
            else "no checkpoint was written before it"
        )
        raise NonFiniteError(f"non-finite metric(s) at step {steps[j]}: {values}; stopped, {where}")


def fit(
    step: Step,
    state: Any,
    data: Callable[[int], Any] | Iterable[Any],
    config: FitConfig | Mapping[str, Any],
    *,
    workdir: str | os.PathLike | None = None,
    evaluate: Evaluate | None = None,
    resume: bool = False,
    mesh: Mesh | None = None,
    eval_data: Any = None,
) -> FitResult:
    """Train ``state`` with ``step`` on ``data`` for ``config.num_steps`` steps.

    Args:
      step: pure ``step(state, batch, key) -> (state, metrics)`` (e.g. from ``gradient_step``);
        metrics are scalars, averaged over each logging interval.
      state: the initial state pytree (its structure is also the template to restore into).
      data: ``data(step) -> batch``, a pytree of arrays with the (process-local) batch on the leading
        axis, deterministic in ``step`` (e.g. an :class:`~jaxsci.core.ArrayLoader`); or an iterable
        of batches (resumed by skipping). The global batch must divide by the number of devices.
        Every non-scalar leaf is split along its leading axis, so all must share it (scalar leaves,
        e.g. an epoch counter, are replicated); for graphs, stack padded per-shard GraphsTuples
        along a leading axis rather than passing one big concatenated graph.
      config: a :class:`FitConfig` or a mapping of its fields (unknown keys are an error).
      workdir: where ``metrics.jsonl``, ``summary.json``, ``metrics.png`` and ``checkpoints/`` go;
        None keeps nothing on disk (no checkpoints).
      evaluate: optional pure ``evaluate(state, key) -> metrics``, jitted, run every
        ``config.eval_every`` steps and at the end; ``evaluate(state, key, eval_data)`` when
        ``eval_data`` is given.
      resume: continue from the newest checkpoint in ``workdir`` (an error if there is none).
      mesh: the device mesh (default: a ``data`` mesh over every device).
      eval_data: optional pytree of arrays (e.g. the validation set) that ``evaluate`` reads. It is
        placed on the mesh once, replicated, and passed to the jitted ``evaluate`` as an argument.
        Pass large arrays this way rather than closing ``evaluate`` over them: under ``jit`` a
        closed-over numpy or jax array is embedded in the compiled program as a constant (with JAX
        0.12, a 256 MB one added ~0.8 GB of host memory and seconds of compile time). Every
        process must pass the same values.

    Returns:
      :class:`FitResult` ``(state, summary)``.

    Raises:
      ConfigError: unknown config keys or bad values. ValueError: a batch that does not shard, or
        ``eval_data`` without ``evaluate``.
      FileNotFoundError: ``resume`` without a checkpoint. NonFiniteError: a NaN/inf metric.
    """
    cfg = FitConfig.coerce(config)
    mesh = parallel.make_mesh() if mesh is None else mesh
    workdir = None if workdir is None else os.path.abspath(os.fspath(workdir))
    ckpt_dir = None if workdir is None else os.path.join(workdir, "checkpoints")

    # Everything that can be refused is checked before compiling or training.
    existing = None if workdir is None else latest_checkpoint_step(workdir)
    if resume and existing is None:
        raise FileNotFoundError(
            f"cannot resume: no checkpoint in {ckpt_dir or '(no workdir given)'}; run without resume to start fresh"
        )
    if not resume and existing is not None:
        raise FileExistsError(
            f"{ckpt_dir} already holds checkpoints up to step {existing}; resume to continue, or use a fresh workdir"
        )
    if eval_data is not None and evaluate is None:
        raise ValueError("eval_data was given without an evaluate function to pass it to")
    start = existing if resume else 0
    if start > cfg.num_steps:
        raise ValueError(f"the checkpoint is at step {start}, beyond num_steps={cfg.num_steps}")
    stream = as_stream(data, start)
    first_batch = stream(start) if start < cfg.num_steps else None
    if first_batch is not None:
        parallel.global_batch_size(first_batch, mesh)

    rep = parallel.replicated(mesh)
    checkpointer = Checkpointer(ckpt_dir, keep=cfg.keep_checkpoints) if ckpt_dir else None
    state = parallel.replicate(state, mesh)
    if resume:
        template = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=rep), state)
        state = checkpointer.restore(start, template)
        _truncate_records(workdir, start)
    elif cfg.donate:
        state = jax.jit(lambda t: jax.tree.map(jnp.copy, t), out_shardings=rep)(state)  # keep caller's arrays

    root = jax.random.key(cfg.seed)
    train_root, eval_root = jax.random.fold_in(root, 0), jax.random.fold_in(root, 1)

    def train_step(state, i, batch):
        new_state, metrics = step(state, batch, jax.random.fold_in(train_root, i))
        return new_state, i + 1, dict(metrics)

    batch_sh = parallel.batch_shardings(first_batch, mesh) if first_batch is not None else None
    place = parallel.batch_placer(first_batch, batch_sh)
    jitted = jax.jit(
        train_step,
        in_shardings=(rep, rep, batch_sh),
        out_shardings=(rep, rep, rep),
        donate_argnums=(0, 1) if cfg.donate else (),
    )
    jitted_eval = None
    if evaluate is not None and eval_data is None:
        jitted_eval = jax.jit(lambda s, i: evaluate(s, jax.random.fold_in(eval_root, i)), out_shardings=rep)
    elif evaluate is not None:  # eval_data on device once, then an argument of every call (not a constant)
        eval_args = parallel.replicate(eval_data, mesh)
        eval_fn = jax.jit(lambda s, i, d: evaluate(s, jax.random.fold_in(eval_root, i), d), out_shardings=rep)
        jitted_eval = lambda s, i: eval_fn(s, i, eval_args)  # noqa: E731

    writer = MetricsWriter(workdir)
    is_main = jax.process_index() == 0
    bar = tqdm(total=cfg.num_steps, initial=start, disable=not (cfg.progress and is_main), dynamic_ncols=True, desc="fit")
    counter = parallel.replicate(jnp.asarray(start, jnp.int32), mesh)
    pending: list[tuple[int, Any]] = []
    inflight = None
    last_train: dict = {}
    last_eval: dict = {}
    last_saved = existing
    t_start = time.perf_counter()
    compile_s = None

    def report(interval) -> None:
        """Check and log one closed interval: (steps, stacked device metrics, end step, time)."""
        nonlocal last_train
        steps, stacked, current, when = interval
        stacked = parallel.to_host(stacked)
        if cfg.check_finite:
            _check_finite(steps, stacked, last_saved, ckpt_dir)
        mean = {k: np.mean(v, axis=0) for k, v in stacked.items()}
        last_train = writer.write("train", current, mean, time=when)
        bar.update(current - bar.n)
        bar.set_postfix_str(format_metrics(mean, ["loss"]) or format_metrics(mean))

    def flush(current: int, sync: bool = False) -> None:
        """Close the interval ending at ``current``. Its metrics are stacked on device (one transfer)
        and reported at the NEXT flush, by when they are long computed, so logging never stalls the
        device; ``sync=True`` (before a checkpoint, at the end) reports everything now."""
        nonlocal inflight
        closed = None
        if pending:
            stacked = _stack([m for _, m in pending])
            jax.tree.map(lambda x: x.copy_to_host_async(), stacked)
            closed = ([s for s, _ in pending], stacked, current, round(time.perf_counter() - t_start, 3))
            pending.clear()
        if inflight is not None:
            report(inflight)
        inflight = closed
        if sync and inflight is not None:
            report(inflight)
            inflight = None

    def save(current: int) -> None:
        nonlocal last_saved
        if checkpointer is not None and last_saved != current:
            checkpointer.save(current, state)
            last_saved = current

    try:
        for i in range(start, cfg.num_steps):
            batch = first_batch if i == start else stream(i)
            state, counter, metrics = jitted(state, counter, place(batch))
            if compile_s is None:
                jax.block_until_ready(metrics)
                compile_s = time.perf_counter() - t_start
            pending.append((i, metrics))
            done = i + 1
            last = done == cfg.num_steps
            if done % cfg.log_every == 0 or last:
                flush(done, sync=last)
            if jitted_eval is not None and ((cfg.eval_every and done % cfg.eval_every == 0) or last):
                result = parallel.to_host(jitted_eval(state, done))
                last_eval = writer.write("eval", done, result, time=round(time.perf_counter() - t_start, 3))
                if is_main:
                    bar.write(f"[eval] step {done}: {format_metrics(result)}")
            if checkpointer is not None and ((cfg.checkpoint_every and done % cfg.checkpoint_every == 0) or last):
                flush(done, sync=True)  # never save a state whose metrics were not checked
                save(done)
        if start == cfg.num_steps and jitted_eval is not None:
            last_eval = writer.write("eval", start, parallel.to_host(jitted_eval(state, start)))
    finally:
        bar.close()
        if checkpointer is not None:
            checkpointer.close()

    wall = time.perf_counter() - t_start
    ran = cfg.num_steps - start
    summary = {
        "start_step": start,
        "step": cfg.num_steps,
        "wall_s": round(wall, 3),
        "compile_s": None if compile_s is None else round(compile_s, 3),
        "steps_per_s": round((ran - 1) / (wall - compile_s), 6) if ran > 1 and compile_s is not None and wall > compile_s else None,
        "devices": mesh.size,
        "processes": jax.process_count(),
        "train": {k: v for k, v in last_train.items() if k not in ("split",)},
        "eval": {k: v for k, v in last_eval.items() if k not in ("split",)},
        "checkpoint": last_saved,
    }
    write_summary(workdir, summary)
    if workdir is not None and cfg.plot and is_main:
        plot_metrics(workdir)
    if is_main:
        line = f"[fit] done: step {cfg.num_steps} ({ran} run) in {wall:.1f}s"
        if summary["steps_per_s"]:
            line += f", {summary['steps_per_s']:.1f} steps/s, compile {compile_s:.1f}s"
        if last_train:
            line += f" | train {format_metrics(last_train, [k for k in last_train if k not in ('step', 'time')])}"
        if last_eval:
            line += f" | eval {format_metrics(last_eval, [k for k in last_eval if k not in ('step', 'time')])}"
        print(line, flush=True)
    return FitResult(state, summary)
