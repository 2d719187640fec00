"""MP-PDE experiment: generate the combined-equation data with jaxsci.pde, train with the shared loop,
evaluate the paper's accumulated rollout error against the WENO5 baseline at the same resolution."""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxsci import mppde
from jaxsci.core import ArrayLoader, check_keys, gradient_step, init_train_state
from jaxsci.pde import burgers, wave
from jaxsci.pde.generate import trajectory_keys

CONFIG_KEYS = (
    "preset", "family", "nx", "nt", "l_max", "num_train", "num_valid", "data_seed", "data_dir", "model", "fno_width", "fno_modes",
    "fno_layers", "time_window", "neighbours",
    "hidden", "num_layers", "faithful", "faithful_data", "unrolling", "batch_size", "learning_rate", "weight_decay", "lr_decay",
    "lr_milestones", "passes_per_epoch", "fit",
)


def _generator(family: str, nx: int, nt: int, l_max: int, baseline: bool, faithful: bool = False):
    """One trajectory from a key: combined equation (5-tap averages of nx 200) or wave (Chebyshev nx)."""
    if family.startswith("WE"):
        return lambda k: wave.generate(k, family, nx=(nx,), nt=nt)
    return lambda k: burgers.generate(k, family, nx=(nx,), nt=nt, baseline=baseline, l_max=l_max, faithful=faithful)


def t_end(family: str) -> float:
    return (wave.FAMILIES if family.startswith("WE") else burgers.FAMILIES)[family].t_end


def make_dataset(family: str, nx: int, nt: int, num: int, split: str, seed: int, *, l_max: int = 3, baseline: bool = False,
                 faithful: bool = False, chunk: int = 64) -> dict[str, np.ndarray]:
    """``num`` trajectories of ``split`` as numpy: ``u (num, nt, nx)``, ``eq (num, P)`` the family's
    network parameters, and, for E1-E3 with ``baseline``, ``weno (num, nt, nx)`` (WENO5 run at nx).

    E1-E3: ``u`` is the 5-tap average of the nx = 200 solution; WE1-WE3: the Chebyshev solution at
    nx points (exact in time, spectrally accurate, so no coarse-solver baseline is computed).
    Trajectory i uses the same key as ``python -m jaxsci.pde.generate`` (seed, split, i)."""
    baseline = baseline and not family.startswith("WE")
    gen = jax.jit(jax.vmap(_generator(family, nx, nt, l_max, baseline, faithful)))
    names = mppde.FAMILY_VARIABLES[family]
    parts = []
    for lo in range(0, num, chunk):
        idx = np.arange(lo, min(lo + chunk, num))
        out = jax.device_get(gen(trajectory_keys(seed, split, idx)))
        u = np.asarray(out[f"u_{nx}"], np.float32)
        part = {"u": u, "eq": np.stack([np.asarray(out[v], np.float32) for v in names], -1) if names else np.zeros((len(idx), 0), np.float32)}
        if baseline:
            part["weno"] = out[f"weno_{nx}"]
        parts.append(part)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def load_dataset(path: str, family: str, nx: int, *, baseline: bool = False) -> dict[str, np.ndarray]:
    """The same arrays as :func:`make_dataset`, read from a file of ``python -m jaxsci.pde.generate``
    (e.g. ``python -m jaxsci.pde.generate E1 --nx 50 --baseline --num 256 --split train --out data``)."""
    import h5py

    if not os.path.isfile(path):
        raise FileNotFoundError(f"no data file {path}; write it with python -m jaxsci.pde.generate {family} --split ...")
    with h5py.File(path, "r") as f:
        if f.attrs.get("equation") not in (None, family):
            raise ValueError(f"{path} holds {f.attrs.get('equation')!r} trajectories, not {family!r}")
        needed = [f"u_{nx}"] + ([f"weno_{nx}"] if baseline else []) + list(mppde.FAMILY_VARIABLES[family])
        missing = [k for k in needed if k not in f]
        if missing:
            raise ValueError(f"{path} lacks {missing}; generate it with --nx {nx}{' --baseline' if baseline else ''}")
        if "done" in f and not np.all(f["done"][:]):
            raise ValueError(f"{path} is incomplete (an interrupted generation): rerun the same command to finish it")
        names = list(mppde.FAMILY_VARIABLES[family])
        u = f[f"u_{nx}"][:]
        out = {"u": u, "eq": np.stack([f[v][:] for v in names], -1) if names else np.zeros((len(u), 0), u.dtype)}
        if baseline:
            out["weno"] = f[f"weno_{nx}"][:]
    return out


def make_problem(config):
    check_keys(config.keys(), CONFIG_KEYS, "the mppde config")
    if config.family not in mppde.FAMILY_VARIABLES:
        raise ValueError(f"unknown family {config.family!r}; known: {sorted(mppde.FAMILY_VARIABLES)}")
    setup = mppde.Setup(family=config.family, nx=config.nx, nt=config.nt, t_end=t_end(config.family),
                        time_window=config.time_window, neighbours=config.neighbours, faithful=config.faithful)
    if config.model == "mppde":
        model = mppde.MPPDESolver(time_window=config.time_window, hidden=config.hidden, num_layers=config.num_layers)
    elif config.model == "fno":
        if setup.is_wave:
            raise ValueError("the FNO baseline needs a regular periodic grid; the wave families use Chebyshev points")
        model = mppde.FNO1d(time_window=config.time_window, width=config.fno_width, modes=config.fno_modes, num_layers=config.fno_layers)
    else:
        raise ValueError(f"unknown model {config.model!r}; choose 'mppde' or 'fno'")
    if config.data_dir:  # files of python -m jaxsci.pde.generate (all their trajectories are used)
        train = load_dataset(os.path.join(config.data_dir, f"{config.family}_train.h5"), config.family, config.nx)
        valid = load_dataset(os.path.join(config.data_dir, f"{config.family}_valid.h5"), config.family, config.nx, baseline=not setup.is_wave)
    else:  # the same trajectories, generated in memory
        train = make_dataset(config.family, config.nx, config.nt, config.num_train, "train", config.data_seed, l_max=config.l_max,
                             faithful=config.faithful_data)
        valid = make_dataset(config.family, config.nx, config.nt, config.num_valid, "valid", config.data_seed, l_max=config.l_max, baseline=True,
                             faithful=config.faithful_data)

    loader = ArrayLoader({"u": train["u"], "eq": train["eq"]}, config.batch_size, seed=config.fit.seed)
    steps_per_epoch = config.passes_per_epoch * loader.steps_per_epoch

    def data(step):
        return {**loader(step), "epoch": np.int32(step // steps_per_epoch)}

    schedule = optax.piecewise_constant_schedule(config.learning_rate, {int(m * steps_per_epoch): config.lr_decay for m in config.lr_milestones})
    optimizer = optax.adamw(schedule, weight_decay=config.weight_decay)
    params = mppde.init(jax.random.key(config.fit.seed), model, setup)
    step = gradient_step(mppde.pushforward_loss(model, setup, config.unrolling), optimizer)
    state = init_train_state(params, optimizer)

    start = setup.gt_steps * setup.time_window
    baseline = {}
    if "weno" in valid:  # the classical solver at the same coarse resolution, same metric
        baseline["weno_acc_error"] = np.float32(np.mean(np.sum(np.mean((valid["weno"][:, start:] - valid["u"][:, start:]) ** 2, -1), -1)))

    def evaluate(state, key, eval_data):  # the validation set, passed by fit as an argument (not a constant)
        err = mppde.evaluate_rollout(model, state.params, setup, eval_data["u"], eval_data["eq"])
        return {"acc_error": jnp.mean(err), **{k: jnp.asarray(v) for k, v in baseline.items()}}

    def plot(state, path):
        k = setup.time_window
        start = setup.gt_steps * k
        num_windows = (setup.nt - start) // k
        pred = mppde.rollout(model, state.params, setup, valid["u"][:1, start - k : start], valid["eq"][:1], start, num_windows)
        t = np.arange(start, start + num_windows * k) * setup.dt
        return mppde.plot_rollout(valid["u"][0, start : start + num_windows * k], pred[0], path, x=setup.grid_np(), t=t,
                                  title=f"{config.model} on {config.family}, nx {config.nx}: validation trajectory 0")

    return step, state, data, evaluate, plot, {"u": valid["u"], "eq": valid["eq"]}


def train_and_evaluate(config, workdir, resume: bool = False) -> dict:
    from train import fit_and_plot

    return fit_and_plot("mppde", config, workdir, make_problem(config), resume)
