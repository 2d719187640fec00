"""Rotations, reflections and the primal-dual exchange of the toric code (jaxsci.end.symmetry), each
checked against an independent computation: the error maps against explicit moves of qubit midpoints,
the syndrome and class maps against toric.syndrome / toric.logical_label of the moved errors, and the
class maps against the exact ML posterior; then test-time symmetrisation of END."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.end import Decoder, baselines, symmetry, toric

GENS = symmetry.GENERATORS
WORDS = [(g,) for g in GENS] + [("rotate", "rotate"), ("rotate", "transpose"), ("dual", "rotate"), ("rotate", "rotate", "rotate", "transpose", "dual")]


def _errors(L, n, p=0.3, seed=0):
    keys = jax.random.split(jax.random.key(seed), n)
    return np.asarray(jax.vmap(lambda k: toric.sample_error(k, L, p))(keys))


# the generators as maps of the plane, on doubled coordinates (2y, 2x): h(i, j) is at (2i, 2j + 1),
# v(i, j) at (2i + 1, 2j); "dual" also exchanges the X and Z parts
_POINT_MAPS = {
    "rotate": lambda y, x: (x, -y),
    "transpose": lambda y, x: (x, y),
    "dual": lambda y, x: (y + 1, x + 1),
}


def _move_error(name, e):
    """The generator applied to errors by moving every qubit's midpoint, one qubit at a time."""
    L = e.shape[-1]
    out = np.zeros_like(e)
    for k, i, j in itertools.product(range(2), range(L), range(L)):
        y, x = (2 * i, 2 * j + 1) if k == 0 else (2 * i + 1, 2 * j)
        y, x = _POINT_MAPS[name](y, x)
        y, x = y % (2 * L), x % (2 * L)
        assert (y + x) % 2 == 1, "an edge midpoint maps to an edge midpoint"
        k2, i2, j2 = (0, y // 2, (x - 1) // 2) if y % 2 == 0 else (1, (y - 1) // 2, x // 2)
        parts = e[..., ::-1, k, i, j] if name == "dual" else e[..., :, k, i, j]
        out[..., :, k2, i2, j2] = parts
    return out


@pytest.mark.parametrize("L", [2, 3, 4, 5])
def test_error_maps_move_the_qubits_as_the_geometry_says(L):
    e = _errors(L, 16, seed=L)
    for name in GENS:
        np.testing.assert_array_equal(np.asarray(symmetry.act_error(name, jnp.asarray(e))), _move_error(name, e), err_msg=name)


@pytest.mark.parametrize("L", [3, 4, 5, 6])
def test_syndromes_and_classes_transform_as_derived(L):
    e = jnp.asarray(_errors(L, 128, p=0.25, seed=20 + L))
    s = toric.syndrome(e)
    labels = np.asarray(toric.logical_label(e))
    bits = toric.logical_bits(e)
    for word in WORDS:
        ge = symmetry.act_error(word, e)
        np.testing.assert_array_equal(np.asarray(toric.syndrome(ge)), np.asarray(symmetry.act_syndrome(word, s)), err_msg=str(word))
        perm = np.asarray(symmetry.class_perm(word, s))
        np.testing.assert_array_equal(np.asarray(toric.logical_label(ge)), perm[np.arange(len(labels)), labels], err_msg=str(word))
        assert all(sorted(row) == list(range(16)) for row in perm[:8]), "a class map is a permutation of the labels"
    for name in GENS:  # the bit form A_g bits ^ chi_g(s), and the matrix form of A_g
        ge = symmetry.act_error(name, e)
        got = np.asarray(symmetry.class_bits(name, bits, s))
        np.testing.assert_array_equal(np.asarray(toric.logical_bits(ge)), got, err_msg=name)
        np.testing.assert_array_equal((np.asarray(bits) @ symmetry.class_matrix(name).T) % 2 ^ np.asarray(symmetry.class_shift(name, s)), got)
        if name != "transpose":  # the syndrome-dependent part is really exercised
            assert np.asarray(symmetry.class_shift(name, s)).any() and not np.asarray(symmetry.class_shift(name, s)).all()


def test_error_probability_is_invariant():
    for L in (3, 4):
        e = _errors(L, 256, p=0.3, seed=40 + L)
        x, z = e[:, 0], e[:, 1]
        counts = lambda x, z: np.stack([(x & ~z).sum((1, 2, 3)), (x & z).sum((1, 2, 3)), (~x & z).sum((1, 2, 3))], -1)
        base = counts(x, z)
        for word in WORDS:
            ge = np.asarray(symmetry.act_error(word, jnp.asarray(e)))
            moved = counts(ge[:, 0], ge[:, 1])
            # the depolarising weight (non-identity qubits) is kept, hence P(e)
            np.testing.assert_array_equal(moved.sum(-1), base.sum(-1))
            # the point group keeps each Pauli type; the duality exchanges X and Z (so it is no symmetry of
            # bit-flip noise) and keeps Y
            want = base[:, ::-1] if word.count("dual") % 2 else base
            np.testing.assert_array_equal(moved, want, err_msg=str(word))


def _translation_perm(s, shift):
    flip = toric.bits_to_label(toric.translation_flip(s, shift))
    return jnp.arange(16, dtype=jnp.int32) ^ flip[..., None]


@pytest.mark.parametrize("L", [3, 4, 5])
def test_group_relations(L):
    e = jnp.asarray(_errors(L, 64, p=0.25, seed=60 + L))
    s = toric.syndrome(e)
    ident = np.broadcast_to(np.arange(16), (64, 16))

    def same(w1, w2, shift=None):
        """w1 == T(shift) w2 on errors, syndromes and class maps."""
        e1, e2 = symmetry.act_error(w1, e), symmetry.act_error(w2, e)
        s1, s2 = symmetry.act_syndrome(w1, s), symmetry.act_syndrome(w2, s)
        p1, p2 = symmetry.class_perm(w1, s), symmetry.class_perm(w2, s)
        if shift is not None:
            e2 = toric.translate(e2, shift)
            p2 = jnp.take_along_axis(_translation_perm(s2, shift), p2, axis=-1)
            s2 = toric.translate_syndrome(s2, shift)
        np.testing.assert_array_equal(np.asarray(e1), np.asarray(e2), err_msg=f"{w1} vs {w2}")
        np.testing.assert_array_equal(np.asarray(s1), np.asarray(s2), err_msg=f"{w1} vs {w2}")
        np.testing.assert_array_equal(np.asarray(p1), np.asarray(p2), err_msg=f"{w1} vs {w2}")

    R, S, D = "rotate", "transpose", "dual"
    for word in [(R,) * 4, (S, S), (S, R, S, R), (R, S, R, S)]:  # D4: R^4 = S^2 = (SR)^2 = 1
        np.testing.assert_array_equal(np.asarray(symmetry.act_error(word, e)), np.asarray(e))
        np.testing.assert_array_equal(np.asarray(symmetry.act_syndrome(word, s)), np.asarray(s))
        np.testing.assert_array_equal(np.asarray(symmetry.class_perm(word, s)), ident)
    assert not np.array_equal(np.asarray(symmetry.class_perm((R, R), s)), ident), "R^2 alone is not trivial on classes"
    same((S, D), (D, S))  # the half-cell shift (1/2, 1/2) lies on the mirror line
    same((D, R), (R, D), shift=(0, -1))  # D R = T(0, -1) R D: R turns the shift (1/2, 1/2) into (1/2, -1/2)
    same((D, D), (), shift=(1, 1))  # D^2 = T(1, 1)
    # the 16 ELEMENTS are distinct modulo translations: their syndrome maps differ on a generic syndrome
    # even after every translation (checked on the map of a single marked defect pattern)
    marks = jnp.zeros((L, L, 2), bool).at[0, 0, 0].set(True).at[0, 1, 0].set(True).at[1, 0, 1].set(True)
    canon = set()
    for w in symmetry.ELEMENTS:
        ms = np.asarray(symmetry.act_syndrome(w, marks))
        canon.add(min(np.roll(ms, (a, b), (0, 1)).tobytes() for a in range(L) for b in range(L)))
    assert len(canon) == 16


def test_exact_ml_posterior_obeys_the_symmetries():
    L, p = 3, 0.15
    s, _ = toric.sample_batch(jax.random.key(7), L, p, 32)
    s = np.asarray(s)
    post = baselines.ml_posterior(s, p)
    for word in symmetry.ELEMENTS[1:]:
        moved = baselines.ml_posterior(np.asarray(symmetry.act_syndrome(word, jnp.asarray(s))), p)
        back = np.asarray(symmetry.pull_back(jnp.asarray(moved), symmetry.class_perm(word, jnp.asarray(s))))
        np.testing.assert_allclose(back, post, atol=1e-12, err_msg=str(word))
    # bit-flip noise has the point group but not the duality (which would turn X errors into Z errors)
    sb, _ = toric.sample_batch(jax.random.key(8), L, p, 32, "bitflip")
    sb = np.asarray(sb)
    post_b = baselines.ml_posterior(sb, p, "bitflip")
    for word in symmetry.POINT_GROUP[1:]:
        moved = baselines.ml_posterior(np.asarray(symmetry.act_syndrome(word, jnp.asarray(sb))), p, "bitflip")
        back = np.asarray(symmetry.pull_back(jnp.asarray(moved), symmetry.class_perm(word, jnp.asarray(sb))))
        np.testing.assert_allclose(back, post_b, atol=1e-12, err_msg=str(word))
    moved = baselines.ml_posterior(np.asarray(symmetry.act_syndrome("dual", jnp.asarray(sb))), p, "bitflip")
    assert not np.allclose(np.asarray(symmetry.pull_back(jnp.asarray(moved), symmetry.class_perm("dual", jnp.asarray(sb)))), post_b)
    # and symmetrising the optimal decoder changes nothing
    log_ml = lambda x: jnp.log(jnp.asarray(baselines.ml_posterior(np.asarray(x), p)))
    np.testing.assert_allclose(np.exp(np.asarray(symmetry.symmetrize(log_ml, jnp.asarray(s[:8]), average="probs"))), post[:8], atol=1e-6)


def _random_end(L, seed=0):
    model = Decoder(head="end", channels=(4, 6), kernel_sizes=(3, 3))
    params = model.init(jax.random.key(seed), jnp.zeros((1, L, L, 2), bool))["params"]
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(seed + 1), len(leaves))
    # random weights, non-zero biases and norm offsets: nothing symmetric by accident
    params = jax.tree.unflatten(tree, [x + 0.5 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys)])
    return jax.jit(lambda x: model.apply({"params": params}, x))


@pytest.mark.parametrize("L", [4, 5])
def test_symmetrized_end_is_equivariant_under_the_whole_group(L):
    f = _random_end(L, seed=L)
    s, _ = toric.sample_batch(jax.random.key(L), L, 0.2, 24)
    tol = dict(atol=2e-5, rtol=2e-5)
    raw = f(s)
    for average in ("log_probs", "probs", "logits"):
        sym = jax.jit(lambda x: symmetry.symmetrize(f, x, average=average))
        out = sym(s)
        for word in symmetry.ELEMENTS[1:] + (("dual", "dual", "rotate"),):
            perm = symmetry.class_perm(word, s)
            np.testing.assert_allclose(symmetry.pull_back(sym(symmetry.act_syndrome(word, s)), perm), out, **tol, err_msg=str(word))
        for shift in [(1, 0), (0, 1), (2, 3)]:  # END's translation equivariance survives
            flip = toric.bits_to_label(toric.translation_flip(s, shift))
            np.testing.assert_allclose(sym(toric.translate_syndrome(s, shift)), toric.permute_logits(out, flip), **tol)
    # the raw END is translation-equivariant but not rotation- or duality-equivariant: the check has teeth
    for word in GENS:
        back = symmetry.pull_back(f(symmetry.act_syndrome(word, s)), symmetry.class_perm(word, s))
        assert np.max(np.abs(np.asarray(back - raw))) > 1e-2, word


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="unknown symmetry generator"):
        symmetry.act_syndrome("shear", jnp.zeros((3, 3, 2), bool))
    with pytest.raises(ValueError, match="average must be"):
        symmetry.symmetrize(lambda x: x, jnp.zeros((1, 3, 3, 2), bool), average="median")
    with pytest.raises(ValueError, match="batch of syndromes"):
        symmetry.symmetrize(lambda x: x, jnp.zeros((3, 3, 2), bool))
