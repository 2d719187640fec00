"""Surrogates of the Clifford-layers paper (Brandstetter et al., ICLR 2023) for 2D and 3D multivector fields.

2D (Cl(2, 0), blades ``1, e1, e2, e12``): one frame is a scalar field in blade 0 and a vector field in
blades ``e1, e2``, bivector 0: Navier-Stokes smoke (smoke density, velocity) and shallow water (height,
velocity), as in the paper. Every 2D model maps

    x (B, X, Y, time_history, 4)  ->  y (B, X, Y, 1, 4)

3D (Cl(3, 0), blades ``1, e1, e2, e3, e12, e13, e23, e123``): Maxwell's equations, ``F = E + I H``
(:func:`to_multivector_em`): E the vector part, H the bivector part (its Hodge dual), scalar and
pseudoscalar 0. Every 3D model maps ``x (B, X, Y, Z, time_history, 8) -> y (B, X, Y, Z, 1, 8)``.

``time_history`` input frames as multivector channels to the next frame. The *field blades*
(:func:`field_blades`: 2D ``1, e1, e2``; 3D ``e1, e2, e3, e12, e13, e23``) carry the data; the output's
other blades are set to 0 (the target has none), so a rollout can feed outputs back.

- :class:`ResNet`, :class:`FNO2d` / :class:`ResNet3d`, :class:`FNO3d`: baselines on the real channels
  ``F * time_history`` (the ``F`` field blades per frame), ``hidden`` real channels.
- :class:`CResNet`, :class:`CResNetRot`, :class:`CFNO` / :class:`CResNet3d`, :class:`CFNO3d`: the same
  architectures with Clifford layers, ``hidden`` multivector channels. A Clifford layer of ``C -> O``
  multivector channels in ``d`` dimensions has ``2^d C O`` weights per kernel tap (Fourier mode), a
  real one of ``k C -> k O`` channels ``k^2 C O``: baselines ``sqrt(2^d)`` times as wide (2D: 2x,
  3D: ~2.83x; :func:`baseline_width`) match the Clifford models' parameter count (the paper's comparison).

Architecture (the paper's, as in ``cliffordlayers``' ``CliffordFluidNet2d`` / ``CliffordFourierNet2d``
and their 3D Maxwell versions): two 1x1 embedding convs (GELU between), ``num_blocks`` blocks, two 1x1
projection convs (GELU before each). ResNet block: ``h + conv(gelu(conv(gelu(h))))`` with ``k^d`` convs;
Fourier block: ``gelu(spectral(h) + conv1x1(h))``. GELU acts on every blade separately. No
normalisation. ``padding_mode`` ``"zeros"`` (default: the smoke lives in a closed box) or
``"circular"`` (periodic data: shallow water, Maxwell). The 2D and 3D classes are one implementation
each, parametrised by the class variable ``_ndim``.
"""

from __future__ import annotations

import itertools
import math
from typing import ClassVar, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxsci.clifford.layers import CliffordConv2d, CliffordConv3d, CliffordSpectralConv2d, CliffordSpectralConv3d

BLADES = 4  # Cl(2, 0): 1, e1, e2, e12
FIELDS = 3  # 2D: scalar, vx, vy
BLADES_3D = 8  # Cl(3, 0): 1, e1, e2, e3, e12, e13, e23, e123
FIELDS_3D = 6  # E (e1, e2, e3), H (e12, e13, e23 = Hz, -Hy, Hx)

_FIELD_BLADES = {2: (0, 1, 2), 3: (1, 2, 3, 4, 5, 6)}
_FIELD_NAMES = {2: "scalar, vx, vy, 0", 3: "0, Ex, Ey, Ez, Hz, -Hy, Hx, 0"}
_CONV = {2: CliffordConv2d, 3: CliffordConv3d}
_SPECTRAL = {2: CliffordSpectralConv2d, 3: CliffordSpectralConv3d}


def field_blades(dim: int = 2) -> tuple[int, ...]:
    """Indices of the blades that carry data: 2D ``(0, 1, 2)`` (scalar, vector), 3D ``(1, ..., 6)`` (E, H)."""
    if dim not in _FIELD_BLADES:
        raise ValueError(f"dim must be 2 or 3, got {dim}")
    return _FIELD_BLADES[dim]


def baseline_width(hidden: int, dim: int = 2) -> int:
    """Real channels of a baseline with the parameter count of a Clifford model of ``hidden``
    multivector channels: ``round(sqrt(2^dim) hidden)`` (2D: ``2 hidden``)."""
    return int(round(math.sqrt(2**dim) * hidden))


def check_input(x, time_history: int, name: str, dim: int = 2) -> None:
    """Raise ValueError unless ``x`` is ``(B, *dim spatial, time_history, 2^dim)``."""
    shape = tuple(jnp.shape(x))
    blades = 2**dim
    if len(shape) != dim + 3 or shape[-1] != blades or shape[-2] != time_history:
        spatial = "H, W" if dim == 2 else "X, Y, Z"
        raise ValueError(f"{name} takes multivector fields (batch, {spatial}, time_history={time_history}, {blades} "
                         f"blades [{_FIELD_NAMES[dim]}]), got shape {shape}")


def to_multivector(smoke, velocity):
    """2D: scalar ``smoke (..., H, W)`` (or height), ``velocity (..., 2, H, W)`` -> ``(..., H, W, 4)`` (bivector 0)."""
    v = jnp.moveaxis(jnp.asarray(velocity), -3, -1)
    s = jnp.asarray(smoke)[..., None]
    return jnp.concatenate([s, v, jnp.zeros_like(s)], -1)


def from_multivector(x):
    """Inverse of :func:`to_multivector`: ``(..., H, W, 4) -> (scalar (..., H, W), vector (..., 2, H, W))``."""
    x = jnp.asarray(x)
    return x[..., 0], jnp.moveaxis(x[..., 1:3], -1, -3)


def to_multivector_em(e, h):
    """3D: electric ``e`` and magnetic ``h`` fields ``(..., 3, X, Y, Z)`` -> ``F = E + I H`` ``(..., X, Y, Z, 8)``.

    Blades (shortlex) ``1, e1, e2, e3, e12, e13, e23, e123`` get ``0, Ex, Ey, Ez, Hz, -Hy, Hx, 0``: H
    enters as its Hodge dual bivector ``I H = Hx e23 + Hy e31 + Hz e12`` (``I = e123``; ``e31 = -e13``),
    the paper's encoding of the electromagnetic field (vector E, bivector H)."""
    e = jnp.moveaxis(jnp.asarray(e), -4, -1)
    h = jnp.moveaxis(jnp.asarray(h), -4, -1)
    zero = jnp.zeros_like(e[..., :1])
    return jnp.concatenate([zero, e, h[..., 2:3], -h[..., 1:2], h[..., 0:1], zero], -1)


def from_multivector_em(x):
    """Inverse of :func:`to_multivector_em`: ``(..., X, Y, Z, 8) -> (e, h)`` each ``(..., 3, X, Y, Z)``
    (scalar and pseudoscalar dropped)."""
    x = jnp.asarray(x)
    e = x[..., 1:4]
    h = jnp.stack([x[..., 6], -x[..., 5], x[..., 4]], -1)
    return jnp.moveaxis(e, -1, -4), jnp.moveaxis(h, -1, -4)


def _output(y, dim: int = 2):
    """``(B, *spatial, 1, 2^dim)`` with only the field blades nonzero, from ``(B, *spatial, 1, 2^dim)``
    multivectors or ``(B, *spatial, F)`` real fields."""
    fb = field_blades(dim)
    if y.shape[-1] == len(fb) and y.ndim == dim + 2:
        y = y[..., None, :]
    else:
        y = y[..., list(fb)]
    out = jnp.zeros((*y.shape[:-1], 2**dim), y.dtype)
    return out.at[..., list(fb)].set(y)


def _real_input(x, dim: int = 2):
    fb = field_blades(dim)
    sel = x[..., : len(fb)] if fb == tuple(range(len(fb))) else x[..., list(fb)]
    return sel.reshape(*x.shape[:-2], x.shape[-2] * len(fb))


def _pad(padding_mode: str) -> str:
    if padding_mode not in ("zeros", "circular"):
        raise ValueError(f"padding_mode must be 'zeros' or 'circular', got {padding_mode!r}")
    return "SAME" if padding_mode == "zeros" else "CIRCULAR"


class ResNet(nn.Module):
    """ResNet baseline: ``(B, H, W, T, 4) -> (B, H, W, 1, 4)`` through ordinary convs on ``3 T`` real channels."""

    time_history: int = 4
    hidden: int = 128
    num_blocks: int = 4
    kernel_size: int = 3
    padding_mode: str = "zeros"

    _ndim: ClassVar[int] = 2

    @nn.compact
    def __call__(self, x):
        d = self._ndim
        check_input(x, self.time_history, type(self).__name__, d)
        pad = _pad(self.padding_mode)
        conv = lambda f, k, name: nn.Conv(f, (k,) * d, padding=pad if k > 1 else "VALID", name=name)
        h = conv(self.hidden, 1, "embed_2")(nn.gelu(conv(self.hidden, 1, "embed_1")(_real_input(x, d))))
        for i in range(self.num_blocks):
            r = conv(self.hidden, self.kernel_size, f"block_{i}_conv_1")(nn.gelu(h))
            h = h + conv(self.hidden, self.kernel_size, f"block_{i}_conv_2")(nn.gelu(r))
        y = conv(len(field_blades(d)), 1, "project_2")(nn.gelu(conv(self.hidden, 1, "project_1")(nn.gelu(h))))
        return _output(y, d)


class CResNet(nn.Module):
    """Clifford ResNet: ``(B, H, W, T, 4) -> (B, H, W, 1, 4)``; ``hidden`` multivector channels, metric ``g``.

    ``rotation=True`` uses the rotational Clifford conv in the residual blocks (needs ``g = (-1, -1)``;
    see :class:`CResNetRot`)."""

    time_history: int = 4
    hidden: int = 64
    num_blocks: int = 4
    kernel_size: int = 3
    padding_mode: str = "zeros"
    g: Sequence[int] = (1, 1)
    rotation: bool = False

    _ndim: ClassVar[int] = 2

    @nn.compact
    def __call__(self, x):
        d = self._ndim
        check_input(x, self.time_history, type(self).__name__, d)
        _pad(self.padding_mode)
        if len(tuple(self.g)) != d:
            raise ValueError(f"{type(self).__name__} needs a metric g of {d} entries, got {tuple(self.g)}")
        k = self.kernel_size
        Conv = _CONV[d]
        conv1 = lambda f, name: Conv(tuple(self.g), f, kernel_size=1, name=name)
        conv = lambda name: Conv(tuple(self.g), self.hidden, kernel_size=k, padding=k // 2,
                                 padding_mode=self.padding_mode, rotation=self.rotation, name=name)
        h = conv1(self.hidden, "embed_2")(nn.gelu(conv1(self.hidden, "embed_1")(x)))
        for i in range(self.num_blocks):
            r = conv(f"block_{i}_conv_1")(nn.gelu(h))
            h = h + conv(f"block_{i}_conv_2")(nn.gelu(r))
        y = conv1(1, "project_2")(nn.gelu(conv1(self.hidden, "project_1")(nn.gelu(h))))
        return _output(y, d)


class CResNetRot(CResNet):
    """Rotational Clifford ResNet: :class:`CResNet` with ``g = (-1, -1)`` and rotational convs in the blocks."""

    g: Sequence[int] = (-1, -1)
    rotation: bool = True


class SpectralConv(nn.Module):
    """Real N-d Fourier layer (Li et al.'s FNO): ``(B, *spatial, C) -> (B, *spatial, features)``.

    The lowest ``modes = (m1, ..., md)`` frequencies (``m_i`` positive and ``m_i`` negative along each
    axis but the last, ``md`` non-negative along the last axis of the rfft) multiplied by complex
    ``(C, O)`` weights; the rest dropped. Weights ``weight_real`` / ``weight_imag``
    ``(2^(d-1), m1, ..., md, C, O)`` (one per corner: low/high along each axis but the last, in
    ``itertools.product`` order), uniform in ``[0, 1 / (C O))``."""

    features: int
    modes: Sequence[int]

    _ndim: ClassVar[int] = 2

    @nn.compact
    def __call__(self, x):
        d = self._ndim
        if x.ndim != d + 2:
            raise ValueError(f"{type(self).__name__} takes (batch, *{d} spatial, channels), got shape {x.shape}")
        spatial, c = x.shape[1:-1], x.shape[-1]
        modes = tuple(self.modes)
        if len(modes) != d or any(not (1 <= m and 2 * m <= n) for m, n in zip(modes, spatial)):
            raise ValueError(f"modes {modes} must satisfy 1 <= m and 2 m <= size for spatial shape {spatial}")
        scale = 1.0 / (c * self.features)
        init = lambda key, shape: scale * jax.random.uniform(key, shape)
        shape = (2 ** (d - 1), *modes, c, self.features)
        wc = self.param("weight_real", init, shape) + 1j * self.param("weight_imag", init, shape)
        axes = tuple(range(1, d + 1))
        xf = jnp.fft.rfftn(x, axes=axes)
        out = jnp.zeros((x.shape[0], *spatial[:-1], spatial[-1] // 2 + 1, self.features), wc.dtype)
        letters = "xyz"[:d]
        eq = f"b{letters}c,{letters}co->b{letters}o"
        for j, corner in enumerate(itertools.product((0, 1), repeat=d - 1)):
            idx = tuple(slice(0, m) if hi == 0 else slice(n - m, n) for hi, m, n in zip(corner, modes, spatial))
            idx = (slice(None), *idx, slice(0, modes[-1]))
            out = out.at[idx].set(jnp.einsum(eq, xf[idx], wc[j]))
        return jnp.fft.irfftn(out, s=spatial, axes=axes).astype(x.dtype)


class SpectralConv2d(SpectralConv):
    """Real 2D Fourier layer ``(B, H, W, C) -> (B, H, W, features)``; weights ``(2, m1, m2, C, O)``. See :class:`SpectralConv`."""

    _ndim: ClassVar[int] = 2


class SpectralConv3d(SpectralConv):
    """Real 3D Fourier layer ``(B, X, Y, Z, C) -> (B, X, Y, Z, features)``; weights ``(4, m1, m2, m3, C, O)``."""

    _ndim: ClassVar[int] = 3


_REAL_SPECTRAL = {2: SpectralConv2d, 3: SpectralConv3d}


class FNO2d(nn.Module):
    """FNO baseline: ``(B, H, W, T, 4) -> (B, H, W, 1, 4)``; Fourier blocks ``gelu(spectral(h) + conv1x1(h))``."""

    time_history: int = 4
    hidden: int = 64
    num_blocks: int = 4
    modes: Sequence[int] = (16, 16)

    _ndim: ClassVar[int] = 2

    @nn.compact
    def __call__(self, x):
        d = self._ndim
        check_input(x, self.time_history, type(self).__name__, d)
        conv1 = lambda f, name: nn.Conv(f, (1,) * d, name=name)
        h = conv1(self.hidden, "embed_2")(nn.gelu(conv1(self.hidden, "embed_1")(_real_input(x, d))))
        for i in range(self.num_blocks):
            h = nn.gelu(_REAL_SPECTRAL[d](self.hidden, tuple(self.modes), name=f"block_{i}_fourier")(h)
                        + conv1(self.hidden, f"block_{i}_conv")(h))
        y = conv1(len(field_blades(d)), "project_2")(nn.gelu(conv1(self.hidden, "project_1")(h)))
        return _output(y, d)


class CFNO(nn.Module):
    """Clifford FNO: ``(B, H, W, T, 4) -> (B, H, W, 1, 4)``; blocks ``gelu(CliffordSpectralConv2d(h) + CliffordConv1x1(h))``."""

    time_history: int = 4
    hidden: int = 32
    num_blocks: int = 4
    modes: Sequence[int] = (16, 16)
    g: Sequence[int] = (1, 1)

    _ndim: ClassVar[int] = 2

    @nn.compact
    def __call__(self, x):
        d = self._ndim
        check_input(x, self.time_history, type(self).__name__, d)
        g = tuple(self.g)
        if len(g) != d:
            raise ValueError(f"{type(self).__name__} needs a metric g of {d} entries, got {g}")
        conv1 = lambda f, name: _CONV[d](g, f, kernel_size=1, name=name)
        h = conv1(self.hidden, "embed_2")(nn.gelu(conv1(self.hidden, "embed_1")(x)))
        for i in range(self.num_blocks):
            h = nn.gelu(_SPECTRAL[d](g, self.hidden, tuple(self.modes), name=f"block_{i}_fourier")(h)
                        + conv1(self.hidden, f"block_{i}_conv")(h))
        y = conv1(1, "project_2")(nn.gelu(conv1(self.hidden, "project_1")(h)))
        return _output(y, d)


class ResNet3d(ResNet):
    """3D ResNet baseline: ``(B, X, Y, Z, T, 8) -> (B, X, Y, Z, 1, 8)`` on ``6 T`` real channels (E, H)."""

    hidden: int = 90  # baseline_width(32, 3): the parameter count of CResNet3d's default
    padding_mode: str = "circular"
    _ndim: ClassVar[int] = 3


class CResNet3d(CResNet):
    """3D Clifford ResNet (``CliffordConv3d``, Cl(3, 0)): ``(B, X, Y, Z, T, 8) -> (B, X, Y, Z, 1, 8)``."""

    hidden: int = 32
    padding_mode: str = "circular"
    g: Sequence[int] = (1, 1, 1)
    _ndim: ClassVar[int] = 3


class FNO3d(FNO2d):
    """3D FNO baseline: ``(B, X, Y, Z, T, 8) -> (B, X, Y, Z, 1, 8)`` on ``6 T`` real channels (E, H)."""

    hidden: int = 45  # baseline_width(16, 3)
    modes: Sequence[int] = (8, 8, 8)
    _ndim: ClassVar[int] = 3


class CFNO3d(CFNO):
    """3D Clifford FNO (``CliffordSpectralConv3d``, Cl(3, 0)): ``(B, X, Y, Z, T, 8) -> (B, X, Y, Z, 1, 8)``."""

    hidden: int = 16
    modes: Sequence[int] = (8, 8, 8)
    g: Sequence[int] = (1, 1, 1)
    _ndim: ClassVar[int] = 3


MODELS = {"resnet": ResNet, "cresnet": CResNet, "cresnet_rot": CResNetRot, "fno": FNO2d, "cfno": CFNO}
MODELS_3D = {"resnet": ResNet3d, "cresnet": CResNet3d, "fno": FNO3d, "cfno": CFNO3d}
CLIFFORD_MODELS = ("cresnet", "cresnet_rot", "cfno")


def model_names(dim: int = 2) -> list[str]:
    """The model names :func:`make_model` accepts in ``dim`` dimensions."""
    return sorted({2: MODELS, 3: MODELS_3D}[dim]) if dim in (2, 3) else []


def make_model(name: str, *, time_history: int = 4, hidden: int | None = None, baseline_hidden: int | None = None,
               num_blocks: int = 4, modes: Sequence[int] | None = None, padding_mode: str = "zeros",
               dim: int = 2) -> nn.Module:
    """One of :data:`MODELS` (``dim=2``) or :data:`MODELS_3D` (``dim=3``) by name. Clifford models get
    ``hidden`` multivector channels, the real baselines ``baseline_hidden`` (default
    :func:`baseline_width` of ``hidden``: equal parameter count); None or 0 keeps the class default
    (2D: ResNet 128, CResNet 64, FNO2d 64, CFNO 32; 3D: ResNet3d 90, CResNet3d 32, FNO3d 45, CFNO3d 16).
    ``modes`` None: 16 per axis in 2D, 8 in 3D."""
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3, got {dim}")
    table = MODELS if dim == 2 else MODELS_3D
    if name not in table:
        if dim == 3 and name in MODELS:
            raise ValueError(f"model {name!r} is 2D only; in 3D choose one of {sorted(table)}")
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(table)}")
    clifford = name in CLIFFORD_MODELS
    width = hidden if clifford else (baseline_hidden or (baseline_width(hidden, dim) if hidden else None))
    kw = dict(time_history=time_history, num_blocks=num_blocks)
    if width:
        kw["hidden"] = width
    if name in ("fno", "cfno"):
        modes = tuple(modes) if modes is not None else (16,) * 2 if dim == 2 else (8,) * 3
        if len(modes) != dim:
            raise ValueError(f"modes {modes} must have {dim} entries (one per spatial axis)")
        kw["modes"] = modes
    else:
        kw["padding_mode"] = padding_mode
    return table[name](**kw)


def count_params(params) -> int:
    """Number of scalar parameters in a pytree (e.g. ``model.init(...)``)."""
    return int(sum(math.prod(jnp.shape(p)) for p in jax.tree.leaves(params)))
