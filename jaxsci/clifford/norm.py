"""Clifford batch and group normalisation: multivector whitening with the I x I blade covariance.

Layout ``(batch, *spatial, channels, blades)``. For each statistics group the mean multivector is
subtracted and the blades are decorrelated with the Cholesky factor of ``cov + eps * 1``; then an
optional affine map ``y = W x + b`` with ``W (I, I)`` and ``b (I,)`` per channel (batch norm) or per
group (group norm) is applied.

``exact_whitening=False`` (the default) computes what ``cliffordlayers`` 0.1.1 computes: with
``cov + eps 1 = L L^T`` it returns ``L^{-T} (x - mean)``. That decorrelates the blades but does NOT
give unit covariance (the result has covariance ``L^{-T} L L^T L^{-1}``, which is diagonal only when
``L`` is). ``exact_whitening=True`` returns ``L^{-1} (x - mean)``, whose covariance is the identity.
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxsci.clifford.algebra import as_algebra

Metric = Any


def whitening_matrix(cov, eps: float, exact: bool = False):
    """``(..., I, I)`` matrix ``A`` with ``x_white = A (x - mean)`` (see the module docstring)."""
    I = cov.shape[-1]
    lower = jnp.linalg.cholesky(cov + eps * jnp.eye(I, dtype=cov.dtype))
    eye = jnp.broadcast_to(jnp.eye(I, dtype=cov.dtype), lower.shape)
    if exact:
        return jax.scipy.linalg.solve_triangular(lower, eye, lower=True)  # L^-1
    return jax.scipy.linalg.solve_triangular(jnp.swapaxes(lower, -1, -2), eye, lower=False)  # L^-T


def _stats(x, axes: Sequence[int]):
    """Mean ``(..., I)`` and biased covariance ``(..., I, I)`` over ``axes`` of ``x (..., I)``."""
    mean = jnp.mean(x, axis=axes, keepdims=True)
    xc = x - mean
    n = 1
    for a in axes:
        n *= x.shape[a]
    cov = jnp.einsum("...i,...j->...ij", xc, xc)
    cov = jnp.sum(cov, axis=axes) / n
    return jnp.squeeze(mean, axis=axes), cov


class CliffordBatchNorm(nn.Module):
    """Clifford batch norm over ``(batch, *spatial)`` for each channel: ``(B, *S, C, I) -> same``.

    Attributes:
        g: metric (only the number of blades matters); use_running_average: use the stored
        ``batch_stats`` (``mean (C, I)``, ``cov (C, I, I)``) instead of the batch's; momentum:
        PyTorch meaning, ``running = (1 - momentum) running + momentum batch``; epsilon: added to
        the covariance diagonal; affine: learn ``weight (C, I, I)`` (init identity) and
        ``bias (C, I)`` (init 0); exact_whitening: see the module docstring.
    """

    g: Metric
    use_running_average: bool | None = None
    momentum: float = 0.1
    epsilon: float = 1e-5
    affine: bool = True
    exact_whitening: bool = False

    @nn.compact
    def __call__(self, x, use_running_average: bool | None = None):
        alg = as_algebra(self.g)
        alg.check(x, "input")
        if x.ndim < 3:
            raise ValueError(f"input must be (batch, *spatial, channels, blades), got shape {x.shape}")
        use_ra = nn.merge_param("use_running_average", self.use_running_average, use_running_average)
        C, I = x.shape[-2:]
        ra_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros((C, I), jnp.float32))
        ra_cov = self.variable("batch_stats", "cov", lambda: jnp.broadcast_to(jnp.eye(I, dtype=jnp.float32), (C, I, I)))
        if use_ra:
            mean, cov = ra_mean.value, ra_cov.value
        else:
            mean, cov = _stats(x, tuple(range(x.ndim - 2)))
            if not self.is_initializing():
                m = self.momentum
                ra_mean.value = ra_mean.value + m * (jax.lax.stop_gradient(mean) - ra_mean.value)
                ra_cov.value = ra_cov.value + m * (jax.lax.stop_gradient(cov) - ra_cov.value)
        a = whitening_matrix(cov, self.epsilon, self.exact_whitening)  # (C, I, I)
        if self.affine:
            weight = self.param("weight", lambda k, s: jnp.broadcast_to(jnp.eye(I), s), (C, I, I))
            bias = self.param("bias", nn.initializers.zeros, (C, I))
            a = weight @ a
        y = jnp.einsum("cij,...cj->...ci", a.astype(x.dtype), x - mean.astype(x.dtype))
        if self.affine:
            y = y + bias.astype(x.dtype)
        return y


class CliffordGroupNorm(nn.Module):
    """Clifford group norm: ``(B, *S, C, I) -> same``; per sample, the channels are split into
    ``num_groups`` blocks of ``C / num_groups`` consecutive channels, each whitened over its
    channels and ``S`` together; the affine ``weight (num_groups, I, I)`` / ``bias (num_groups, I)``
    is per group. ``num_groups = C`` is Clifford instance norm, ``num_groups = 1`` layer norm.

    Note: ``cliffordlayers`` 0.1.1's ``CliffordGroupNorm(num_groups=G)`` forms ``C / G`` blocks of
    ``G`` channels, i.e. it equals ours with ``num_groups = C / G`` (its docstring says the
    opposite). Statistics are always those of the sample (no running averages).
    """

    g: Metric
    num_groups: int
    epsilon: float = 1e-5
    affine: bool = True
    exact_whitening: bool = False

    @nn.compact
    def __call__(self, x):
        alg = as_algebra(self.g)
        alg.check(x, "input")
        if x.ndim < 3:
            raise ValueError(f"input must be (batch, *spatial, channels, blades), got shape {x.shape}")
        B, *S, C, I = x.shape
        G = self.num_groups
        if G < 1 or C % G:
            raise ValueError(f"channels {C} must divide by num_groups={G}")
        xg = x.reshape(B, *S, G, C // G, I)
        axes = tuple(range(1, len(S) + 1)) + (len(S) + 2,)
        mean, cov = _stats(xg, axes)  # (B, G, I), (B, G, I, I)
        a = whitening_matrix(cov, self.epsilon, self.exact_whitening)
        bshape = (B,) + (1,) * len(S) + (G, 1, I)
        xc = xg - mean.reshape(bshape)
        if self.affine:
            weight = self.param("weight", lambda k, s: jnp.broadcast_to(jnp.eye(I), s), (G, I, I))
            bias = self.param("bias", nn.initializers.zeros, (G, I))
            a = weight @ a
        a = a.reshape((B,) + (1,) * len(S) + (G, 1, I, I)).astype(x.dtype)
        y = jnp.einsum("...ij,...j->...i", a, xc)
        if self.affine:
            y = y + bias[:, None, :].astype(x.dtype)
        return y.reshape(x.shape)
