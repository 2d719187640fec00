"""Clifford layers in Flax linen: linear, convolutions (1D/2D/3D, rotational 2D), Fourier layers.

Layout: inputs and outputs are ``(batch, *spatial, channels, blades)`` (``(batch, channels, blades)``
for :class:`CliffordLinear`), blades in the shortlex order of :class:`~jaxsci.clifford.CliffordAlgebra`.
``g`` is the metric (a tuple such as ``(1, 1)`` or ``(-1, -1)``) or a ``CliffordAlgebra``.

Parameters (``I`` blades, ``C`` input and ``O`` output channels):

- ``weight``: ``(I, *kernel_size, C // groups, O)`` (conv), ``(I, C, O)`` (linear),
  ``(I, 2*m1, 2*m2[, 2*m3], C, O)`` (Fourier): one real tensor per weight blade;
- ``bias``: ``(O, I)``; rotational conv adds ``scale``: ``(*kernel_size, C // groups, O)``.

Each layer applies the geometric product with its weight multivector on the right,
``y[o] = sum_c x[c] w[o, c] (+ b[o])``, as one ordinary convolution / matmul with a kernel gathered
from the Cayley table (see :mod:`jaxsci.clifford.functional`).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxsci.clifford import functional as F
from jaxsci.clifford.algebra import as_algebra

Metric = Any  # tuple of ints or a CliffordAlgebra


def _uniform(bound: float):
    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


class CliffordLinear(nn.Module):
    """Clifford linear layer: ``(B, C, I) -> (B, features, I)``, ``y[o] = sum_c x[c] w[o, c] + b[o]``.

    Attributes: g (metric), features (O), use_bias. Works for leading axes of any shape.
    """

    g: Metric
    features: int
    use_bias: bool = True

    @nn.compact
    def __call__(self, x):
        alg = as_algebra(self.g)
        alg.check(x, "input")
        if x.ndim < 2:
            raise ValueError(f"input must be (..., channels, blades), got shape {x.shape}")
        C, I = x.shape[-2:]
        bound = 1.0 / math.sqrt(C * I)
        w = self.param("weight", _uniform(bound), (I, C, self.features))
        k = F.clifford_kernel(alg, w)
        y = (x.reshape(*x.shape[:-2], C * I) @ k.astype(x.dtype)).reshape(*x.shape[:-2], self.features, I)
        if self.use_bias:
            y = y + self.param("bias", _uniform(bound), (self.features, I))
        return y


class CliffordConv(nn.Module):
    """N-d Clifford convolution for any supported metric (1 to 3 spatial axes).

    ``(B, *spatial, C, I) -> (B, *spatial_out, features, I)``.

    Attributes:
        g: metric; features: O; kernel_size: tuple, one per spatial axis (the subclasses
        CliffordConv1d/2d/3d also take an int); stride, padding, dilation: int or tuple (PyTorch
        meaning); groups: channel groups, each keeping all blades of its channels together;
        padding_mode: ``"zeros"`` or ``"circular"`` (periodic); use_bias; rotation: the
        rotational 2D kernel (``g = (-1, -1)`` only).
    """

    g: Metric
    features: int
    kernel_size: int | Sequence[int]
    stride: int | Sequence[int] = 1
    padding: int | Sequence[int] = 0
    dilation: int | Sequence[int] = 1
    groups: int = 1
    padding_mode: str = "zeros"
    use_bias: bool = True
    rotation: bool = False

    _ndim: ClassVar[int | None] = None

    @nn.compact
    def __call__(self, x):
        alg = as_algebra(self.g)
        if self._ndim is None and isinstance(self.kernel_size, int):
            raise ValueError("CliffordConv needs kernel_size as a tuple (one per spatial axis); "
                             "or use CliffordConv1d/2d/3d")
        nd = self._ndim if self._ndim is not None else len(tuple(self.kernel_size))
        ks = F._tuple(self.kernel_size, nd, "kernel_size")
        alg.check(x, "input")
        if x.ndim != nd + 3:
            raise ValueError(f"input must be (batch, *{nd} spatial, channels, blades), got shape {x.shape}")
        C, I = x.shape[-2:]
        if self.groups < 1 or C % self.groups or self.features % self.groups:
            raise ValueError(f"in channels {C} and features {self.features} must divide by groups={self.groups}")
        if self.padding_mode not in ("zeros", "circular"):
            raise ValueError(f"padding_mode must be 'zeros' or 'circular', got {self.padding_mode!r}")
        if self.rotation and alg.g != (-1, -1):
            raise ValueError(f"the rotational Clifford kernel needs g = (-1, -1), got {alg.g}")
        cg = C // self.groups
        bound = 1.0 / math.sqrt(cg * I * math.prod(ks))
        w = self.param("weight", _uniform(bound), (I, *ks, cg, self.features))
        if self.rotation:
            scale = self.param("scale", _uniform(1.0 / math.sqrt(cg * math.prod(ks))), (*ks, cg, self.features))
            k = F.rotation_kernel(w, scale)
        else:
            k = F.clifford_kernel(alg, w)
        y = F.clifford_conv(x, k, I, stride=self.stride, padding=self.padding, dilation=self.dilation,
                            groups=self.groups, padding_mode=self.padding_mode)
        if self.use_bias:
            y = y + self.param("bias", _uniform(bound), (self.features, I)).astype(y.dtype)
        return y


class CliffordConv1d(CliffordConv):
    """1D Clifford convolution ``(B, W, C, I) -> (B, W_out, features, I)``; see :class:`CliffordConv`."""

    kernel_size: int | Sequence[int] = 3
    _ndim: ClassVar[int | None] = 1


class CliffordConv2d(CliffordConv):
    """2D Clifford convolution ``(B, H, W, C, I) -> (B, H_out, W_out, features, I)``; ``rotation=True``
    gives the rotational Clifford convolution (``g = (-1, -1)``). See :class:`CliffordConv`."""

    kernel_size: int | Sequence[int] = 3
    _ndim: ClassVar[int | None] = 2


class CliffordConv3d(CliffordConv):
    """3D Clifford convolution ``(B, D, H, W, C, I) -> (B, D', H', W', features, I)``; see :class:`CliffordConv`."""

    kernel_size: int | Sequence[int] = 3
    _ndim: ClassVar[int | None] = 3


class _CliffordSpectralConv(nn.Module):
    g: Metric
    features: int
    modes: Sequence[int]

    _ndim: ClassVar[int] = 0

    @nn.compact
    def __call__(self, x):
        alg = as_algebra(self.g)
        nd = self._ndim
        modes = F._tuple(self.modes, nd, "modes")
        if alg.dim != nd:
            raise ValueError(f"{type(self).__name__} needs a {nd}D algebra, got g={alg.g}")
        alg.check(x, "input")
        if x.ndim != nd + 3:
            raise ValueError(f"input must be (batch, *{nd} spatial, channels, blades), got shape {x.shape}")
        spatial = x.shape[1:1 + nd]
        if any(m < 1 or 2 * m > n for m, n in zip(modes, spatial)):
            raise ValueError(f"modes {modes} must satisfy 1 <= m and 2 m <= size for spatial shape {spatial}")
        C, I = x.shape[-2:]
        scale = 1.0 / (C * self.features)
        w = self.param("weight", lambda k, s: scale * jax.random.uniform(k, s), (I, *(2 * m for m in modes), C,
                                                                              self.features))
        return F.clifford_spectral_conv(x, F.clifford_kernel(alg, w), modes)


class CliffordSpectralConv2d(_CliffordSpectralConv):
    """2D Clifford Fourier layer ``(B, H, W, C, 4) -> (B, H, W, features, 4)``.

    The dual pairs ``x0 + i x12`` and ``x1 + i x2`` are Fourier transformed, the lowest
    ``modes = (m1, m2)`` positive and negative frequencies per axis kept, each mode multivector
    multiplied (geometric product, weight on the right) by its own weight multivector, and the
    result transformed back. Weight ``(4, 2 m1, 2 m2, C, O)``; frequencies in FFT order
    (``[0..m)`` then ``[-m..0)``) along each mode axis.
    """

    _ndim: ClassVar[int] = 2


class CliffordSpectralConv3d(_CliffordSpectralConv):
    """3D Clifford Fourier layer ``(B, X, Y, Z, C, 8) -> (B, X, Y, Z, features, 8)``.

    Dual pairs (blades) (1, e123), (e1, e23), (e2, e13), (e3, e12); ``modes = (m1, m2, m3)``;
    weight ``(8, 2 m1, 2 m2, 2 m3, C, O)``. Unlike ``cliffordlayers`` 0.1.1, every one of the 8
    frequency corners is written back to its own place.
    """

    _ndim: ClassVar[int] = 3
