"""HBond constraints in the Langevin integrator: the projections against their defining conditions, the derived
HBond force field against OpenMM's, the trajectory against OpenMM's LangevinMiddleIntegrator (Reference platform,
float64, no friction so that no random numbers enter), and equipartition over the 3N - K free coordinates."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.md import langevin

openmm = pytest.importorskip("openmm")
from jaxsci.md import forcefield, structures  # noqa: E402

pytestmark = pytest.mark.usefixtures("x64")  # float64 throughout (tests/md/conftest.py)
RUN_TIME_BOUND = {"xla_backend_optimization_level": 3}  # 50,000 steps: bound by run time (see test_langevin.py)


@pytest.fixture(scope="module")
def alanine():
    """(flexible Molecule, HBond-constrained Molecule, hydrogen mask (N,)) built from the same hydrogens."""
    flexible = structures.alanine_dipeptide()
    constrained = structures.alanine_dipeptide(constraints="hbonds")
    hydrogen = np.array([a.element.symbol == "H" for a in flexible.topology.atoms()])
    return flexible, constrained, hydrogen


def _constraints(ff):
    return langevin.Constraints(ff.constraint_idx, ff.constraint_dist)


def test_derived_hbond_force_field_equals_openmms(alanine):
    flexible, constrained, hydrogen = alanine
    ours = forcefield.with_hbond_constraints(forcefield.from_openmm(flexible.system), hydrogen)
    theirs = forcefield.from_openmm(constrained.system)
    key = lambda idx, d: sorted((min(a, b), max(a, b), round(float(r), 12)) for (a, b), r in zip(np.asarray(idx), np.asarray(d)))  # noqa: E731
    assert key(ours.constraint_idx, ours.constraint_dist) == key(theirs.constraint_idx, theirs.constraint_dist)
    assert len(key(ours.constraint_idx, ours.constraint_dist)) == int(hydrogen.sum()) == 12
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = jnp.asarray(flexible.positions + 0.01 * rng.standard_normal(flexible.positions.shape))
        assert abs(float(forcefield.energy(ours, x) - forcefield.energy(theirs, x))) < 1e-9
    with pytest.raises(ValueError, match="hydrogen must have shape"):
        forcefield.with_hbond_constraints(theirs, hydrogen[:-1])


def test_projections_meet_their_conditions(alanine):
    _, constrained, _ = alanine
    ff = forcefield.from_openmm(constrained.system)
    cons, masses = _constraints(ff), ff.masses
    rng = np.random.default_rng(1)
    x_ref = langevin.constrain_positions(jnp.asarray(constrained.positions), jnp.asarray(constrained.positions), masses,
                                         cons)
    assert float(jnp.max(jnp.abs(langevin.constraint_error(x_ref, cons)))) < 1e-13
    # one 2 fs step's worth of displacement at 300 K (~0.005 nm for a hydrogen)
    x = x_ref + 0.005 * jnp.asarray(rng.standard_normal(x_ref.shape))
    assert float(jnp.max(jnp.abs(langevin.constraint_error(x, cons)))) > 1e-2
    xc = langevin.constrain_positions(x_ref, x, masses, cons)
    assert float(jnp.max(jnp.abs(langevin.constraint_error(xc, cons)))) < 1e-13
    # the correction is along the reference bond vectors, weighted by inverse mass: its momentum sums to zero
    np.testing.assert_allclose(np.asarray(jnp.sum(masses[:, None] * (xc - x), 0)), 0.0, atol=1e-12)
    v = jnp.asarray(rng.standard_normal(x.shape))
    vc = langevin.constrain_velocities(xc, v, masses, cons)
    r = xc[cons.idx[:, 0]] - xc[cons.idx[:, 1]]
    assert float(jnp.max(jnp.abs(jnp.sum(r * (vc[cons.idx[:, 0]] - vc[cons.idx[:, 1]]), -1)))) < 1e-12
    # a projection: idempotent, and it only removes kinetic energy
    np.testing.assert_allclose(np.asarray(langevin.constrain_velocities(xc, vc, masses, cons)), np.asarray(vc), atol=1e-12)
    assert float(langevin.kinetic_energy(vc, masses)) < float(langevin.kinetic_energy(v, masses))


@pytest.mark.parametrize("which, dt", [("hbonds", 0.002), ("flexible", 0.001)])
def test_trajectory_matches_openmm_langevin_middle(alanine, which, dt):
    """Friction 0 makes LangevinMiddleIntegrator deterministic (its noise scale is sqrt(1 - 1) = 0): 200 steps from the
    same positions and velocities, ours against OpenMM's Reference platform, with HBond constraints at 2 fs and with
    every bond flexible at 1 fs."""
    flexible, constrained, _ = alanine
    mol = constrained if which == "hbonds" else flexible
    ff = forcefield.from_openmm(mol.system)
    cons = _constraints(ff) if which == "hbonds" else None
    masses = ff.masses
    steps, temp = 200, 300.0
    x0, v0 = jnp.asarray(mol.positions), langevin.maxwell_boltzmann(jax.random.key(0), masses, temp)
    if cons is not None:
        x0 = langevin.constrain_positions(x0, x0, masses, cons)
        v0 = langevin.constrain_velocities(x0, v0, masses, cons)

    system = openmm.XmlSerializer.clone(mol.system)  # without its CMMotionRemover, which we do not have
    for i in reversed(range(system.getNumForces())):
        if isinstance(system.getForce(i), openmm.CMMotionRemover):
            system.removeForce(i)
    integrator = openmm.LangevinMiddleIntegrator(temp, 0.0, dt)
    integrator.setConstraintTolerance(1e-12)
    context = openmm.Context(system, integrator, openmm.Platform.getPlatformByName("Reference"))
    context.setPositions(np.asarray(x0))
    context.setVelocities(np.asarray(v0))
    integrator.step(steps)
    state = context.getState(getPositions=True, getVelocities=True)
    x_mm = np.asarray(state.getPositions(asNumpy=True)._value)
    v_mm = np.asarray(state.getVelocities(asNumpy=True)._value)

    potential = lambda x: forcefield.energy(ff, x)  # noqa: E731
    final, _ = jax.jit(lambda s: langevin.simulate(potential, s, masses, jax.random.key(1), steps, dt=dt, friction=0.0,
                                                   temp=temp, save_every=steps, constraints=cons))(
        langevin.init_state(potential, x0, v0))
    if cons is not None:
        assert float(np.max(np.abs(langevin.constraint_error(jnp.asarray(x_mm), cons)))) < 1e-9  # OpenMM's, as a check
        assert float(jnp.max(jnp.abs(langevin.constraint_error(final.x, cons)))) < 1e-12
    assert float(np.max(np.abs(x_mm - np.asarray(x0)))) > 1e-2  # the molecule moved
    # the same scheme step for step: 2026-12-08 the largest differences were 1e-13 nm and 6e-12 nm/ps (hbonds)
    np.testing.assert_allclose(np.asarray(final.x), x_mm, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.asarray(final.v), v_mm, rtol=0, atol=1e-8)


def test_alanine_dipeptide_with_hbonds_holds_300_k_at_2_fs(alanine):
    """50,000 steps of 2 fs (100 ps), two replicas, after 10 ps: the kinetic energy of the constrained velocities is
    within 2 % of (3N - K)/2 kT, K = 12 HBond constraints."""
    _, constrained, _ = alanine  # in float32, as the training runs use it
    from jaxsci.pips.molecules import cast

    ff32 = cast(forcefield.from_openmm(constrained.system), jnp.float32)
    cons = _constraints(ff32)
    masses = ff32.masses
    potential = lambda x: forcefield.energy(ff32, x)  # noqa: E731
    x0 = langevin.constrain_positions(jnp.asarray(constrained.positions, jnp.float32),
                                      jnp.asarray(constrained.positions, jnp.float32), masses, cons)

    def one(k):
        kv, kr = jax.random.split(k)
        state = langevin.init_state(potential, x0, langevin.maxwell_boltzmann(kv, masses, 300.0))
        observe = lambda s: (langevin.kinetic_energy(langevin.constrain_velocities(s.x, s.v, masses, cons), masses),  # noqa: E731
                             jnp.max(jnp.abs(langevin.constraint_error(s.x, cons))))
        return langevin.simulate(potential, state, masses, kr, 50_000, dt=0.002, friction=1.0, temp=300.0,
                                 save_every=50, observe=observe, constraints=cons)[1]

    kinetic, err = jax.jit(jax.vmap(one), compiler_options=RUN_TIME_BOUND)(jax.random.split(jax.random.key(0), 2))
    n, k = masses.shape[0], cons.idx.shape[0]
    expected = 0.5 * (3 * n - k) * langevin.KB * 300.0
    assert abs(float(np.asarray(kinetic)[:, 100:].mean()) / expected - 1) < 0.02
    assert float(np.max(np.asarray(err))) < 1e-5  # float32
