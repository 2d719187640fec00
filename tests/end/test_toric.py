"""The toric code: syndromes, logical classes, noise, and the translation symmetry, each checked
against an independent computation (explicit check matrices, explicit translation of errors)."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.end import toric


def _errors(L, n, p=0.3, seed=0):
    keys = jax.random.split(jax.random.key(seed), n)
    return np.asarray(jax.vmap(lambda k: toric.sample_error(k, L, p))(keys))


@pytest.mark.parametrize("L", [2, 3, 4, 5])
def test_syndrome_equals_check_matrices(L):
    e = _errors(L, 64, seed=L)
    m = toric.check_matrices(L)
    flat = toric.flatten(e).astype(np.int64)  # (n, 2, 2L^2)
    s = np.asarray(toric.syndrome(jnp.asarray(e)))
    np.testing.assert_array_equal(s[..., 0].reshape(64, -1), (flat[:, 0] @ m["plaquette"].T) % 2)
    np.testing.assert_array_equal(s[..., 1].reshape(64, -1), (flat[:, 1] @ m["vertex"].T) % 2)
    # and the class bits are the commutation with the logical operators
    bits = np.asarray(toric.logical_bits(jnp.asarray(e)))
    np.testing.assert_array_equal(bits[:, :2], (flat[:, 0] @ m["Z_logicals"].T) % 2)
    np.testing.assert_array_equal(bits[:, 2:], (flat[:, 1] @ m["X_logicals"].T) % 2)


def _gf2_rank(a):
    a = a.copy() % 2
    rank = 0
    for col in range(a.shape[1]):
        rows = np.nonzero(a[rank:, col])[0]
        if rows.size == 0:
            continue
        r = rank + rows[0]
        a[[rank, r]] = a[[r, rank]]
        for k in range(a.shape[0]):
            if k != rank and a[k, col]:
                a[k] ^= a[rank]
        rank += 1
        if rank == a.shape[0]:
            break
    return rank


@pytest.mark.parametrize("L", [2, 3, 4])
def test_logicals_commute_with_stabilisers_and_anticommute_pairwise(L):
    m = toric.check_matrices(L)
    # X-type stabilisers (vertex) against Z-type (plaquette): every pair commutes
    assert not np.any((m["vertex"].astype(int) @ m["plaquette"].T.astype(int)) % 2)
    # Z logicals commute with the X-type stabilisers, X logicals with the Z-type ones
    assert not np.any((m["Z_logicals"].astype(int) @ m["vertex"].T) % 2)
    assert not np.any((m["X_logicals"].astype(int) @ m["plaquette"].T) % 2)
    # Z1 anticommutes with X2 only, Z2 with X1 only
    np.testing.assert_array_equal((m["Z_logicals"].astype(int) @ m["X_logicals"].T) % 2, [[0, 1], [1, 0]])
    # the logicals are not stabilisers: each family of 2 raises the rank of the stabiliser rows by 2
    assert _gf2_rank(m["plaquette"]) == L * L - 1 and _gf2_rank(m["vertex"]) == L * L - 1
    assert _gf2_rank(np.concatenate([m["plaquette"], m["Z_logicals"]])) == L * L + 1
    assert _gf2_rank(np.concatenate([m["vertex"], m["X_logicals"]])) == L * L + 1


def test_depolarizing_and_bitflip_statistics():
    L, n, p = 4, 4096, 0.15
    e = _errors(L, n, p=p, seed=3)
    x, z = e[:, 0], e[:, 1]
    total = n * 2 * L * L
    for name, count in (("X", np.sum(x & ~z)), ("Y", np.sum(x & z)), ("Z", np.sum(~x & z))):
        freq = count / total
        sd = np.sqrt(p / 3 * (1 - p / 3) / total)
        assert abs(freq - p / 3) < 5 * sd, (name, freq)
    keys = jax.random.split(jax.random.key(9), n)
    b = np.asarray(jax.vmap(lambda k: toric.sample_error(k, L, p, "bitflip"))(keys))
    assert not b[:, 1].any()
    assert abs(b[:, 0].mean() - p) < 5 * np.sqrt(p * (1 - p) / total)


def test_measurement_noise_flips_only_the_syndrome():
    key = jax.random.key(4)
    s_clean, l_clean = toric.sample_batch(key, 5, 0.1, 512)
    s_noisy, l_noisy = toric.sample_batch(key, 5, 0.1, 512, "depolarizing", 0.05)
    np.testing.assert_array_equal(l_clean, l_noisy)
    frac = float(np.mean(np.asarray(s_clean) != np.asarray(s_noisy)))
    assert 0.04 < frac < 0.06


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="noise model"):
        toric.sample_error(jax.random.key(0), 3, 0.1, "erasure")
    with pytest.raises(ValueError, match="distance"):
        toric.sample_error(jax.random.key(0), 1, 0.1)
    with pytest.raises(ValueError, match="syndrome must have shape"):
        toric.check_syndrome(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="error must have shape"):
        toric.check_error(np.zeros((2, 3, 4, 4)))


def _translate_error(e, shift):
    """Move every qubit from (i, j) to (i + di, j + dj), by an explicit loop."""
    L = e.shape[-1]
    out = np.zeros_like(e)
    for i, j in itertools.product(range(L), range(L)):
        out[..., (i + shift[0]) % L, (j + shift[1]) % L] = e[..., i, j]
    return out


@pytest.mark.parametrize("L", [3, 4, 5])
def test_translation_flips_the_class_as_the_syndrome_says(L):
    e = _errors(L, 48, p=0.25, seed=10 + L)
    s = np.asarray(toric.syndrome(jnp.asarray(e)))
    bits = np.asarray(toric.logical_bits(jnp.asarray(e)))
    rng = np.random.default_rng(L)
    nontrivial = 0
    for shift in [(1, 0), (0, 1)] + [tuple(int(v) for v in rng.integers(-L, L, size=2)) for _ in range(4)]:
        te = _translate_error(e, shift)
        np.testing.assert_array_equal(np.asarray(toric.syndrome(jnp.asarray(te))), np.asarray(toric.translate_syndrome(s, shift)))
        flip = np.asarray(toric.translation_flip(jnp.asarray(s), shift))
        np.testing.assert_array_equal(np.asarray(toric.logical_bits(jnp.asarray(te))), bits ^ flip)
        nontrivial += int(flip.any())
    assert nontrivial >= 2, "the flip is non-trivial for some of these errors and shifts"
    # site_flips(s)[i, j] is translation_flip(s, (-i, -j)) as a label mask
    sf = np.asarray(toric.site_flips(jnp.asarray(s)))
    for i, j in [(0, 0), (1, 2), (L - 1, L - 1)]:
        np.testing.assert_array_equal(sf[:, i, j], np.asarray(toric.bits_to_label(toric.translation_flip(jnp.asarray(s), (-i, -j)))))


def test_labels_and_bits_round_trip_and_permutation_is_an_involution():
    labels = jnp.arange(16)
    np.testing.assert_array_equal(toric.bits_to_label(toric.label_to_bits(labels)), labels)
    logits = jax.random.normal(jax.random.key(0), (5, 16))
    flips = jnp.array([0, 3, 7, 8, 15])
    back = toric.permute_logits(toric.permute_logits(logits, flips), flips)
    np.testing.assert_allclose(back, logits)
    np.testing.assert_allclose(toric.permute_logits(logits, flips)[jnp.arange(5), 0], logits[jnp.arange(5), flips])


def test_sample_batch_is_jitted_once_and_deterministic():
    a = toric.sample_batch(jax.random.key(1), 4, 0.1, 32)
    compiled = toric._sample_batch._cache_size()
    b = toric.sample_batch(jax.random.key(1), 4, jnp.float32(0.12), 32)  # traced rate: no recompile
    c = toric.sample_batch(jax.random.key(1), 4, 0.1, 32)
    np.testing.assert_array_equal(a[0], c[0])
    assert toric._sample_batch._cache_size() == compiled
    assert b[0].shape == (32, 4, 4, 2)
