"""Clifford-layers experiment on Navier-Stokes smoke: generate trajectories with jaxsci.pde, train a
surrogate (ResNet / CResNet / rotational CResNet / FNO / CFNO) on one-step prediction with the shared
loop, evaluate one-step and rollout MSE on the validation trajectories, plot a rollout."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxsci.clifford import models
from jaxsci.core import ArrayLoader, check_keys, gradient_step, init_train_state
from jaxsci.pde import navier_stokes
from jaxsci.pde.generate import trajectory_keys

CONFIG_KEYS = (
    "preset", "nx", "nt", "skip", "num_train", "num_valid", "data_seed", "model", "time_history", "hidden",
    "baseline_hidden", "num_blocks", "modes", "padding_mode", "batch_size", "learning_rate", "fit",
)


@functools.lru_cache(maxsize=8)
def _generator(nx: int, nt: int, skip: int):
    cfg = navier_stokes.SmokeConfig(nx=nx, ny=nx)
    navier_stokes.check_config(cfg)

    def one(key):
        out = navier_stokes.generate(key, nt, cfg=cfg, skip=skip)
        return models.to_multivector(out["smoke"], out["velocity"])

    return jax.jit(jax.vmap(one))


def make_dataset(nx: int, nt: int, num: int, split: str, seed: int, *, skip: int = navier_stokes.SKIP_STEPS,
                 chunk: int = 8) -> np.ndarray:
    """``num`` smoke trajectories of ``split`` as multivector frames ``(num, nt, nx, nx, 4)`` (numpy):
    blades smoke, vx, vy, 0. Trajectory i uses the key of ``python -m jaxsci.pde.generate`` (seed, split, i).
    Generated ``chunk`` at a time (the last chunk padded, so every split compiles the solver once)."""
    gen = _generator(nx, nt, skip)
    parts = []
    for lo in range(0, num, chunk):
        idx = np.arange(lo, lo + chunk)
        parts.append(jax.device_get(gen(trajectory_keys(seed, split, idx)))[: num - lo])
    return np.concatenate(parts).astype(np.float32)


def windows(frames: np.ndarray, time_history: int) -> np.ndarray:
    """All (trajectory, start) pairs ``(N, 2)`` int32 of windows ``frames[i, t : t + T + 1]``."""
    n, nt = frames.shape[:2]
    if nt <= time_history:
        raise ValueError(f"trajectories of {nt} frames are too short for time_history {time_history}")
    i, t = np.meshgrid(np.arange(n), np.arange(nt - time_history), indexing="ij")
    return np.stack([i.ravel(), t.ravel()], -1).astype(np.int32)


def gather(frames: np.ndarray, pairs: np.ndarray, time_history: int) -> dict[str, np.ndarray]:
    """Inputs ``x (B, H, W, T, 4)`` and targets ``y (B, H, W, 1, 4)`` of windows ``pairs (B, 2)``."""
    idx = pairs[:, 1:2] + np.arange(time_history + 1)
    w = frames[pairs[:, :1], idx]  # (B, T + 1, H, W, 4)
    w = np.moveaxis(w, 1, -2)  # (B, H, W, T + 1, 4)
    return {"x": w[..., :time_history, :], "y": w[..., time_history:, :]}


def rollout(model, params, x0, num_steps: int):
    """Autoregressive prediction of ``num_steps`` frames from ``x0 (B, H, W, T, 4)``: ``(B, num_steps, H, W, 4)``."""

    def body(x, _):
        y = model.apply(params, x)
        return jnp.concatenate([x[..., 1:, :], y], -2), y[..., 0, :]

    _, ys = jax.lax.scan(body, x0, None, length=num_steps)
    return jnp.moveaxis(ys, 0, 1)


def make_problem(config):
    check_keys(config.keys(), CONFIG_KEYS, "the clifford config")
    T = config.time_history
    model = models.make_model(config.model, time_history=T, hidden=config.hidden, baseline_hidden=config.baseline_hidden,
                              num_blocks=config.num_blocks, modes=tuple(config.modes), padding_mode=config.padding_mode)
    if config.model in ("fno", "cfno") and any(2 * m > config.nx for m in config.modes):
        raise ValueError(f"modes {tuple(config.modes)} need 2 m <= nx = {config.nx}")
    if config.nt <= T:
        raise ValueError(f"nt {config.nt} must exceed time_history {T}")
    if config.padding_mode not in ("zeros", "circular"):
        raise ValueError(f"padding_mode must be 'zeros' or 'circular', got {config.padding_mode!r}")
    train_frames = make_dataset(config.nx, config.nt, config.num_train, "train", config.data_seed, skip=config.skip)
    valid_frames = make_dataset(config.nx, config.nt, config.num_valid, "valid", config.data_seed, skip=config.skip)

    loader = ArrayLoader(windows(train_frames, T), config.batch_size, seed=config.fit.seed)

    def data(step):
        return gather(train_frames, loader(step), T)

    def loss_fn(params, batch, key):
        pred = model.apply(params, batch["x"])
        return jnp.mean((pred[..., :3] - batch["y"][..., :3]) ** 2), {}

    schedule = optax.cosine_decay_schedule(config.learning_rate, max(1, config.fit.num_steps))
    optimizer = optax.adam(schedule)
    params = model.init(jax.random.key(config.fit.seed), jnp.zeros((1, config.nx, config.nx, T, 4), jnp.float32))
    print(f"[clifford] {config.model}: {models.count_params(params):,} parameters, {loader.num_examples} training windows")
    step = gradient_step(loss_fn, optimizer)
    state = init_train_state(params, optimizer)

    valid = jnp.asarray(valid_frames)
    num_rollout = config.nt - T

    def per_trajectory(params, traj):  # traj (nt, H, W, 4)
        pairs = windows(np.zeros((1, config.nt)), T)
        idx = pairs[:, 1:2] + np.arange(T + 1)
        w = jnp.moveaxis(traj[idx], 1, -2)  # (nt - T, H, W, T + 1, 4)
        one = jnp.mean((model.apply(params, w[..., :T, :])[..., :3] - w[..., T:, :3]) ** 2)
        pred = rollout(model, params, w[:1, ..., :T, :], num_rollout)[0]
        roll = jnp.mean((pred[..., :3] - traj[T:, ..., :3]) ** 2)
        return one, roll

    def evaluate(state, key):
        one, roll = jax.lax.map(lambda t: per_trajectory(state.params, t), valid)
        return {"onestep_mse": jnp.mean(one), "rollout_mse": jnp.mean(roll)}

    def plot(state, path):
        x0 = jnp.moveaxis(valid[:1, :T], 1, -2)  # (1, H, W, T, 4)
        pred = np.asarray(jax.jit(lambda p, x: rollout(model, p, x, num_rollout))(state.params, x0))[0]
        return plot_rollout(valid_frames[0, T:, ..., 0], pred[..., 0], path,
                            title=f"{config.model} on smoke {config.nx}x{config.nx}: validation trajectory 0")

    return step, state, data, evaluate, plot


def plot_rollout(true, pred, path, *, title: str = "", num_frames: int = 5) -> str:
    """True (top) and predicted (bottom) smoke ``(nt, H, W)`` at ``num_frames`` evenly spaced rollout steps."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    nt = true.shape[0]
    ts = np.unique(np.linspace(0, nt - 1, min(num_frames, nt)).astype(int))
    vmin, vmax = float(true.min()), float(true.max())
    fig, axes = plt.subplots(2, len(ts), figsize=(2.2 * len(ts), 4.6), squeeze=False)
    for j, t in enumerate(ts):
        for i, (f, name) in enumerate([(true, "true"), (pred, "predicted")]):
            ax = axes[i, j]
            ax.imshow(np.asarray(f[t]).T, origin="lower", vmin=vmin, vmax=vmax, cmap="viridis")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(name)
            if i == 0:
                ax.set_title(f"step {t + 1}")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def train_and_evaluate(config, workdir, resume: bool = False) -> dict:
    from train import fit_and_plot

    return fit_and_plot("clifford", config, workdir, make_problem(config), resume)
