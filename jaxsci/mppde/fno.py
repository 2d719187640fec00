"""The FNO baseline of the MP-PDE paper (Li et al. 2021's 1D Fourier neural operator), with the same
interface and temporal-bundling output as :class:`~jaxsci.mppde.MPPDESolver`, so the pushforward loss,
the rollout and the metric apply unchanged ("FNO-PF" in the paper's tables).

Input per node ``[u (K), x / L, variables]`` lifted to ``width`` channels; ``num_layers`` Fourier
layers ``h <- GELU(SpectralConv(h) + W h)`` (no GELU after the last); projection ``width -> 128 -> K``
gives ``d``; ``u(t_k) = u(t_0) + k dt d_k``. The grid must be regular and periodic (FFT along nodes).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class SpectralConv1d(nn.Module):
    """``(N, C) -> (N, O)``: multiply the lowest ``modes`` Fourier coefficients by learned complex
    ``(modes, C, O)`` weights and discard the rest (Li et al.'s initialisation: uniform in
    ``[0, 1/(C O))`` for real and imaginary parts)."""

    features: int
    modes: int

    @nn.compact
    def __call__(self, x):
        n, c = x.shape
        if self.modes > n // 2 + 1:
            raise ValueError(f"modes={self.modes} exceeds the {n // 2 + 1} rfft coefficients of {n} points")
        scale = 1.0 / (c * self.features)
        init = lambda key, shape: scale * jax.random.uniform(key, shape)
        w_re = self.param("weight_real", init, (self.modes, c, self.features))
        w_im = self.param("weight_imag", init, (self.modes, c, self.features))
        x_ft = jnp.fft.rfft(x, axis=0)[: self.modes]
        out_ft = jnp.einsum("mc,mco->mo", x_ft, w_re + 1j * w_im)
        out_ft = jnp.zeros((n // 2 + 1, self.features), out_ft.dtype).at[: self.modes].set(out_ft)
        return jnp.fft.irfft(out_ft, n=n, axis=0).astype(x.dtype)


class FNO1d(nn.Module):
    """FNO with MP-PDE's call signature: ``(u (N, K), x_norm (N,), x_offsets, variables (V,), dt, graph)``
    -> ``(N, K)``; ``x_offsets`` and ``graph`` are ignored."""

    time_window: int = 25
    width: int = 64
    modes: int = 16
    num_layers: int = 4

    @nn.compact
    def __call__(self, u, x_norm, x_offsets, variables, dt, graph=None):
        n, k = u.shape
        var_nodes = jnp.broadcast_to(variables, (n, variables.shape[-1]))
        h = nn.Dense(self.width, name="lift")(jnp.concatenate([u, x_norm[:, None], var_nodes], -1))
        for i in range(self.num_layers):
            h = SpectralConv1d(self.width, self.modes, name=f"spectral_{i}")(h) + nn.Dense(self.width, name=f"pointwise_{i}")(h)
            if i < self.num_layers - 1:
                h = nn.gelu(h)
        d = nn.Dense(self.time_window, name="project_2")(nn.gelu(nn.Dense(128, name="project_1")(h)))
        steps = jnp.arange(1, self.time_window + 1, dtype=u.dtype) * dt
        return u[:, -1:] + steps * d
