"""Langevin dynamics (BAOAB, leapfrog form): equipartition over 100 ps (harmonic wells, then alanine dipeptide), and
energy conservation without friction (velocity Verlet)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.md import langevin

K_SPRING = 1000.0  # kJ/mol/nm^2
# 100,000 steps of the force field are bound by run time, not compile time: XLA's default -O3 for them, not the
# conftest's -O0 (the alanine test twice as fast; the harmonic wells compile-bound, faster at -O0)
RUN_TIME_BOUND = {"xla_backend_optimization_level": 3}


def wells(x):
    return 0.5 * K_SPRING * jnp.sum(x**2)


def _run(potential, x0, masses, num_steps, save_every, *, replicas, friction=1.0, temp=300.0, key=0,
         compiler_options=None):
    keys = jax.random.split(jax.random.key(key), replicas)

    def one(k):
        kv, kr = jax.random.split(k)
        state = langevin.init_state(potential, x0, langevin.maxwell_boltzmann(kv, masses, temp))
        observe = lambda s: (langevin.kinetic_energy(s.v, masses), s.energy)  # noqa: E731
        return langevin.simulate(potential, state, masses, kr, num_steps, dt=0.001, friction=friction, temp=temp,
                                 save_every=save_every, observe=observe)[1]

    return jax.jit(jax.vmap(one), compiler_options=compiler_options)(keys)


def test_equipartition_in_harmonic_wells_over_100_ps():
    masses = jnp.linspace(1.0, 16.0, 10)
    kinetic, potential = _run(wells, jnp.zeros((10, 3)), masses, 100_000, 100, replicas=4)
    expected = 1.5 * 10 * langevin.KB * 300.0  # 3N/2 kT, kinetic and (harmonic) potential alike
    assert abs(float(kinetic.mean()) / expected - 1) < 0.02
    assert abs(float(potential.mean()) / expected - 1) < 0.02
    t = langevin.temperature(langevin.maxwell_boltzmann(jax.random.key(3), masses, 300.0, (20000,)), masses)  # sd of the mean 0.2 %
    assert abs(float(t.mean()) / 300.0 - 1) < 0.01


def test_without_friction_the_energy_does_not_drift():
    masses = jnp.array([1.0, 12.0, 16.0], jnp.float64) if jax.config.jax_enable_x64 else jnp.array([1.0, 12.0, 16.0])
    x0 = jnp.array([[0.1, 0.0, 0.0], [0.0, -0.05, 0.02], [0.0, 0.0, 0.08]])
    kinetic, potential = _run(wells, x0, masses, 2000, 10, replicas=1, friction=0.0)
    total = np.asarray(kinetic + potential)[0]  # kinetic at half steps: bounded oscillation, no drift (symplectic)
    assert np.max(np.abs(total - total[0])) < 0.02 * total[0]
    assert abs(total[-50:].mean() - total[:50].mean()) < 2e-3 * total[0]


def test_alanine_dipeptide_holds_300_k_over_100_ps():
    pytest.importorskip("openmm")
    from jaxsci.md import forcefield, structures

    mol = structures.alanine_dipeptide()
    ff = forcefield.from_openmm(mol.system)
    x0 = jnp.asarray(mol.positions, jnp.float32)
    kinetic, _ = _run(lambda x: forcefield.energy(ff, x), x0, jnp.asarray(ff.masses, jnp.float32), 100_000, 100,
                      replicas=2, compiler_options=RUN_TIME_BOUND)
    expected = 1.5 * x0.shape[0] * langevin.KB * 300.0
    assert abs(float(kinetic[:, 100:].mean()) / expected - 1) < 0.02  # after the first 10 ps
