"""The E(n)-equivariant graph network of EDM (Hoogeboom et al. 2022, Sec. 3.3 and App. B), on masked dense batches.

A molecule batch is dense: ``h (B, N, F)`` node features, ``x (B, N, 3)`` positions (Angstrom, divided by the
first normalisation factor), ``node_mask (B, N)``; the graph is complete over the real atoms (no self-loops).
For QM9 (N <= 29, every pair an edge) dense ``(B, N, N, nf)`` messages beat a scatter over an edge list (see
``benchmarks/edm.py``); padding atoms are masked out of every message and every update.

Layers, as in the paper's EGNN with EDM's changes (attention, tanh-bounded coordinate updates, normalised
coordinate differences, the initial distances as an extra edge attribute):

- GCL: ``m_ij = phi_e(h_i, h_j, d_ij^2, d0_ij^2)``, ``m_ij <- m_ij * sigmoid(phi_att(m_ij))``,
  ``h_i <- h_i + phi_h(h_i, sum_j m_ij / normalization_factor)``;
- equivariant update: ``x_i <- x_i + sum_j (x_i - x_j) / (|x_i - x_j| + norm_constant)
  * tanh(phi_x(h_i, h_j, d_ij^2, d0_ij^2)) * coords_range / normalization_factor``, ``phi_x``'s last layer without bias
  (xavier-uniform, gain 0.001);
- a block is ``inv_sublayers`` GCLs then one equivariant update; the network embeds h, runs ``num_layers``
  blocks and maps h back out.

:class:`EGNNDynamics` is EDM's noise predictor ``eps_hat(z_t, t)``: time (and an optional context) appended
to h, the EGNN run, and ``eps_x = x_out - x`` with its centre of mass removed.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxsci.core.nn import torch_dense, torch_uniform


def remove_mean(x: jax.Array, node_mask: jax.Array) -> jax.Array:
    """``x (B, N, D)`` minus the mean over the real atoms of each molecule (``node_mask (B, N)``); padding stays 0."""
    m = node_mask[..., None].astype(x.dtype)
    n = jnp.maximum(jnp.sum(m, axis=1, keepdims=True), 1.0)
    return (x - jnp.sum(x * m, axis=1, keepdims=True) / n) * m


def edge_mask_of(node_mask: jax.Array) -> jax.Array:
    """``(B, N, N)`` 1 for pairs of distinct real atoms."""
    m = node_mask.astype(jnp.float32)
    eye = jnp.eye(m.shape[-1], dtype=m.dtype)
    return m[:, :, None] * m[:, None, :] * (1.0 - eye)


def coord2diff(x: jax.Array, norm_constant: float) -> tuple[jax.Array, jax.Array]:
    """``(d2 (B, N, N, 1), diff (B, N, N, 3))``: squared distances and ``(x_i - x_j) / (|x_i - x_j| + c)``."""
    diff = x[:, :, None, :] - x[:, None, :, :]
    d2 = jnp.sum(diff**2, axis=-1, keepdims=True)
    return d2, diff / (jnp.sqrt(d2 + 1e-8) + norm_constant)


class PairMLP(nn.Module):
    """``phi([h_i, h_j, a_ij])`` for every pair: Linear, SiLU, Linear, SiLU -> ``(B, N, N, nf)``.

    The first layer's kernel ``W = [W_i; W_j; W_a]`` (the same parameters as one Linear on the concatenation) is
    applied per atom, ``h W_i`` and ``h W_j``, and broadcast over the pairs: ``N`` instead of ``N^2`` products with
    the ``2 nf x nf`` block, the same numbers as the concatenated form."""

    nf: int

    @nn.compact
    def __call__(self, h, edge_attr):
        f = h.shape[-1]
        fan_in = 2 * f + edge_attr.shape[-1]
        init = torch_uniform(fan_in)
        kernel = self.param("kernel", init, (fan_in, self.nf))
        bias = self.param("bias", init, (self.nf,))
        hi, hj = h @ kernel[:f], h @ kernel[f:2 * f]
        m = hi[:, :, None, :] + hj[:, None, :, :] + edge_attr @ kernel[2 * f:] + bias
        return nn.silu(torch_dense(self.nf, nn.silu(m), name="layer_1"))


class GCL(nn.Module):
    """Invariant graph convolution: ``h (B, N, nf)`` -> ``h (B, N, nf)`` (residual), with attention."""

    nf: int
    normalization_factor: float = 1.0
    attention: bool = True

    @nn.compact
    def __call__(self, h, edge_attr, node_mask, edge_mask):
        m = PairMLP(self.nf, name="edge_mlp")(h, edge_attr)
        if self.attention:
            m = m * nn.sigmoid(torch_dense(1, m, name="att_mlp"))
        agg = jnp.sum(m * edge_mask[..., None], axis=2) / self.normalization_factor
        out = torch_dense(self.nf, nn.silu(torch_dense(self.nf, jnp.concatenate([h, agg], -1), name="node_mlp_0")),
                          name="node_mlp_1")
        return (h + out) * node_mask[..., None]


class EquivariantUpdate(nn.Module):
    """``x_i <- x_i + sum_j diff_ij tanh(phi_x(h_i, h_j, a_ij)) coords_range / normalization_factor``."""

    nf: int
    normalization_factor: float = 1.0
    tanh: bool = True
    coords_range: float = 15.0

    @nn.compact
    def __call__(self, h, x, diff, edge_attr, node_mask, edge_mask):
        m = PairMLP(self.nf, name="coord_mlp")(h, edge_attr)
        phi = nn.Dense(1, use_bias=False, kernel_init=nn.initializers.variance_scaling(0.001**2, "fan_avg", "uniform"),
                       name="coord_mlp_out")(m)
        phi = jnp.tanh(phi) * self.coords_range if self.tanh else phi
        trans = diff * phi * edge_mask[..., None]
        return (x + jnp.sum(trans, axis=2) / self.normalization_factor) * node_mask[..., None]


class EGNNSettings(nn.Module):
    """The hyperparameters shared by :class:`EquivariantBlock`, :class:`EGNN` and :class:`EGNNDynamics` (the paper's
    QM9 values as defaults, apart from the width ``nf``, 256 there)."""

    nf: int = 256
    inv_sublayers: int = 1
    normalization_factor: float = 1.0
    attention: bool = True
    tanh: bool = True
    coords_range: float = 15.0
    norm_constant: float = 1.0

    def settings(self) -> dict:
        return {f: getattr(self, f) for f in ("nf", "inv_sublayers", "normalization_factor", "attention", "tanh",
                                              "coords_range", "norm_constant")}


class EquivariantBlock(EGNNSettings):
    """``inv_sublayers`` GCLs on ``[d_ij^2, d0_ij^2]`` edges, then one :class:`EquivariantUpdate`."""

    @nn.compact
    def __call__(self, h, x, d0, node_mask, edge_mask):
        d2, diff = coord2diff(x, self.norm_constant)
        edge_attr = jnp.concatenate([d2, d0], axis=-1)
        for i in range(self.inv_sublayers):
            h = GCL(self.nf, self.normalization_factor, self.attention, name=f"gcl_{i}")(h, edge_attr, node_mask, edge_mask)
        x = EquivariantUpdate(self.nf, self.normalization_factor, self.tanh, self.coords_range, name="gcl_equiv")(
            h, x, diff, edge_attr, node_mask, edge_mask)
        return h * node_mask[..., None], x


class EGNN(EGNNSettings):
    """``(h (B, N, F_in), x (B, N, 3), node_mask (B, N))`` -> ``(h (B, N, F_out), x (B, N, 3))``.

    Invariant in h, equivariant in x under rotations, reflections, translations and permutations of the atoms.
    The paper's QM9 setting: ``nf=256, num_layers=9, inv_sublayers=1, attention, tanh, coords_range=15,
    norm_constant=1, normalization_factor=1``. ``out_features`` None: F_out = F_in.
    """

    num_layers: int = 9
    out_features: int | None = None

    @nn.compact
    def __call__(self, h, x, node_mask):
        if h.ndim != 3 or x.ndim != 3 or x.shape[-1] != 3 or h.shape[:2] != x.shape[:2] or node_mask.shape != x.shape[:2]:
            raise ValueError(f"EGNN expects h (B, N, F), x (B, N, 3), node_mask (B, N); got {h.shape}, {x.shape}, "
                             f"{node_mask.shape}")
        out_features = h.shape[-1] if self.out_features is None else self.out_features
        node_mask = node_mask.astype(x.dtype)
        edge_mask = edge_mask_of(node_mask).astype(x.dtype)
        d0, _ = coord2diff(x, self.norm_constant)
        h = torch_dense(self.nf, h, name="embedding")
        for i in range(self.num_layers):
            h, x = EquivariantBlock(**self.settings(), name=f"e_block_{i}")(h, x, d0, node_mask, edge_mask)
        h = torch_dense(out_features, h, name="embedding_out")
        return h * node_mask[..., None], x


class EGNNDynamics(EGNNSettings):
    """EDM's noise predictor: ``(z (B, N, 3 + F), t (B,), node_mask (B, N)[, context (B, C)])`` -> ``eps_hat
    (B, N, 3 + F)``; ``t`` in [0, 1] (``t_int / T``) is appended to every atom's features, as is the context."""

    num_layers: int = 9
    condition_time: bool = True

    @nn.compact
    def __call__(self, z, t, node_mask, context=None):
        b, n, d = z.shape
        mask = node_mask.astype(z.dtype)[..., None]
        x, h = z[..., :3], z[..., 3:]
        extra = []
        if self.condition_time:
            extra.append(jnp.broadcast_to(jnp.reshape(t, (-1, 1, 1)).astype(z.dtype), (b, n, 1)))
        if context is not None:
            extra.append(jnp.broadcast_to(context[:, None, :].astype(z.dtype), (b, n, context.shape[-1])) * mask)
        h_in = jnp.concatenate([h, *extra], axis=-1)
        h_out, x_out = EGNN(**self.settings(), num_layers=self.num_layers, name="egnn")(h_in, x, node_mask)
        eps_x = remove_mean((x_out - x) * mask, node_mask)
        return jnp.concatenate([eps_x, h_out[..., : d - 3] * mask], axis=-1)
