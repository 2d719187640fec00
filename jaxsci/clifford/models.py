"""Surrogates of the Clifford-layers paper for 2D Navier-Stokes smoke (Brandstetter et al., ICLR 2023).

One frame of the smoke data is a multivector field of Cl(2, 0): scalar = smoke density, vector =
velocity ``(vx, vy)``, bivector = 0. Every model here has the same interface:

    x (B, H, W, time_history, 4)  ->  y (B, H, W, 1, 4)

``time_history`` input frames as multivector channels (blades ``1, e1, e2, e12``) to the next frame;
the bivector of the output is set to 0 (the target has none), so a rollout can feed outputs back.

- :class:`ResNet`, :class:`FNO2d`: baselines on the real channels ``3 * time_history`` (per frame
  smoke, vx, vy; the zero bivector dropped), ``hidden`` real channels.
- :class:`CResNet`, :class:`CResNetRot`, :class:`CFNO`: the same architectures with Clifford layers,
  ``hidden`` multivector channels. A Clifford layer of ``C -> O`` multivector channels has
  ``4 C O`` weights per kernel tap, a real one of ``2C -> 2O`` channels ``4 C O``: the baselines at
  twice the width match the Clifford models' parameter count (the paper's comparison).

Architecture (the paper's, as in ``cliffordlayers``' ``CliffordFluidNet2d`` / ``CliffordFourierNet2d``):
two 1x1 embedding convs (GELU between), ``num_blocks`` blocks, two 1x1 projection convs (GELU before
each). ResNet block: ``h + conv(gelu(conv(gelu(h))))`` with 3x3 convs; Fourier block:
``gelu(spectral(h) + conv1x1(h))``. GELU acts on every blade separately. No normalisation (the
paper's smoke models use none). ``padding_mode`` ``"zeros"`` (default: the smoke lives in a closed
box) or ``"circular"`` (periodic data).
"""

from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxsci.clifford.layers import CliffordConv2d, CliffordSpectralConv2d

BLADES = 4  # Cl(2, 0): 1, e1, e2, e12
FIELDS = 3  # smoke, vx, vy


def check_input(x, time_history: int, name: str) -> None:
    """Raise ValueError unless ``x`` is ``(B, H, W, time_history, 4)``."""
    shape = tuple(jnp.shape(x))
    if len(shape) != 5 or shape[-1] != BLADES or shape[-2] != time_history:
        raise ValueError(f"{name} takes multivector fields (batch, H, W, time_history={time_history}, {BLADES} blades "
                         f"[smoke, vx, vy, 0]), got shape {shape}")


def to_multivector(smoke, velocity):
    """``smoke (..., H, W)``, ``velocity (..., 2, H, W)`` -> ``(..., H, W, 4)`` (bivector 0)."""
    v = jnp.moveaxis(jnp.asarray(velocity), -3, -1)
    s = jnp.asarray(smoke)[..., None]
    return jnp.concatenate([s, v, jnp.zeros_like(s)], -1)


def _output(y):
    """``(B, H, W, 1, 4)`` with a zero bivector from ``(B, H, W, 1, 4)`` or ``(B, H, W, 3)`` fields."""
    if y.shape[-1] == FIELDS:
        y = y[..., None, :]
    return jnp.concatenate([y[..., :FIELDS], jnp.zeros_like(y[..., :1])], -1)


def _real_input(x):
    b, h, w, t, _ = x.shape
    return x[..., :FIELDS].reshape(b, h, w, t * FIELDS)


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

    @nn.compact
    def __call__(self, x):
        check_input(x, self.time_history, "ResNet")
        pad = _pad(self.padding_mode)
        conv = lambda f, k, name: nn.Conv(f, (k, k), padding=pad if k > 1 else "VALID", name=name)
        h = conv(self.hidden, 1, "embed_2")(nn.gelu(conv(self.hidden, 1, "embed_1")(_real_input(x))))
        for i in range(self.num_blocks):
            r = conv(self.hidden, self.kernel_size, f"block_{i}_conv_1")(nn.gelu(h))
            h = h + conv(self.hidden, self.kernel_size, f"block_{i}_conv_2")(nn.gelu(r))
        y = conv(FIELDS, 1, "project_2")(nn.gelu(conv(self.hidden, 1, "project_1")(nn.gelu(h))))
        return _output(y)


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

    @nn.compact
    def __call__(self, x):
        check_input(x, self.time_history, type(self).__name__)
        _pad(self.padding_mode)
        k = self.kernel_size
        conv1 = lambda f, name: CliffordConv2d(tuple(self.g), f, kernel_size=1, name=name)
        conv = lambda name: CliffordConv2d(tuple(self.g), self.hidden, kernel_size=k, padding=k // 2,
                                           padding_mode=self.padding_mode, rotation=self.rotation, name=name)
        h = conv1(self.hidden, "embed_2")(nn.gelu(conv1(self.hidden, "embed_1")(x)))
        for i in range(self.num_blocks):
            r = conv(f"block_{i}_conv_1")(nn.gelu(h))
            h = h + conv(f"block_{i}_conv_2")(nn.gelu(r))
        y = conv1(1, "project_2")(nn.gelu(conv1(self.hidden, "project_1")(nn.gelu(h))))
        return _output(y)


class CResNetRot(CResNet):
    """Rotational Clifford ResNet: :class:`CResNet` with ``g = (-1, -1)`` and rotational convs in the blocks."""

    g: Sequence[int] = (-1, -1)
    rotation: bool = True


class SpectralConv2d(nn.Module):
    """Real 2D Fourier layer (Li et al.'s FNO): ``(B, H, W, C) -> (B, H, W, features)``.

    The lowest ``modes = (m1, m2)`` frequencies (``m1`` positive and ``m1`` negative along H, ``m2``
    non-negative along W of the rfft) multiplied by complex ``(C, O)`` weights; the rest dropped.
    Weights ``weight_real`` / ``weight_imag`` ``(2, m1, m2, C, O)``, uniform in ``[0, 1 / (C O))``."""

    features: int
    modes: Sequence[int]

    @nn.compact
    def __call__(self, x):
        b, h, w, c = x.shape
        m1, m2 = self.modes
        if not (1 <= m1 and 2 * m1 <= h and 1 <= m2 and 2 * m2 <= w):
            raise ValueError(f"modes {tuple(self.modes)} must satisfy 1 <= m and 2 m <= size for spatial shape {(h, w)}")
        scale = 1.0 / (c * self.features)
        init = lambda key, shape: scale * jax.random.uniform(key, shape)
        shape = (2, m1, m2, c, self.features)
        wc = self.param("weight_real", init, shape) + 1j * self.param("weight_imag", init, shape)
        xf = jnp.fft.rfft2(x, axes=(1, 2))
        top = jnp.einsum("bxyc,xyco->bxyo", xf[:, :m1, :m2], wc[0])
        bottom = jnp.einsum("bxyc,xyco->bxyo", xf[:, h - m1:, :m2], wc[1])
        out = jnp.zeros((b, h, w // 2 + 1, self.features), top.dtype)
        out = out.at[:, :m1, :m2].set(top).at[:, h - m1:, :m2].set(bottom)
        return jnp.fft.irfft2(out, s=(h, w), axes=(1, 2)).astype(x.dtype)


class FNO2d(nn.Module):
    """FNO baseline: ``(B, H, W, T, 4) -> (B, H, W, 1, 4)``; Fourier blocks ``gelu(spectral(h) + conv1x1(h))``."""

    time_history: int = 4
    hidden: int = 64
    num_blocks: int = 4
    modes: Sequence[int] = (16, 16)

    @nn.compact
    def __call__(self, x):
        check_input(x, self.time_history, "FNO2d")
        conv1 = lambda f, name: nn.Conv(f, (1, 1), name=name)
        h = conv1(self.hidden, "embed_2")(nn.gelu(conv1(self.hidden, "embed_1")(_real_input(x))))
        for i in range(self.num_blocks):
            h = nn.gelu(SpectralConv2d(self.hidden, tuple(self.modes), name=f"block_{i}_fourier")(h)
                        + conv1(self.hidden, f"block_{i}_conv")(h))
        y = conv1(FIELDS, "project_2")(nn.gelu(conv1(self.hidden, "project_1")(h)))
        return _output(y)


class CFNO(nn.Module):
    """Clifford FNO: ``(B, H, W, T, 4) -> (B, H, W, 1, 4)``; blocks ``gelu(CliffordSpectralConv2d(h) + CliffordConv1x1(h))``."""

    time_history: int = 4
    hidden: int = 32
    num_blocks: int = 4
    modes: Sequence[int] = (16, 16)
    g: Sequence[int] = (1, 1)

    @nn.compact
    def __call__(self, x):
        check_input(x, self.time_history, "CFNO")
        g = tuple(self.g)
        conv1 = lambda f, name: CliffordConv2d(g, f, kernel_size=1, name=name)
        h = conv1(self.hidden, "embed_2")(nn.gelu(conv1(self.hidden, "embed_1")(x)))
        for i in range(self.num_blocks):
            h = nn.gelu(CliffordSpectralConv2d(g, self.hidden, tuple(self.modes), name=f"block_{i}_fourier")(h)
                        + conv1(self.hidden, f"block_{i}_conv")(h))
        y = conv1(1, "project_2")(nn.gelu(conv1(self.hidden, "project_1")(h)))
        return _output(y)


MODELS = {"resnet": ResNet, "cresnet": CResNet, "cresnet_rot": CResNetRot, "fno": FNO2d, "cfno": CFNO}


def make_model(name: str, *, time_history: int = 4, hidden: int | None = None, baseline_hidden: int | None = None,
               num_blocks: int = 4, modes: Sequence[int] = (16, 16), padding_mode: str = "zeros") -> nn.Module:
    """One of :data:`MODELS` by name. Clifford models get ``hidden`` multivector channels, the real
    baselines ``baseline_hidden`` (default ``2 * hidden``: equal parameter count); None or 0 keeps the
    class default (ResNet 128, CResNet 64, FNO2d 64, CFNO 32)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    clifford = name in ("cresnet", "cresnet_rot", "cfno")
    width = hidden if clifford else (baseline_hidden or (2 * hidden if hidden else None))
    kw = dict(time_history=time_history, num_blocks=num_blocks)
    if width:
        kw["hidden"] = width
    if name in ("fno", "cfno"):
        kw["modes"] = tuple(modes)
    else:
        kw["padding_mode"] = padding_mode
    return MODELS[name](**kw)


def count_params(params) -> int:
    """Number of scalar parameters in a pytree (e.g. ``model.init(...)``)."""
    return int(sum(math.prod(jnp.shape(p)) for p in jax.tree.leaves(params)))
