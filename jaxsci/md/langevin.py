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
field's force; it is held constant over the step. There are no bond constraints: at 1 fs the X-H
vibrations (~11 fs) are resolved (the original PIPS runs OpenMM with HBond constraints).
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


def energy_and_force(potential: Callable[[jax.Array], jax.Array], x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(U(x), -grad U(x))`` for one configuration ``x (N, 3)``."""
    energy, grad = jax.value_and_grad(potential)(x)
    return energy, -grad


def kinetic_energy(v: jax.Array, masses: jax.Array) -> jax.Array:
    """``(...)`` kJ/mol of velocities ``(..., N, 3)`` nm/ps and masses ``(N,)`` amu."""
    return 0.5 * jnp.sum(masses[:, None] * v**2, axis=(-2, -1))


def temperature(v: jax.Array, masses: jax.Array) -> jax.Array:
    """Instantaneous temperature (K) from equipartition over the 3N degrees of freedom."""
    return 2.0 * kinetic_energy(v, masses) / (3 * masses.shape[0] * KB)


def maxwell_boltzmann(key: jax.Array, masses: jax.Array, temp: float, shape: tuple[int, ...] = ()) -> jax.Array:
    """Velocities ``(*shape, N, 3)`` nm/ps drawn at temperature ``temp`` K."""
    sd = jnp.sqrt(KB * temp / masses)[:, None]
    return sd * jax.random.normal(key, (*shape, masses.shape[0], 3), dtype=masses.dtype)


def init_state(potential: Callable[[jax.Array], jax.Array], x: jax.Array, v: jax.Array) -> LangevinState:
    """The state at ``x, v`` (one replica) with the energy and force of ``potential`` evaluated there."""
    energy, force = energy_and_force(potential, x)
    return LangevinState(x, v, force, energy)


def middle_step(potential: Callable[[jax.Array], jax.Array], state: LangevinState, masses: jax.Array, xi: jax.Array, *,
                dt: float, friction: float, temp: float, external: jax.Array | float = 0.0) -> LangevinState:
    """One step of one replica. ``xi (N, 3)`` standard normal; ``external`` a force (N, 3) kJ/mol/nm added
    to ``-grad potential`` in this step's kick. ``state.v`` is the velocity half a step before ``state.x``."""
    inv_m = (1.0 / masses)[:, None]
    c = jnp.exp(-friction * dt)
    v = state.v + dt * (state.force + external) * inv_m
    x = state.x + 0.5 * dt * v
    v = c * v + jnp.sqrt((1.0 - c**2) * KB * temp * inv_m) * xi
    x = x + 0.5 * dt * v
    energy, force = energy_and_force(potential, x)
    return LangevinState(x, v, force, energy)


def simulate(potential: Callable[[jax.Array], jax.Array], state: LangevinState, masses: jax.Array, key: jax.Array,
             num_steps: int, *, dt: float = 0.001, friction: float = 1.0, temp: float = 300.0,
             save_every: int = 1, observe: Callable[[LangevinState], object] | None = None):
    """Unbiased Langevin dynamics of one replica for ``num_steps`` steps (vmap it over replicas).

    Returns ``(final_state, observed)`` where ``observed`` stacks ``observe(state)`` (default: the
    positions) after every ``save_every``-th step: leading axis ``num_steps // save_every``.
    """
    if num_steps % save_every:
        raise ValueError(f"num_steps ({num_steps}) must be a multiple of save_every ({save_every})")
    observe = observe or (lambda s: s.x)

    def inner(state, k):
        xi = jax.random.normal(k, state.x.shape, state.x.dtype)
        return middle_step(potential, state, masses, xi, dt=dt, friction=friction, temp=temp), None

    def outer(state, k):
        state, _ = jax.lax.scan(inner, state, jax.random.split(k, save_every))
        return state, observe(state)

    return jax.lax.scan(outer, state, jax.random.split(key, num_steps // save_every))
