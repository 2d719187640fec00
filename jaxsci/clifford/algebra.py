"""Clifford algebras Cl(g) for a diagonal metric ``g`` with entries in {-1, 0, +1}, dimension 1 to 4.

A multivector is an array whose **trailing axis holds the 2**n blade coefficients** in the order of
:attr:`CliffordAlgebra.blades`. The default order is *shortlex*: by grade, then lexicographic in the
basis-vector indices, e.g. for n = 2 ``(1, e1, e2, e12)``, for n = 3
``(1, e1, e2, e3, e12, e13, e23, e123)`` (the order of ``cliffordlayers``), and for the projective
algebra ``g = (0, 1, 1, 1)`` (GCAN) ``(1, e0, e1, e2, e3, e01, e02, e03, e12, e13, e23, e012, e013,
e023, e123, e0123)`` (names with ``index_base=0``).

The Cayley table ``M[i, j, k]`` is the coefficient of blade ``k`` in the geometric product of blades
``i`` and ``j``; it is built by explicit multiplication of basis blades (sign from the number of swaps
that sort the concatenated index lists, times ``g[a]`` for each contracted pair ``e_a e_a``). Every
operation here is a pure ``jnp`` function of its array arguments; the algebra object itself is a
frozen, hashable dataclass, so it can be a static argument of ``jit`` or a Flax module attribute.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import Sequence

import jax.numpy as jnp
import numpy as np

MAX_DIM = 4


def _shortlex_blades(n: int) -> tuple[tuple[int, ...], ...]:
    return tuple(c for r in range(n + 1) for c in itertools.combinations(range(n), r))


def blade_product(a: Sequence[int], b: Sequence[int], g: Sequence[int]) -> tuple[int, tuple[int, ...]]:
    """Product of basis blades ``e_a e_b`` (sorted index tuples): returns ``(coefficient, blade)``.

    The concatenated index list is bubble-sorted (each swap of distinct anticommuting vectors flips
    the sign); each adjacent equal pair ``e_i e_i`` is replaced by ``g[i]``.
    """
    idx = list(a) + list(b)
    sign = 1
    # Bubble sort, counting transpositions of distinct indices.
    for end in range(len(idx) - 1, 0, -1):
        for p in range(end):
            if idx[p] > idx[p + 1]:
                idx[p], idx[p + 1] = idx[p + 1], idx[p]
                sign = -sign
    out: list[int] = []
    p = 0
    while p < len(idx):
        if p + 1 < len(idx) and idx[p] == idx[p + 1]:
            sign *= int(g[idx[p]])
            p += 2
        else:
            out.append(idx[p])
            p += 1
    return sign, tuple(out)


@dataclasses.dataclass(frozen=True)
class CliffordAlgebra:
    """The Clifford algebra of the diagonal metric ``g`` (``e_i e_i = g[i]``), with a blade order.

    Args:
        g: the metric (signature), a sequence of 1 to 4 entries, each -1, 0 or +1.
        blades: optional blade order, a permutation of all subsets of ``range(n)`` as sorted tuples;
            default shortlex (see the module docstring).
        index_base: first index in blade names (1: ``e1, e2``; 0 for PGA: ``e0, e1``).

    Attributes (numpy, computed once per algebra): ``cayley`` (I, I, I); ``grades`` (I,);
    ``product_index`` / ``product_sign`` (I, I): for input blade i and output blade k, the unique
    blade j with ``e_i e_j`` proportional to ``e_k`` and its coefficient (0 where degenerate).
    """

    g: tuple[int, ...]
    blades: tuple[tuple[int, ...], ...] = ()
    index_base: int = 1

    def __post_init__(self):
        g = tuple(int(v) if float(v) == int(v) else v for v in self.g)
        if not 1 <= len(g) <= MAX_DIM:
            raise ValueError(f"Clifford algebra dimension must be 1..{MAX_DIM}, got g={self.g!r} (dimension {len(g)})")
        if any(v not in (-1, 0, 1) for v in g):
            raise ValueError(f"metric entries must be -1, 0 or +1, got g={self.g!r}")
        object.__setattr__(self, "g", g)
        n = len(g)
        blades = tuple(tuple(int(i) for i in b) for b in self.blades) if self.blades else _shortlex_blades(n)
        if sorted(blades) != sorted(_shortlex_blades(n)) or any(tuple(sorted(b)) != b for b in blades):
            raise ValueError(f"blades must be a permutation of all sorted index subsets of range({n}), got {blades}")
        object.__setattr__(self, "blades", blades)

    # ---- static structure -------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Number of basis vectors n."""
        return len(self.g)

    @property
    def n_blades(self) -> int:
        """Number of blades I = 2**n."""
        return 2 ** len(self.g)

    @functools.cached_property
    def blade_names(self) -> tuple[str, ...]:
        return tuple("1" if not b else "e" + "".join(str(i + self.index_base) for i in b) for b in self.blades)

    @functools.cached_property
    def grades(self) -> np.ndarray:
        return np.array([len(b) for b in self.blades], dtype=np.int32)

    @functools.cached_property
    def cayley(self) -> np.ndarray:
        """``M[i, j, k]``: coefficient of blade k in ``blades[i] * blades[j]`` (float32 numpy)."""
        pos = {b: k for k, b in enumerate(self.blades)}
        I = self.n_blades
        m = np.zeros((I, I, I), np.float32)
        for i, a in enumerate(self.blades):
            for j, b in enumerate(self.blades):
                s, c = blade_product(a, b, self.g)
                m[i, j, pos[c]] = s
        m.setflags(write=False)
        return m

    @functools.cached_property
    def _product_index_sign(self) -> tuple[np.ndarray, np.ndarray]:
        I = self.n_blades
        pos = {b: k for k, b in enumerate(self.blades)}
        index = np.zeros((I, I), np.int32)
        sign = np.zeros((I, I), np.float32)
        for i, a in enumerate(self.blades):
            for k, c in enumerate(self.blades):
                j = pos[tuple(sorted(set(a) ^ set(c)))]  # e_a e_b ~ e_(a xor b)
                index[i, k] = j
                sign[i, k] = self.cayley[i, j, k]
        index.setflags(write=False)
        sign.setflags(write=False)
        return index, sign

    @property
    def product_index(self) -> np.ndarray:
        return self._product_index_sign[0]

    @property
    def product_sign(self) -> np.ndarray:
        return self._product_index_sign[1]

    def _grade_signs(self, fn) -> np.ndarray:
        return np.array([fn(int(r)) for r in self.grades], np.float32)

    def check(self, x, name: str = "x") -> None:
        """Raise ValueError unless ``x`` has a trailing blade axis of size ``n_blades``."""
        shape = np.shape(x)
        if len(shape) == 0 or shape[-1] != self.n_blades:
            raise ValueError(
                f"{name} must have a trailing blade axis of size {self.n_blades} for g={self.g}, got shape {shape}"
            )

    # ---- products ---------------------------------------------------------------------------------
    def geometric_product(self, a, b):
        """``a b`` for multivectors ``a (..., I)``, ``b (..., I)`` (broadcast over leading axes)."""
        self.check(a, "a")
        self.check(b, "b")
        dtype = jnp.result_type(a, b)
        return jnp.einsum("...i,ijk,...j->...k", a, jnp.asarray(self.cayley, dtype), b)

    def left_matrix(self, a):
        """``L (..., I, I)`` with ``(a b)_k = sum_j L[k, j] b_j``."""
        self.check(a, "a")
        return jnp.einsum("...i,ijk->...kj", a, jnp.asarray(self.cayley, jnp.result_type(a)))

    def right_matrix(self, b):
        """``R (..., I, I)`` with ``(a b)_k = sum_i R[k, i] a_i``; built by a gather (no FLOPs)."""
        self.check(b, "b")
        b = jnp.asarray(b)
        sign = jnp.asarray(self.product_sign, b.dtype)
        return jnp.swapaxes(b[..., self.product_index] * sign, -1, -2)

    # ---- involutions ------------------------------------------------------------------------------
    def reverse(self, x):
        """Reversion ``~x``: blades of grade r times (-1)^(r(r-1)/2); an anti-automorphism."""
        self.check(x)
        return x * jnp.asarray(self._grade_signs(lambda r: (-1) ** (r * (r - 1) // 2)), jnp.result_type(x))

    def grade_involution(self, x):
        """Main involution ``x^``: grade r times (-1)^r; an automorphism."""
        self.check(x)
        return x * jnp.asarray(self._grade_signs(lambda r: (-1) ** r), jnp.result_type(x))

    def conjugate(self, x):
        """Clifford conjugation (reverse of the grade involution): grade r times (-1)^(r(r+1)/2)."""
        self.check(x)
        return x * jnp.asarray(self._grade_signs(lambda r: (-1) ** (r * (r + 1) // 2)), jnp.result_type(x))

    def grade_projection(self, x, grades: int | Sequence[int]):
        """``<x>_r``: keep the blades whose grade is in ``grades`` (an int or a sequence)."""
        self.check(x)
        grades = (grades,) if isinstance(grades, (int, np.integer)) else tuple(grades)
        bad = [r for r in grades if not 0 <= r <= self.dim]
        if bad:
            raise ValueError(f"grades must be in 0..{self.dim}, got {bad}")
        mask = np.isin(self.grades, grades).astype(np.float32)
        return x * jnp.asarray(mask, jnp.result_type(x))

    # ---- norms, inverse, sandwich -----------------------------------------------------------------
    def quadratic_norm(self, x):
        """``<x ~x>_0`` (..., ): the quadratic form; may be negative or zero in non-Euclidean metrics."""
        self.check(x)
        # <e_i ~e_i>_0 for each blade: the scalar part of blade * reverse(blade).
        diag = np.array([self.cayley[i, i, 0] for i in range(self.n_blades)], np.float32)
        return jnp.sum(x * x * jnp.asarray(diag * self._grade_signs(lambda r: (-1) ** (r * (r - 1) // 2)), x.dtype), -1)

    def norm(self, x):
        """``sqrt(|<x ~x>_0|)`` (..., )."""
        return jnp.sqrt(jnp.abs(self.quadratic_norm(x)))

    def coefficient_norm(self, x):
        """Euclidean norm of the coefficient vector (..., )."""
        self.check(x)
        return jnp.linalg.norm(x, axis=-1)

    def versor_inverse(self, v):
        """``v^-1 = ~v / <v ~v>_0``; exact for versors (products of invertible vectors)."""
        return self.reverse(v) / self.quadratic_norm(v)[..., None]

    def sandwich(self, v, x):
        """``v x v^-1`` (for a rotor R this is the rotation ``R x ~R``); broadcast over leading axes."""
        return self.geometric_product(self.geometric_product(v, x), self.versor_inverse(v))

    def embed(self, values, blade_indices: Sequence[int]):
        """Multivector (..., I) with ``values[..., t]`` on blade ``blade_indices[t]``, zero elsewhere."""
        values = jnp.asarray(values)
        if values.shape[-1] != len(blade_indices):
            raise ValueError(f"values have {values.shape[-1]} entries for {len(blade_indices)} blades")
        out = jnp.zeros(values.shape[:-1] + (self.n_blades,), values.dtype)
        return out.at[..., jnp.asarray(blade_indices)].set(values)


def as_algebra(g) -> CliffordAlgebra:
    """A :class:`CliffordAlgebra` from an algebra or a metric tuple/list (cached per metric, so the
    Cayley table is built once per metric and process)."""
    if isinstance(g, CliffordAlgebra):
        return g
    return _algebra_of(tuple(np.asarray(g).reshape(-1).tolist()))


@functools.lru_cache(maxsize=None)
def _algebra_of(g: tuple) -> CliffordAlgebra:
    return CliffordAlgebra(g)


def pga3d() -> CliffordAlgebra:
    """The 3D projective geometric algebra of GCAN: ``g = (0, 1, 1, 1)``, blades named from e0."""
    return CliffordAlgebra((0, 1, 1, 1), index_base=0)
