"""The relaxed (adiabatic) scan against an analytic answer: on a 4-atom chain whose only dihedral-dependent energy is
``V(phi) = A (1 + cos phi)``, with bonds and angles free to sit at their minima, the relaxed energy at a grid point is
``V`` at the dihedral reached, and the dihedral reached is the grid's to within the spring's give ``|V'| / spring``."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.md import forcefield as F
from jaxsci.md import structures as S

A = 10.0  # kJ/mol
IDX = jnp.array([[0, 1, 2, 3]])


def _angle(x, i, j, k):
    u, v = x[i] - x[j], x[k] - x[j]
    return jnp.arccos(jnp.sum(u * v) / jnp.sqrt(jnp.sum(u * u) * jnp.sum(v * v)))


def potential(x):
    bonds = sum((jnp.linalg.norm(x[i + 1] - x[i]) - 0.15) ** 2 for i in range(3)) * 0.5e5
    angles = sum((_angle(x, i, i + 1, i + 2) - np.deg2rad(110.0)) ** 2 for i in range(2)) * 0.5 * 400.0
    phi = F.dihedral(x, IDX)[0]
    return bonds + angles + A * (1 + jnp.cos(phi))


def cv(x):
    return F.dihedral(x, IDX)


def test_relaxed_scan_matches_the_analytic_profile(x64):
    x0 = jnp.array([[0.0, 0.15, 0.0], [0.0, 0.0, 0.0], [0.15, 0.0, 0.0], [0.2, -0.14, 0.03]])
    grid = np.deg2rad(np.array([-150.0, -90.0, -30.0, 0.0, 45.0, 120.0, 175.0]))[:, None]
    spring = 5000.0
    energy, reached, x = S.relaxed_scan(potential, cv, jnp.broadcast_to(x0, (len(grid), 4, 3)), grid, spring=spring,
                                        steps=3000)
    reached = np.asarray(reached)[:, 0]
    wrapped = np.mod(reached - grid[:, 0] + np.pi, 2 * np.pi) - np.pi
    assert np.all(np.abs(wrapped) < 1.5 * A / spring)  # the spring's give: |V'| <= A
    np.testing.assert_allclose(energy, A * (1 + np.cos(reached)), atol=1e-3)
    assert x.shape == (len(grid), 4, 3)
    # away from the periodic boundary the wrapped and unwrapped restraints agree
    e2, _, _ = S.relaxed_scan(potential, cv, jnp.broadcast_to(x0, (3, 4, 3)), grid[2:5], spring=spring, steps=3000,
                              periodic=False)
    np.testing.assert_allclose(e2, energy[2:5], atol=1e-3)


def test_fire_finds_the_minimum_of_a_quadratic():
    target = jnp.array([[0.1, -0.2, 0.3], [0.5, 0.0, -0.1]])
    x = S.fire(lambda y: 50.0 * jnp.sum((y - target) ** 2), jnp.zeros((2, 3)), 500)
    np.testing.assert_allclose(x, target, atol=1e-4)
    with pytest.raises(TypeError):
        S.fire(lambda y: jnp.sum(y), jnp.zeros((2, 3)))  # steps is required
