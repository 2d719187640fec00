"""Langevin dynamics by BAOAB splitting in its leapfrog ("middle") form, as a fixed-step ``lax.scan``.

Units (OpenMM's): positions nm, velocities nm/ps, masses amu (g/mol), forces kJ/mol/nm, time ps,
energies kJ/mol, temperature K. One step of length ``dt`` (the scheme of OpenMM's
LangevinMiddleIntegrator; the positions are those of Leimkuhler & Matthews' BAOAB):

    B: v += dt F(x)/m     A: x += dt/2 v     O: v = c v + sqrt((1 - c^2) kT/m) xi     A: x += dt/2 v

with ``c = exp(-friction dt)``, ``xi ~ N(0, 1)`` and ``F = -grad U`` of a potential ``U(x)`` (kJ/mol). The
velocities are kept at half steps (after O), where their distribution is exact for harmonic modes: at
1 fs the C-H stretch (period ~11 fs) makes full-step BAOAB velocities ~2-3 % too cold for alanine
dipeptide, which the half-step ones are not. The energy and force at the new position are carried to the
next step, so each step evaluates them once. An external force ``F_ext`` (a control) can be added to the
field's force; it is held constant over the step.

Bond constraints (``constraints=``, e.g. the HBonds that the original PIPS runs OpenMM with) follow OpenMM's
LangevinMiddleIntegrator: after the kick B the velocities are projected so that no constrained distance
changes (``constrain_velocities``, RATTLE's velocity step, an exact linear solve); after A O A the positions
are projected back onto the constraints along the bond vectors of the step's start (``constrain_positions``,
SHAKE's condition solved by Newton's method with a dense K x K Jacobian, a fixed number of iterations) and the
velocities take up the correction, ``v += (x_constrained - x) / dt``. Without constraints every bond is
flexible; at 1 fs the X-H vibrations (~11 fs) are resolved. With HBond constraints, unbiased dynamics at 2 fs hold
their temperature (tests/md/test_constraints.py).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

KB = 0.00831446261815324  # Boltzmann constant, kJ/mol/K (OpenMM's BOLTZ * AVOGADRO)


class LangevinState(NamedTuple):
    """``x (..., N, 3)`` nm, ``v (..., N, 3)`` nm/ps, and at ``x``: ``force (..., N, 3)`` kJ/mol/nm,
    ``energy (...)`` kJ/mol."""

    x: jax.Array
    v: jax.Array
    force: jax.Array
    energy: jax.Array


class Constraints(NamedTuple):
    """Fixed distances ``|x_a - x_b| = dist`` for the atom pairs ``idx (K, 2)`` int, ``dist (K,)`` nm."""

    idx: jax.Array
    dist: jax.Array


def _incidence(cons: Constraints, n_atoms: int, dtype) -> jax.Array:
    """``C (K, N)``: +1 at atom a and -1 at atom b of each constraint, so ``C x`` are the bond vectors."""
    return (jax.nn.one_hot(cons.idx[:, 0], n_atoms, dtype=dtype) - jax.nn.one_hot(cons.idx[:, 1], n_atoms, dtype=dtype))


def constrain_velocities(x: jax.Array, v: jax.Array, masses: jax.Array, cons: Constraints) -> jax.Array:
    """``v (N, 3)`` nm/ps projected (in the mass metric) onto the velocities that keep every constrained
    distance of ``x (N, 3)`` fixed: ``r_k . (v_a - v_b) = 0`` for each bond vector ``r_k = x_a - x_b``."""
    inv_m = 1.0 / masses
    c = _incidence(cons, x.shape[0], x.dtype)
    r = c @ x  # (K, 3)
    a = ((c * inv_m) @ c.T) * (r @ r.T)  # (K, K): the change of r_k.(v_a - v_b) per unit multiplier of l
    mu = jnp.linalg.solve(a, jnp.sum(r * (c @ v), -1))
    return v - inv_m[:, None] * (c.T @ (mu[:, None] * r))


def constrain_positions(x_ref: jax.Array, x: jax.Array, masses: jax.Array, cons: Constraints, *,
                        iterations: int = 6) -> jax.Array:
    """``x (N, 3)`` nm moved onto the constraints, ``|x_a - x_b| = dist``, along the bond vectors of ``x_ref (N, 3)``
    weighted by inverse mass (SHAKE's correction): ``x - M^-1 C^T (lambda r_ref)``, with the multipliers
    ``lambda (K,)`` from ``iterations`` Newton steps on ``|s_k(lambda)|^2 = dist_k^2``. From positions one
    step of dynamics off the constraints the residual falls quadratically: 6 steps reach float64 rounding."""
    inv_m = 1.0 / masses
    c = _incidence(cons, x.shape[0], x.dtype)
    r = c @ x_ref  # (K, 3)
    b = (c * inv_m) @ c.T  # (K, K)
    s0 = c @ x
    d2 = cons.dist.astype(x.dtype) ** 2

    def newton(_, lam):
        s = s0 - b @ (lam[:, None] * r)
        jac = -2.0 * b * (s @ r.T)  # d |s_k|^2 / d lambda_l
        return lam - jnp.linalg.solve(jac, jnp.sum(s * s, -1) - d2)

    lam = jax.lax.fori_loop(0, iterations, newton, jnp.zeros(cons.dist.shape, x.dtype))
    return x - inv_m[:, None] * (c.T @ (lam[:, None] * r))


def constraint_error(x: jax.Array, cons: Constraints) -> jax.Array:
    """``(..., K)``: ``|x_a - x_b| / dist - 1`` of positions ``x (..., N, 3)``."""
    d = jnp.linalg.norm(x[..., cons.idx[:, 0], :] - x[..., cons.idx[:, 1], :], axis=-1)
    return d / cons.dist.astype(d.dtype) - 1.0


def energy_and_force(potential: Callable[[jax.Array], jax.Array], x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(U(x), -grad U(x))`` for one configuration ``x (N, 3)``."""
    energy, grad = jax.value_and_grad(potential)(x)
    return energy, -grad


def kinetic_energy(v: jax.Array, masses: jax.Array) -> jax.Array:
    """``(...)`` kJ/mol of velocities ``(..., N, 3)`` nm/ps and masses ``(N,)`` amu."""
    return 0.5 * jnp.sum(masses[:, None] * v**2, axis=(-2, -1))


def temperature(v: jax.Array, masses: jax.Array, num_constraints: int = 0) -> jax.Array:
    """Instantaneous temperature (K) from equipartition over the 3N - K degrees of freedom (K constraints)."""
    return 2.0 * kinetic_energy(v, masses) / ((3 * masses.shape[0] - num_constraints) * KB)


def maxwell_boltzmann(key: jax.Array, masses: jax.Array, temp: float, shape: tuple[int, ...] = ()) -> jax.Array:
    """Velocities ``(*shape, N, 3)`` nm/ps drawn at temperature ``temp`` K."""
    sd = jnp.sqrt(KB * temp / masses)[:, None]
    return sd * jax.random.normal(key, (*shape, masses.shape[0], 3), dtype=masses.dtype)


def init_state(potential: Callable[[jax.Array], jax.Array], x: jax.Array, v: jax.Array) -> LangevinState:
    """The state at ``x, v`` (one replica) with the energy and force of ``potential`` evaluated there."""
    energy, force = energy_and_force(potential, x)
    return LangevinState(x, v, force, energy)


def middle_step(potential: Callable[[jax.Array], jax.Array], state: LangevinState, masses: jax.Array, xi: jax.Array, *,
                dt: float, friction: float, temp: float, external: jax.Array | float = 0.0,
                constraints: Constraints | None = None) -> LangevinState:
    """One step of one replica. ``xi (N, 3)`` standard normal; ``external`` a force (N, 3) kJ/mol/nm added
    to ``-grad potential`` in this step's kick. ``state.v`` is the velocity half a step before ``state.x``.
    ``constraints``: fixed distances, imposed as OpenMM's LangevinMiddleIntegrator does (module docstring);
    ``state.x`` must satisfy them (``constrain_positions(x, x, ...)`` projects a structure onto them)."""
    inv_m = (1.0 / masses)[:, None]
    c = jnp.exp(-friction * dt)
    v = state.v + dt * (state.force + external) * inv_m
    if constraints is not None:
        v = constrain_velocities(state.x, v, masses, constraints)
    x = state.x + 0.5 * dt * v
    v = c * v + jnp.sqrt((1.0 - c**2) * KB * temp * inv_m) * xi
    x = x + 0.5 * dt * v
    if constraints is not None:
        x_free, x = x, constrain_positions(state.x, x, masses, constraints)
        v = v + (x - x_free) / dt
    energy, force = energy_and_force(potential, x)
    return LangevinState(x, v, force, energy)


def simulate(potential: Callable[[jax.Array], jax.Array], state: LangevinState, masses: jax.Array, key: jax.Array,
             num_steps: int, *, dt: float = 0.001, friction: float = 1.0, temp: float = 300.0,
             save_every: int = 1, observe: Callable[[LangevinState], object] | None = None,
             constraints: Constraints | None = None):
    """Unbiased Langevin dynamics of one replica for ``num_steps`` steps (vmap it over replicas).

    Returns ``(final_state, observed)`` where ``observed`` stacks ``observe(state)`` (default: the
    positions) after every ``save_every``-th step: leading axis ``num_steps // save_every``.
    """
    if num_steps % save_every:
        raise ValueError(f"num_steps ({num_steps}) must be a multiple of save_every ({save_every})")
    observe = observe or (lambda s: s.x)

    def inner(state, k):
        xi = jax.random.normal(k, state.x.shape, state.x.dtype)
        return middle_step(potential, state, masses, xi, dt=dt, friction=friction, temp=temp,
                           constraints=constraints), None

    def outer(state, k):
        state, _ = jax.lax.scan(inner, state, jax.random.split(k, save_every))
        return state, observe(state)

    return jax.lax.scan(outer, state, jax.random.split(key, num_steps // save_every))
