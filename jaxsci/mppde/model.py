"""The MP-PDE solver network (Brandstetter, Worrall & Welling 2022, Sec. 2-3, eqs. 8-10).

Encoder -> processor -> decoder on ONE graph (a grid); vmap it over a batch of trajectories.

- Encoder: node input ``[u_i (K), x_i / L, variables]`` -> 2-layer Swish MLP -> ``h_i`` (hidden H).
- Processor: ``num_layers`` message-passing layers (eq. 8-9)::

      m_ij = phi([h_i, h_j, u_i - u_j, x_i - x_j, variables_i])       # 2-layer Swish MLP
      h_i <- h_i + psi([h_i, mean_j m_ij, variables_i])                 # 2-layer Swish MLP
      h <- InstanceNorm(h)                                              # per graph, per channel

  with ``variables = [t / T, equation parameters / their scale]``; i receives, j sends.
- Decoder (eq. 10, temporal bundling): a 1D CNN over the hidden vector of each node gives ``d``
  ``(K,)``, and ``u(t_k) = u(t_0) + (t_k - t_0) d_k`` for the next K steps, ``t_k - t_0 = k dt``.

Parameters are initialised as PyTorch does (uniform in ``+-1/sqrt(fan_in)``, weights and biases),
so the network starts where the original starts. Swish is ``x * sigmoid(x)`` (SiLU).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph

from jaxsci.core.nn import torch_dense, torch_uniform

# (hidden, time window) -> (kernel1, stride1, kernel2) of the original decoder CNN.
PAPER_DECODERS = {(128, 20): (15, 4, 10), (128, 25): (16, 3, 14), (128, 50): (12, 2, 10)}


def dense(features: int, x: jax.Array, name: str | None = None) -> jax.Array:
    """``nn.Dense`` with PyTorch's default initialisation (call inside a compact method)."""
    return torch_dense(features, x, name=name)


def decoder_shape(hidden: int, time_window: int) -> tuple[int, int, int]:
    """``(kernel1, stride1, kernel2)`` of the decoder: the paper's for H = 128, else a stride-1 pair."""
    if (hidden, time_window) in PAPER_DECODERS:
        return PAPER_DECODERS[(hidden, time_window)]
    if hidden < time_window:
        raise ValueError(f"the decoder needs hidden >= time_window, got hidden={hidden}, time_window={time_window}")
    k1 = (hidden - time_window) // 2 + 1
    return k1, 1, hidden - k1 + 1 - time_window + 1


def instance_norm(h: jax.Array, eps: float = 1e-5) -> jax.Array:
    """Normalise each channel over the nodes of one graph (biased variance, no affine), ``(N, H)``."""
    mean = h.mean(axis=0, keepdims=True)
    var = jnp.mean((h - mean) ** 2, axis=0, keepdims=True)
    return (h - mean) * jax.lax.rsqrt(var + eps)


def segment_mean(data: jax.Array, segment_ids: jax.Array, num_segments: int) -> jax.Array:
    """Mean of ``data`` rows per segment; empty segments give 0 (PyG's mean aggregation)."""
    total = jax.ops.segment_sum(data, segment_ids, num_segments)
    count = jax.ops.segment_sum(jnp.ones_like(segment_ids, data.dtype), segment_ids, num_segments)
    return total / jnp.maximum(count, 1)[:, None]


class GNNLayer(nn.Module):
    """One message-passing layer (eqs. 8-9) with residual update and instance norm."""

    hidden: int

    @nn.compact
    def __call__(self, h, u, x_offsets, variables, graph: jraph.GraphsTuple):
        s, r = graph.senders, graph.receivers
        m = jnp.concatenate([h[r], h[s], u[r] - u[s], x_offsets[:, None], variables[r]], axis=-1)
        m = nn.silu(dense(self.hidden, m, "message_1"))
        m = nn.silu(dense(self.hidden, m, "message_2"))
        agg = segment_mean(m, r, h.shape[0])
        upd = nn.silu(dense(self.hidden, jnp.concatenate([h, agg, variables], -1), "update_1"))
        upd = nn.silu(dense(self.hidden, upd, "update_2"))
        return instance_norm(h + upd)


class MPPDESolver(nn.Module):
    """The MP-PDE network on one grid graph.

    Attributes:
      time_window: K, the steps read and predicted at once (temporal bundling).
      hidden: H (128 in the paper). num_layers: message-passing layers (6).

    Call:
      u: ``(N, K)`` the last K values at each node. x_norm: ``(N,)`` positions / L.
      x_offsets: ``(E,)`` ``(x_receiver - x_sender) / L``. variables: ``(V,)`` ``[t / T, params...]``
      (t the time of the first predicted step). dt: the time step. graph: senders / receivers.

    Returns:
      ``(N, K)`` the predicted next K values.
    """

    time_window: int = 25
    hidden: int = 128
    num_layers: int = 6

    def __post_init__(self):
        decoder_shape(self.hidden, self.time_window)  # refuse an impossible decoder before any work
        super().__post_init__()

    @nn.compact
    def __call__(self, u, x_norm, x_offsets, variables, dt, graph: jraph.GraphsTuple):
        n, k = u.shape
        if k != self.time_window:
            raise ValueError(f"u must be (nodes, {self.time_window}), got {u.shape}")
        var_nodes = jnp.broadcast_to(variables, (n, variables.shape[-1]))
        h = jnp.concatenate([u, x_norm[:, None], var_nodes], axis=-1)
        h = nn.silu(dense(self.hidden, h, "embed_1"))
        h = nn.silu(dense(self.hidden, h, "embed_2"))
        for i in range(self.num_layers):
            h = GNNLayer(self.hidden, name=f"gnn_{i}")(h, u, x_offsets, var_nodes, graph)
        k1, s1, k2 = decoder_shape(self.hidden, self.time_window)
        z = h[:, :, None]  # (N, H, 1): the hidden vector as a 1-channel signal
        z = nn.silu(nn.Conv(8, (k1,), strides=(s1,), padding="VALID", kernel_init=torch_uniform(k1), bias_init=torch_uniform(k1), name="decoder_1")(z))
        d = nn.Conv(1, (k2,), padding="VALID", kernel_init=torch_uniform(8 * k2), bias_init=torch_uniform(8 * k2), name="decoder_2")(z)[..., 0]
        steps = jnp.arange(1, self.time_window + 1, dtype=u.dtype) * dt
        return u[:, -1:] + steps * d
