"""Molecules for the MD experiments, built with OpenMM (no network access), and a JAX minimiser.

Units: nm, kJ/mol, amu. ``alanine_dipeptide`` starts from pdbfixer's shipped heavy-atom
alanine dipeptide (ACE-ALA-NME), adds hydrogens with OpenMM's ``Modeller`` and builds a
non-periodic ``NoCutoff`` System. By default every bond is a harmonic term (``constraints=None``), which
is what :mod:`jaxsci.md.langevin` integrates (it has no constraint solver); ``constraints="hbonds"``
gives OpenMM's HBond-constrained System (as the original PIPS runs), whose X-H bonds then carry no
energy term at all: integrating that System without constraints lets the hydrogens drift off.
"""

from __future__ import annotations

import dataclasses
import os
import random
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxsci.md import forcefield as _ff
from jaxsci.md import geometry

_FORCEFIELDS = {"amber99sbildn": "amber99sbildn.xml", "amber14": "amber14-all.xml"}
_IMPLICIT = {None: (), "obc": ("amber99_obc.xml",), "gbn2": ("implicit/gbn2.xml",)}
CONSTRAINTS = (None, "hbonds")  # every bond flexible, or OpenMM's HBonds


def check_constraints(constraints) -> None:
    """Refuse a ``constraints`` value other than None and ``"hbonds"`` (before any work)."""
    if constraints not in CONSTRAINTS:
        raise ValueError(f"unknown constraints {constraints!r}; choose None or 'hbonds'")


@dataclasses.dataclass
class Molecule:
    """topology (openmm.app.Topology), positions (N, 3) nm float64, system (openmm.System,
    NoCutoff; flexible or HBond-constrained), phi_psi_atoms (2, 4) int atom indices of phi and psi."""

    topology: Any
    positions: np.ndarray
    system: Any
    phi_psi_atoms: np.ndarray


def _forcefield_files(forcefield: str, implicit: str | None) -> list[str]:
    """Validated OpenMM force-field file names; raises ValueError before any work."""
    if implicit not in _IMPLICIT:
        raise ValueError(f"unknown implicit solvent {implicit!r}; choose one of None, 'obc', 'gbn2'")
    if implicit == "gbn2":
        if forcefield not in ("amber99sbildn", "amber14"):
            raise ValueError(f"unknown forcefield {forcefield!r}")
        # GBn2 parameters exist for the amber14 set (gbn2.xml pairs with amber14-all.xml).
        files = ["amber14-all.xml", *_IMPLICIT["gbn2"]]
    else:
        if forcefield not in _FORCEFIELDS:
            raise ValueError(f"unknown forcefield {forcefield!r}; choose one of {sorted(_FORCEFIELDS)}")
        if implicit == "obc" and forcefield != "amber99sbildn":
            raise ValueError("implicit='obc' is available with forcefield='amber99sbildn' (amber99_obc.xml)")
        files = [_FORCEFIELDS[forcefield], *_IMPLICIT[implicit]]
    import openmm.app as app

    data = os.path.join(os.path.dirname(app.__file__), "data")
    for f in files:
        if not os.path.exists(os.path.join(data, f)):
            raise ValueError(f"OpenMM force-field file {f!r} not found in {data}")
    return files


def alanine_dipeptide(forcefield: str = "amber99sbildn", implicit: str | None = None, minimize: bool = False,
                      minimize_steps: int = 1000, seed: int = 0, constraints: str | None = None) -> Molecule:
    """Alanine dipeptide (22 atoms) in vacuum (``implicit=None``), OBC2 (``"obc"``, with
    amber99sbildn + amber99_obc.xml) or GBn2 (``"gbn2"``, with amber14-all.xml +
    implicit/gbn2.xml). With ``minimize=True`` the positions are relaxed for ``minimize_steps``
    FIRE steps with ``minimize`` (in float64 only if ``jax_enable_x64`` is on). ``seed`` seeds
    OpenMM's random initial hydrogen placement, so the structure is reproducible. ``constraints``:
    None (all bonds flexible, for our integrator) or ``"hbonds"`` (OpenMM's HBonds)."""
    check_constraints(constraints)
    files = _forcefield_files(forcefield, implicit)
    import openmm.app as app
    import pdbfixer

    path = os.path.join(os.path.dirname(pdbfixer.__file__), "tests", "data", "alanine-dipeptide.pdb")
    if not os.path.exists(path):
        raise ValueError(f"pdbfixer's alanine dipeptide file not found at {path}")
    pdb = app.PDBFile(path)
    ff = app.ForceField(*files)
    modeller = app.Modeller(pdb.topology, pdb.positions)
    modeller.delete([a for a in modeller.topology.atoms() if a.element is None or a.residue.name == "HOH"])
    add_hydrogens(modeller, ff, seed)
    system = ff.createSystem(modeller.topology, nonbondedMethod=app.NoCutoff,
                             constraints=app.HBonds if constraints == "hbonds" else None)
    pos = np.array([[v.x, v.y, v.z] for v in modeller.positions], np.float64)
    mol = Molecule(modeller.topology, pos, system, phi_psi_indices(modeller.topology))
    if minimize:
        f = _ff.from_openmm(system)
        mol.positions = np.asarray(_minimize(f, jnp.asarray(pos), steps=minimize_steps), np.float64)
    return mol


def add_hydrogens(modeller, forcefield, seed: int, **kwargs) -> None:
    """``modeller.addHydrogens(forcefield, **kwargs)``, reproducibly: OpenMM places new hydrogens with
    Python's global ``random`` before relaxing them, so seed it (restoring its state afterwards) and
    relax on the Reference platform."""
    import openmm

    state = random.getstate()
    try:
        random.seed(seed)
        modeller.addHydrogens(forcefield, platform=openmm.Platform.getPlatformByName("Reference"), **kwargs)
    finally:
        random.setstate(state)


def phi_psi_indices(topology) -> np.ndarray:
    """(2, 4) indices: phi = C(i-1)-N-CA-C and psi = N-CA-C-N(i+1) of the first residue with both."""
    residues = list(topology.residues())
    for k in range(1, len(residues) - 1):
        names = {a.name: a.index for a in residues[k].atoms()}
        prev = {a.name: a.index for a in residues[k - 1].atoms()}
        nxt = {a.name: a.index for a in residues[k + 1].atoms()}
        if all(n in names for n in ("N", "CA", "C")) and "C" in prev and "N" in nxt:
            return np.array([[prev["C"], names["N"], names["CA"], names["C"]],
                             [names["N"], names["CA"], names["C"], nxt["N"]]], np.int32)
    raise ValueError("no residue with both phi and psi found")


def phi_psi(x, mol_or_indices):
    """phi, psi (..., 2) radians of positions x (..., N, 3); takes a Molecule or (2, 4) indices."""
    idx = mol_or_indices.phi_psi_atoms if isinstance(mol_or_indices, Molecule) else mol_or_indices
    return _ff.dihedral(x, jnp.asarray(idx))


def minimize(ff, x, steps: int = 1000, dt: float = 0.0005, dt_max: float = 0.0025, max_step: float = 0.02):
    """FIRE minimisation of ``forcefield.energy(ff, .)`` from positions x (N, 3) nm for ``steps``
    steps (jitted ``lax.fori_loop``, unit masses, each step's displacement capped at ``max_step``
    nm per atom). Returns the lowest-energy positions visited (N, 3). A simple relaxation for
    starting structures, not a tightly converged minimiser (constraints are not imposed)."""
    return _fire(ff, jnp.asarray(x), steps, dt, dt_max, max_step)


_minimize = minimize  # the builder's ``minimize`` argument shadows the function


@jax.jit(static_argnums=(2,))
def _fire(ff, x, steps, dt0, dt_max, max_step):
    return fire(lambda y: _ff.energy(ff, y), x, steps, dt0, dt_max, max_step)


def fire(potential, x, steps: int, dt0: float = 0.0005, dt_max: float = 0.0025, max_step: float = 0.02):
    """FIRE (Bitzek et al. 2006) on ``potential(x) -> kJ/mol`` from ``x (N, 3)`` nm, ``steps`` steps (a
    ``lax.fori_loop``; traceable, so it can be vmapped); returns the lowest-energy positions visited."""
    n_min, f_inc, f_dec, a0, f_a = 5, 1.1, 0.5, 0.1, 0.99
    e_and_g = jax.value_and_grad(potential)
    e0, g0 = e_and_g(x)

    def body(_, s):
        x, v, f, dt, a, n_pos, best_x, best_e = s
        p = jnp.sum(f * v)
        fn = jnp.sqrt(jnp.sum(f * f)) + 1e-30
        vn = jnp.sqrt(jnp.sum(v * v))
        v = jnp.where(p > 0, (1 - a) * v + a * vn * f / fn, 0.0)
        n_pos = jnp.where(p > 0, n_pos + 1, 0)
        grow = (p > 0) & (n_pos > n_min)
        dt = jnp.where(grow, jnp.minimum(dt * f_inc, dt_max), jnp.where(p > 0, dt, dt * f_dec))
        a = jnp.where(grow, a * f_a, jnp.where(p > 0, a, a0))
        v = v + dt * f
        dx = dt * v
        norm = jnp.sqrt(jnp.sum(dx * dx, axis=-1, keepdims=True))
        dx = dx * jnp.minimum(1.0, max_step / jnp.maximum(norm, 1e-30))
        x = x + dx
        e, g = e_and_g(x)
        better = e < best_e
        best_x = jnp.where(better, x, best_x)
        best_e = jnp.where(better, e, best_e)
        return x, v, -g, dt, a, n_pos, best_x, best_e

    dt0 = jnp.asarray(dt0, x.dtype)
    init = (x, jnp.zeros_like(x), -g0, dt0, jnp.asarray(a0, x.dtype), jnp.asarray(0), x, e0)
    out = jax.lax.fori_loop(0, steps, body, init)
    return out[6]


def relaxed_scan(potential, cv, x_init, cv_grid, *, spring: float = 5000.0, steps: int = 1000, periodic: bool = True):
    """The adiabatic (relaxed) energy map over collective variables: at each grid point ``cv_grid (G, d)`` the
    potential plus ``spring / 2 |cv(x) - c|^2`` (wrapped if ``periodic``; kJ/mol per squared cv unit) is minimised
    by :func:`fire` from ``x_init (G, N, 3)``, every other coordinate free. Returns ``(energy (G,) kJ/mol of the
    potential alone, cv_reached (G, d), x (G, N, 3))``. For alanine dipeptide in vacuum over (phi, psi) this is the
    usual zero-temperature stand-in for the free-energy map (it leaves out the entropy)."""
    wrap = geometry.wrap_angle if periodic else (lambda d: d)

    def one(x0, c):
        biased = lambda x: potential(x) + 0.5 * spring * jnp.sum(wrap(cv(x) - c) ** 2)  # noqa: E731
        x = fire(biased, x0, steps)
        return potential(x), cv(x), x

    return jax.jit(jax.vmap(one))(jnp.asarray(x_init), jnp.asarray(cv_grid, jnp.asarray(x_init).dtype))
