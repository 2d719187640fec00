"""Setting dihedrals by rigid rotation: the angle is reached, bond lengths and the fixed side are kept,
rings and non-bonds are refused."""

import numpy as np
import pytest

from jaxsci.md import geometry

# a butane-like chain 0-1-2-3 with a branch 4 on atom 2 and 5 on atom 1
BONDS = np.array([[0, 1], [1, 2], [2, 3], [2, 4], [1, 5]])


def chain():
    rng = np.random.default_rng(0)
    return np.array([[0, 0, 0], [0.15, 0, 0], [0.2, 0.14, 0], [0.35, 0.15, 0.02], [0.18, 0.2, 0.13], [0.2, -0.1, 0.1]]) + 0.01 * rng.standard_normal((6, 3))


def test_dihedral_sign_and_value_on_a_hand_built_geometry():
    # looking down 1->2, atom 3 is 90 degrees clockwise... counterclockwise from atom 0: IUPAC +90
    x = np.array([[1.0, 0, 0], [0, 0, 0], [0, 0, 1.0], [0, 1.0, 1.0]])
    assert geometry.dihedral_np(x, (0, 1, 2, 3)) == pytest.approx(np.pi / 2)
    x[3] = [0, -1.0, 1.0]
    assert geometry.dihedral_np(x, (0, 1, 2, 3)) == pytest.approx(-np.pi / 2)


@pytest.mark.parametrize("angle", [-2.9, -1.0, 0.3, 2.5])
def test_set_dihedral_reaches_the_angle_and_keeps_the_rest_rigid(angle):
    x = chain()
    y = geometry.set_dihedral(x, BONDS, (0, 1, 2, 3), angle)
    assert geometry.dihedral_np(y, (0, 1, 2, 3)) == pytest.approx(angle, abs=1e-9)
    np.testing.assert_allclose(y[[0, 1, 5]], x[[0, 1, 5]])  # the fixed side does not move
    for a, b in BONDS:
        assert np.linalg.norm(y[a] - y[b]) == pytest.approx(np.linalg.norm(x[a] - x[b]), abs=1e-12)
    d = lambda z: np.linalg.norm(z[:, None] - z[None], axis=-1)  # noqa: E731
    np.testing.assert_allclose(d(y)[np.ix_([2, 3, 4], [2, 3, 4])], d(x)[np.ix_([2, 3, 4], [2, 3, 4])], atol=1e-12)


def test_refusals():
    ring = np.array([[0, 1], [1, 2], [2, 3], [3, 0]])
    with pytest.raises(ValueError, match="ring"):
        geometry.set_dihedral(np.eye(4), ring, (3, 0, 1, 2), 1.0)
    with pytest.raises(ValueError, match="not bonded"):
        geometry.set_dihedral(chain(), BONDS, (0, 1, 3, 2), 1.0)
