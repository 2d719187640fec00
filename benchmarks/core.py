"""core: the shared loop ``fit`` against hand-written jit loops, per step, on the demo MLP.

All loops run the same step (``gradient_step`` of the demo's MSE) on the same data stream
(``ArrayLoader``) and mesh. Times are steady-state seconds per step: the first (compiling) step is
excluded everywhere, as in ``fit``'s own ``steps_per_s``; the median over repeated runs is reported.

- "lean hand loop": the fastest loop we know how to write by hand: the key folded inside ``jit``
  from an on-device counter, donated state, numpy batches handed to the jitted call. ``fit`` does
  the same plus its bookkeeping (metrics kept on device and averaged every ``log_every`` steps,
  NaN checks, the progress bar), so this row measures the loop's overhead.
- "naive hand loop": what one often writes: ``fold_in`` on the host and ``device_put`` per step.
"""

from __future__ import annotations

import time

import jax

from benchmarks.harness import Row, register
from jaxsci.core import fit, make_mesh, parallel


def _config(quick: bool):
    from train.configs.demo import get_config

    config = get_config("small")
    config.hidden = (64, 64) if not quick else (16,)
    config.batch_size = 256 if not quick else 32
    config.num_examples = 8192 if not quick else 256
    return config


def _timed_loop(run_step, num_steps):
    out = run_step(0)
    jax.block_until_ready(out)  # compiles
    t0 = time.perf_counter()
    for i in range(1, num_steps):
        out = run_step(i)
    jax.block_until_ready(out)
    return (time.perf_counter() - t0) / (num_steps - 1)


def _lean_loop(step, state, loader, num_steps, mesh, seed):
    rep = parallel.replicated(mesh)
    batch_sh = parallel.batch_shardings(loader(0), mesh)
    root = jax.random.fold_in(jax.random.key(seed), 0)

    def train_step(state, i, batch):
        state, metrics = step(state, batch, jax.random.fold_in(root, i))
        return state, i + 1, metrics

    jitted = jax.jit(train_step, in_shardings=(rep, rep, batch_sh), out_shardings=(rep, rep, rep), donate_argnums=(0, 1))
    carry = [jax.jit(lambda t: jax.tree.map(lambda x: x.copy(), t), out_shardings=rep)(parallel.replicate(state, mesh)),
             parallel.replicate(jax.numpy.int32(0), mesh)]

    def run_step(i):
        carry[0], carry[1], metrics = jitted(carry[0], carry[1], loader(i))
        return metrics

    return _timed_loop(run_step, num_steps)


def _naive_loop(step, state, loader, num_steps, mesh, seed):
    rep = parallel.replicated(mesh)
    jitted = jax.jit(step, out_shardings=(rep, rep))
    carry = [parallel.replicate(state, mesh)]
    key = jax.random.key(seed)

    def run_step(i):
        carry[0], metrics = jitted(carry[0], parallel.shard_batch(loader(i), mesh), jax.random.fold_in(key, i))
        return metrics

    return _timed_loop(run_step, num_steps)


def _median(xs):
    return sorted(xs)[len(xs) // 2]


@register("core")
def bench(quick: bool) -> list[Row]:
    """fit vs hand-written jit loops, per step (small MLP)."""
    from train.demo import make_problem

    config = _config(quick)
    step, state, loader, _ = make_problem(config)
    mesh = make_mesh()
    num_steps = 20 if quick else 3000
    repeats = 2 if quick else 11
    fit_cfg = dict(num_steps=num_steps, log_every=100, progress=False, plot=False)

    runs = {
        "fit": lambda: 1.0 / fit(step, state, loader, fit_cfg, mesh=mesh).summary["steps_per_s"],
        "lean": lambda: _lean_loop(step, state, loader, num_steps, mesh, 0),
        "naive": lambda: _naive_loop(step, state, loader, num_steps, mesh, 0),
    }
    times = {name: [] for name in runs}
    for name, run in runs.items():  # warm-up
        run()
    for _ in range(repeats):  # interleaved, so machine noise is shared fairly
        for name, run in runs.items():
            times[name].append(run())
    med = {name: _median(ts) for name, ts in times.items()}
    case = f"MLP {config.hidden}, batch {config.batch_size}, {num_steps} steps, {mesh.size} dev"
    return [
        Row("core", case, med["fit"], med["lean"], "lean hand loop", unit="s/step",
            notes=f"fit overhead {100 * (med['fit'] / med['lean'] - 1):+.1f}%"),
        Row("core", case, med["fit"], med["naive"], "naive hand loop", unit="s/step"),
    ]
