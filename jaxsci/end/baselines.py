"""Classical decoders of the toric code: minimum-weight perfect matching (pymatching) and the exact
maximum-likelihood decoder by enumeration of the stabiliser group (small L only).

Both take syndromes ``(N, L, L, 2)`` (see :mod:`jaxsci.end.toric`) and return class labels ``(N,)``
in ``[0, 16)``; a decoder is right when its label equals the error's.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxsci.end import toric

# ----------------------------------------------------------------------------- matching


@functools.lru_cache(maxsize=8)
def _matchings(L: int):
    try:
        import pymatching
    except ImportError as err:  # pragma: no cover - pymatching is in the dev extra
        raise ImportError("the MWPM baseline needs pymatching: pip install 'jaxsci[dev]' (or pip install pymatching)") from err
    m = toric.check_matrices(L)
    return pymatching.Matching(m["plaquette"]), pymatching.Matching(m["vertex"])


def mwpm_corrections(syndromes) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-weight corrections ``(x_hat, z_hat)``, each ``(N, 2 L^2)`` uint8: X part matched on the
    plaquette syndrome, Z part on the vertex syndrome, separately (uniform weights; on the torus no
    boundary nodes are needed)."""
    s = np.asarray(syndromes, np.uint8)
    toric.check_syndrome(s)
    if s.ndim != 4:
        raise ValueError(f"mwpm wants a batch of syndromes (N, L, L, 2), got shape {s.shape}")
    n, L = s.shape[0], s.shape[1]
    for_x, for_z = _matchings(L)
    x_hat = for_x.decode_batch(s[..., 0].reshape(n, L * L))
    z_hat = for_z.decode_batch(s[..., 1].reshape(n, L * L))
    return np.asarray(x_hat, np.uint8), np.asarray(z_hat, np.uint8)


def correction_label(x_hat, z_hat, L: int) -> np.ndarray:
    """The class label of a correction given as flat X and Z parts ``(N, 2 L^2)``."""
    m = toric.check_matrices(L)
    ab = (np.asarray(x_hat, np.int64) @ m["Z_logicals"].T.astype(np.int64)) % 2
    cd = (np.asarray(z_hat, np.int64) @ m["X_logicals"].T.astype(np.int64)) % 2
    return (8 * ab[:, 0] + 4 * ab[:, 1] + 2 * cd[:, 0] + cd[:, 1]).astype(np.int32)


def mwpm_decode(syndromes) -> np.ndarray:
    """MWPM's class labels ``(N,)`` for syndromes ``(N, L, L, 2)``."""
    x_hat, z_hat = mwpm_corrections(syndromes)
    return correction_label(x_hat, z_hat, np.shape(syndromes)[1])


# ----------------------------------------------------------------------------- exact ML


@functools.lru_cache(maxsize=8)
def pure_errors(L: int) -> tuple[np.ndarray, np.ndarray]:
    """Matrices ``R_x, R_z (2 L^2, L^2)`` uint8 such that the error ``(R_x s_p, R_z s_v) mod 2`` has the
    syndrome ``s`` whenever ``s`` is a valid syndrome (even number of defects of each kind): column
    ``k`` is a chain joining defect ``k`` to the defect at site 0 (down a column, then along row 0)."""
    n = L * L
    h = lambda i, j: (i % L) * L + (j % L)
    v = lambda i, j: n + (i % L) * L + (j % L)
    rx = np.zeros((2 * n, n), np.uint8)
    rz = np.zeros((2 * n, n), np.uint8)
    for i in range(L):
        for j in range(L):
            k = i * L + j
            # X on h(m, j) flips plaquettes (m, j), (m-1, j); on v(0, m) flips (0, m), (0, m-1)
            for m in range(1, i + 1):
                rx[h(m, j), k] ^= 1
            for m in range(1, j + 1):
                rx[v(0, m), k] ^= 1
            # Z on v(m, j) flips vertices (m, j), (m+1, j); on h(0, m) flips (0, m), (0, m+1)
            for m in range(i):
                rz[v(m, j), k] ^= 1
            for m in range(j):
                rz[h(0, m), k] ^= 1
    return rx, rz


def _masks(rows: np.ndarray) -> np.ndarray:
    """Bit masks (int64) of binary rows ``(k, n)``, qubit q at bit q."""
    return (rows.astype(np.int64) << np.arange(rows.shape[1], dtype=np.int64)).sum(-1)


def _span(gens: np.ndarray) -> np.ndarray:
    """All 2^k XOR combinations (int64 masks) of ``k`` generator masks."""
    out = np.zeros(1, np.int64)
    for g in gens:
        out = np.concatenate([out, out ^ g])
    return out


@functools.lru_cache(maxsize=8)
def _coset_tables(L: int):
    """Stabiliser groups times logicals, as masks: X-part elements (stars and X1, X2) and Z-part
    elements (plaquettes and Z1, Z2), each ``(4 * 2^(L^2 - 1),)``."""
    m = toric.check_matrices(L)
    gx = _span(np.concatenate([_masks(m["vertex"][:-1]), _masks(m["X_logicals"])]))
    gz = _span(np.concatenate([_masks(m["plaquette"][:-1]), _masks(m["Z_logicals"])]))
    return gx, gz, _masks(m["Z_logicals"]), _masks(m["X_logicals"])


def ml_max_distance(noise: str) -> int:
    """The largest L whose exact ML this module enumerates (depolarising couples X and Z, so it sums
    over pairs: L <= 3; bit-flip sums over the X part alone: L <= 4)."""
    return 3 if noise == "depolarizing" else 4


def _popcount(x):
    return jax.lax.population_count(x).astype(jnp.int32)


def ml_posterior(syndromes, p: float, noise: str = "depolarizing") -> np.ndarray:
    """Exact class posteriors ``(N, 16)`` for syndromes ``(N, L, L, 2)`` at rate ``p``:
    ``P(class | s) = sum over errors e of that class and syndrome of P(e)``, by enumerating the
    stabiliser group (2^(2 L^2 - 2) terms per class under depolarising noise).

    Depolarising: ``P(e) ∝ (p/3 / (1-p))^|e|`` with ``|e|`` the number of non-identity qubits;
    bit-flip: ``∝ (p / (1-p))^|x|`` (the Z part is empty, so classes with c or d set have mass 0)."""
    s = np.asarray(syndromes, np.uint8)
    toric.check_syndrome(s)
    if s.ndim != 4:
        raise ValueError(f"ml wants a batch of syndromes (N, L, L, 2), got shape {s.shape}")
    L = s.shape[1]
    if noise not in toric.NOISE_MODELS:
        raise ValueError(f"unknown noise model {noise!r}; choose from {toric.NOISE_MODELS}")
    if L > ml_max_distance(noise):
        raise ValueError(f"exact ML by enumeration is limited to L <= {ml_max_distance(noise)} under {noise} noise (got L = {L})")
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    gx, gz, zl, xl = _coset_tables(L)
    rx, rz = pure_errors(L)
    n = s.shape[0]
    x0 = _masks(((rx.astype(np.int64) @ s[..., 0].reshape(n, -1).T.astype(np.int64)) % 2).T)
    z0 = _masks(((rz.astype(np.int64) @ s[..., 1].reshape(n, -1).T.astype(np.int64)) % 2).T)
    with jax.enable_x64(True):
        if noise == "bitflip":
            logr = np.log(p / (1 - p))
            post = _ml_bitflip(jnp.asarray(x0), jnp.asarray(gx), jnp.asarray(zl), logr)
        else:
            logr = np.log(p / 3 / (1 - p))
            post = _ml_depolarizing(jnp.asarray(x0), jnp.asarray(z0), jnp.asarray(gx), jnp.asarray(gz), jnp.asarray(zl), jnp.asarray(xl), logr)
        return np.asarray(post)


def _bits2(masks, logicals):
    """(M,) masks -> (M,) class index 2 * bit0 + bit1 of their commutation with two logicals."""
    b0 = _popcount(masks & logicals[0]) % 2
    b1 = _popcount(masks & logicals[1]) % 2
    return 2 * b0 + b1


@jax.jit
def _ml_bitflip(x0, gx, zl, logr):
    def one(x):
        xs = x ^ gx
        w = _popcount(xs)
        logw = (w - w.min()) * logr
        ab = _bits2(xs, zl)
        mass = jax.ops.segment_sum(jnp.exp(logw), ab, num_segments=4)  # (4,) over ab
        full = jnp.zeros((4, 4), mass.dtype).at[:, 0].set(mass).reshape(16)  # c = d = 0
        return full / full.sum()

    return jax.lax.map(one, x0)


@jax.jit
def _ml_depolarizing(x0, z0, gx, gz, zl, xl, logr):
    # r^k for every weight k an int64 mask can have (<= 64 set bits; 2 L^2 qubits): one gather per term, not one exp
    powers = jnp.exp(jnp.arange(64 + 1) * logr)

    def one(xz):
        x, z = xz
        xs, zs = x ^ gx, z ^ gz
        w = _popcount(xs[:, None] | zs[None, :])  # (Mx, Mz) non-identity qubits
        weight = powers[w - w.min()]  # (Mx, Mz) exp((w - w_min) log r)
        onehot_x = jax.nn.one_hot(_bits2(xs, zl), 4, dtype=weight.dtype)  # (Mx, 4) over ab
        onehot_z = jax.nn.one_hot(_bits2(zs, xl), 4, dtype=weight.dtype)  # (Mz, 4) over cd
        mass = onehot_x.T @ weight @ onehot_z  # (4 ab, 4 cd)
        mass = mass.reshape(16)
        return mass / mass.sum()

    return jax.lax.map(one, (x0, z0))


def ml_decode(syndromes, p: float, noise: str = "depolarizing") -> np.ndarray:
    """The optimal decoder's labels ``(N,)``: the most probable class (exact, small L)."""
    return np.argmax(ml_posterior(syndromes, p, noise), axis=-1).astype(np.int32)
