"""Path-integral cross-entropy (PICE) training of a transition-path policy (Holdijk et al., PIPS).

Each replica starts at ``system.start`` and follows Langevin dynamics (:mod:`jaxsci.md.langevin`) with an
external force ``control_scale * (u(x_t) + eps_t)`` held over each step, ``eps_t ~ N(0, sigma^2)`` per
coordinate (the original applies it through an OpenMM CustomExternalForce with k = 1000 and the opposite
sign, which the network absorbs). The path cost of replica n (the original's, with its dt = 1, R = I and
lambda = sigma^2) is

    S_n = (1/T) sum_t [ u_t.u_t / 2 + |u_t.eps_t| ] / lambda  +  phi(x_T),
    phi(x) = terminal_scale * exp( mean_ij (D_ij(x) - D_ij(target))^2 ),

with ``D`` the pairwise-distance matrix (nm) and T the number of steps (``abs_noise_cost=False`` drops
the original's absolute value). The importance weights are ``w = softmax(-S)`` over the replicas and
the PICE gradient is ``sum_n w_n sum_t (d u(x_t) / d theta)^T (-eps_t)``, accumulated per replica inside
the rollout's ``lax.scan`` (positions are not differentiated through, as in the original). The
effective sample size ``1 / sum_n w_n^2`` is reported.

Two differences from the original's loop, both deliberate: it passes each action through the state's
velocity slot into the next OpenMM step, so a control acts one step late (and the first step is
uncontrolled); ours acts in the step it is computed for. And its replicas start from the minimised
structure with zero velocities; ours draw Maxwell-Boltzmann velocities at ``temp``.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxsci.core.step import TrainState, global_norm
from jaxsci.md import langevin
from jaxsci.md.geometry import wrap_angle
from jaxsci.pips.policy import PolicyMLP, control


@dataclasses.dataclass(frozen=True)
class System:
    """A molecule for PIPS: ``potential(x) -> kJ/mol`` of ``x (N, 3)`` nm, ``masses (N,)`` amu, the
    ``start`` and ``target`` configurations ``(N, 3)``, and optionally collective variables ``cv(x) -> (d,)``
    (e.g. phi, psi in radians) with ``cv_periodic``, used only for metrics and plots, never by the policy.
    ``constraints``: fixed bond lengths the dynamics keep (e.g. HBonds, as the original runs OpenMM), which
    ``start`` and ``target`` satisfy; None: every bond flexible."""

    potential: Callable[[jax.Array], jax.Array]
    masses: jax.Array
    start: jax.Array
    target: jax.Array
    cv: Callable[[jax.Array], jax.Array] | None = None
    cv_periodic: bool = True
    hit_radius: float = 0.75
    constraints: langevin.Constraints | None = None


@dataclasses.dataclass(frozen=True)
class PICEConfig:
    num_steps: int = 5000  # dynamics steps per path
    dt: float = 0.001  # ps (1 fs)
    temp: float = 300.0  # K
    friction: float = 1.0  # 1/ps
    sigma: float = 0.05  # std of the control noise (action units); 0: sampling the learned control alone
    control_scale: float = 1000.0  # kJ/mol/nm per action unit
    grad_scale: float = 10.0  # potential mode: u = -grad_scale grad_x b(x)
    terminal_scale: float = 10.0
    abs_noise_cost: bool = True  # the original's |u.eps|
    save_every: int = 50  # keep the positions every this many steps (plots, metrics)

    def __post_init__(self):
        if self.num_steps <= 0 or self.num_steps % self.save_every:
            raise ValueError(f"num_steps ({self.num_steps}) must be a positive multiple of save_every ({self.save_every})")
        for name in ("dt", "temp", "control_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not self.sigma >= 0:
            raise ValueError(f"sigma must be >= 0, got {self.sigma}")


class Paths(NamedTuple):
    """Per replica (leading axis n): ``x (n, N, 3)`` final positions; ``saved (n, K, N, 3)`` positions every
    ``save_every`` steps (K = num_steps / save_every); ``energy (n, K)`` kJ/mol at those points; ``max_energy
    (n,)`` over every step; ``control_cost (n,)`` the running part of S; ``terminal (n,)`` phi; ``cost (n,)`` S."""

    x: jax.Array
    saved: jax.Array
    energy: jax.Array
    max_energy: jax.Array
    control_cost: jax.Array
    terminal: jax.Array
    cost: jax.Array


def pairwise_distances(x: jax.Array) -> jax.Array:
    """``(..., N, N)`` nm; the diagonal is exactly zero with a gradient that is finite."""
    diff = x[..., :, None, :] - x[..., None, :, :]
    sq = jnp.sum(diff**2, -1)
    eye = jnp.eye(x.shape[-2], dtype=bool)
    return jnp.where(eye, 0.0, jnp.sqrt(jnp.where(eye, 1.0, sq)))


def terminal_cost(x: jax.Array, target: jax.Array, scale: float) -> jax.Array:
    """phi = scale * exp(mean (D(x) - D(target))^2) for ``x (..., N, 3)``."""
    return scale * jnp.exp(jnp.mean((pairwise_distances(x) - pairwise_distances(target)) ** 2, axis=(-2, -1)))


def rollout(model: PolicyMLP, params, system: System, cfg: PICEConfig, x0: jax.Array, keys: jax.Array, *,
            with_grads: bool = False, sigma: jax.Array | None = None):
    """Controlled paths of ``n`` replicas from ``x0 (n, N, 3)`` with ``keys (n,)``; returns ``Paths`` and, with
    ``with_grads``, the per-replica PICE gradients (the params pytree with a leading axis n), else None.
    ``sigma (n,)``: each replica's control noise, in place of ``cfg.sigma`` (an annealed schedule)."""
    masses = jnp.asarray(system.masses, x0.dtype)
    per_replica = sigma is not None
    sigmas = jnp.asarray(sigma, x0.dtype) if per_replica else jnp.zeros(x0.shape[:1], x0.dtype)

    def one(x0, key, sigma_n):
        # cfg.sigma as a Python number unless overridden (the same arithmetic as before the override existed)
        sigma = sigma_n if per_replica else cfg.sigma
        lam = jnp.where(sigma > 0, sigma**2, 1.0) if per_replica else (cfg.sigma**2 if cfg.sigma > 0 else 1.0)
        # (sigma = 0, sampling: the running cost with lambda = 1)
        k_v, k_run = jax.random.split(key)
        v0 = langevin.maxwell_boltzmann(k_v, masses, cfg.temp)
        state = langevin.init_state(system.potential, x0, v0)
        grads0 = jax.tree.map(jnp.zeros_like, params) if with_grads else None

        def step(carry, k):
            state, cost, emax, grads = carry
            k_eps, k_xi = jax.random.split(k)
            eps = sigma * jax.random.normal(k_eps, state.x.shape, state.x.dtype)
            xi = jax.random.normal(k_xi, state.x.shape, state.x.dtype)
            if with_grads:
                u, vjp = jax.vjp(lambda p: control(model, p, state.x, cfg.grad_scale), params)
                grads = jax.tree.map(jnp.add, grads, vjp(-eps.astype(u.dtype))[0])
            else:
                u = control(model, params, state.x, cfg.grad_scale)
            u = u.astype(state.x.dtype)
            ue = jnp.sum(u * eps)
            cost = cost + (0.5 * jnp.sum(u * u) + (jnp.abs(ue) if cfg.abs_noise_cost else ue)) / lam
            state = langevin.middle_step(system.potential, state, masses, xi, dt=cfg.dt, friction=cfg.friction,
                                         temp=cfg.temp, external=cfg.control_scale * (u + eps),
                                         constraints=system.constraints)
            return (state, cost, jnp.maximum(emax, state.energy), grads), None

        def block(carry, k):
            carry, _ = jax.lax.scan(step, carry, jax.random.split(k, cfg.save_every))
            return carry, (carry[0].x, carry[0].energy)

        init = (state, jnp.zeros((), x0.dtype), state.energy, grads0)
        (state, cost, emax, grads), (saved, energy) = jax.lax.scan(
            block, init, jax.random.split(k_run, cfg.num_steps // cfg.save_every))
        return state.x, saved, energy, emax, cost / cfg.num_steps, grads

    x, saved, energy, emax, control_cost, grads = jax.vmap(one)(x0, keys, sigmas)
    terminal = terminal_cost(x, jnp.asarray(system.target, x.dtype), cfg.terminal_scale)
    return Paths(x, saved, energy, emax, control_cost, terminal, control_cost + terminal), grads


def importance_weights(cost: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(w, ess)``: softmax(-S) over the replicas and the effective sample size 1 / sum w^2. A replica
    whose cost is not finite (a path that blew up) gets weight 0."""
    w = jax.nn.softmax(jnp.where(jnp.isfinite(cost), -cost, -jnp.inf))
    return w, 1.0 / jnp.sum(w**2)


def make_step(model: PolicyMLP, system: System, cfg: PICEConfig, optimizer: optax.GradientTransformation, *,
              clip_norm: float | None = None):
    """``step(state, batch, key) -> (state, metrics)`` for :func:`jaxsci.core.fit`: one PICE update from
    ``n`` rollouts. ``batch = {"x0": (n, N, 3), "index": (n,) int[, "sigma": (n,) the control noise of this
    update, for an annealed schedule]}``; replica i's randomness is
    ``fold_in(key, index_i)``, so the result does not depend on how the replicas are split over devices.
    ``clip_norm``: rescale the weighted gradient to at most this global norm (None: the original's plain
    update). A replica whose path blew up (non-finite cost) gets weight 0 and is counted in ``diverged``;
    the other metrics average the finite replicas (all diverged: NaN, which stops the loop)."""
    if clip_norm is not None and not clip_norm > 0:
        raise ValueError(f"clip_norm must be positive, got {clip_norm}")
    if not cfg.sigma > 0:
        raise ValueError(f"PICE needs control noise: sigma must be positive, got {cfg.sigma}")

    def step(state: TrainState, batch, key):
        keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(batch["index"])
        paths, grads = rollout(model, state.params, system, cfg, batch["x0"], keys, with_grads=True,
                               sigma=batch.get("sigma"))
        w, ess = importance_weights(paths.cost)
        ok = jnp.isfinite(paths.cost)  # a blown-up replica's gradient may be NaN: 0 * NaN would poison the sum
        grads = jax.tree.map(lambda g: jnp.tensordot(w.astype(g.dtype), jnp.where(ok.reshape((-1,) + (1,) * (g.ndim - 1)), g, 0), axes=1), grads)
        grad_norm = global_norm(grads)
        if clip_norm is not None:
            scale = jnp.minimum(1.0, clip_norm / jnp.maximum(grad_norm, 1e-30))
            grads = jax.tree.map(lambda g: g * scale.astype(g.dtype), grads)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        state = state.replace(params=optax.apply_updates(state.params, updates), opt_state=opt_state)
        mean = lambda v: _finite_mean(v, ok)  # noqa: E731
        metrics = {"cost": mean(paths.cost), "cost_min": jnp.min(jnp.where(ok, paths.cost, jnp.inf)), "diverged": jnp.sum(~ok),
                   "terminal": mean(paths.terminal), "control_cost": mean(paths.control_cost), "ess": ess,
                   "grad_norm": grad_norm, **path_metrics(system, paths, hit_energy=False)}
        return state, metrics

    return step


def _finite_mean(values: jax.Array, ok: jax.Array) -> jax.Array:
    """Mean of ``values (n,)`` over the replicas where ``ok``; NaN when none is."""
    return jnp.sum(jnp.where(ok, values, 0.0)) / jnp.sum(ok)


def path_metrics(system: System, paths: Paths, *, hit_energy: bool = True) -> dict[str, jax.Array]:
    """Means over replicas (paths that blew up count as misses and are left out of the other means): ``hit`` (fraction whose final collective variables lie within ``hit_radius`` of
    the target's, if ``system.cv``), ``max_energy_hit`` (mean over hit paths of the maximum energy along
    the path, kJ/mol; NaN without hits, so left out with ``hit_energy=False``, as in the training step's
    metrics, which the loop checks for NaN), ``max_energy``, ``distance_error`` (RMS of D(x) - D(target), nm)
    and ``rmsd`` (after Kabsch alignment to the target, nm)."""
    target = jnp.asarray(system.target, paths.x.dtype)
    ok = jnp.isfinite(paths.cost) & jnp.all(jnp.isfinite(paths.x), axis=(-2, -1))
    mean = lambda v: _finite_mean(v, ok)  # noqa: E731  (blown-up paths left out)
    out = {
        "max_energy": mean(paths.max_energy),
        "distance_error": mean(jnp.sqrt(jnp.mean((pairwise_distances(paths.x) - pairwise_distances(target)) ** 2, (-2, -1)))),
        "rmsd": mean(jax.vmap(lambda x: kabsch_rmsd(x, target))(paths.x)),
    }
    if system.cv is not None:
        hit = hits(system, paths.x) & ok
        out["hit"] = jnp.mean(hit)
        if hit_energy:
            out["max_energy_hit"] = jnp.sum(jnp.where(hit, paths.max_energy, 0.0)) / jnp.sum(hit)
    return out


def hits(system: System, x: jax.Array) -> jax.Array:
    """``(n,)`` bool: final collective variables within ``hit_radius`` (Euclidean, wrapped if periodic)."""
    d = jax.vmap(system.cv)(x) - system.cv(jnp.asarray(system.target, x.dtype))
    if system.cv_periodic:
        d = wrap_angle(d)
    return jnp.linalg.norm(d, axis=-1) < system.hit_radius


def kabsch_rmsd(x: jax.Array, y: jax.Array) -> jax.Array:
    """RMSD (nm) of ``x (N, 3)`` to ``y (N, 3)`` after optimal translation and rotation (no reflection)."""
    xc, yc = x - x.mean(0), y - y.mean(0)
    u, _, vt = jnp.linalg.svd(xc.T @ yc)
    d = jnp.sign(jnp.linalg.det(u @ vt))
    rot = u @ jnp.diag(jnp.array([1.0, 1.0, 1.0], x.dtype).at[2].set(d)) @ vt
    return jnp.sqrt(jnp.mean(jnp.sum((xc @ rot - yc) ** 2, -1)))
