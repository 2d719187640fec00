"""Molecular dynamics: a differentiable OpenMM-derived force field in JAX (nm, kJ/mol, ps, amu).

``jaxsci.md.forcefield``: ``from_openmm``, ``energy``, ``energy_terms``, ``forces``, ``dihedral``.
``jaxsci.md.structures``: molecules built with OpenMM (alanine dipeptide) and a JAX minimiser.
OpenMM is imported lazily, so importing this package does not need it.
"""

from jaxsci.md.forcefield import ForceField, dihedral, energy, energy_terms, forces, from_openmm

__all__ = ["ForceField", "dihedral", "energy", "energy_terms", "forces", "from_openmm"]
