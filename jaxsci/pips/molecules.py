"""PIPS systems built by our own code: start and target conformations set by backbone dihedrals and
minimised with the JAX force field (needs ``openmm`` and ``pdbfixer``, the ``md`` extra).

Alanine dipeptide: the original's start file "C7eq" is really the C5 basin (phi, psi ~ -147, 174 deg);
its target is C7ax (phi ~ 65 deg). We set (phi, psi) on pdbfixer's structure (plus hydrogens), minimise
(dihedrals free), and take the minimised configurations as start and target; the hit criterion is the
distance in (phi, psi) to the minimised target's, wrapped, below 0.75 rad.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxsci.md import forcefield as ffmod
from jaxsci.md import geometry, structures
from jaxsci.pips.pice import System

C5 = (-150.0, 170.0)  # degrees: the original's start basin
C7AX = (70.0, -60.0)  # degrees: set before minimising into the C7ax basin


@dataclasses.dataclass
class Built:
    """A PIPS ``system`` with its ``molecule`` (structures.Molecule), ``forcefield`` and the minimised
    ``start_phi_psi`` / ``target_phi_psi`` (radians)."""

    system: System
    molecule: structures.Molecule
    forcefield: ffmod.ForceField
    start_phi_psi: np.ndarray
    target_phi_psi: np.ndarray


def cast(ff: ffmod.ForceField, dtype) -> ffmod.ForceField:
    """The force field with its floating-point arrays in ``dtype`` (e.g. float32 for training)."""
    return jax.tree.map(lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, ff)


def _conformation(mol, ff, bonds, phi_psi_deg, steps):
    x = np.array(mol.positions)
    for idx, angle in zip(mol.phi_psi_atoms, np.deg2rad(phi_psi_deg)):
        x = geometry.set_dihedral(x, bonds, tuple(int(i) for i in idx), float(angle))
    return np.asarray(structures.minimize(ff, jnp.asarray(x, jnp.float32), steps=steps), np.float64)


def alanine_dipeptide(implicit: str | None = None, *, start_deg=C5, target_deg=C7AX, minimize_steps: int = 2000,
                      dtype=jnp.float32, hit_radius: float = 0.75) -> Built:
    """The alanine dipeptide C5 -> C7ax system (amber99sbildn; vacuum, ``"obc"`` or ``"gbn2"``)."""
    mol = structures.alanine_dipeptide(implicit=implicit)
    ff64 = ffmod.from_openmm(mol.system)
    ff = cast(ff64, jnp.float32)
    bonds = np.array([[a.index, b.index] for a, b in mol.topology.bonds()])
    start = _conformation(mol, ff, bonds, start_deg, minimize_steps)
    target = _conformation(mol, ff, bonds, target_deg, minimize_steps)
    idx = jnp.asarray(mol.phi_psi_atoms)
    ff = cast(ff64, dtype)
    system = System(potential=lambda x: ffmod.energy(ff, x), masses=jnp.asarray(ff64.masses, dtype),
                    start=jnp.asarray(start, dtype), target=jnp.asarray(target, dtype),
                    cv=lambda x: ffmod.dihedral(x, idx), cv_periodic=True, hit_radius=hit_radius)
    angles = lambda x: np.asarray(ffmod.dihedral(jnp.asarray(x), idx))  # noqa: E731
    return Built(system, mol, ff, angles(start), angles(target))
