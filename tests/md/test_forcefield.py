"""The JAX force field against OpenMM's Reference platform (float64), finite differences, the
dihedral sign convention and the refusals of unsupported systems."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

openmm = pytest.importorskip("openmm")
pytest.importorskip("pdbfixer")

from jaxsci.md import forcefield as F  # noqa: E402
from jaxsci.md import structures as S  # noqa: E402

E_TOL = 1e-4  # kJ/mol
F_TOL = 1e-3  # kJ/mol/nm

_TERM_OF_FORCE = {
    "HarmonicBondForce": "bonds",
    "HarmonicAngleForce": "angles",
    "PeriodicTorsionForce": "torsions",
    "CMAPTorsionForce": "cmap",
    "NonbondedForce": "nonbonded",
    "GBSAOBCForce": "gb",
    "CustomGBForce": "gb",
}


pytestmark = pytest.mark.usefixtures("x64")  # float64 throughout (tests/md/conftest.py)


@functools.lru_cache(maxsize=None)
def _molecule(implicit, constraints="hbonds"):
    return S.alanine_dipeptide(implicit=implicit, constraints=constraints)


def _openmm_reference(system, xs):
    """Total energy (B,), forces (B, N, 3) and per-term energies {term: (B,)} from Reference."""
    system = openmm.XmlSerializer.clone(system) if hasattr(openmm.XmlSerializer, "clone") else system
    names = []
    for i, f in enumerate(system.getForces()):
        f.setForceGroup(i)
        names.append(type(f).__name__)
    ctx = openmm.Context(system, openmm.VerletIntegrator(1e-3), openmm.Platform.getPlatformByName("Reference"))
    es, fs, terms = [], [], {}
    for x in xs:
        ctx.setPositions(x)
        st = ctx.getState(getEnergy=True, getForces=True)
        es.append(st.getPotentialEnergy()._value)
        fs.append(np.asarray(st.getForces(asNumpy=True)._value))
        for i, name in enumerate(names):
            if name == "CMMotionRemover":
                continue
            e = ctx.getState(getEnergy=True, groups={i}).getPotentialEnergy()._value
            terms.setdefault(_TERM_OF_FORCE[name], []).append(e)
    return np.array(es), np.array(fs), {k: np.array(v) for k, v in terms.items()}


def _conformations(x0, n=4, seed=0):
    rng = np.random.default_rng(seed)
    scales = np.linspace(0.01, 0.02, n)
    return np.stack([x0] + [x0 + rng.normal(scale=s, size=x0.shape) for s in scales])


def _check_parity(system, xs, label):
    ff = F.from_openmm(system)
    e_ref, f_ref, t_ref = _openmm_reference(system, xs)
    xj = jnp.asarray(xs)
    e = jax.jit(jax.vmap(lambda x: F.energy(ff, x)))(xj)
    f = jax.jit(jax.vmap(lambda x: F.forces(ff, x)))(xj)
    t = jax.jit(jax.vmap(lambda x: F.energy_terms(ff, x)))(xj)
    assert e.dtype == jnp.float64 and f.dtype == jnp.float64
    assert set(t) == set(t_ref), (set(t), set(t_ref))
    e_err = float(np.max(np.abs(np.asarray(e) - e_ref)))
    f_err = float(np.max(np.abs(np.asarray(f) - f_ref)))
    for k in t_ref:
        np.testing.assert_allclose(np.asarray(t[k]), t_ref[k], rtol=0, atol=E_TOL, err_msg=f"{label}: {k}")
    print(f"\n{label}: max |dE| = {e_err:.2e} kJ/mol, max |dF| = {f_err:.2e} kJ/mol/nm")
    assert e_err < E_TOL, (label, e_err)
    assert f_err < F_TOL, (label, f_err)


@pytest.mark.parametrize("implicit, constraints", [(None, "hbonds"), ("obc", "hbonds"), ("gbn2", "hbonds"), (None, None)])
def test_alanine_dipeptide_parity(implicit, constraints):
    mol = _molecule(implicit, constraints)
    _check_parity(mol.system, _conformations(mol.positions), f"ala2 implicit={implicit} constraints={constraints}")


def _cmap_system(size=24, seed=0):
    rng = np.random.default_rng(seed)
    system = openmm.System()
    for _ in range(5):
        system.addParticle(12.0)
    force = openmm.CMAPTorsionForce()
    force.addMap(size, rng.normal(scale=5.0, size=size * size).tolist())
    force.addMap(size // 2, rng.normal(scale=5.0, size=(size // 2) ** 2).tolist())
    force.addTorsion(0, 0, 1, 2, 3, 1, 2, 3, 4)
    force.addTorsion(1, 4, 3, 2, 1, 3, 2, 1, 0)
    system.addForce(force)
    return system


def test_cmap_parity():
    # No shipped alanine dipeptide system has CMAP, so test a random 5-atom one (two maps).
    system = _cmap_system()
    xs = np.random.default_rng(1).normal(scale=0.15, size=(8, 5, 3))
    _check_parity(system, xs, "cmap 5 atoms")


def test_cmap_absent_in_shipped_systems():
    for implicit in (None, "obc", "gbn2"):
        assert "cmap" not in F.from_openmm(_molecule(implicit).system).terms


def test_forces_match_finite_differences():
    mol = _molecule("gbn2")
    ff = F.from_openmm(mol.system)
    x = _conformations(mol.positions, n=1, seed=3)[1]
    f = np.asarray(jax.jit(F.forces)(ff, jnp.asarray(x)))
    h = 1e-6
    coords = [(0, 0), (4, 1), (8, 2), (14, 0), (21, 1)]
    shifted = []
    for atom, dim in coords:
        for sign in (1.0, -1.0):
            y = x.copy()
            y[atom, dim] += sign * h
            shifted.append(y)
    e = np.asarray(jax.jit(jax.vmap(lambda y: F.energy(ff, y)))(jnp.asarray(np.stack(shifted))))
    for k, (atom, dim) in enumerate(coords):
        fd = -(e[2 * k] - e[2 * k + 1]) / (2 * h)
        assert abs(fd - f[atom, dim]) < 1e-4 + 1e-6 * abs(fd), (atom, dim, fd, f[atom, dim])


def test_dihedral_sign_convention():
    # b2 along +z; near atom along +x, far atom rotated by theta about +z: IUPAC dihedral = theta.
    for deg in (60.0, -60.0, 150.0, -150.0, 180.0, 0.0):
        th = np.deg2rad(deg)
        x = jnp.array([[1.0, 0, 0], [0, 0, 0], [0, 0, 1.0], [np.cos(th), np.sin(th), 1.0]])
        got = float(F.dihedral(x, jnp.array([0, 1, 2, 3])))
        assert np.isclose(np.cos(got), np.cos(th)) and np.isclose(np.sin(got), np.sin(th), atol=1e-12), (deg, got)
    # Batched positions and indices.
    xb = jnp.stack([x, x])
    assert F.dihedral(xb, jnp.array([[0, 1, 2, 3], [3, 2, 1, 0]])).shape == (2, 2)


def test_forcefield_is_a_pytree_and_jits_as_argument():
    mol = _molecule("gbn2")
    ff = F.from_openmm(mol.system)
    assert ff.terms == ("bonds", "angles", "torsions", "nonbonded", "gb")
    e = jax.jit(F.energy)(ff, jnp.asarray(mol.positions))
    assert e.dtype == jnp.float64 and np.isfinite(float(e))
    assert ff.n_atoms == 22 and ff.masses.shape == (22,)
    assert ff.constraint_idx.shape == (mol.system.getNumConstraints(), 2)
    leaves = jax.tree_util.tree_leaves(ff)
    assert all(isinstance(leaf, jax.Array) for leaf in leaves)


def _system(n=3):
    s = openmm.System()
    for _ in range(n):
        s.addParticle(1.0)
    return s


def test_refuses_unsupported_force():
    s = _system()
    s.addForce(openmm.CustomExternalForce("x^2"))
    with pytest.raises(ValueError, match="CustomExternalForce"):
        F.from_openmm(s)


def test_refuses_periodic_and_cutoff_nonbonded():
    s = _system()
    nb = openmm.NonbondedForce()
    for _ in range(3):
        nb.addParticle(0.1, 0.3, 0.5)
    nb.setNonbondedMethod(openmm.NonbondedForce.PME)
    s.addForce(nb)
    s.setDefaultPeriodicBoxVectors(openmm.Vec3(3, 0, 0), openmm.Vec3(0, 3, 0), openmm.Vec3(0, 0, 3))
    with pytest.raises(ValueError, match="periodic"):
        F.from_openmm(s)
    nb.setNonbondedMethod(openmm.NonbondedForce.CutoffNonPeriodic)
    with pytest.raises(ValueError, match="NonbondedForce.*NoCutoff"):
        F.from_openmm(s)


def test_refuses_non_gbn2_custom_gb():
    s = _system()
    gb = openmm.CustomGBForce()
    gb.addPerParticleParameter("q")
    gb.addComputedValue("B", "1", openmm.CustomGBForce.SingleParticle)
    gb.addEnergyTerm("q*B", openmm.CustomGBForce.SingleParticle)
    for _ in range(3):
        gb.addParticle([0.1])
    s.addForce(gb)
    with pytest.raises(ValueError, match="CustomGBForce.*GBn2"):
        F.from_openmm(s)
