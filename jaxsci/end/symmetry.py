"""The point-group and duality symmetries of the toric code under depolarising noise, and test-time
symmetrisation of a decoder over them (all jit/vmap-able; conventions of :mod:`jaxsci.end.toric`).

Geometry. Put vertex ``(i, j)`` at the point ``(y, x) = (i, j)`` (row, column). Then the qubit ``h(i, j)``
sits at the edge midpoint ``(i, j + 1/2)``, ``v(i, j)`` at ``(i + 1/2, j)``, the star ``A(i, j)`` at
``(i, j)`` and the plaquette ``B(i, j)`` at ``(i + 1/2, j + 1/2)``. The primal loops ``Z1, Z2`` lie on
the lines ``y = 0``, ``x = 0`` (through vertex ``(0, 0)``), the dual loops ``X1, X2`` on ``y = 1/2``,
``x = 1/2`` (through plaquette ``B(0, 0)``). Every map ``g`` below permutes the qubits (and, for the
duality, relabels each Pauli by ``X <-> Z``, ``Y -> Y``), so it preserves the number of non-identity
qubits, hence the depolarising probability ``P(e) ∝ (p / 3 / (1 - p))^|e|``; it permutes the checks,
so ``syndrome(g e) = g syndrome(e)``; and it maps the logical class affinely: the bit of ``g e`` for the
logical ``O`` is the bit of ``e`` for ``g^-1 O``, and when ``g^-1 O`` is ``O'`` moved off its reference
line the difference is a product of stabilisers, read from the syndrome. So

    ``logical_bits(g e) = A_g logical_bits(e) XOR chi_g(syndrome(e))``,

the optimal (ML) decoder obeys ``P(A_g c ^ chi_g(s) | g s) = P(c | s)``, and the class map is here a
permutation ``perm`` of the 16 labels (:func:`class_perm`): ``label(g e) = perm[label(e)]``. Below
``rv(s)`` is the parity of the vertex defects of row 0, ``s[0, :, 1]``, and ``cv(s)`` that of column 0,
``s[:, 0, 1]``; they come from ``X1(row L-1) = X1(row 0) * prod_j A(0, j)`` and ``X2(col L-1) =
X2(col 0) * prod_i A(i, 0)`` (the product of a row of stars is the two rows of vertical edges around it).

Generators (each verified in ``tests/end/test_symmetries.py`` against explicit errors and exact ML):

* ``"rotate"`` R: the 90-degree rotation about vertex ``(0, 0)``, ``(y, x) -> (x, -y)``. It maps the
  primal lattice onto itself (no duality or shift is needed): ``h(i, j) -> v(j, -i)``, ``v(i, j) ->
  h(j, -i - 1)``, ``A(i, j) -> A(j, -i)``, ``B(i, j) -> B(j, -i - 1)``; so ``(R e)[P, h, i, j] = e[P, v,
  -j - 1, i]``, ``(R e)[P, v, i, j] = e[P, h, -j, i]``, ``(R s)[i, j, 0] = s[-j - 1, i, 0]``, ``(R s)[i, j,
  1] = s[-j, i, 1]``. ``R^-1`` maps the lines ``y = 0 -> x = 0 -> y = 0`` (so ``Z1 <-> Z2``) and ``y = 1/2
  -> x = 1/2`` (``X1 -> X2``) but ``x = 1/2 -> y = -1/2`` (``X2 -> X1`` on row ``L - 1``). Class map:
  ``(a, b, c, d) -> (b, a, d, c ^ rv(s))``.
* ``"transpose"`` S: the reflection about the diagonal, ``(y, x) -> (x, y)``: ``h(i, j) <-> v(j, i)``,
  ``A(i, j) -> A(j, i)``, ``B(i, j) -> B(j, i)``; ``(S e)[P, h/v, i, j] = e[P, v/h, j, i]``, ``(S s)[i, j,
  c] = s[j, i, c]``. It swaps the lines ``y = 0 <-> x = 0`` and ``y = 1/2 <-> x = 1/2`` exactly:
  ``(a, b, c, d) -> (b, a, d, c)`` with no syndrome term.
* ``"dual"`` D: the primal-dual exchange, a translation by ``(1/2, 1/2)`` (vertices to plaquette
  centres, edges to edges) combined with the Hadamard ``X <-> Z`` on every qubit. It is not in the point
  group (it swaps the X and Z parts), a symmetry of depolarising noise but not of bit-flip noise.
  ``h(i, j) -> v(i, j + 1)``, ``v(i, j) -> h(i + 1, j)``, a star ``A(i, j)`` (X-type) becomes the
  plaquette ``B(i, j)`` (Z-type) and ``B(i, j) -> A(i + 1, j + 1)``; so ``(D e)[P, v, i, j] = e[1 - P, h,
  i, j - 1]``, ``(D e)[P, h, i, j] = e[1 - P, v, i - 1, j]``, ``(D s)[i, j, 0] = s[i, j, 1]``, ``(D s)[i,
  j, 1] = s[i - 1, j - 1, 0]``. ``D^-1`` takes ``Z1`` (Z on ``y = 0``) to X on ``y = -1/2`` (``X1`` on
  row ``L - 1``), ``Z2`` to ``X2`` on column ``L - 1``, ``X1`` to ``Z1`` and ``X2`` to ``Z2``. Class map:
  ``(a, b, c, d) -> (c ^ rv(s), d ^ cv(s), a, b)``.

Relations (tested): ``R^4 = S^2 = (S R)^2 = 1`` exactly (the dihedral group D4 fixing vertex
``(0, 0)``), ``S D = D S``, ``R D = T(0, -1) D R`` and ``D^2 = T(1, 1)`` with ``T`` the translations of
:mod:`~jaxsci.end.toric` (their class maps agree too). So, modulo translations, the symmetry group is
``D4 x Z2``, and :data:`ELEMENTS` (``R^k``, ``R^k S``, each with and without ``D``) lists one
representative of each of its 16 cosets. :func:`symmetrize` averages a decoder over them; for a
translation-equivariant decoder (END) the result is then exactly equivariant under the whole group
(translations, rotations, reflections and duality), as the optimal decoder is.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from jaxsci.end import toric

GENERATORS = ("rotate", "transpose", "dual")


def _coords(L: int):
    i, j = np.meshgrid(np.arange(L), np.arange(L), indexing="ij")
    return i, j


def _take(x, rows, cols):
    """``out[..., i, j] = x[..., rows[i, j] % L, cols[i, j] % L]`` over the last two axes."""
    L = x.shape[-1]
    return x[..., np.asarray(rows) % L, np.asarray(cols) % L]


# --------------------------------------------------------------------------- errors


def rotate_error(e: Bool[Array, "... 2 2 L L"]) -> Bool[Array, "... 2 2 L L"]:
    """R e: ``(R e)[P, h, i, j] = e[P, v, -j-1, i]``, ``(R e)[P, v, i, j] = e[P, h, -j, i]``."""
    toric.check_error(e)
    i, j = _coords(e.shape[-1])
    h = _take(e[..., 1, :, :], -j - 1, i)
    v = _take(e[..., 0, :, :], -j, i)
    return jnp.stack([h, v], axis=-3)


def transpose_error(e: Bool[Array, "... 2 2 L L"]) -> Bool[Array, "... 2 2 L L"]:
    """S e: ``(S e)[P, h, i, j] = e[P, v, j, i]``, ``(S e)[P, v, i, j] = e[P, h, j, i]``."""
    toric.check_error(e)
    return jnp.swapaxes(jnp.flip(e, axis=-3), -1, -2)


def dual_error(e: Bool[Array, "... 2 2 L L"]) -> Bool[Array, "... 2 2 L L"]:
    """D e: ``(D e)[P, h, i, j] = e[1-P, v, i-1, j]``, ``(D e)[P, v, i, j] = e[1-P, h, i, j-1]``."""
    toric.check_error(e)
    swapped = jnp.flip(e, axis=-4)  # X part <-> Z part
    h = jnp.roll(swapped[..., 1, :, :], 1, axis=-2)
    v = jnp.roll(swapped[..., 0, :, :], 1, axis=-1)
    return jnp.stack([h, v], axis=-3)


# --------------------------------------------------------------------------- syndromes


def rotate_syndrome(s: Bool[Array, "... L L 2"]) -> Bool[Array, "... L L 2"]:
    """R s: ``(R s)[i, j, 0] = s[-j-1, i, 0]``, ``(R s)[i, j, 1] = s[-j, i, 1]``."""
    toric.check_syndrome(s)
    i, j = _coords(s.shape[-2])
    plaq = _take(s[..., 0], -j - 1, i)
    vert = _take(s[..., 1], -j, i)
    return jnp.stack([plaq, vert], axis=-1)


def transpose_syndrome(s: Bool[Array, "... L L 2"]) -> Bool[Array, "... L L 2"]:
    """S s: ``(S s)[i, j, c] = s[j, i, c]``."""
    toric.check_syndrome(s)
    return jnp.swapaxes(s, -3, -2)


def dual_syndrome(s: Bool[Array, "... L L 2"]) -> Bool[Array, "... L L 2"]:
    """D s: ``(D s)[i, j, 0] = s[i, j, 1]``, ``(D s)[i, j, 1] = s[i-1, j-1, 0]``."""
    toric.check_syndrome(s)
    return jnp.stack([s[..., 1], jnp.roll(s[..., 0], (1, 1), axis=(-2, -1))], axis=-1)


# --------------------------------------------------------------------------- classes

# A_g as index maps: new bit k = old bit SOURCE[g][k] (all A_g here are permutations of the 4 bits)
_SOURCE = {"rotate": (1, 0, 3, 2), "transpose": (1, 0, 3, 2), "dual": (2, 3, 0, 1)}


def _rv_cv(s):
    vert = jnp.asarray(s)[..., 1].astype(jnp.int32)
    return vert[..., 0, :].sum(-1) % 2, vert[..., :, 0].sum(-1) % 2


def class_matrix(name: str) -> np.ndarray:
    """The linear part ``A_g`` (4 x 4 over GF(2)) of the class map of generator ``name``:
    ``new_bits = A_g @ bits ^ chi_g(s)``."""
    a = np.zeros((4, 4), np.int32)
    a[np.arange(4), _SOURCE[_check_name(name)]] = 1
    return a


def class_shift(name: str, s: Bool[Array, "... L L 2"]) -> Int[Array, "... 4"]:
    """The syndrome-dependent part ``chi_g(s)`` of the class map (bits ``(..., 4)``); ``s`` is the
    syndrome of the error *before* the map."""
    _check_name(name)
    toric.check_syndrome(s)
    rv, cv = _rv_cv(s)
    zero = jnp.zeros_like(rv)
    if name == "rotate":
        return jnp.stack([zero, zero, zero, rv], axis=-1)
    if name == "transpose":
        return jnp.stack([zero, zero, zero, zero], axis=-1)
    return jnp.stack([rv, cv, zero, zero], axis=-1)


def class_bits(name: str, bits: Int[Array, "... 4"], s: Bool[Array, "... L L 2"]) -> Int[Array, "... 4"]:
    """``logical_bits(g e)`` from ``logical_bits(e)`` and ``syndrome(e)``: ``A_g bits ^ chi_g(s)``."""
    bits = jnp.asarray(bits, jnp.int32)
    return bits[..., np.asarray(_SOURCE[_check_name(name)])] ^ class_shift(name, s)


def _generator_perm(name: str, s) -> Int[Array, "... 16"]:
    labels = jnp.arange(toric.NUM_CLASSES, dtype=jnp.int32)
    bits = toric.label_to_bits(labels)  # (16, 4)
    shift = class_shift(name, s)[..., None, :]  # (..., 1, 4)
    return toric.bits_to_label(bits[:, np.asarray(_SOURCE[name])] ^ shift)


# --------------------------------------------------------------------------- words of generators

_ERROR = {"rotate": rotate_error, "transpose": transpose_error, "dual": dual_error}
_SYNDROME = {"rotate": rotate_syndrome, "transpose": transpose_syndrome, "dual": dual_syndrome}


def _check_name(name: str) -> str:
    if name not in GENERATORS:
        raise ValueError(f"unknown symmetry generator {name!r}; choose from {GENERATORS}")
    return name


def _word(word) -> tuple[str, ...]:
    word = (word,) if isinstance(word, str) else tuple(word)
    return tuple(_check_name(w) for w in word)


def act_error(word: str | Sequence[str], e: Bool[Array, "... 2 2 L L"]) -> Bool[Array, "... 2 2 L L"]:
    """Apply the generators of ``word`` to errors, first to last (``("rotate", "dual")`` is D R)."""
    for name in _word(word):
        e = _ERROR[name](e)
    return e


def act_syndrome(word: str | Sequence[str], s: Bool[Array, "... L L 2"]) -> Bool[Array, "... L L 2"]:
    """Apply the generators of ``word`` to syndromes, first to last."""
    for name in _word(word):
        s = _SYNDROME[name](s)
    return s


def class_perm(word: str | Sequence[str], s: Bool[Array, "... L L 2"]) -> Int[Array, "... 16"]:
    """The class map of ``word`` as a label permutation ``(..., 16)``: an error of syndrome ``s`` and
    label ``l`` is mapped to one of label ``perm[..., l]`` (and syndrome ``act_syndrome(word, s)``).
    Composed generator by generator: ``perm_{g2 g1}(s)[l] = perm_{g2}(g1 s)[perm_{g1}(s)[l]]``."""
    toric.check_syndrome(s)
    perm = jnp.broadcast_to(jnp.arange(toric.NUM_CLASSES, dtype=jnp.int32), (*jnp.shape(s)[:-3], toric.NUM_CLASSES))
    for name in _word(word):
        perm = jnp.take_along_axis(_generator_perm(name, s), perm, axis=-1)
        s = _SYNDROME[name](s)
    return perm


def pull_back(logits: Float[Array, "... 16"], perm: Int[Array, "... 16"]) -> Float[Array, "... 16"]:
    """Class scores of ``g s`` read in the frame of ``s``: ``out[..., l] = logits[..., perm[..., l]]``
    (so ``pull_back(P(. | g s), class_perm(g, s)) = P(. | s)`` for the optimal decoder)."""
    return jnp.take_along_axis(logits, perm, axis=-1)


# one representative of each coset of the translations: R^k and R^k S, times {1, D}
ELEMENTS: tuple[tuple[str, ...], ...] = tuple(
    ("rotate",) * k + ("transpose",) * m + ("dual",) * n for n in (0, 1) for m in (0, 1) for k in range(4)
)
POINT_GROUP: tuple[tuple[str, ...], ...] = ELEMENTS[:8]  # the dihedral group D4 (no duality)


def symmetrize(logits_fn: Callable[[Array], Array], s: Bool[Array, "B L L 2"], *,
               elements: Sequence[Sequence[str]] = ELEMENTS, average: str = "log_probs") -> Float[Array, "B 16"]:
    """Test-time symmetrisation: average a decoder over the orbit of ``s``.

    ``logits_fn`` maps syndromes ``(N, L, L, 2)`` to class logits ``(N, 16)``; it is called once on
    the ``len(elements) * B`` transformed syndromes. Each output is mapped back to the frame of ``s``
    by the class map (:func:`pull_back`) and the results are averaged: ``average="log_probs"`` (the
    default) means the log-softmaxes (a geometric mean of the probabilities), ``"probs"`` the
    probabilities (an arithmetic mean; the log is returned), ``"logits"`` the raw logits. Returns
    ``(B, 16)`` scores in the frame of ``s`` (log-probabilities unless ``average="logits"``).

    With the default ``elements`` (all 16 cosets of D4 x duality) and a translation-equivariant
    ``logits_fn`` such as END, the result obeys every symmetry of the optimal decoder exactly."""
    if average not in ("log_probs", "probs", "logits"):
        raise ValueError(f"average must be 'log_probs', 'probs' or 'logits', got {average!r}")
    toric.check_syndrome(s)
    if s.ndim != 4:
        raise ValueError(f"symmetrize wants a batch of syndromes (B, L, L, 2), got shape {s.shape}")
    elements = [_word(w) for w in elements]
    b = s.shape[0]
    moved = jnp.concatenate([act_syndrome(w, s) for w in elements])  # (G B, L, L, 2)
    perms = jnp.stack([class_perm(w, s) for w in elements])  # (G, B, 16)
    out = jnp.asarray(logits_fn(moved), jnp.float32).reshape(len(elements), b, toric.NUM_CLASSES)
    if average == "log_probs":
        return pull_back(jax.nn.log_softmax(out, -1), perms).mean(0)
    if average == "probs":
        lp = pull_back(jax.nn.log_softmax(out, -1), perms)
        return jax.nn.logsumexp(lp, axis=0) - jnp.log(len(elements))
    return pull_back(out, perms).mean(0)
