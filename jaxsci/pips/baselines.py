"""Baselines in the same dynamics as PIPS: unbiased Langevin MD (at 300 K or a raised temperature) and
steered MD, a harmonic bias on the collective variables (e.g. the backbone dihedrals phi, psi) whose
centre moves at constant speed from the start's values to the target's: the collective-variable method
that PIPS avoids. Both return :class:`jaxsci.pips.pice.Paths` (no control cost), so
:func:`jaxsci.pips.pice.path_metrics` scores them like PIPS paths; the energies are the molecule's own,
without the bias.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from jaxsci.md import langevin
from jaxsci.md.geometry import wrap_angle
from jaxsci.pips.pice import Paths, System, terminal_cost


def md_paths(system: System, x0: jax.Array, keys: jax.Array, *, num_steps: int, dt: float = 0.001, friction: float = 1.0,
             temp: float = 300.0, save_every: int = 50, bias: Callable[[jax.Array, jax.Array], jax.Array] | None = None,
             terminal_scale: float = 10.0) -> Paths:
    """Langevin paths of ``n`` replicas from ``x0 (n, N, 3)`` with ``keys (n,)``; ``bias(x, s)`` (kJ/mol, ``s``
    the fraction of the path done, 0..1) is added to the potential for the dynamics only."""
    if num_steps % save_every:
        raise ValueError(f"num_steps ({num_steps}) must be a multiple of save_every ({save_every})")
    masses = jnp.asarray(system.masses, x0.dtype)
    bias_force = (lambda x, s: jnp.zeros_like(x)) if bias is None else (lambda x, s: -jax.grad(bias)(x, s))

    def one(x0, key):
        k_v, k_run = jax.random.split(key)
        state = langevin.init_state(system.potential, x0, langevin.maxwell_boltzmann(k_v, masses, temp))

        def step(carry, inp):
            state, emax = carry
            k, t = inp
            xi = jax.random.normal(k, state.x.shape, state.x.dtype)
            state = langevin.middle_step(system.potential, state, masses, xi, dt=dt, friction=friction, temp=temp,
                                         external=bias_force(state.x, t / num_steps), constraints=system.constraints)
            return (state, jnp.maximum(emax, state.energy)), None

        def block(carry, inp):
            k, b = inp
            ts = b * save_every + jnp.arange(save_every)
            carry, _ = jax.lax.scan(step, carry, (jax.random.split(k, save_every), ts))
            return carry, (carry[0].x, carry[0].energy)

        blocks = num_steps // save_every
        (state, emax), (saved, energy) = jax.lax.scan(block, (state, state.energy),
                                                      (jax.random.split(k_run, blocks), jnp.arange(blocks)))
        return state.x, saved, energy, emax

    x, saved, energy, emax = jax.vmap(one)(x0, keys)
    terminal = terminal_cost(x, jnp.asarray(system.target, x.dtype), terminal_scale)
    zero = jnp.zeros_like(emax)
    return Paths(x, saved, energy, emax, zero, terminal, terminal)


def steered_bias(system: System, spring: float) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """``bias(x, s) = spring/2 |wrap(cv(x) - c(s))|^2`` (kJ/mol; ``spring`` in kJ/mol per squared cv unit) with
    the centre ``c(s)`` moving linearly, by the shortest periodic route if ``cv_periodic``, from the
    start's collective variables (s = 0) to the target's (s = 1)."""
    if system.cv is None:
        raise ValueError("steered MD needs collective variables: the System has no cv")
    c0 = system.cv(jnp.asarray(system.start))
    delta = system.cv(jnp.asarray(system.target)) - c0
    wrap = wrap_angle if system.cv_periodic else (lambda d: d)
    delta = wrap(delta)

    def bias(x, s):
        d = wrap(system.cv(x) - (c0 + s * delta).astype(x.dtype))
        return 0.5 * spring * jnp.sum(d**2)

    return bias
