"""A differentiable classical force field in JAX, read from an OpenMM ``System``.

Units are OpenMM's: positions in nm, energies in kJ/mol, forces in kJ/mol/nm, masses in amu
(Da), charges in elementary charges, time in ps. Everything is float64 when the positions are
float64 (enable ``jax_enable_x64``); the target is parity with OpenMM's Reference platform.

Supported forces (``from_openmm``):

* ``HarmonicBondForce``: ``0.5 k (r - r0)^2``.
* ``HarmonicAngleForce``: ``0.5 k (theta - theta0)^2``.
* ``PeriodicTorsionForce``: ``k (1 + cos(n phi - phase))``.
* ``CMAPTorsionForce``: bicubic patches on the periodic ``size x size`` grid (angles in
  ``[0, 2 pi)``, ``energy[i + size j]`` at ``(i, j) 2 pi / size``), with the grid derivatives taken
  from periodic cubic splines, exactly as OpenMM builds its coefficients.
* ``NonbondedForce`` with ``NoCutoff`` only: Coulomb with OpenMM's ``ONE_4PI_EPS0`` and
  Lennard-Jones with Lorentz-Berthelot rules; exceptions replace the pair's interaction and
  exceptions with zero charge product and zero epsilon (exclusions) contribute nothing.
* ``GBSAOBCForce`` (OBC2: alpha 1, beta 0.8, gamma 4.85, dielectric offset 0.009 nm) with the
  ACE surface-area term (probe radius 0.14 nm), as OpenMM's ``ReferenceObc``.
* ``CustomGBForce`` only when it is OpenMM's GBn2 (``implicit/gbn2.xml``, Amber ``igb=8``):
  recognised by its per-particle parameter and computed-value names and its neck scale, then
  evaluated by a native JAX implementation using the per-particle parameters and the neck
  lookup tables read from the force. No expression is parsed.
* ``CMMotionRemover`` is ignored. HBond (and any other) constraints are kept in
  ``ForceField.constraint_idx`` / ``constraint_dist`` for the dynamics code; they do not enter
  the energy.

Refused with a ``ValueError`` naming the problem: any other force class, any other
``CustomGBForce``, nonbonded methods other than ``NoCutoff``, periodic systems, parameter
offsets, GB with salt (kappa != 0), virtual sites.

Why our own converter rather than jax-md's: jax-md's Amber/OpenMM converter has no generalized
Born implicit solvent (we need OBC and GBn2 for alanine dipeptide in implicit water) and works in
kcal/mol and Angstrom, while the rest of this package (and OpenMM, our reference) uses kJ/mol
and nm.
"""

from __future__ import annotations

import math
import re

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

# OpenMM's constant, computed as in SimTKOpenMMRealType.h (CODATA 2018 values).
_E_CHARGE = 1.602176634e-19
_AVOGADRO = 6.02214076e23
_EPSILON0 = 1e-6 * 8.8541878128e-12 / (_E_CHARGE * _E_CHARGE * _AVOGADRO)
ONE_4PI_EPS0 = 1.0 / (4.0 * math.pi * _EPSILON0)  # 138.93545764438198 kJ mol^-1 nm e^-2

# Constants written into OpenMM's GBn2 CustomGBForce expressions (customgbforces.py).
_GBN2_COULOMB = 138.935485
_GBN2_ACE = 28.3919551
_GBN2_NECK_SCALE = 0.826836
_GBN2_NECK_CUT = 0.68
_GBN2_PARAMS = ["charge", "or", "sr", "alpha", "beta", "gamma", "radindex"]

_OBC_OFFSET = 0.009
_OBC_ALPHA, _OBC_BETA, _OBC_GAMMA = 1.0, 0.8, 4.85
_PROBE_RADIUS = 0.14

TERM_NAMES = ("bonds", "angles", "torsions", "cmap", "nonbonded", "gb")


# --------------------------------------------------------------------------------------------
# Pytree containers


@flax.struct.dataclass
class Bonds:
    """Harmonic bonds: idx (B, 2) int, r0 (B,) nm, k (B,) kJ/mol/nm^2."""

    idx: jax.Array
    r0: jax.Array
    k: jax.Array


@flax.struct.dataclass
class Angles:
    """Harmonic angles: idx (A, 3) int, theta0 (A,) rad, k (A,) kJ/mol/rad^2."""

    idx: jax.Array
    theta0: jax.Array
    k: jax.Array


@flax.struct.dataclass
class Torsions:
    """Periodic torsions: idx (T, 4) int, n (T,) periodicity, phase (T,) rad, k (T,) kJ/mol."""

    idx: jax.Array
    n: jax.Array
    phase: jax.Array
    k: jax.Array


@flax.struct.dataclass
class Cmap:
    """CMAP torsion pairs: idx (C, 8) int (two dihedrals), map_id (C,) int, coeffs (M, S, S, 4, 4)
    bicubic coefficients (kJ/mol) of patch (s, t) for map m; ``size`` (M,) grid sizes padded to S."""

    idx: jax.Array
    map_id: jax.Array
    coeffs: jax.Array
    size: jax.Array


@flax.struct.dataclass
class Nonbonded:
    """All interacting pairs (no cutoff): pairs (P, 2) int, qq (P,) e^2, sigma (P,) nm,
    eps (P,) kJ/mol. Exceptions are already folded in; excluded pairs are dropped."""

    pairs: jax.Array
    qq: jax.Array
    sigma: jax.Array
    eps: jax.Array


@flax.struct.dataclass
class OBC:
    """OBC2 GB: charge (N,) e, radius (N,) nm, scale (N,), prefactor kJ nm/mol/e^2 (scalar),
    sa_energy (scalar) = 4 pi * surface tension, kJ/mol/nm^2."""

    charge: jax.Array
    radius: jax.Array
    scale: jax.Array
    prefactor: jax.Array
    sa_energy: jax.Array


@flax.struct.dataclass
class GBn2:
    """GBn2 GB: per-particle charge, offset radius ``orad``, scaled offset radius ``srad`` (N,),
    alpha/beta/gamma (N,), radindex (N,) int; neck tables m0, d0 (R, R); prefactor scalar;
    offset nm; ``ace`` whether the ACE term is on (static)."""

    charge: jax.Array
    orad: jax.Array
    srad: jax.Array
    alpha: jax.Array
    beta: jax.Array
    gamma: jax.Array
    radindex: jax.Array
    m0: jax.Array
    d0: jax.Array
    prefactor: jax.Array
    offset: jax.Array
    ace: bool = flax.struct.field(pytree_node=False, default=True)


@flax.struct.dataclass
class ForceField:
    """A force field for ``n_atoms`` atoms. masses (N,) amu; each term is ``None`` when absent.

    constraint_idx (K, 2) int and constraint_dist (K,) nm are the System's constraints, unused in
    the energy."""

    masses: jax.Array
    constraint_idx: jax.Array
    constraint_dist: jax.Array
    bonds: Bonds | None = None
    angles: Angles | None = None
    torsions: Torsions | None = None
    cmap: Cmap | None = None
    nonbonded: Nonbonded | None = None
    obc: OBC | None = None
    gbn2: GBn2 | None = None
    n_atoms: int = flax.struct.field(pytree_node=False, default=0)

    @property
    def terms(self) -> tuple[str, ...]:
        """Names of the energy terms present."""
        present = {
            "bonds": self.bonds is not None,
            "angles": self.angles is not None,
            "torsions": self.torsions is not None,
            "cmap": self.cmap is not None,
            "nonbonded": self.nonbonded is not None,
            "gb": self.obc is not None or self.gbn2 is not None,
        }
        return tuple(k for k in TERM_NAMES if present[k])


# --------------------------------------------------------------------------------------------
# Geometry


def _norm(v):
    """Euclidean norm over the last axis, with a finite gradient at zero."""
    s = jnp.sum(v * v, axis=-1)
    safe = jnp.where(s > 0, s, 1.0)
    return jnp.where(s > 0, jnp.sqrt(safe), 0.0)


def dihedral(x, idx):
    """Dihedral angle (radians, in (-pi, pi]) of atoms idx (..., 4) in positions x (N, 3).

    IUPAC/OpenMM/mdtraj sign: with b1 = x1 - x0, b2 = x2 - x1, b3 = x3 - x2,
    phi = atan2(|b2| b1 . (b2 x b3), (b1 x b2) . (b2 x b3)); trans is pi, and phi > 0 when,
    looking along b2, the near bond turns clockwise onto the far one.
    """
    x = jnp.asarray(x)
    idx = jnp.asarray(idx)
    p = jnp.take(x, idx, axis=-2)  # (..., 4, 3)
    b1 = p[..., 1, :] - p[..., 0, :]
    b2 = p[..., 2, :] - p[..., 1, :]
    b3 = p[..., 3, :] - p[..., 2, :]
    n1 = jnp.cross(b1, b2)
    n2 = jnp.cross(b2, b3)
    y = _norm(b2) * jnp.sum(b1 * n2, axis=-1)
    xx = jnp.sum(n1 * n2, axis=-1)
    return jnp.arctan2(y, xx)


def _angle(x, idx):
    a = x[idx[:, 0]] - x[idx[:, 1]]
    b = x[idx[:, 2]] - x[idx[:, 1]]
    # atan2(|a x b|, a.b): accurate everywhere and differentiable away from 0 and pi.
    return jnp.arctan2(_norm(jnp.cross(a, b)), jnp.sum(a * b, axis=-1))


# --------------------------------------------------------------------------------------------
# Energy terms


def _e_bonds(t: Bonds, x):
    r = _norm(x[t.idx[:, 0]] - x[t.idx[:, 1]])
    return jnp.sum(0.5 * t.k * (r - t.r0) ** 2)


def _e_angles(t: Angles, x):
    th = _angle(x, t.idx)
    return jnp.sum(0.5 * t.k * (th - t.theta0) ** 2)


def _e_torsions(t: Torsions, x):
    phi = dihedral(x, t.idx)
    return jnp.sum(t.k * (1.0 + jnp.cos(t.n * phi - t.phase)))


def _e_cmap(t: Cmap, x):
    two_pi = 2.0 * jnp.pi
    a = jnp.mod(dihedral(x, t.idx[:, :4]) + two_pi, two_pi)
    b = jnp.mod(dihedral(x, t.idx[:, 4:]) + two_pi, two_pi)
    size = t.size[t.map_id]
    delta = two_pi / size
    s = jnp.clip(jnp.floor(a / delta).astype(jnp.int32), 0, size - 1)
    u = a / delta - s
    s2 = jnp.clip(jnp.floor(b / delta).astype(jnp.int32), 0, size - 1)
    v = b / delta - s2
    c = t.coeffs[t.map_id, s, s2]  # (C, 4, 4): c[p, q] multiplies u^p v^q
    pw = jnp.arange(4)
    up = u[:, None] ** pw
    vp = v[:, None] ** pw
    return jnp.sum(jnp.einsum("cp,cpq,cq->c", up, c, vp))


def _e_nonbonded(t: Nonbonded, x):
    r = _norm(x[t.pairs[:, 0]] - x[t.pairs[:, 1]])
    sr6 = (t.sigma / r) ** 6
    return jnp.sum(ONE_4PI_EPS0 * t.qq / r + 4.0 * t.eps * (sr6 * sr6 - sr6))


def _pair_geometry(x):
    n = x.shape[0]
    eye = jnp.eye(n, dtype=bool)
    d = x[:, None, :] - x[None, :, :]
    r2 = jnp.sum(d * d, axis=-1)
    r2 = jnp.where(eye, 0.0, r2)
    r = jnp.sqrt(jnp.where(eye, 1.0, r2))  # off-diagonal distances, 1 on the diagonal
    return eye, r2, r


def _gb_pair_energy(prefactor, q, born, r2):
    """0.5 * prefactor * sum_ij q_i q_j / f_ij (i = j included: f_ii = B_i)."""
    bb = born[:, None] * born[None, :]
    f = jnp.sqrt(r2 + bb * jnp.exp(-r2 / (4.0 * bb)))
    return 0.5 * prefactor * jnp.sum(q[:, None] * q[None, :] / f)


def obc_born_radii(t: OBC, x):
    """OBC2 effective Born radii (N,) nm, as OpenMM's ReferenceObc."""
    eye, _, r = _pair_geometry(x)
    orad = t.radius - _OBC_OFFSET  # (N,)
    sr = (t.radius - _OBC_OFFSET) * t.scale  # (N,)
    ori = orad[:, None]
    srj = sr[None, :]
    upper = r + srj
    include = (ori < upper) & ~eye
    l_inv = 1.0 / jnp.maximum(ori, jnp.abs(r - srj))
    u_inv = 1.0 / upper
    l2, u2 = l_inv * l_inv, u_inv * u_inv
    term = (
        l_inv
        - u_inv
        + 0.25 * r * (u2 - l2)
        + 0.5 / r * jnp.log(u_inv / l_inv)
        + 0.25 * srj * srj / r * (l2 - u2)
    )
    term = term + jnp.where(ori < srj - r, 2.0 * (1.0 / ori - l_inv), 0.0)
    psi = 0.5 * orad * jnp.sum(jnp.where(include, term, 0.0), axis=1)
    th = jnp.tanh(_OBC_ALPHA * psi - _OBC_BETA * psi**2 + _OBC_GAMMA * psi**3)
    return 1.0 / (1.0 / orad - th / t.radius)


def _e_obc(t: OBC, x):
    _, r2, _ = _pair_geometry(x)
    born = obc_born_radii(t, x)
    e = _gb_pair_energy(t.prefactor, t.charge, born, r2)
    ratio6 = (t.radius / born) ** 6
    sa = t.sa_energy * (t.radius + _PROBE_RADIUS) ** 2 * ratio6
    return e + jnp.sum(jnp.where(born > 0, sa, 0.0))


def gbn2_born_radii(t: GBn2, x):
    """GBn2 effective Born radii (N,) nm, as OpenMM's gbn2.xml CustomGBForce."""
    eye, _, r = _pair_geometry(x)
    or1 = t.orad[:, None]
    sr2 = t.srad[None, :]
    upper = r + sr2
    low = jnp.maximum(or1, jnp.abs(r - sr2))
    ivdw = 0.5 * (
        1.0 / low
        - 1.0 / upper
        + 0.25 * (r - sr2 * sr2 / r) * (1.0 / upper**2 - 1.0 / low**2)
        + 0.5 * jnp.log(low / upper) / r
    )
    ivdw = jnp.where(r + sr2 - or1 >= 0, ivdw, 0.0)
    rad = t.orad + t.offset
    ri, rj = t.radindex[:, None], t.radindex[None, :]
    m0 = t.m0[ri, rj]
    d0 = t.d0[ri, rj]
    dd = r - d0
    ineck = m0 / (1.0 + 100.0 * dd**2 + 0.3 * 1.0e6 * dd**6)
    ineck = jnp.where(rad[:, None] + rad[None, :] + _GBN2_NECK_CUT - r >= 0, ineck, 0.0)
    integral = jnp.sum(jnp.where(eye, 0.0, ivdw + _GBN2_NECK_SCALE * ineck), axis=1)
    psi = integral * t.orad
    th = jnp.tanh(t.alpha * psi - t.beta * psi**2 + t.gamma * psi**3)
    return 1.0 / (1.0 / t.orad - th / rad)


def _e_gbn2(t: GBn2, x):
    _, r2, _ = _pair_geometry(x)
    born = gbn2_born_radii(t, x)
    e = _gb_pair_energy(t.prefactor, t.charge, born, r2)
    if t.ace:
        rad = t.orad + t.offset
        e = e + jnp.sum(_GBN2_ACE * (rad + _PROBE_RADIUS) ** 2 * (rad / born) ** 6)
    return e


def energy_terms(ff: ForceField, x) -> dict:
    """Energy per term (kJ/mol scalars) at positions x (N, 3) nm; keys from ``TERM_NAMES``
    for the terms present."""
    x = jnp.asarray(x)
    out = {}
    if ff.bonds is not None:
        out["bonds"] = _e_bonds(ff.bonds, x)
    if ff.angles is not None:
        out["angles"] = _e_angles(ff.angles, x)
    if ff.torsions is not None:
        out["torsions"] = _e_torsions(ff.torsions, x)
    if ff.cmap is not None:
        out["cmap"] = _e_cmap(ff.cmap, x)
    if ff.nonbonded is not None:
        out["nonbonded"] = _e_nonbonded(ff.nonbonded, x)
    if ff.obc is not None:
        out["gb"] = _e_obc(ff.obc, x)
    if ff.gbn2 is not None:
        out["gb"] = _e_gbn2(ff.gbn2, x)
    return out


def energy(ff: ForceField, x):
    """Total potential energy (kJ/mol scalar) at positions x (N, 3) nm."""
    terms = energy_terms(ff, x)
    if not terms:
        return jnp.zeros((), jnp.asarray(x).dtype)
    return sum(terms.values())


def forces(ff: ForceField, x):
    """Forces (N, 3) kJ/mol/nm = -grad energy."""
    return -jax.grad(lambda y: energy(ff, y))(jnp.asarray(x))


# --------------------------------------------------------------------------------------------
# CMAP coefficients


def _periodic_spline_derivs(y):
    """First derivatives at the knots of the periodic cubic spline through y (..., n) on a grid
    of unit spacing (multiply by 1/h for spacing h)."""
    n = y.shape[-1]
    a = np.zeros((n, n))
    for i in range(n):
        a[i, i] = 4.0
        a[i, (i - 1) % n] += 1.0
        a[i, (i + 1) % n] += 1.0
    rhs = 6.0 * (np.roll(y, -1, -1) - 2.0 * y + np.roll(y, 1, -1))
    m = np.linalg.solve(a, np.moveaxis(rhs, -1, 0))
    m = np.moveaxis(m, 0, -1)  # second derivatives
    return (np.roll(y, -1, -1) - y) - (2.0 * m + np.roll(m, -1, -1)) / 6.0


def _bicubic_matrix():
    """16x16 inverse mapping corner data (f, f_u, f_v, f_uv at (0,0),(1,0),(1,1),(0,1)) to
    coefficients c[4p + q] of u^p v^q."""
    corners = [(0, 0), (1, 0), (1, 1), (0, 1)]
    rows = []
    for kind in range(4):
        for u, v in corners:
            row = np.zeros(16)
            for p in range(4):
                for q in range(4):
                    if kind == 0:
                        val = u**p * v**q
                    elif kind == 1:
                        val = p * u ** max(p - 1, 0) * v**q if p else 0.0
                    elif kind == 2:
                        val = q * v ** max(q - 1, 0) * u**p if q else 0.0
                    else:
                        val = p * q * u ** max(p - 1, 0) * v ** max(q - 1, 0) if p and q else 0.0
                    row[4 * p + q] = val
            rows.append(row)
    return np.linalg.inv(np.array(rows))


def cmap_coefficients(energy_map: np.ndarray, size: int) -> np.ndarray:
    """Bicubic coefficients (size, size, 4, 4) in kJ/mol for an OpenMM CMAP map given as the flat
    list ``energy[i + size j]`` (angle A = i 2 pi/size, B = j 2 pi/size). Patch (s, t), in units of
    the grid step, holds c[p, q] of u^p v^q with u, v in [0, 1)."""
    e = np.asarray(energy_map, np.float64).reshape(size, size).T  # e[i, j]
    delta = 2.0 * np.pi / size
    ea = _periodic_spline_derivs(e.T).T / delta  # dE/dA: spline along i
    eb = _periodic_spline_derivs(e) / delta  # dE/dB: spline along j
    eab = _periodic_spline_derivs(ea) / delta  # d/dB of dE/dA
    inv = _bicubic_matrix()
    i = np.arange(size)
    ip = (i + 1) % size
    si, sj = np.meshgrid(i, i, indexing="ij")
    pi_, pj = np.meshgrid(ip, ip, indexing="ij")
    corners = [(si, sj), (pi_, sj), (pi_, pj), (si, pj)]
    data = []
    for arr, scale in ((e, 1.0), (ea, delta), (eb, delta), (eab, delta * delta)):
        for ci, cj in corners:
            data.append(arr[ci, cj] * scale)
    data = np.stack(data, axis=-1)  # (size, size, 16)
    coeff = data @ inv.T
    return coeff.reshape(size, size, 4, 4)


# --------------------------------------------------------------------------------------------
# Conversion from OpenMM


def _gbn2_constant(expr: str, name: str) -> float:
    m = re.search(r"(?:^|;)\s*" + re.escape(name) + r"\s*=\s*([-+0-9.eE]+)", expr)
    if m is None:
        raise ValueError(f"CustomGBForce: GBn2 expression lacks the constant {name!r}")
    return float(m.group(1))


def _is_gbn2(force) -> bool:
    params = [force.getPerParticleParameterName(i) for i in range(force.getNumPerParticleParameters())]
    values = [force.getComputedValueParameters(i)[0] for i in range(force.getNumComputedValues())]
    if params != _GBN2_PARAMS or values != ["I", "B"] or force.getNumTabulatedFunctions() != 2:
        return False
    expr = force.getComputedValueParameters(0)[1]
    try:
        return abs(_gbn2_constant(expr, "neckScale") - _GBN2_NECK_SCALE) < 1e-12
    except ValueError:
        return False


def _convert_gbn2(force, n):
    import openmm as mm

    if not _is_gbn2(force):
        raise ValueError(
            "CustomGBForce is supported only as OpenMM's GBn2 (implicit/gbn2.xml); "
            f"this CustomGBForce (force '{force.getName()}') is not GBn2"
        )
    if force.getNonbondedMethod() != mm.CustomGBForce.NoCutoff:
        raise ValueError("CustomGBForce (GBn2): only NoCutoff is supported")
    energies = [force.getEnergyTermParameters(i)[0] for i in range(force.getNumEnergyTerms())]
    expr0 = energies[0]
    kappa = _gbn2_constant(expr0, "kappa")
    if kappa != 0.0:
        raise ValueError("CustomGBForce (GBn2): salt screening (kappa != 0) is not supported")
    if "cutoff" in expr0:
        raise ValueError("CustomGBForce (GBn2): cutoffs are not supported")
    eps_in = _gbn2_constant(expr0, "soluteDielectric")
    eps_out = _gbn2_constant(expr0, "solventDielectric")
    offset = _gbn2_constant(expr0, "offset")
    ace = any(str(_GBN2_ACE) in e for e in energies)
    if len(energies) != 2 + int(ace):
        raise ValueError("CustomGBForce (GBn2): unexpected energy terms (e.g. LCPO) are not supported")
    names = [force.getTabulatedFunctionName(i) for i in range(2)]
    tables = {}
    for i, name in enumerate(names):
        f = force.getTabulatedFunction(i)
        nx, ny, vals = f.getFunctionParameters()
        tables[name] = np.asarray(vals, np.float64).reshape(ny, nx).T  # t[x, y] = vals[x + nx*y]
    p = np.array([force.getParticleParameters(i) for i in range(n)], np.float64)
    return GBn2(
        charge=jnp.asarray(p[:, 0]),
        orad=jnp.asarray(p[:, 1]),
        srad=jnp.asarray(p[:, 2]),
        alpha=jnp.asarray(p[:, 3]),
        beta=jnp.asarray(p[:, 4]),
        gamma=jnp.asarray(p[:, 5]),
        radindex=jnp.asarray(np.rint(p[:, 6]).astype(np.int32)),
        m0=jnp.asarray(tables["getm0"]),
        d0=jnp.asarray(tables["getd0"]),
        prefactor=jnp.asarray(-_GBN2_COULOMB * (1.0 / eps_in - 1.0 / eps_out)),
        offset=jnp.asarray(offset),
        ace=ace,
    )


def from_openmm(system) -> ForceField:
    """Build a ``ForceField`` from an ``openmm.System`` (see the module docstring for what is
    supported). Raises ``ValueError`` naming any unsupported force class or option."""
    import openmm as mm

    n = system.getNumParticles()
    if system.usesPeriodicBoundaryConditions():
        raise ValueError(
            "System uses periodic boundary conditions / cutoffs; only non-periodic NoCutoff "
            "systems are supported"
        )
    for i in range(n):
        if system.isVirtualSite(i):
            raise ValueError(f"System particle {i} is a virtual site; virtual sites are not supported")
    masses = np.array([system.getParticleMass(i)._value for i in range(n)], np.float64)
    cons = [system.getConstraintParameters(i) for i in range(system.getNumConstraints())]
    c_idx = np.array([[c[0], c[1]] for c in cons], np.int32).reshape(-1, 2)
    c_dist = np.array([c[2]._value for c in cons], np.float64)

    bonds, angles, tors, cmaps = [], [], [], []
    cmap_maps = []
    nonbonded = obc = gbn2 = None
    for force in system.getForces():
        cls = type(force).__name__
        if isinstance(force, mm.CMMotionRemover):
            continue
        if isinstance(force, mm.HarmonicBondForce):
            for i in range(force.getNumBonds()):
                a, b, r0, k = force.getBondParameters(i)
                bonds.append((a, b, r0._value, k._value))
        elif isinstance(force, mm.HarmonicAngleForce):
            for i in range(force.getNumAngles()):
                a, b, c, th, k = force.getAngleParameters(i)
                angles.append((a, b, c, th._value, k._value))
        elif isinstance(force, mm.PeriodicTorsionForce):
            for i in range(force.getNumTorsions()):
                a, b, c, d, per, ph, k = force.getTorsionParameters(i)
                tors.append((a, b, c, d, per, ph._value, k._value))
        elif isinstance(force, mm.CMAPTorsionForce):
            base = len(cmap_maps)
            for m in range(force.getNumMaps()):
                size, emap = force.getMapParameters(m)
                cmap_maps.append((size, np.asarray(emap._value if hasattr(emap, "_value") else emap)))
            for i in range(force.getNumTorsions()):
                m, *atoms = force.getTorsionParameters(i)
                cmaps.append((base + m, *atoms))
        elif isinstance(force, mm.NonbondedForce):
            if nonbonded is not None:
                raise ValueError("NonbondedForce: more than one NonbondedForce is not supported")
            if force.getNonbondedMethod() != mm.NonbondedForce.NoCutoff:
                raise ValueError(
                    "NonbondedForce: only NoCutoff is supported (got a periodic/cutoff nonbonded "
                    f"method, code {force.getNonbondedMethod()})"
                )
            if force.getNumParticleParameterOffsets() or force.getNumExceptionParameterOffsets():
                raise ValueError("NonbondedForce: parameter offsets are not supported")
            nonbonded = _convert_nonbonded(force, n)
        elif isinstance(force, mm.GBSAOBCForce):
            if obc is not None or gbn2 is not None:
                raise ValueError("GBSAOBCForce: only one implicit-solvent force is supported")
            if force.getNonbondedMethod() != mm.GBSAOBCForce.NoCutoff:
                raise ValueError("GBSAOBCForce: only NoCutoff is supported")
            obc = _convert_obc(force, n)
        elif isinstance(force, mm.CustomGBForce):
            if obc is not None or gbn2 is not None:
                raise ValueError("CustomGBForce: only one implicit-solvent force is supported")
            gbn2 = _convert_gbn2(force, n)
        else:
            raise ValueError(f"Unsupported force {cls} (force '{force.getName()}')")

    kw = {}
    if bonds:
        b = np.array(bonds)
        kw["bonds"] = Bonds(jnp.asarray(b[:, :2].astype(np.int32)), jnp.asarray(b[:, 2]), jnp.asarray(b[:, 3]))
    if angles:
        a = np.array(angles)
        kw["angles"] = Angles(jnp.asarray(a[:, :3].astype(np.int32)), jnp.asarray(a[:, 3]), jnp.asarray(a[:, 4]))
    if tors:
        t = np.array(tors)
        kw["torsions"] = Torsions(
            jnp.asarray(t[:, :4].astype(np.int32)), jnp.asarray(t[:, 4]), jnp.asarray(t[:, 5]), jnp.asarray(t[:, 6])
        )
    if cmaps:
        smax = max(s for s, _ in cmap_maps)
        coeffs = np.zeros((len(cmap_maps), smax, smax, 4, 4))
        for m, (s, emap) in enumerate(cmap_maps):
            coeffs[m, :s, :s] = cmap_coefficients(emap, s)
        c = np.array(cmaps, np.int32)
        kw["cmap"] = Cmap(
            idx=jnp.asarray(c[:, 1:]),
            map_id=jnp.asarray(c[:, 0]),
            coeffs=jnp.asarray(coeffs),
            size=jnp.asarray(np.array([s for s, _ in cmap_maps], np.int32)),
        )
    return ForceField(
        masses=jnp.asarray(masses),
        constraint_idx=jnp.asarray(c_idx),
        constraint_dist=jnp.asarray(c_dist),
        nonbonded=nonbonded,
        obc=obc,
        gbn2=gbn2,
        n_atoms=n,
        **kw,
    )


def with_hbond_constraints(ff: ForceField, hydrogen) -> ForceField:
    """``ff`` with every harmonic bond to a hydrogen (``hydrogen (N,) bool``, e.g. from the topology's
    elements) turned into a constraint at its equilibrium length r0 and dropped from the bond energy: the
    System that OpenMM's ``ForceField.createSystem(..., constraints=HBonds)`` builds from the same force
    field, from a flexible one. Constraints ``ff`` already has are kept first."""
    hydrogen = np.asarray(hydrogen, bool)
    if hydrogen.shape != (ff.n_atoms,):
        raise ValueError(f"hydrogen must have shape ({ff.n_atoms},), got {hydrogen.shape}")
    if ff.bonds is None:
        return ff
    idx = np.asarray(ff.bonds.idx)
    to_h = hydrogen[idx].any(axis=1)
    keep = ~to_h
    bonds = Bonds(*(jnp.asarray(np.asarray(a)[keep]) for a in (ff.bonds.idx, ff.bonds.r0, ff.bonds.k)))
    c_idx = np.concatenate([np.asarray(ff.constraint_idx).reshape(-1, 2), idx[to_h]]).astype(np.int32)
    c_dist = np.concatenate([np.asarray(ff.constraint_dist, np.float64), np.asarray(ff.bonds.r0)[to_h]])
    return ff.replace(bonds=bonds if keep.any() else None, constraint_idx=jnp.asarray(c_idx),
                      constraint_dist=jnp.asarray(c_dist, ff.bonds.r0.dtype))


def _convert_nonbonded(force, n) -> Nonbonded:
    q = np.zeros(n)
    sig = np.zeros(n)
    eps = np.zeros(n)
    for i in range(n):
        c, s, e = force.getParticleParameters(i)
        q[i], sig[i], eps[i] = c._value, s._value, e._value
    ii, jj = np.triu_indices(n, k=1)
    qq = q[ii] * q[jj]
    ps = 0.5 * (sig[ii] + sig[jj])
    pe = np.sqrt(eps[ii] * eps[jj])
    pos = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(ii, jj))}
    for k in range(force.getNumExceptions()):
        a, b, cp, s, e = force.getExceptionParameters(k)
        key = (min(a, b), max(a, b))
        p = pos[key]
        qq[p], ps[p], pe[p] = cp._value, s._value, e._value
    keep = (qq != 0.0) | (pe != 0.0)
    return Nonbonded(
        pairs=jnp.asarray(np.stack([ii[keep], jj[keep]], axis=1).astype(np.int32)),
        qq=jnp.asarray(qq[keep]),
        sigma=jnp.asarray(ps[keep]),
        eps=jnp.asarray(pe[keep]),
    )


def _convert_obc(force, n) -> OBC:
    p = np.array([[v._value if hasattr(v, "_value") else v for v in force.getParticleParameters(i)] for i in range(n)])
    eps_in = force.getSoluteDielectric()
    eps_out = force.getSolventDielectric()
    pref = -ONE_4PI_EPS0 * (1.0 / eps_in - 1.0 / eps_out) if eps_in != 0 and eps_out != 0 else 0.0
    sa = force.getSurfaceAreaEnergy()
    sa = sa._value if hasattr(sa, "_value") else sa
    return OBC(
        charge=jnp.asarray(p[:, 0]),
        radius=jnp.asarray(p[:, 1]),
        scale=jnp.asarray(p[:, 2]),
        prefactor=jnp.asarray(pref),
        sa_energy=jnp.asarray(4.0 * math.pi * sa),
    )
