"""The toric code of distance L, its noise models, syndromes and logical classes (all jit/vmap-able).

Lattice: an L x L periodic square lattice with vertices ``(i, j)`` (row i, column j, both mod L). The
2 L^2 qubits sit on the edges: the horizontal edge ``h(i, j)`` joins vertex ``(i, j)`` to ``(i, j+1)``,
the vertical edge ``v(i, j)`` joins ``(i, j)`` to ``(i+1, j)``.

* Plaquette (Z-type) stabiliser ``B(i, j) = Z[h(i,j)] Z[h(i+1,j)] Z[v(i,j)] Z[v(i,j+1)]``, the square
  whose top-left corner is vertex ``(i, j)``: it detects X errors.
* Vertex (X-type) stabiliser ``A(i, j) = X[h(i,j)] X[h(i,j-1)] X[v(i,j)] X[v(i-1,j)]``, the star of
  vertex ``(i, j)``: it detects Z errors.
* Logical operators: ``Z1 = Z on h(0, :)`` and ``Z2 = Z on v(:, 0)`` (primal loops), ``X1 = X on v(0, :)``
  and ``X2 = X on h(:, 0)`` (dual loops). ``Z1`` anticommutes with ``X2`` and ``Z2`` with ``X1``.

Array conventions:

* A Pauli error is a bool array ``e (2, 2, L, L)``: ``e[0]`` its X part, ``e[1]`` its Z part (a Y error
  sets both), each over ``[h, v]`` edges. Flattened (:func:`flatten`) qubit ``k * L^2 + i * L + j``
  is edge kind ``k`` (0 = h, 1 = v) at ``(i, j)``: the column order of :func:`check_matrices`.
* A syndrome is a bool array ``s (L, L, 2)``: channel 0 the plaquettes ``B(i, j)`` (from the X part),
  channel 1 the vertices ``A(i, j)`` (from the Z part). Channels-last, as a convolution takes it.
* The logical class of an error: 4 bits ``(a, b, c, d)`` = its commutation with ``(Z1, Z2, X1, X2)``,
  i.e. ``a, b`` the homology of its X part, ``c, d`` that of its Z part; as an integer label
  ``8a + 4b + 2c + d`` in ``[0, 16)``. Errors with the same syndrome and label differ by a stabiliser,
  so decoding means predicting the label from the syndrome.

Translation by ``shift = (di, dj)`` moves every qubit from ``(i, j)`` to ``(i + di, j + dj)``; it
translates the syndrome the same way and flips the label by bits that depend only on the syndrome
(:func:`translation_flip`): the symmetry of the optimal decoder that END is built on.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

NOISE_MODELS = ("depolarizing", "bitflip")
NUM_CLASSES = 16


def check_distance(L: int) -> None:
    if not isinstance(L, (int, np.integer)) or L < 2:
        raise ValueError(f"toric code distance L must be an int >= 2, got {L!r}")


def check_error(e, L: int | None = None) -> None:
    """Raise if ``e`` is not a ``(..., 2, 2, L, L)`` error array."""
    shape = tuple(np.shape(e))
    if len(shape) < 4 or shape[-4:-2] != (2, 2) or shape[-1] != shape[-2] or (L is not None and shape[-1] != L):
        want = "L" if L is None else L
        raise ValueError(f"an error must have shape (..., 2, 2, {want}, {want}) ([X, Z] x [h, v] x rows x cols), got {shape}")


def check_syndrome(s, L: int | None = None) -> None:
    """Raise if ``s`` is not a ``(..., L, L, 2)`` syndrome array."""
    shape = tuple(np.shape(s))
    if len(shape) < 3 or shape[-1] != 2 or shape[-2] != shape[-3] or (L is not None and shape[-2] != L):
        want = "L" if L is None else L
        raise ValueError(f"a syndrome must have shape (..., {want}, {want}, 2) (rows x cols x [plaquette, vertex]), got {shape}")


# --------------------------------------------------------------------------- sampling


def sample_error(key: PRNGKeyArray, L: int, p, noise: str = "depolarizing") -> Bool[Array, "2 2 L L"]:
    """One error on the 2 L^2 qubits, each independently:

    * ``"depolarizing"``: X, Y or Z with probability p/3 each (identity with 1 - p);
    * ``"bitflip"``: X with probability p (the Z part is empty).

    ``p`` may be a traced scalar (vmap over rates)."""
    check_distance(L)
    if noise not in NOISE_MODELS:
        raise ValueError(f"unknown noise model {noise!r}; choose from {NOISE_MODELS}")
    u = jax.random.uniform(key, (2, L, L))
    if noise == "bitflip":
        x = u < p
        return jnp.stack([x, jnp.zeros_like(x)])
    # u in [0, p/3): X, [p/3, 2p/3): Y, [2p/3, p): Z
    x = u < 2 * p / 3
    z = (u >= p / 3) & (u < p)
    return jnp.stack([x, z])


def flip_measurements(key: PRNGKeyArray, s: Bool[Array, "L L 2"], q) -> Bool[Array, "L L 2"]:
    """Measurement noise: each syndrome bit of ``s`` flips independently with probability ``q``
    (one noisy round; the decoders then see an imperfect syndrome)."""
    return s ^ (jax.random.uniform(key, s.shape) < q)


# --------------------------------------------------------------------------- syndromes and classes


def syndrome(e: Bool[Array, "... 2 2 L L"]) -> Bool[Array, "... L L 2"]:
    """The syndrome ``(..., L, L, 2)`` [plaquette, vertex] of errors ``e (..., 2, 2, L, L)``."""
    xh, xv = e[..., 0, 0, :, :], e[..., 0, 1, :, :]
    zh, zv = e[..., 1, 0, :, :], e[..., 1, 1, :, :]
    # B(i,j): h(i,j), h(i+1,j), v(i,j), v(i,j+1)
    plaquette = xh ^ jnp.roll(xh, -1, axis=-2) ^ xv ^ jnp.roll(xv, -1, axis=-1)
    # A(i,j): h(i,j), h(i,j-1), v(i,j), v(i-1,j)
    vertex = zh ^ jnp.roll(zh, 1, axis=-1) ^ zv ^ jnp.roll(zv, 1, axis=-2)
    return jnp.stack([plaquette, vertex], axis=-1)


def _parity(x, axis):
    return jnp.sum(x, axis=axis, dtype=jnp.int32) % 2


def logical_bits(e: Bool[Array, "... 2 2 L L"]) -> Int[Array, "... 4"]:
    """The class bits ``(a, b, c, d)`` of errors ``e``: commutation with ``(Z1, Z2, X1, X2)``."""
    a = _parity(e[..., 0, 0, 0, :], -1)  # X part on h(0, :)
    b = _parity(e[..., 0, 1, :, 0], -1)  # X part on v(:, 0)
    c = _parity(e[..., 1, 1, 0, :], -1)  # Z part on v(0, :)
    d = _parity(e[..., 1, 0, :, 0], -1)  # Z part on h(:, 0)
    return jnp.stack([a, b, c, d], axis=-1)


def bits_to_label(bits: Int[Array, "... 4"]) -> Int[Array, "..."]:
    """``(a, b, c, d) -> 8a + 4b + 2c + d``."""
    return (bits[..., 0] * 8 + bits[..., 1] * 4 + bits[..., 2] * 2 + bits[..., 3]).astype(jnp.int32)


def label_to_bits(label: Int[Array, "..."]) -> Int[Array, "... 4"]:
    label = jnp.asarray(label, jnp.int32)
    return jnp.stack([(label >> 3) & 1, (label >> 2) & 1, (label >> 1) & 1, label & 1], axis=-1)


def logical_label(e: Bool[Array, "... 2 2 L L"]) -> Int[Array, "..."]:
    """The logical class label in ``[0, 16)`` of errors ``e``."""
    return bits_to_label(logical_bits(e))


def sample(key: PRNGKeyArray, L: int, p, noise: str = "depolarizing", measurement_error=0.0):
    """One ``(syndrome (L, L, 2) bool, label () int32)`` pair; vmap it over keys (and rates).

    With ``measurement_error > 0`` the syndrome bits flip with that probability after the label is
    taken from the true error."""
    k_err, k_meas = jax.random.split(key)
    e = sample_error(k_err, L, p, noise)
    s = syndrome(e)
    if not (isinstance(measurement_error, (int, float)) and measurement_error == 0):
        s = flip_measurements(k_meas, s, measurement_error)
    return s, logical_label(e)


def sample_batch(key: PRNGKeyArray, L: int, p, num: int, noise: str = "depolarizing", measurement_error=0.0):
    """``num`` pairs: syndromes ``(num, L, L, 2)`` bool and labels ``(num,)`` int32, the i-th drawn
    with ``fold_in(key, i)`` (so a batch is the same however it is later split). Jitted once per
    ``(L, num, noise)``: the rates are passed as float32 arrays."""
    check_distance(L)
    if noise not in NOISE_MODELS:
        raise ValueError(f"unknown noise model {noise!r}; choose from {NOISE_MODELS}")
    return _sample_batch(key, L, jnp.asarray(p, jnp.float32), num, noise, jnp.asarray(measurement_error, jnp.float32))


@functools.partial(jax.jit, static_argnames=("L", "num", "noise"))
def _sample_batch(key, L, p, num, noise, measurement_error):
    keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, jnp.arange(num))
    return jax.vmap(lambda k: sample(k, L, p, noise, measurement_error))(keys)


# --------------------------------------------------------------------------- translations


def translate(x, shift: tuple[int, int]):
    """Translate a lattice array ``(..., L, L)`` (e.g. an error ``(..., 2, 2, L, L)``) by ``(di, dj)``:
    entry ``(i, j)`` moves to ``(i + di, j + dj)``. Syndromes: :func:`translate_syndrome`."""
    return jnp.roll(x, shift, axis=(-2, -1))


def translate_syndrome(s: Bool[Array, "... L L 2"], shift) -> Bool[Array, "... L L 2"]:
    return jnp.roll(s, shift, axis=(-3, -2))


def translation_flip(s: Bool[Array, "... L L 2"], shift) -> Int[Array, "... 4"]:
    """The bits by which translating an error of syndrome ``s`` by ``shift = (di, dj)`` flips its
    class: ``logical_bits(T e) = logical_bits(e) ^ translation_flip(syndrome(e), shift)``.

    Derivation: ``T e`` meets ``Z1`` (row 0) as ``e`` meets ``Z1`` moved to row ``r = -di mod L``, and
    ``Z1(row r) = Z1(row 0) * prod of the plaquettes of rows 0..r-1``; so ``a`` flips by the parity of
    the plaquette defects in rows ``0..r-1``. Likewise ``b`` by plaquette columns ``0..c-1`` (``c = -dj
    mod L``), ``c`` by vertex rows ``1..r`` and ``d`` by vertex columns ``1..c`` (the dual loops move
    through stars, ``X1(row r) = X1(row 0) * prod of the stars of rows 1..r``). ``shift`` may be traced."""
    L = s.shape[-2]
    di, dj = shift
    r = jnp.mod(-jnp.asarray(di), L)
    c = jnp.mod(-jnp.asarray(dj), L)
    fa, fb, fc, fd = _site_flips(s)
    return jnp.stack([fa[..., r], fb[..., c], fc[..., r], fd[..., c]], axis=-1)


def _site_flips(s):
    """For every row r (resp. column c), the flips of bits a, c (resp. b, d) of a translation that
    brings row r (column c) to 0: each ``(..., L)`` int32."""
    plaq = s[..., 0].astype(jnp.int32)
    vert = s[..., 1].astype(jnp.int32)
    row_p, col_p = plaq.sum(-1), plaq.sum(-2)  # defects per row / per column
    row_v, col_v = vert.sum(-1), vert.sum(-2)
    excl = lambda x: (jnp.cumsum(x, -1) - x) % 2  # rows 0..r-1
    from1 = lambda x: (jnp.cumsum(x, -1) - x[..., :1]) % 2  # rows 1..r
    return excl(row_p), excl(col_p), from1(row_v), from1(col_v)


def site_flips(s: Bool[Array, "... L L 2"]) -> Int[Array, "... L L"]:
    """``translation_flip(s, (-i, -j))`` for every site ``(i, j)`` as a label-XOR mask in ``[0, 16)``:
    the flip that takes a class read in the frame centred on site ``(i, j)`` back to the global frame."""
    fa, fb, fc, fd = _site_flips(s)
    rows = 8 * fa + 2 * fc  # (..., L) over i
    cols = 4 * fb + fd  # (..., L) over j
    return (rows[..., :, None] + cols[..., None, :]).astype(jnp.int32)


def permute_logits(logits: Float[Array, "... 16"], flip: Int[Array, "..."]) -> Float[Array, "... 16"]:
    """Relabel class logits by XOR: ``out[..., k] = logits[..., k ^ flip]``."""
    idx = jnp.arange(NUM_CLASSES, dtype=jnp.int32) ^ jnp.asarray(flip, jnp.int32)[..., None]
    return jnp.take_along_axis(logits, idx, axis=-1)


# --------------------------------------------------------------------------- matrices (numpy)


def flatten(e) -> np.ndarray:
    """``(..., 2, 2, L, L) -> (..., 2, 2 L^2)``: the [X, Z] parts as qubit vectors (column order of
    :func:`check_matrices`)."""
    e = np.asarray(e)
    return e.reshape(*e.shape[:-3], -1)


def unflatten(v, L: int) -> np.ndarray:
    """Inverse of :func:`flatten` on one part: ``(..., 2 L^2) -> (..., 2, L, L)``."""
    v = np.asarray(v)
    return v.reshape(*v.shape[:-1], 2, L, L)


@functools.lru_cache(maxsize=16)
def check_matrices(L: int) -> dict[str, np.ndarray]:
    """Dense uint8 matrices built edge by edge from the definitions (independent of :func:`syndrome`):

    * ``plaquette (L^2, 2L^2)``: row ``i L + j`` is ``B(i, j)``'s support (acts on the X part);
    * ``vertex (L^2, 2L^2)``: row ``i L + j`` is ``A(i, j)``'s support (acts on the Z part);
    * ``Z_logicals (2, 2L^2)``: Z1, Z2 supports (read the X part); ``X_logicals (2, 2L^2)``: X1, X2
      supports (read the Z part)."""
    check_distance(L)
    n = L * L
    h = lambda i, j: (i % L) * L + (j % L)
    v = lambda i, j: n + (i % L) * L + (j % L)
    plaq = np.zeros((n, 2 * n), np.uint8)
    vert = np.zeros((n, 2 * n), np.uint8)
    for i in range(L):
        for j in range(L):
            for q in (h(i, j), h(i + 1, j), v(i, j), v(i, j + 1)):
                plaq[i * L + j, q] ^= 1
            for q in (h(i, j), h(i, j - 1), v(i, j), v(i - 1, j)):
                vert[i * L + j, q] ^= 1
    zl = np.zeros((2, 2 * n), np.uint8)
    xl = np.zeros((2, 2 * n), np.uint8)
    for k in range(L):
        zl[0, h(0, k)] = 1
        zl[1, v(k, 0)] = 1
        xl[0, v(0, k)] = 1
        xl[1, h(k, 0)] = 1
    return {"plaquette": plaq, "vertex": vert, "Z_logicals": zl, "X_logicals": xl}
