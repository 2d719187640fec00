"""The Clifford algebra: Cayley tables, associativity, involutions, classical isomorphisms, versors."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.clifford import CliffordAlgebra, pga3d

SIGNATURES = [g for n in (1, 2, 3) for g in itertools.product((-1, 0, 1), repeat=n)]
SIGNATURES_4D = [(0, 1, 1, 1), (1, 1, 1, 1), (-1, 1, 1, 1), (1, -1, 0, -1)]
ALL = SIGNATURES + SIGNATURES_4D


def _slow_table(g):
    """Independent Cayley table: bitmask blades, sign = (-1)^#{(a, b): a in A, b in B, a > b}, times
    g[i] for each shared vector; blades ordered by (grade, sorted indices)."""
    n = len(g)
    masks = sorted(range(2**n), key=lambda m: (bin(m).count("1"), [i for i in range(n) if m >> i & 1]))
    pos = {m: k for k, m in enumerate(masks)}
    table = np.zeros((2**n,) * 3)
    for i, a in enumerate(masks):
        for j, b in enumerate(masks):
            swaps = sum(1 for x in range(n) for y in range(n) if a >> x & 1 and b >> y & 1 and x > y)
            coeff = (-1.0) ** swaps
            for v in range(n):
                if a >> v & 1 and b >> v & 1:
                    coeff *= g[v]
            table[i, j, pos[a ^ b]] = coeff
    return table


def _rand(key, shape, I):
    return jax.random.normal(jax.random.key(key), (*shape, I), jnp.float64)


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


@pytest.mark.parametrize("g", ALL, ids=str)
def test_cayley_table_matches_slow_blade_multiplication(g):
    alg = CliffordAlgebra(g)
    np.testing.assert_array_equal(alg.cayley, _slow_table(g))
    # every product of two blades is +-1 or 0 times exactly one blade
    assert np.all((np.abs(alg.cayley) > 0).sum(-1) <= 1)


@pytest.mark.parametrize("g", ALL, ids=str)
def test_product_associative_and_bilinear(g):
    alg = CliffordAlgebra(g)
    a, b, c = (_rand(s, (5,), alg.n_blades) for s in (1, 2, 3))
    gp = alg.geometric_product
    np.testing.assert_allclose(gp(gp(a, b), c), gp(a, gp(b, c)), atol=1e-12)
    np.testing.assert_allclose(gp(a, b + 2.0 * c), gp(a, b) + 2.0 * gp(a, c), atol=1e-12)
    one = jnp.zeros(alg.n_blades).at[0].set(1.0)
    np.testing.assert_allclose(gp(one, a), a, atol=0)
    # the gathered right-multiplication matrix is the same product
    np.testing.assert_allclose(jnp.einsum("...ki,...i->...k", alg.right_matrix(b), a), gp(a, b), atol=1e-12)
    np.testing.assert_allclose(jnp.einsum("...kj,...j->...k", alg.left_matrix(a), b), gp(a, b), atol=1e-12)


@pytest.mark.parametrize("g", ALL, ids=str)
def test_involutions(g):
    alg = CliffordAlgebra(g)
    a, b = _rand(4, (6,), alg.n_blades), _rand(5, (6,), alg.n_blades)
    gp = alg.geometric_product
    np.testing.assert_allclose(alg.reverse(gp(a, b)), gp(alg.reverse(b), alg.reverse(a)), atol=1e-12)
    np.testing.assert_allclose(alg.grade_involution(gp(a, b)), gp(alg.grade_involution(a), alg.grade_involution(b)),
                               atol=1e-12)
    np.testing.assert_allclose(alg.conjugate(gp(a, b)), gp(alg.conjugate(b), alg.conjugate(a)), atol=1e-12)
    np.testing.assert_allclose(alg.conjugate(a), alg.reverse(alg.grade_involution(a)), atol=0)
    # vectors: reverse fixes them, grade involution negates them
    v = alg.grade_projection(a, 1)
    np.testing.assert_allclose(alg.reverse(v), v)
    np.testing.assert_allclose(alg.grade_involution(v), -v)
    # grade projections sum to the identity, and a vector squares to its quadratic form
    np.testing.assert_allclose(sum(alg.grade_projection(a, r) for r in range(alg.dim + 1)), a, atol=1e-12)
    vv = gp(v, v)
    np.testing.assert_allclose(vv[..., 1:], 0, atol=1e-12)
    np.testing.assert_allclose(vv[..., 0], np.sum(np.asarray(v[..., 1:alg.dim + 1]) ** 2 * np.array(g), -1), atol=1e-12)
    np.testing.assert_allclose(alg.quadratic_norm(a), gp(a, alg.reverse(a))[..., 0], atol=1e-12)


def test_cl01_is_complex_numbers():
    alg = CliffordAlgebra((-1,))
    z = _rand(7, (10,), 2)
    w = _rand(8, (10,), 2)
    prod = alg.geometric_product(z, w)
    zc, wc = z[..., 0] + 1j * z[..., 1], w[..., 0] + 1j * w[..., 1]
    np.testing.assert_allclose(prod[..., 0] + 1j * prod[..., 1], zc * wc, atol=1e-12)
    np.testing.assert_allclose(alg.conjugate(z)[..., 1], -z[..., 1])  # conjugation is complex conjugation


def test_cl02_is_quaternions():
    alg = CliffordAlgebra((-1, -1))  # 1, i = e1, j = e2, k = e12
    p, q = _rand(9, (10,), 4), _rand(10, (10,), 4)

    def hamilton(p, q):
        a1, b1, c1, d1 = np.moveaxis(np.asarray(p), -1, 0)
        a2, b2, c2, d2 = np.moveaxis(np.asarray(q), -1, 0)
        return np.stack([a1 * a2 - b1 * b2 - c1 * c2 - d1 * d2, a1 * b2 + b1 * a2 + c1 * d2 - d1 * c2,
                         a1 * c2 - b1 * d2 + c1 * a2 + d1 * b2, a1 * d2 + b1 * c2 - c1 * b2 + d1 * a2], -1)

    np.testing.assert_allclose(alg.geometric_product(p, q), hamilton(p, q), atol=1e-12)
    # quaternion conjugation is Clifford conjugation: p conj(p) = |p|^2
    pp = alg.geometric_product(p, alg.conjugate(p))
    np.testing.assert_allclose(pp[..., 0], np.sum(np.asarray(p) ** 2, -1), rtol=1e-12)
    np.testing.assert_allclose(pp[..., 1:], 0, atol=1e-12)


@pytest.mark.parametrize("g", [(1, 1), (1, 1, 1), (-1, -1, -1), (1, -1, 1), (0, 1, 1, 1), (1, 1, 1, 1)], ids=str)
def test_rotor_sandwich_preserves_quadratic_norm_and_grade(g):
    alg = CliffordAlgebra(g)
    key = jax.random.key(11)
    # a versor: a product of random (invertible) vectors; even ones are rotors
    vecs = [alg.grade_projection(_rand(20 + t, (4,), alg.n_blades), 1) for t in range(4)]
    nondeg = [i for i, s in enumerate(g) if s != 0]
    vecs = [v.at[..., 1 + nondeg[0]].add(3.0) for v in vecs]  # keep them invertible
    rotor = alg.geometric_product(vecs[0], vecs[1])
    rotor = rotor / jnp.sqrt(jnp.abs(alg.quadratic_norm(rotor)))[..., None]
    np.testing.assert_allclose(jnp.abs(alg.quadratic_norm(rotor)), 1.0, rtol=1e-12)
    inv = alg.versor_inverse(rotor)
    np.testing.assert_allclose(alg.geometric_product(rotor, inv), jnp.zeros(alg.n_blades).at[0].set(1.0) + 0 * inv,
                               atol=1e-12)
    x = jax.random.normal(key, (4, alg.n_blades), jnp.float64)
    y = alg.sandwich(rotor, x)
    np.testing.assert_allclose(alg.quadratic_norm(y), alg.quadratic_norm(x), rtol=1e-10, atol=1e-10)
    # a rotor maps vectors to vectors (grade preserved)
    v = alg.grade_projection(x, 1)
    yv = alg.sandwich(rotor, v)
    np.testing.assert_allclose(yv, alg.grade_projection(yv, 1), atol=1e-12)
    if all(s == 1 for s in g):  # Euclidean: the coefficient norm of a vector is preserved too
        np.testing.assert_allclose(alg.coefficient_norm(yv), alg.coefficient_norm(v), rtol=1e-12)


def test_pga_blade_order_and_names():
    alg = pga3d()
    assert alg.blade_names == ("1", "e0", "e1", "e2", "e3", "e01", "e02", "e03", "e12", "e13", "e23",
                               "e012", "e013", "e023", "e123", "e0123")
    assert CliffordAlgebra((1, 1, 1)).blade_names == ("1", "e1", "e2", "e3", "e12", "e13", "e23", "e123")
    # e0 is null, e0123 squares to 0
    assert alg.cayley[1, 1].sum() == 0 and alg.cayley[15, 15].sum() == 0


def test_hashable_static_under_jit():
    a1, a2 = CliffordAlgebra((1, 1)), CliffordAlgebra([1.0, 1.0])
    assert a1 == a2 and hash(a1) == hash(a2)
    calls = []

    @jax.jit
    def f(x, y):
        calls.append(1)
        return a1.geometric_product(x, y)

    x = jnp.ones((3, 4))
    f(x, x), f(x + 1, x)
    assert len(calls) == 1
    g = jax.jit(lambda alg, x: alg.reverse(x), static_argnums=0)
    np.testing.assert_allclose(g(a1, x), a1.reverse(x))


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="dimension"):
        CliffordAlgebra((1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match="-1, 0 or"):
        CliffordAlgebra((2, 1))
    alg = CliffordAlgebra((1, 1))
    with pytest.raises(ValueError, match="blade axis of size 4"):
        alg.geometric_product(jnp.ones(8), jnp.ones(4))
    with pytest.raises(ValueError, match="grades"):
        alg.grade_projection(jnp.ones(4), 3)
    with pytest.raises(ValueError, match="permutation"):
        CliffordAlgebra((1, 1), blades=((), (0,), (0,), (0, 1)))
