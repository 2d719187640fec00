"""Alanine dipeptide built with OpenMM: shape, system options, phi/psi, the JAX minimiser."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

openmm = pytest.importorskip("openmm")
pytest.importorskip("pdbfixer")

from jaxsci.md import forcefield as F  # noqa: E402
from jaxsci.md import structures as S  # noqa: E402


pytestmark = pytest.mark.usefixtures("x64")  # float64 throughout (tests/md/conftest.py)


@pytest.fixture(scope="module")
def mol():
    return S.alanine_dipeptide()


def test_molecule(mol):
    assert mol.positions.shape == (22, 3) and mol.positions.dtype == np.float64
    assert mol.system.getNumParticles() == 22
    assert not mol.system.usesPeriodicBoundaryConditions()
    assert mol.system.getNumConstraints() == 0  # flexible by default: every bond a harmonic term
    bonds = [f for f in mol.system.getForces() if isinstance(f, openmm.HarmonicBondForce)][0]
    assert bonds.getNumBonds() == 21
    hb = S.alanine_dipeptide(constraints="hbonds").system
    assert hb.getNumConstraints() == 12  # HBonds: 12 hydrogens, whose bonds then have no energy term
    assert [f for f in hb.getForces() if isinstance(f, openmm.HarmonicBondForce)][0].getNumBonds() == 9
    nb = [f for f in mol.system.getForces() if isinstance(f, openmm.NonbondedForce)][0]
    assert nb.getNonbondedMethod() == openmm.NonbondedForce.NoCutoff
    names = [[a.name for a in mol.topology.atoms()][i] for i in mol.phi_psi_atoms.ravel()]
    assert names == ["C", "N", "CA", "C", "N", "CA", "C", "N"]
    res = [[a.residue.name for a in mol.topology.atoms()][i] for i in mol.phi_psi_atoms.ravel()]
    assert res[0] == "ACE" and res[-1] == "NME"
    np.testing.assert_array_equal(S.alanine_dipeptide().positions, mol.positions)  # seeded H placement


def test_phi_psi_range(mol):
    ang = np.asarray(S.phi_psi(jnp.asarray(mol.positions), mol))
    assert ang.shape == (2,)
    # pdbfixer's structure is extended (beta / C5 region): phi and psi near +-180 degrees.
    assert np.cos(ang[0]) < -0.5 and np.cos(ang[1]) < -0.5, np.rad2deg(ang)
    batch = S.phi_psi(jnp.stack([mol.positions] * 3), mol.phi_psi_atoms)
    assert batch.shape == (3, 2)
    np.testing.assert_allclose(np.asarray(batch[1]), ang)


def test_minimize_lowers_energy(mol):
    ff = F.from_openmm(mol.system)
    x0 = jnp.asarray(mol.positions)
    x1 = S.minimize(ff, x0, steps=200)
    energy = jax.jit(F.energy)
    e0, e1 = float(energy(ff, x0)), float(energy(ff, x1))
    assert x1.shape == (22, 3) and x1.dtype == jnp.float64
    assert e1 < e0 - 10.0, (e0, e1)
    phi, psi = np.rad2deg(np.asarray(S.phi_psi(x1, mol)))
    assert phi < -120 and psi > 120, (phi, psi)  # stays in the C5 basin


def test_builder_minimize_option():
    m = S.alanine_dipeptide(implicit="obc", minimize=True, minimize_steps=50)
    ff = F.from_openmm(m.system)
    raw = S.alanine_dipeptide(implicit="obc")
    energy = jax.jit(F.energy)
    assert float(energy(ff, m.positions)) < float(energy(ff, raw.positions))


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        (dict(implicit="gbsa"), "implicit"),
        (dict(forcefield="charmm36"), "forcefield"),
        (dict(forcefield="amber14", implicit="obc"), "obc"),
    ],
)
def test_refuses_unknown_options(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        S.alanine_dipeptide(**kwargs)
