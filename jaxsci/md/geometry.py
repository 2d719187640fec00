"""Setting dihedral angles of a molecule by rigid rotation of one side of the bond (NumPy, for building
start and target conformations; not differentiated).

``bonds``: ``(B, 2)`` atom-index pairs of the covalent graph (e.g. from ``openmm.app.Topology.bonds()``).
Positions in nm, angles in radians, the IUPAC sign convention (that of OpenMM and of
:func:`jaxsci.md.forcefield.dihedral`).
"""

from __future__ import annotations

from collections import deque

import jax.numpy as jnp
import numpy as np


def wrap_angle(d):
    """Angles (rad) wrapped into [-pi, pi): the shortest signed periodic difference (JAX; NumPy input works)."""
    return jnp.mod(d + jnp.pi, 2 * jnp.pi) - jnp.pi


def dihedral_np(x: np.ndarray, idx) -> float:
    """The dihedral angle (rad) of atoms ``idx = (i, j, k, l)`` in ``x (N, 3)``."""
    p0, p1, p2, p3 = (np.asarray(x[i], np.float64) for i in idx)
    b0, b1, b2 = p0 - p1, p2 - p1, p3 - p2
    b1n = b1 / np.linalg.norm(b1)
    v = b0 - np.dot(b0, b1n) * b1n
    w = b2 - np.dot(b2, b1n) * b1n
    return float(np.arctan2(np.dot(np.cross(b1n, v), w), np.dot(v, w)))


def moving_side(bonds: np.ndarray, num_atoms: int, j: int, k: int) -> np.ndarray:
    """Bool mask of the atoms reached from ``k`` without crossing the bond ``j-k`` (``k`` included).
    Raises if ``j-k`` is in a ring (both sides connected), where a rigid rotation is impossible."""
    neighbours = [[] for _ in range(num_atoms)]
    for a, b in np.asarray(bonds):
        neighbours[a].append(b)
        neighbours[b].append(a)
    if k not in neighbours[j]:
        raise ValueError(f"atoms {j} and {k} are not bonded")
    seen = np.zeros(num_atoms, bool)
    seen[k] = True
    queue = deque([k])
    while queue:
        a = queue.popleft()
        for b in neighbours[a]:
            if a == k and b == j:
                continue
            if b == j:
                raise ValueError(f"bond {j}-{k} is in a ring: its dihedral cannot be set by a rigid rotation")
            if not seen[b]:
                seen[b] = True
                queue.append(b)
    return seen


def set_dihedral(x: np.ndarray, bonds: np.ndarray, idx, angle: float) -> np.ndarray:
    """A copy of ``x (N, 3)`` with the dihedral ``idx = (i, j, k, l)`` set to ``angle`` (rad) by rotating
    the side of bond ``j-k`` that holds ``k`` and ``l`` about the bond axis."""
    x = np.array(x, np.float64)
    i, j, k, l = idx
    mask = moving_side(bonds, len(x), j, k)
    if mask[i]:
        raise ValueError(f"atom {i} lies on the moving side of bond {j}-{k}")
    delta = angle - dihedral_np(x, idx)
    axis = (x[k] - x[j]) / np.linalg.norm(x[k] - x[j])
    c, s = np.cos(delta), np.sin(delta)
    rel = x[mask] - x[j]  # Rodrigues' rotation about the axis through j
    rotated = rel * c + np.cross(axis, rel) * s + np.outer(rel @ axis, axis) * (1 - c)
    x[mask] = x[j] + rotated
    return x
