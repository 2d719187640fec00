"""Clifford-layers experiment on Navier-Stokes smoke, shallow water (2D) or Maxwell (3D): generate
trajectories with jaxsci.pde, train a surrogate (ResNet / CResNet / rotational CResNet (2D) / FNO / CFNO)
on one-step prediction with the shared loop, evaluate one-step and rollout MSE on the validation
trajectories, plot a rollout (3D: the middle z slice)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxsci.clifford import models
from jaxsci.core.log import pyplot, save_figure
from jaxsci.core import ArrayLoader, check_keys, gradient_step, init_train_state
from jaxsci.pde import maxwell, navier_stokes, shallow_water
from jaxsci.pde.generate import trajectory_keys

CONFIG_KEYS = (
    "preset", "pde", "per_pde", "nx", "nt", "skip", "num_train", "num_valid", "data_seed", "model", "time_history",
    "hidden", "baseline_hidden", "num_blocks", "modes", "padding_mode", "batch_size", "learning_rate", "fit",
)
# keys that are None at the top level by default and then come from per_pde.<pde>
PER_PDE_KEYS = ("nx", "nt", "skip", "num_train", "num_valid", "hidden", "num_blocks", "modes", "batch_size",
                "padding_mode")
DIMS = {"smoke": 2, "shallow_water": 2, "maxwell": 3}


def resolve(config) -> dict:
    """The settings of the run: ``config`` with each None key of :data:`PER_PDE_KEYS` taken from
    ``config.per_pde[config.pde]``. Raises ValueError (before any work) for an unknown PDE, a per-PDE
    key left unset, or a model that does not exist in the PDE's dimension (``cresnet_rot`` is 2D only)."""
    check_keys(config.keys(), CONFIG_KEYS, "the clifford config")
    if config.pde not in DIMS:
        raise ValueError(f"unknown pde {config.pde!r}; choose one of {sorted(DIMS)}")
    for pde in config.per_pde.keys():
        check_keys(config.per_pde[pde].keys(), PER_PDE_KEYS, f"the clifford config per_pde.{pde}")
    own = config.per_pde[config.pde] if config.pde in config.per_pde else {}
    out = {k: config[k] for k in CONFIG_KEYS if k not in ("per_pde", "fit")}
    for k in PER_PDE_KEYS:
        if out[k] is None:
            if k not in own:
                raise ValueError(f"config.{k} is None and per_pde.{config.pde}.{k} is not set")
            out[k] = own[k]
    out["dim"] = dim = DIMS[config.pde]
    out["modes"] = tuple(out["modes"])
    if config.model not in models.model_names(dim):
        raise ValueError(f"model {config.model!r} is not available for pde {config.pde!r} ({dim}D); "
                         f"choose one of {models.model_names(dim)}")
    if config.model in ("fno", "cfno") and len(out["modes"]) != dim:
        raise ValueError(f"modes {out['modes']} must have {dim} entries for pde {config.pde!r}")
    return out


def spatial_shape(pde: str, nx: int) -> tuple[int, ...]:
    """Grid of one frame: smoke ``(nx, nx)``, shallow water ``(nx, nx // 2)`` (x by y), maxwell ``(nx,) * 3``."""
    return {"smoke": (nx, nx), "shallow_water": (nx, nx // 2), "maxwell": (nx, nx, nx)}[pde]


@functools.lru_cache(maxsize=8)
def _generator(nx: int, nt: int, skip: int, pde: str = "smoke"):
    if pde == "smoke":
        cfg = navier_stokes.SmokeConfig(nx=nx, ny=nx)
        navier_stokes.check_config(cfg)

        def one(key):
            out = navier_stokes.generate(key, nt, cfg=cfg, skip=skip)
            return models.to_multivector(out["smoke"], out["velocity"])
    elif pde == "shallow_water":
        cfg = shallow_water.SWConfig(ny=nx // 2, nx=nx)
        shallow_water.check_config(cfg)

        def one(key):  # the generator's [y, x] arrays transposed to [x, y], as the smoke's (e1 ~ axis 1)
            out = shallow_water.generate(key, nt + skip, cfg=cfg)
            h = jnp.swapaxes(out["height"][skip:], -1, -2)
            v = jnp.swapaxes(out["velocity"][skip:], -1, -2)
            return models.to_multivector(h, v)
    elif pde == "maxwell":
        if nx < 4:
            raise ValueError(f"maxwell needs nx >= 4, got {nx}")

        def one(key):
            out = maxwell.generate(key, nt, n=nx, skip=skip)
            return models.to_multivector_em(out["e"], out["h"])
    else:
        raise ValueError(f"unknown pde {pde!r}; choose one of {sorted(DIMS)}")

    return jax.jit(jax.vmap(one))


def make_dataset(nx: int, nt: int, num: int, split: str, seed: int, *, skip: int = navier_stokes.SKIP_STEPS,
                 chunk: int = 8, pde: str = "smoke") -> np.ndarray:
    """``num`` trajectories of ``split`` as multivector frames ``(num, nt, *spatial_shape(pde, nx), blades)``
    (numpy): smoke ``(smoke, vx, vy, 0)``, shallow water ``(height, u, v, 0)``, maxwell
    ``(0, Ex, Ey, Ez, Hz, -Hy, Hx, 0)``. Trajectory i uses the key of ``python -m jaxsci.pde.generate``
    (seed, split, i). Generated ``chunk`` at a time (the last chunk padded, so every split compiles the
    solver once)."""
    gen = _generator(nx, nt, skip, pde)
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
    """Inputs ``x (B, *spatial, T, I)`` and targets ``y (B, *spatial, 1, I)`` of windows ``pairs (B, 2)``
    (2D: ``(B, H, W, T, 4)``; 3D: ``(B, X, Y, Z, T, 8)``)."""
    idx = pairs[:, 1:2] + np.arange(time_history + 1)
    w = frames[pairs[:, :1], idx]  # (B, T + 1, *spatial, I)
    w = np.moveaxis(w, 1, -2)  # (B, *spatial, T + 1, I)
    return {"x": w[..., :time_history, :], "y": w[..., time_history:, :]}


def rollout(model, params, x0, num_steps: int):
    """Autoregressive prediction of ``num_steps`` frames from ``x0 (B, *spatial, T, I)``: ``(B, num_steps, *spatial, I)``."""

    def body(x, _):
        y = model.apply(params, x)
        return jnp.concatenate([x[..., 1:, :], y], -2), y[..., 0, :]

    _, ys = jax.lax.scan(body, x0, None, length=num_steps)
    return jnp.moveaxis(ys, 0, 1)


def make_problem(config):
    r = resolve(config)
    pde, dim, T, nx, nt = r["pde"], r["dim"], r["time_history"], r["nx"], r["nt"]
    if r["padding_mode"] not in ("zeros", "circular"):
        raise ValueError(f"padding_mode must be 'zeros' or 'circular', got {r['padding_mode']!r}")
    model = models.make_model(config.model, time_history=T, hidden=r["hidden"], baseline_hidden=r["baseline_hidden"],
                              num_blocks=r["num_blocks"], modes=r["modes"], padding_mode=r["padding_mode"], dim=dim)
    shape = spatial_shape(pde, nx)
    if config.model in ("fno", "cfno") and any(2 * m > n for m, n in zip(r["modes"], shape)):
        raise ValueError(f"modes {r['modes']} need 2 m <= size for the grid {shape}")
    if nt <= T:
        raise ValueError(f"nt {nt} must exceed time_history {T}")
    blades = 2**dim
    fb = models.field_blades(dim)
    fields = slice(fb[0], fb[-1] + 1)  # contiguous: 2D 1, e1, e2; 3D e1 .. e23
    assert fb == tuple(range(fb[0], fb[-1] + 1))
    data_kw = dict(skip=r["skip"], pde=pde)
    train_frames = make_dataset(nx, nt, r["num_train"], "train", r["data_seed"], **data_kw)
    valid_frames = make_dataset(nx, nt, r["num_valid"], "valid", r["data_seed"], **data_kw)

    loader = ArrayLoader(windows(train_frames, T), r["batch_size"], seed=config.fit.seed)

    def data(step):
        return gather(train_frames, loader(step), T)

    def mse(pred, true):  # over the field blades only (the others are 0 in data and output)
        return jnp.mean((pred[..., fields] - true[..., fields]) ** 2)

    def loss_fn(params, batch, key):
        return mse(model.apply(params, batch["x"]), batch["y"]), {}

    schedule = optax.cosine_decay_schedule(r["learning_rate"], max(1, config.fit.num_steps))
    optimizer = optax.adam(schedule)
    params = model.init(jax.random.key(config.fit.seed), jnp.zeros((1, *shape, T, blades), jnp.float32))
    print(f"[clifford] {pde} {'x'.join(map(str, shape))}, {config.model} ({type(model).__name__}, hidden "
          f"{model.hidden}): {models.count_params(params):,} parameters, {loader.num_examples} training windows")
    step = gradient_step(loss_fn, optimizer)
    state = init_train_state(params, optimizer)

    num_rollout = nt - T

    def per_trajectory(params, traj):  # traj (nt, *spatial, blades)
        pairs = windows(np.zeros((1, nt)), T)
        idx = pairs[:, 1:2] + np.arange(T + 1)
        w = jnp.moveaxis(traj[idx], 1, -2)  # (nt - T, *spatial, T + 1, blades)
        one = mse(model.apply(params, w[..., :T, :]), w[..., T:, :])
        pred = rollout(model, params, w[:1, ..., :T, :], num_rollout)[0]
        return one, mse(pred, traj[T:])

    def evaluate(state, key, valid):  # valid: the validation frames, passed by fit as eval_data (not a constant)
        one, roll = jax.lax.map(lambda t: per_trajectory(state.params, t), valid)
        return {"onestep_mse": jnp.mean(one), "rollout_mse": jnp.mean(roll)}

    # the plotted field: smoke / height (blade 0); maxwell: Ez (blade e3) on the middle z slice
    blade, what = {"smoke": (0, ""), "shallow_water": (0, " (height)"), "maxwell": (3, " (Ez, middle z slice)")}[pde]

    def plot(state, path):
        x0 = np.moveaxis(valid_frames[:1, :T], 1, -2)  # (1, *spatial, T, blades)
        pred = np.asarray(jax.jit(lambda p, x: rollout(model, p, x, num_rollout))(state.params, x0))[0]
        true, pred = valid_frames[0, T:, ..., blade], pred[..., blade]
        if dim == 3:
            true, pred = true[..., nx // 2], pred[..., nx // 2]
        return plot_rollout(true, pred, path,
                            title=f"{config.model} on {pde} {'x'.join(map(str, shape))}{what}: validation trajectory 0")

    return step, state, data, evaluate, plot, valid_frames


def plot_rollout(true, pred, path, *, title: str = "", num_frames: int = 5) -> str:
    """True (top) and predicted (bottom) 2D field ``(nt, H, W)`` at ``num_frames`` evenly spaced rollout steps."""
    plt = pyplot()

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
    return save_figure(fig, path, dpi=100)


def train_and_evaluate(config, workdir, resume: bool = False) -> dict:
    from train import fit_and_plot

    return fit_and_plot("clifford", config, workdir, make_problem(config), resume)
