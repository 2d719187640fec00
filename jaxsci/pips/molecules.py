"""PIPS systems built by our own code: start and target conformations set by backbone dihedrals and
minimised with the JAX force field (needs ``openmm`` and ``pdbfixer``, the ``md`` extra).

Polyproline ACE-PRO3-NME (PP-II -> PP-I: every peptide bond trans -> cis; collective variables the four
omegas, a hit when their wrapped distance to the target's is below 1 rad) and chignolin (unfolded ->
an approximate hairpin; collective variables the CA-CA distances G1-G10, Y2-W9, D3-T8, a hit when
within 0.3 nm of the target's), both amber14 (ff14SB) + GBn2, built by :mod:`jaxsci.md.peptides`.

Alanine dipeptide: the original's start file "C7eq" is really the C5 basin (phi, psi ~ -147, 174 deg);
its target is C7ax (phi ~ 65 deg). We set (phi, psi) on pdbfixer's structure (plus hydrogens), minimise
(dihedrals free), and take the minimised configurations as start and target; the hit criterion is the
distance in (phi, psi) to the minimised target's, wrapped, below 0.75 rad.

``constraints="hbonds"`` (every builder): the dynamics keep each bond to a hydrogen at its force field's
length, as the original's OpenMM systems do (:func:`jaxsci.md.forcefield.with_hbond_constraints`, the System
``createSystem(constraints=HBonds)`` builds), and the minimised start and target are projected onto them;
``Built.forcefield`` stays the flexible one, which minimises and draws the energy map.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxsci.md import forcefield as ffmod
from jaxsci.md import geometry, langevin, peptides, structures
from jaxsci.pips.pice import System

C5 = (-150.0, 170.0)  # degrees: the original's start basin
C7AX = (70.0, -60.0)  # degrees: set before minimising into the C7ax basin


@dataclasses.dataclass
class Built:
    """A PIPS ``system`` with its ``molecule`` (structures.Molecule), ``forcefield`` (every bond flexible, as
    minimised; ``system.potential`` drops the constrained bonds' terms when it has constraints) and the minimised
    collective variables of the start and the target, ``start_cv`` / ``target_cv`` (phi, psi in radians for
    alanine dipeptide)."""

    system: System
    molecule: structures.Molecule
    forcefield: ffmod.ForceField
    start_cv: np.ndarray
    target_cv: np.ndarray


def cast(ff: ffmod.ForceField, dtype) -> ffmod.ForceField:
    """The force field with its floating-point arrays in ``dtype`` (e.g. float32 for training)."""
    return jax.tree.map(lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, ff)


def _dynamics(ff64: ffmod.ForceField, topology, constraints, dtype, *xs):
    """``(potential force field in dtype, Constraints | None, xs projected onto the constraints in dtype)``."""
    if constraints is None:
        return cast(ff64, dtype), None, tuple(jnp.asarray(x, dtype) for x in xs)
    hydrogen = np.array([a.element is not None and a.element.symbol == "H" for a in topology.atoms()])
    ff = ffmod.with_hbond_constraints(ff64, hydrogen)
    cons = langevin.Constraints(ff.constraint_idx, jnp.asarray(ff.constraint_dist, dtype))
    masses = jnp.asarray(ff64.masses, dtype)
    projected = tuple(langevin.constrain_positions(x, x, masses, cons) for x in (jnp.asarray(x, dtype) for x in xs))
    return cast(ff, dtype), cons, projected


def _bonds(mol) -> np.ndarray:
    return np.array([[a.index, b.index] for a, b in mol.topology.bonds()])


def _with_phi_psi(mol, bonds, x, phi_psi_deg) -> np.ndarray:
    """``x (N, 3)`` with its (phi, psi) set to ``phi_psi_deg`` by rigid rotations."""
    for idx, angle in zip(mol.phi_psi_atoms, np.deg2rad(phi_psi_deg)):
        x = geometry.set_dihedral(x, bonds, tuple(int(i) for i in idx), float(angle))
    return x


def _conformation(mol, ff, bonds, phi_psi_deg, steps):
    x = _with_phi_psi(mol, bonds, np.array(mol.positions), phi_psi_deg)
    return np.asarray(structures.minimize(ff, jnp.asarray(x, jnp.float32), steps=steps), np.float64)


def alanine_dipeptide(implicit: str | None = None, *, start_deg=C5, target_deg=C7AX, minimize_steps: int = 2000,
                      dtype=jnp.float32, hit_radius: float = 0.75, constraints: str | None = None) -> Built:
    """The alanine dipeptide C5 -> C7ax system (amber99sbildn; vacuum, ``"obc"`` or ``"gbn2"``); ``constraints``:
    None (flexible bonds) or ``"hbonds"``."""
    structures.check_constraints(constraints)
    mol = structures.alanine_dipeptide(implicit=implicit)
    ff64 = ffmod.from_openmm(mol.system)
    ff = cast(ff64, jnp.float32)
    bonds = _bonds(mol)
    start = _conformation(mol, ff, bonds, start_deg, minimize_steps)
    target = _conformation(mol, ff, bonds, target_deg, minimize_steps)
    idx = jnp.asarray(mol.phi_psi_atoms)
    dyn, cons, (x0, x1) = _dynamics(ff64, mol.topology, constraints, dtype, start, target)
    system = System(potential=lambda x: ffmod.energy(dyn, x), masses=jnp.asarray(ff64.masses, dtype),
                    start=x0, target=x1, cv=lambda x: ffmod.dihedral(x, idx), cv_periodic=True,
                    hit_radius=hit_radius, constraints=cons)
    angles = lambda x: np.asarray(ffmod.dihedral(jnp.asarray(x), idx))  # noqa: E731
    return Built(system, mol, cast(ff64, dtype), angles(start), angles(target))


def phi_psi_energy_map(built: Built, grid: int = 24, *, steps: int = 1000, spring: float = 5000.0):
    """The relaxed energy map of alanine dipeptide over (phi, psi) (:func:`jaxsci.md.structures.relaxed_scan` on a
    ``grid x grid`` lattice of cell centres, each point started from the minimised start with its dihedrals set).
    Returns ``(phi (grid,), psi (grid,), energy (grid, grid))``: degrees, and kJ/mol above the map's minimum,
    ``energy[i, j]`` at ``(phi[i], psi[j])``."""
    if grid < 2:
        raise ValueError(f"grid must be >= 2, got {grid}")
    mol, system, ff = built.molecule, built.system, built.forcefield
    bonds = _bonds(mol)
    centres = -180.0 + (np.arange(grid) + 0.5) * 360.0 / grid
    lattice = np.stack(np.meshgrid(centres, centres, indexing="ij"), -1).reshape(-1, 2)
    start = np.asarray(system.start, np.float64)
    x_init = [_with_phi_psi(mol, bonds, start, point) for point in lattice]
    dtype = system.start.dtype
    energy, _, _ = structures.relaxed_scan(lambda x: ffmod.energy(ff, x), system.cv, jnp.asarray(np.stack(x_init), dtype),
                                           jnp.asarray(np.deg2rad(lattice), dtype), spring=spring, steps=steps)
    energy = np.asarray(energy, np.float64).reshape(grid, grid)
    return centres, centres, energy - energy.min()


def _peptide_system(start: peptides.Peptide, target: peptides.Peptide, cv, cv_periodic: bool, hit_radius: float,
                    dtype, constraints) -> Built:
    names = lambda p: [a.name for a in p.molecule.topology.atoms()]  # noqa: E731
    if names(start) != names(target):
        raise ValueError("start and target were built with different atom orders")
    ff64 = ffmod.from_openmm(start.molecule.system)
    dyn, cons, (x0, x1) = _dynamics(ff64, start.molecule.topology, constraints, dtype, start.molecule.positions,
                                    target.molecule.positions)
    system = System(potential=lambda x: ffmod.energy(dyn, x), masses=jnp.asarray(ff64.masses, dtype), start=x0,
                    target=x1, cv=cv, cv_periodic=cv_periodic, hit_radius=hit_radius, constraints=cons)
    return Built(system, start.molecule, cast(ff64, dtype), np.asarray(cv(x0)), np.asarray(cv(x1)))


def polyproline(*, minimize_steps: int = 2000, dtype=jnp.float32, constraints: str | None = None) -> Built:
    """ACE-PRO3-NME from PP-II (all trans) to PP-I (all cis); cv = the four omegas (rad)."""
    structures.check_constraints(constraints)
    start = peptides.polyproline("PPII", minimize_steps=minimize_steps)
    target = peptides.polyproline("PPI", minimize_steps=minimize_steps)
    idx = jnp.asarray(start.omega_idx)
    return _peptide_system(start, target, lambda x: ffmod.dihedral(x, idx), True, 1.0, dtype, constraints)


def chignolin(*, minimize_steps: int = 2000, dtype=jnp.float32, constraints: str | None = None) -> Built:
    """Chignolin from fully extended to the approximate hairpin of :func:`jaxsci.md.peptides.chignolin`;
    cv = CA-CA distances G1-G10, Y2-W9, D3-T8 (nm)."""
    structures.check_constraints(constraints)
    start = peptides.chignolin("unfolded", minimize_steps=minimize_steps)
    target = peptides.chignolin("folded", minimize_steps=minimize_steps)
    ca = [a.index for a in start.molecule.topology.atoms() if a.name == "CA"]
    pairs = jnp.asarray([[ca[0], ca[9]], [ca[1], ca[8]], [ca[2], ca[7]]])
    cv = lambda x: jnp.linalg.norm(x[pairs[:, 0]] - x[pairs[:, 1]], axis=-1)  # noqa: E731
    return _peptide_system(start, target, cv, False, 0.3, dtype, constraints)


BUILDERS = {"alanine_dipeptide": alanine_dipeptide, "polyproline": polyproline, "chignolin": chignolin}
