"""PIPS experiment: train the transition-path policy of alanine dipeptide (C5 -> C7ax) with PICE through
the shared loop, then compare its paths with unbiased MD (300 K and a raised temperature) and steered MD
along (phi, psi), all with the same path length and dynamics."""

from __future__ import annotations

import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxsci import pips
from jaxsci.core import check_keys, init_train_state
from jaxsci.core.log import pyplot, save_figure
from jaxsci.md.geometry import wrap_angle
from jaxsci.pips import baselines, molecules

CONFIG_KEYS = (
    "preset", "molecule", "implicit", "constraints", "mode", "features", "num_replicas", "num_eval", "num_steps", "save_every", "dt",
    "temp", "friction", "sigma", "control_scale", "grad_scale", "terminal_scale", "abs_noise_cost", "optimizer",
    "learning_rate", "lr_schedule", "clip_norm", "eval_sigma", "sigma_start", "hot_temp", "steered_spring",
    "energy_map",
    "fit",
)
MOLECULES = ("alanine_dipeptide", "polyproline", "chignolin")
IMPLICIT = {"none": None, "obc": "obc", "gbn2": "gbn2"}
CONSTRAINTS = {"none": None, "hbonds": "hbonds"}
OPTIMIZERS = {"sgd": optax.sgd, "adam": optax.adam}
LR_SCHEDULES = ("constant", "cosine")
EVAL_METRICS = ("hit", "max_energy_hit", "max_energy", "distance_error", "rmsd")


def check_config(config) -> None:
    """Refuse unknown keys and values before any work (building the molecule takes seconds)."""
    check_keys(config, CONFIG_KEYS, "pips config")
    for key, allowed in (("molecule", MOLECULES), ("implicit", tuple(IMPLICIT)), ("constraints", tuple(CONSTRAINTS)),
                         ("mode", pips.policy.MODES),
                         ("optimizer", tuple(OPTIMIZERS)), ("lr_schedule", LR_SCHEDULES)):
        if config[key] not in allowed:
            raise ValueError(f"unknown {key} {config[key]!r}; choose from {allowed}")
    if config.num_replicas < 1 or config.num_eval < 1:
        raise ValueError("num_replicas and num_eval must be >= 1")
    if config.sigma_start is not None and not config.sigma_start > 0:
        raise ValueError(f"sigma_start must be positive (or None: a constant sigma), got {config.sigma_start}")
    if config.energy_map < 0 or config.energy_map == 1:
        raise ValueError(f"energy_map is a grid size >= 2 (or 0: no map), got {config.energy_map}")
    if config.eval_sigma is not None and not config.eval_sigma >= 0:
        raise ValueError(f"eval_sigma must be >= 0 (or None: the training sigma), got {config.eval_sigma}")


def pice_config(config, *, evaluation: bool = False) -> pips.PICEConfig:
    """The PICE settings; ``evaluation``: with ``eval_sigma`` as the control noise (when set)."""
    sigma = config.eval_sigma if evaluation and config.eval_sigma is not None else config.sigma
    return pips.PICEConfig(num_steps=config.num_steps, dt=config.dt, temp=config.temp, friction=config.friction,
                           sigma=sigma, control_scale=config.control_scale, grad_scale=config.grad_scale,
                           terminal_scale=config.terminal_scale, abs_noise_cost=config.abs_noise_cost,
                           save_every=config.save_every)


def sigma_at(config, step: int) -> float:
    """The control noise of update ``step``: cosine-annealed from ``sigma_start`` to ``sigma`` over the run."""
    frac = min(step / max(config.fit.num_steps, 1), 1.0)
    return config.sigma + (config.sigma_start - config.sigma) * 0.5 * (1.0 + math.cos(math.pi * frac))


def make_problem(config):
    check_config(config)
    cfg = pice_config(config)
    if config.molecule == "alanine_dipeptide":
        built = molecules.alanine_dipeptide(IMPLICIT[config.implicit], constraints=CONSTRAINTS[config.constraints])
    elif config.implicit != "gbn2":
        raise ValueError(f"{config.molecule} is built in GBn2 implicit solvent, as in the paper: set implicit='gbn2'")
    else:
        built = molecules.BUILDERS[config.molecule](constraints=CONSTRAINTS[config.constraints])
    system = built.system
    n_atoms = system.start.shape[0]
    model = pips.PolicyMLP(num_atoms=n_atoms, mode=config.mode, features=tuple(config.features))
    lr = config.learning_rate
    if config.lr_schedule == "cosine":
        lr = optax.cosine_decay_schedule(config.learning_rate, config.fit.num_steps)
    optimizer = OPTIMIZERS[config.optimizer](lr)
    state = init_train_state(pips.init(jax.random.key(config.fit.seed), model, system.start), optimizer)
    step = pips.make_step(model, system, cfg, optimizer, clip_norm=config.clip_norm or None)
    x0 = np.broadcast_to(np.asarray(system.start), (config.num_replicas, n_atoms, 3)).copy()
    batch = {"x0": x0, "index": np.arange(config.num_replicas, dtype=np.int32)}

    def data(i):
        if config.sigma_start is None:
            return batch
        return {**batch, "sigma": np.full(config.num_replicas, sigma_at(config, i), np.float32)}

    eval_x0 = jnp.broadcast_to(system.start, (config.num_eval, n_atoms, 3))
    eval_cfg = pice_config(config, evaluation=True)

    def evaluate(state, key):
        keys = jax.random.split(key, config.num_eval)
        paths, _ = pips.rollout(model, state.params, system, eval_cfg, eval_x0, keys)
        return pips.path_metrics(system, paths)

    def plot(state, path):
        return compare_paths(config, built, model, state.params, os.path.dirname(path))

    return step, state, data, evaluate, plot


def compare_paths(config, built, model, params, workdir: str) -> str:
    """PIPS, unbiased MD (``temp`` and ``hot_temp``) and steered MD, ``num_eval`` paths each of the same
    length: metrics to ``paths.json``, the paths on (phi, psi) and the energy along them to ``paths.png``."""
    system, cfg = built.system, pice_config(config, evaluation=True)
    x0 = jnp.broadcast_to(system.start, (config.num_eval, *system.start.shape))
    keys = jax.random.split(jax.random.key(20_000 + config.fit.seed), config.num_eval)
    md_kw = dict(num_steps=cfg.num_steps, dt=cfg.dt, friction=cfg.friction, save_every=cfg.save_every,
                 terminal_scale=cfg.terminal_scale)
    # one compile for the three baselines: unbiased MD is steered MD with a spring of 0 (its bias force is exactly 0)
    md = jax.jit(lambda k, temp, spring: baselines.md_paths(system, x0, k, temp=temp,
                                                            bias=baselines.steered_bias(system, spring), **md_kw))
    temp, hot, spring = (jnp.float32(v) for v in (cfg.temp, config.hot_temp, config.steered_spring))
    runs = {
        "pips": jax.jit(lambda p, k: pips.rollout(model, p, system, cfg, x0, k)[0])(params, keys),
        f"md_{config.temp:g}K": md(keys, temp, jnp.float32(0.0)),
        f"md_{config.hot_temp:g}K": md(keys, hot, jnp.float32(0.0)),
        "steered_md": md(keys, temp, spring),
    }
    metrics = {name: {k: float(v) for k, v in pips.path_metrics(system, paths).items()} for name, paths in runs.items()}
    for name, m in metrics.items():
        print(f"[pips] {name}: " + "  ".join(f"{k}={v:.4g}" for k, v in m.items()))
    out = {"start_cv": built.start_cv.tolist(), "target_cv": built.target_cv.tolist(),
           "num_paths": config.num_eval, "num_steps": cfg.num_steps, "metrics": metrics}
    with open(os.path.join(workdir, "paths.json"), "w") as f:
        json.dump(out, f, indent=1)
    emap = None
    if config.molecule == "alanine_dipeptide" and config.energy_map:
        emap = molecules.phi_psi_energy_map(built, config.energy_map)
        np.savez(os.path.join(workdir, "energy_map.npz"), phi_deg=emap[0], psi_deg=emap[1], energy=emap[2])
    return plot_paths(system, runs, built, os.path.join(workdir, "paths.png"), energy_map=emap)


def plot_paths(system, runs, built, path: str, max_paths: int = 16, energy_map=None) -> str:
    """Top: the paths on (phi, psi) for alanine dipeptide (over ``energy_map = (phi, psi, energy)`` from
    :func:`jaxsci.pips.molecules.phi_psi_energy_map` when given), else the distance of the collective variables to
    the target's along the path (the hit radius dashed); bottom: the potential energy along the path."""
    plt = pyplot()
    fig, axes = plt.subplots(2, len(runs), figsize=(3.2 * len(runs), 6.0))
    start, target = np.rad2deg(built.start_cv), np.rad2deg(built.target_cv)
    plane = system.cv_periodic and start.shape == (2,)
    for j, (name, paths) in enumerate(runs.items()):
        cvs = np.asarray(jax.vmap(jax.vmap(system.cv))(paths.saved[:max_paths]))  # (n, K, d)
        if not plane:
            d = cvs - np.asarray(built.target_cv)
            d = np.asarray(wrap_angle(d)) if system.cv_periodic else d
            ax = axes[0, j]
            frac = np.arange(1, cvs.shape[1] + 1) / cvs.shape[1]
            ax.plot(frac, np.linalg.norm(d, axis=-1).T, lw=0.7, alpha=0.7)
            ax.axhline(system.hit_radius, color="r", ls="--")
            ax.set(xlabel="fraction of the path", ylabel="|cv - cv(target)|", title=name)
            energy = np.asarray(paths.energy[:max_paths])
            axes[1, j].plot(frac, energy.T, lw=0.7, alpha=0.7)
            axes[1, j].set(xlabel="fraction of the path", ylabel="potential energy (kJ/mol)")
            continue
        angles = np.rad2deg(cvs)
        ax = axes[0, j]
        if energy_map is not None:
            levels = np.arange(0.0, 81.0, 8.0)  # kJ/mol above the map's minimum; higher is drawn as the top level
            filled = ax.contourf(energy_map[0], energy_map[1], np.minimum(energy_map[2], levels[-1]).T, levels=levels,
                                 cmap="Greys_r", alpha=0.6)
            if j == len(runs) - 1:
                fig.colorbar(filled, ax=ax, label="relaxed energy (kJ/mol)")
        for a in angles:
            jumps = np.abs(np.diff(a, axis=0)).max(-1) > 180  # do not draw across the periodic boundary
            a = a.copy()
            a[1:][jumps] = np.nan
            ax.plot(a[:, 0], a[:, 1], lw=0.7, alpha=0.7)
        ax.plot(*start, "ko", ms=5, label="start (C5)")
        ax.plot(*target, "r*", ms=9, label="target (C7ax)")
        ax.add_patch(plt.Circle(target, np.rad2deg(system.hit_radius), fill=False, color="r", ls="--"))
        ax.set(xlim=(-180, 180), ylim=(-180, 180), xlabel="phi (deg)", ylabel="psi (deg)", title=name)
        ax = axes[1, j]
        energy = np.asarray(paths.energy[:max_paths])
        ax.plot(np.arange(1, energy.shape[1] + 1) / energy.shape[1], energy.T, lw=0.7, alpha=0.7)
        ax.set(xlabel="fraction of the path", ylabel="potential energy (kJ/mol)")
    if plane:
        axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path, dpi=100)


def train_and_evaluate(config, workdir, resume: bool = False) -> dict:
    from train import fit_and_plot

    return fit_and_plot("pips", config, workdir, make_problem(config), resume)
