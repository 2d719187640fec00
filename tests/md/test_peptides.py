"""Peptides from sequence and backbone dihedrals: NeRF geometry, polyproline PP-I / PP-II and
chignolin folded / unfolded built with pdbfixer + OpenMM and minimised in JAX (float64)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

openmm = pytest.importorskip("openmm")
pytest.importorskip("pdbfixer")

from jaxsci.md import forcefield as F  # noqa: E402
from jaxsci.md import peptides as P  # noqa: E402
from jaxsci.md.geometry import dihedral_np  # noqa: E402

E_TOL = 1e-4  # kJ/mol
F_TOL = 1e-3  # kJ/mol/nm
CLASH = 0.08  # nm


pytestmark = pytest.mark.usefixtures("x64")  # float64 throughout (tests/md/conftest.py)


@functools.lru_cache(maxsize=None)
def _polyproline(state):
    return P.polyproline(state)


@functools.lru_cache(maxsize=None)
def _chignolin(state):
    return P.chignolin(state)


def _deg(x, idx):
    return np.array([np.degrees(dihedral_np(x, i)) for i in idx])


def _angle_deg(a, b, c):
    u, v = a - b, c - b
    return np.degrees(np.arccos(np.dot(u, v) / np.linalg.norm(u) / np.linalg.norm(v)))


def _wrap(d):
    return (np.asarray(d) + 180.0) % 360.0 - 180.0


def _min_distance(x):
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    d[np.diag_indices(len(x))] = np.inf
    return d.min()


def _reference(system, x):
    ctx = openmm.Context(system, openmm.VerletIntegrator(1e-3), openmm.Platform.getPlatformByName("Reference"))
    ctx.setPositions(x)
    st = ctx.getState(getEnergy=True, getForces=True)
    return st.getPotentialEnergy()._value, np.asarray(st.getForces(asNumpy=True)._value)


@jax.jit
def _energy_forces(ff, x):
    return F.energy(ff, x), F.forces(ff, x)


def _check_parity(mol):
    ff = F.from_openmm(mol.system)
    rng = np.random.default_rng(0)
    for x in (mol.positions, mol.positions + rng.normal(scale=0.005, size=mol.positions.shape)):
        e_ref, f_ref = _reference(mol.system, x)
        e, f = _energy_forces(ff, jnp.asarray(x))
        assert e.dtype == jnp.float64
        assert abs(float(e) - e_ref) < E_TOL, (float(e), e_ref)
        np.testing.assert_allclose(np.asarray(f), f_ref, atol=F_TOL, rtol=0)
    return float(_energy_forces(ff, jnp.asarray(mol.positions))[0])


def test_nerf_geometry():
    rng = np.random.default_rng(1)
    r = 7
    phi, psi, omega = (rng.uniform(-180, 180, r) for _ in range(3))
    bb = P.backbone(phi, psi, omega)
    assert bb.shape == (r, 4, 3) and bb.dtype == np.float64
    n, ca, c, o = bb[:, 0], bb[:, 1], bb[:, 2], bb[:, 3]
    tol = 1e-6
    np.testing.assert_allclose(np.linalg.norm(ca - n, axis=-1), P.B_N_CA, atol=tol * P.B_N_CA)
    np.testing.assert_allclose(np.linalg.norm(c - ca, axis=-1), P.B_CA_C, atol=tol * P.B_CA_C)
    np.testing.assert_allclose(np.linalg.norm(n[1:] - c[:-1], axis=-1), P.B_C_N, atol=tol * P.B_C_N)
    np.testing.assert_allclose(np.linalg.norm(o - c, axis=-1), P.B_C_O, atol=tol * P.B_C_O)
    x = bb.reshape(-1, 3)
    for i in range(r):
        assert abs(_angle_deg(n[i], ca[i], c[i]) - P.A_N_CA_C) < tol
        assert abs(_angle_deg(ca[i], c[i], o[i]) - P.A_CA_C_O) < tol
        if i + 1 < r:
            assert abs(_angle_deg(ca[i], c[i], n[i + 1]) - P.A_CA_C_N) < tol
            assert abs(_angle_deg(c[i], n[i + 1], ca[i + 1]) - P.A_C_N_CA) < tol
            k = 4 * i
            got_psi, got_omega, got_phi = _deg(x, [(k, k + 1, k + 2, k + 4), (k + 1, k + 2, k + 4, k + 5),
                                                   (k + 2, k + 4, k + 5, k + 6)])
            assert abs(_wrap(got_psi - psi[i])) < tol
            assert abs(_wrap(got_omega - omega[i])) < tol
            assert abs(_wrap(got_phi - phi[i + 1])) < tol
            # O in the peptide plane, anti to the next N about CA-C.
            assert abs(abs(_deg(x, [(k + 4, k + 1, k + 2, k + 3)])[0]) - 180.0) < tol
    # The jax dihedral agrees (same IUPAC convention).
    idx = np.array([[4 * i + 2, 4 * i + 4, 4 * i + 5, 4 * i + 6] for i in range(r - 1)])
    np.testing.assert_allclose(_wrap(np.degrees(np.asarray(F.dihedral(jnp.asarray(x), jnp.asarray(idx))))),
                               _wrap(phi[1:]), atol=tol)


def test_invalid_input():
    with pytest.raises(ValueError):
        P.build_peptide(["ACE", "XYZ", "NME"], [0] * 3, [0] * 3, [0] * 3)
    with pytest.raises(ValueError):
        P.build_peptide(["ACE", "PRO", "NME"], [0] * 3, [0] * 2, [0] * 3)
    with pytest.raises(ValueError):
        P.build_peptide(["PRO", "ACE", "NME"], [0] * 3, [0] * 3, [0] * 3)
    with pytest.raises(ValueError):
        P.polyproline("PPIII")
    with pytest.raises(ValueError):
        P.chignolin("misfolded")
    with pytest.raises(ValueError):
        P.backbone([0, 0], [0], [0, 0])


@pytest.mark.parametrize("state,omega", [("PPII", 180.0), ("PPI", 0.0)])
def test_polyproline(state, omega):
    pep = _polyproline(state)
    mol = pep.molecule
    assert mol.positions.shape == (54, 3) and mol.system.getNumParticles() == 54
    assert mol.system.getNumConstraints() == 0
    assert [r.name for r in mol.topology.residues()] == ["ACE", "PRO", "PRO", "PRO", "NME"]
    assert pep.phi_idx.shape == (3, 4) and pep.psi_idx.shape == (3, 4) and pep.omega_idx.shape == (4, 4)
    om = _deg(mol.positions, pep.omega_idx)
    assert np.all(np.abs(_wrap(om - omega)) < 30.0), om
    phi = _deg(mol.positions, pep.phi_idx)
    assert np.all(np.abs(_wrap(phi + 75.0)) < 30.0), phi
    e = _check_parity(mol)
    assert np.isfinite(e) and e < 500.0, e
    assert _min_distance(mol.positions) > CLASH


def test_chignolin():
    folded, unfolded = _chignolin("folded"), _chignolin("unfolded")
    ca_ca = []
    for pep in (folded, unfolded):
        mol = pep.molecule
        # 138 = 10 residues with a charged N terminus (NH3+), C terminus (COO-, OXT), ASP and GLU
        # deprotonated (pH 7): net charge -2.
        assert mol.positions.shape == (138, 3) and mol.system.getNumParticles() == 138
        assert [r.name for r in mol.topology.residues()] == "GLY TYR ASP PRO GLU THR GLY THR TRP GLY".split()
        nb = [f for f in mol.system.getForces() if isinstance(f, openmm.NonbondedForce)][0]
        assert abs(sum(nb.getParticleParameters(i)[0]._value for i in range(138)) + 2.0) < 1e-6
        assert pep.phi_idx.shape == (9, 4) and pep.omega_idx.shape == (9, 4)
        assert np.all(np.abs(_wrap(_deg(mol.positions, pep.omega_idx) - 180.0)) < 30.0)
        ca = {r.index: a.index for r in mol.topology.residues() for a in r.atoms() if a.name == "CA"}
        ca_ca.append(np.linalg.norm(mol.positions[ca[1]] - mol.positions[ca[8]]))
        e = _reference(mol.system, mol.positions)[0]  # the JAX energy's parity is tested on polyproline
        assert np.isfinite(e) and e < 0.0, e
        assert _min_distance(mol.positions) > CLASH
    assert ca_ca[0] < 0.7 < 2.0 < ca_ca[1], ca_ca
