"""Peptides built from a sequence and backbone dihedrals (no structure files, no network).

Units: nm, kJ/mol, degrees for the dihedrals passed in. The backbone (N, CA, C, O) is placed by
NeRF (natural extension reference frame) from ideal bond lengths and angles; pdbfixer adds the
side-chain heavy atoms from its shipped residue templates, OpenMM's ``Modeller`` adds hydrogens
(seeded, as in :mod:`jaxsci.md.structures`), OpenMM builds a non-periodic ``NoCutoff`` System with
every bond flexible, and :func:`jaxsci.md.structures.minimize` (FIRE in JAX) relaxes it.

Dihedral conventions (IUPAC, per residue i): phi_i = C(i-1)-N-CA-C, psi_i = N-CA-C-N(i+1),
omega_i = CA-C-N(i+1)-CA(i+1) (the peptide bond *after* residue i). Caps are residues of the chain:
ACE's CH3 takes the place of CA (its N is virtual, not written) and NME's methyl C takes the place
of CA (its C is virtual), so ``omega`` of ACE sets the ACE-X peptide bond. Entries that only move
virtual atoms (phi[0], psi[-1], omega[-1], phi and psi of the caps) have no effect.

Force field: ``amber14-all.xml`` + ``implicit/gbn2.xml``. The PIPS paper uses ff14SBonlysc + GBn2;
ff14SBonlysc is not shipped in OpenMM's wheel, and amber14-all's protein part is ff14SB (the same
side-chain parameters, with the backbone torsions refitted for explicit water), so the energies
differ from the paper's.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any, Sequence

import jax.numpy as jnp
import numpy as np

from jaxsci.md import forcefield as _ff
from jaxsci.md import structures as _st

# Ideal backbone geometry (Engh & Huber-like), nm and degrees.
B_N_CA, B_CA_C, B_C_N, B_C_O = 0.1458, 0.1525, 0.1329, 0.1231
A_N_CA_C, A_CA_C_N, A_C_N_CA, A_CA_C_O = 111.2, 116.2, 121.7, 120.5

FORCEFIELD_FILES = ("amber14-all.xml", "implicit/gbn2.xml")

_AMINO = ("ALA ARG ASN ASP CYS GLN GLU GLY HIS ILE LEU LYS MET PHE PRO SER THR TRP TYR VAL").split()
_CAPS = ("ACE", "NME")
_ONE = dict(zip("ARNDCQEGHILKMFPSTWYV", "ALA ARG ASN ASP CYS GLN GLU GLY HIS ILE LEU LYS MET PHE PRO SER "
                                       "THR TRP TYR VAL".split()))

# Approximate chignolin hairpin (G1..G10), degrees: beta strands (-120, 130) and the turn
# D3 (-90, 0), P4 (-65, 145), E5 (-65, -40), T6 (-120, 130), G7 (80, 10, left-handed), picked by a
# grid search over 7 (phi, psi) basins for D3, E5, T6, G7 and 3 for P4 on the NeRF backbone (all omega
# 180) minimising d(CA2, CA9) + d(CA3, CA8) + d(CA1, CA10) / 2 with no backbone heavy atoms of
# residues two or more apart closer than 0.3 nm. Unminimised CA-CA: Y2-W9 0.51, D3-T8 0.56,
# G1-G10 0.52 nm.
_CHIGNOLIN_PHI = (-120.0, -120.0, -90.0, -65.0, -65.0, -120.0, 80.0, -120.0, -120.0, -120.0)
_CHIGNOLIN_PSI = (130.0, 130.0, 0.0, 145.0, -40.0, 130.0, 10.0, 130.0, 130.0, 130.0)


@dataclasses.dataclass
class Peptide:
    """molecule (:class:`jaxsci.md.structures.Molecule`, positions nm, its ``phi_psi_atoms`` those of
    the first residue with both); phi_idx, psi_idx, omega_idx: (K, 4) int atom indices of every
    defined phi, psi and omega (peptide bond CA/CH3-C-N-CA/CH3) in chain order."""

    molecule: Any
    phi_idx: np.ndarray
    psi_idx: np.ndarray
    omega_idx: np.ndarray


def _place(a, b, c, bond, angle, torsion):
    """NeRF: position of d with |cd| = bond, angle(b, c, d) = angle, dihedral(a, b, c, d) = torsion
    (radians)."""
    bc = c - b
    bc /= np.linalg.norm(bc)
    n = np.cross(b - a, bc)
    n /= np.linalg.norm(n)
    m = np.cross(n, bc)
    d2 = bond * np.array([-np.cos(angle), np.sin(angle) * np.cos(torsion), np.sin(angle) * np.sin(torsion)])
    return c + d2[0] * bc + d2[1] * m + d2[2] * n


def backbone(phi, psi, omega) -> np.ndarray:
    """(R, 4, 3) float64 NeRF coordinates (nm) of N, CA, C, O of R residues from per-residue phi,
    psi, omega (degrees, each length R; conventions in the module docstring). O lies in the
    peptide plane, trans to N(i+1) (for the last residue, to the virtual N(i+1) set by psi[-1])."""
    phi, psi, omega = (np.asarray(v, np.float64).reshape(-1) for v in (phi, psi, omega))
    if not (len(phi) == len(psi) == len(omega)) or len(phi) == 0:
        raise ValueError(f"phi, psi, omega must have the same length >= 1, got {len(phi)}, {len(psi)}, {len(omega)}")
    phi, psi, omega = np.deg2rad(phi), np.deg2rad(psi), np.deg2rad(omega)
    r = len(phi)
    a_ncac, a_cacn, a_cnca, a_caco = np.deg2rad([A_N_CA_C, A_CA_C_N, A_C_N_CA, A_CA_C_O])
    out = np.zeros((r, 4, 3))
    n = np.zeros(3)
    ca = np.array([B_N_CA, 0.0, 0.0])
    c = ca + B_CA_C * np.array([-np.cos(a_ncac), np.sin(a_ncac), 0.0])
    for i in range(r):
        if i > 0:
            prev_n, prev_ca, prev_c = out[i - 1, 0], out[i - 1, 1], out[i - 1, 2]
            n = _place(prev_n, prev_ca, prev_c, B_C_N, a_cacn, psi[i - 1])
            ca = _place(prev_ca, prev_c, n, B_N_CA, a_cnca, omega[i - 1])
            c = _place(prev_c, n, ca, B_CA_C, a_ncac, phi[i])
        n_next = _place(n, ca, c, B_C_N, a_cacn, psi[i])
        o = _place(n_next, ca, c, B_C_O, a_caco, np.pi)
        out[i] = n, ca, c, o
    return out


def _cb(bb_res) -> np.ndarray:
    """Ideal L-amino-acid CB (nm) from one residue's N, CA, C: CA-CB 0.153 nm, N-CA-CB 110.5 deg,
    C-N-CA-CB -122.5 deg."""
    n, ca, c = bb_res[0], bb_res[1], bb_res[2]
    return _place(c, n, ca, 0.153, np.deg2rad(110.5), np.deg2rad(-122.5))


def _pdb_string(sequence, bb) -> str:
    """Minimal PDB in Angstrom: N, CA, C and (non-Gly) an ideal CB of the amino acids, C, O, CH3 of
    ACE, N and C of NME. The amino acids' O is left out on purpose: pdbfixer superimposes its
    templates on every atom present, and a template O (at the template's psi) tilts the fit so far
    that the proline ring is misplaced; with N, CA, C only the 3-point fit may come out mirrored.
    N, CA, C, CB fix the frame; O is set from the NeRF backbone afterwards."""
    lines, k = [], 1
    for i, (name, xyz) in enumerate(zip(sequence, bb)):
        if name == "ACE":
            atoms = [("CH3", xyz[1], "C"), ("C", xyz[2], "C"), ("O", xyz[3], "O")]
        elif name == "NME":
            atoms = [("N", xyz[0], "N"), ("C", xyz[1], "C")]
        else:
            atoms = [("N", xyz[0], "N"), ("CA", xyz[1], "C"), ("C", xyz[2], "C")]
            if name != "GLY":
                atoms.append(("CB", _cb(xyz), "C"))
        for atom, p, el in atoms:
            p = p * 10.0
            label = atom if len(atom) == 4 else " " + atom
            lines.append(f"ATOM  {k:5d} {label:<4s} {name:3s} A{i + 1:4d}    "
                         f"{p[0]:8.3f}{p[1]:8.3f}{p[2]:8.3f}  1.00  0.00          {el:>2s}")
            k += 1
    lines += ["TER", "END"]
    return "\n".join(lines) + "\n"


def _check_sequence(sequence, phi, psi, omega):
    seq = [str(s).upper() for s in sequence]
    if len(seq) < 2:
        raise ValueError("a peptide needs at least 2 residues")
    for i, s in enumerate(seq):
        if s not in _AMINO and s not in _CAPS:
            raise ValueError(f"unknown residue {s!r}; use 3-letter names of the 20 amino acids, ACE or NME")
        if s == "ACE" and i != 0:
            raise ValueError("ACE must be the first residue")
        if s == "NME" and i != len(seq) - 1:
            raise ValueError("NME must be the last residue")
    lengths = {len(np.atleast_1d(v)) for v in (phi, psi, omega)}
    if lengths != {len(seq)}:
        raise ValueError(f"phi, psi, omega need one entry per residue ({len(seq)}), got lengths "
                         f"{[len(np.atleast_1d(v)) for v in (phi, psi, omega)]}")
    return seq


def dihedral_indices(topology) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(phi, psi, omega) atom-index arrays (K, 4) of a linear peptide topology (ACE's CH3 and NME's C
    act as CA in omega)."""
    res = [{a.name: a.index for a in r.atoms()} | {"_name": r.name} for r in topology.residues()]

    def ca(r):
        return r[{"ACE": "CH3", "NME": "C"}.get(r["_name"], "CA")]

    phi, psi, omega = [], [], []
    for i in range(len(res) - 1):
        a, b = res[i], res[i + 1]
        if "C" in a and a["_name"] != "NME" and "N" in b:
            omega.append([ca(a), a["C"], b["N"], ca(b)])
            if "N" in a and "CA" in a:
                psi.append([a["N"], a["CA"], a["C"], b["N"]])
            if "CA" in b and "C" in b and b["_name"] != "NME":
                phi.append([a["C"], b["N"], b["CA"], b["C"]])
    return tuple(np.array(v, np.int32).reshape(-1, 4) for v in (phi, psi, omega))


def build_peptide(sequence: Sequence[str], phi, psi, omega, forcefield_files: Sequence[str] = FORCEFIELD_FILES,
                  minimize_steps: int = 2000, seed: int = 0) -> Peptide:
    """Build a peptide: ``sequence`` 3-letter names (caps included, e.g. ``["ACE", "PRO", "NME"]``;
    without caps the termini are charged), ``phi``, ``psi``, ``omega`` degrees per residue. Backbone
    by :func:`backbone`, side chains from pdbfixer's templates, hydrogens from OpenMM's ``Modeller``
    (pH 7, Python's ``random`` seeded with ``seed`` and restored; pdbfixer's and OpenMM's relaxations
    run on the Reference platform), a flexible NoCutoff System from
    ``forcefield_files``, then ``minimize_steps`` FIRE steps of :func:`jaxsci.md.structures.minimize`
    (float64 only if ``jax_enable_x64`` is on; 0 skips it). Raises ValueError on unknown residues
    or dihedral lengths not matching the sequence, before any work."""
    seq = _check_sequence(sequence, phi, psi, omega)
    if minimize_steps < 0:
        raise ValueError("minimize_steps must be >= 0")
    import openmm
    import openmm.app as app
    import pdbfixer

    ff = app.ForceField(*forcefield_files)
    bb = backbone(phi, psi, omega)
    reference = openmm.Platform.getPlatformByName("Reference")
    fixer = pdbfixer.PDBFixer(pdbfile=io.StringIO(_pdb_string(seq, bb)), platform=reference)
    fixer.findMissingResidues()
    fixer.missingResidues = {}
    fixer.findMissingAtoms()
    fixer.addMissingAtoms(seed=seed)  # its soft relaxation of the new atoms, seeded, on Reference
    # Put O (and a charged C terminus' OXT) on the NeRF backbone: O in the peptide plane, OXT along
    # the direction of the virtual next N (so O-C-OXT is planar, ~120 deg).
    xyz = np.array([[v.x, v.y, v.z] for v in fixer.positions.value_in_unit(openmm.unit.nanometer)])
    for i, res in enumerate(fixer.topology.residues()):
        names = {a.name: a.index for a in res.atoms()}
        if res.name in _CAPS:
            continue
        xyz[names["O"]] = bb[i, 3]
        if "OXT" in names:
            n_next = _place(bb[i, 0], bb[i, 1], bb[i, 2], B_C_N, np.deg2rad(A_CA_C_N), np.deg2rad(float(psi[i])))
            u = n_next - bb[i, 2]
            xyz[names["OXT"]] = bb[i, 2] + B_C_O * u / np.linalg.norm(u)
    modeller = app.Modeller(fixer.topology, [openmm.Vec3(*p) for p in xyz] * openmm.unit.nanometer)
    _st.add_hydrogens(modeller, ff, seed, pH=7.0)
    system = ff.createSystem(modeller.topology, nonbondedMethod=app.NoCutoff, constraints=None)
    pos = np.array([[v.x, v.y, v.z] for v in modeller.positions], np.float64)
    if minimize_steps:
        pos = np.asarray(_st.minimize(_ff.from_openmm(system), jnp.asarray(pos), steps=minimize_steps), np.float64)
    mol = _st.Molecule(modeller.topology, pos, system, _st.phi_psi_indices(modeller.topology))
    return Peptide(mol, *dihedral_indices(modeller.topology))


def polyproline(state: str = "PPII", minimize_steps: int = 2000, seed: int = 0) -> Peptide:
    """ACE-PRO-PRO-PRO-NME (54 atoms) in amber14 (ff14SB) + GBn2. ``state="PPII"``: every peptide
    bond trans (omega 180), phi -75, psi 145. ``"PPI"``: every peptide bond (NME's included) cis
    (omega 0), phi -75, psi 160."""
    if state not in ("PPII", "PPI"):
        raise ValueError(f"unknown polyproline state {state!r}; choose 'PPII' or 'PPI'")
    psi, omega = (145.0, 180.0) if state == "PPII" else (160.0, 0.0)
    seq = ["ACE", "PRO", "PRO", "PRO", "NME"]
    return build_peptide(seq, [-75.0] * 5, [psi] * 5, [omega] * 5, minimize_steps=minimize_steps, seed=seed)


def chignolin(state: str = "folded", minimize_steps: int = 2000, seed: int = 0) -> Peptide:
    """Chignolin GYDPETGTWG (138 atoms: charged termini, ASP and GLU deprotonated) in amber14 (ff14SB)
    + GBn2, all omega 180. ``"unfolded"``: fully extended (phi -150, psi 150; P4's phi -65, as its
    ring allows no other). ``"folded"``: an *approximate* beta hairpin from idealised dihedrals
    (``_CHIGNOLIN_PHI/PSI``: beta strands and a turn at D3-G7 placing the Y2 and W9 CAs close), then
    minimised (CA-CA after 2000 steps: G1-G10 0.44, Y2-W9 0.59, D3-T8 0.67 nm); it is not the NMR or
    crystal structure (1UAO/5AWL): its turn type, cross-strand hydrogen bonds and Y2/W9 side-chain
    packing are not reproduced, so it is a folded-like start, not the native state."""
    if state not in ("folded", "unfolded"):
        raise ValueError(f"unknown chignolin state {state!r}; choose 'folded' or 'unfolded'")
    seq = [_ONE[c] for c in "GYDPETGTWG"]
    if state == "folded":
        phi, psi = _CHIGNOLIN_PHI, _CHIGNOLIN_PSI
    else:
        phi, psi = [-150.0] * 10, [150.0] * 10
        phi[3] = -65.0  # P4: the pyrrolidine ring holds proline's phi near -65
    return build_peptide(seq, phi, psi, [180.0] * 10, minimize_steps=minimize_steps, seed=seed)
