"""END, the equivariant neural decoder (Egorov, Bondesan & Welling 2023), and its non-equivariant twin.

Both share one translation-equivariant trunk: periodic (circular) convolutions over the torus that map
the syndrome ``(L, L, 2)`` to 16 logits per site ``(L, L, 16)``. Heads:

* ``"end"`` (END): the logits of site ``(i, j)`` are read as the class of the syndrome translated so
  that ``(i, j)`` sits at the origin; each is mapped back to the global frame by the syndrome-dependent
  XOR of :func:`~jaxsci.end.toric.site_flips` and the 16-vectors are averaged over sites (the paper's
  equivariant pooling, "logic_action_average" in the authors' code). The decoder is then exactly
  equivariant: ``decode(T s) = permute(decode(s), translation_flip(s, shift))``, the symmetry of the
  optimal decoder.
* ``"fc"``: the non-equivariant baseline, a dense layer over all ``L^2 x 16`` site outputs (tied to L).
* ``"mean"``: a plain average over sites: translation-*invariant*, which the optimal decoder is not
  (an ablation showing why the flip matters).

Trunk (the authors' ``conv_maker``): conv -> GELU -> norm twice at ``channels[0]``, then for each next
width a residual conv block and a widening conv, and a last conv to 16 channels. The authors use
batch norm; we use a per-site layer norm (translation-equivariant, no batch statistics to carry
through the shared loop, identical in training and evaluation).
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxsci.end import toric

HEADS = ("end", "fc", "mean")


class CircularConv(nn.Module):
    """A 2D convolution with periodic padding (the torus), channels-last."""

    features: int
    kernel_size: int = 3
    dtype: jnp.dtype | None = None

    @nn.compact
    def __call__(self, x):
        k = self.kernel_size
        return nn.Conv(self.features, (k, k), padding="CIRCULAR", dtype=self.dtype,
                       kernel_init=nn.initializers.kaiming_normal())(x)


class Trunk(nn.Module):
    """Syndrome features ``(B, L, L, C_in)`` -> per-site logits ``(B, L, L, 16)``."""

    channels: Sequence[int] = (32, 64, 64)
    kernel_sizes: Sequence[int] = (3, 3, 3)
    dtype: jnp.dtype | None = None

    @nn.compact
    def __call__(self, x):
        ch, ks = tuple(self.channels), tuple(self.kernel_sizes)
        if len(ch) != len(ks):
            raise ValueError(f"channels {ch} and kernel_sizes {ks} must have the same length")
        act = nn.gelu
        norm = lambda: nn.LayerNorm(dtype=self.dtype)
        conv = lambda c, k: CircularConv(c, k, dtype=self.dtype)
        x = norm()(act(conv(ch[0], ks[0])(x)))
        x = norm()(act(conv(ch[0], ks[0])(x)))
        for i in range(len(ch) - 1):
            x = x + norm()(act(conv(ch[i], ks[i])(x)))
            x = norm()(act(x))
            x = norm()(act(conv(ch[i + 1], ks[i])(x)))
        return conv(toric.NUM_CLASSES, ks[-1])(x)


class Decoder(nn.Module):
    """A neural decoder: syndromes ``(B, L, L, 2)`` (bool or 0/1) -> class logits ``(B, 16)`` (float32).

    ``head`` is ``"end"`` (the equivariant decoder), ``"fc"`` (non-equivariant) or ``"mean"``."""

    head: str = "end"
    channels: Sequence[int] = (32, 64, 64)
    kernel_sizes: Sequence[int] = (3, 3, 3)
    dtype: jnp.dtype | None = None  # computation dtype of the trunk (e.g. bfloat16); logits are float32

    @nn.compact
    def __call__(self, s):
        if self.head not in HEADS:
            raise ValueError(f"unknown head {self.head!r}; choose from {HEADS}")
        toric.check_syndrome(s)
        if s.ndim != 4:
            raise ValueError(f"the decoder wants a batch of syndromes (B, L, L, 2), got shape {s.shape}")
        x = 2.0 * s.astype(self.dtype or jnp.float32) - 1.0  # defects +1, quiet checks -1
        y = Trunk(self.channels, self.kernel_sizes, self.dtype)(x).astype(jnp.float32)  # (B, L, L, 16)
        if self.head == "fc":
            return nn.Dense(toric.NUM_CLASSES)(y.reshape(y.shape[0], -1))
        if self.head == "end":
            y = toric.permute_logits(y, toric.site_flips(s))
        return y.mean(axis=(1, 2))
