"""EDM's EGNN on an edge list in JAX (jraph-style: the real pairs of each molecule only, gathered with ``senders`` /
``receivers`` and summed with ``segment_sum``), evaluated with the *dense* model's parameters. Used by
``benchmarks/edm.py`` to decide between the two layouts (the library ships the faster, dense one); the benchmark
checks that both give the same eps."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def edge_list(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(senders, receivers)`` over flattened atoms ``B * N``: every ordered pair i != j of real atoms of a molecule."""
    b, n = mask.shape
    s, r = [], []
    for m in range(b):
        real = np.nonzero(mask[m] > 0)[0] + m * n
        i, j = np.meshgrid(real, real, indexing="ij")
        keep = i != j
        r.append(i[keep])
        s.append(j[keep])
    return np.concatenate(s).astype(np.int32), np.concatenate(r).astype(np.int32)


def _dense(p, v):
    return v @ p["kernel"] + (p["bias"] if "bias" in p else 0.0)


def _pair_mlp(p, h, e, senders, receivers):
    """The dense model's PairMLP on the edge list: the first layer per atom, then gathered (the same trick)."""
    f = h.shape[-1]
    k = p["kernel"]
    m = (h @ k[:f])[receivers] + (h @ k[f:2 * f])[senders] + e @ k[2 * f:] + p["bias"]
    return jax.nn.silu(_dense(p["layer_1"], jax.nn.silu(m)))


def eps_edges(params, z, t, mask, senders, receivers, *, num_layers, inv_sublayers=1, coords_range=15.0,
              norm_constant=1.0, normalization_factor=1.0):
    """EGNNDynamics' eps (B, N, 3 + F) from ``params["dynamics"]`` (a dense model's), on an edge list."""
    b, n, d = z.shape
    p = params["dynamics"]["egnn"]
    m = mask.reshape(-1, 1)
    x = z[..., :3].reshape(-1, 3)
    h = jnp.concatenate([z[..., 3:], jnp.broadcast_to(t[:, None, None], (b, n, 1))], -1).reshape(b * n, -1)
    x_in = x

    def radial(x):
        diff = x[receivers] - x[senders]
        d2 = jnp.sum(diff**2, -1, keepdims=True)
        return d2, diff / (jnp.sqrt(d2 + 1e-8) + norm_constant)

    def agg(v):
        return jax.ops.segment_sum(v, receivers, num_segments=b * n) / normalization_factor

    d0, _ = radial(x)
    h = _dense(p["embedding"], h)
    for layer in range(num_layers):
        blk = p[f"e_block_{layer}"]
        d2, diff = radial(x)
        e = jnp.concatenate([d2, d0], -1)
        for s in range(inv_sublayers):
            g = blk[f"gcl_{s}"]
            msg = _pair_mlp(g["edge_mlp"], h, e, senders, receivers)
            msg = msg * jax.nn.sigmoid(_dense(g["att_mlp"], msg))
            h = (h + _dense(g["node_mlp_1"], jax.nn.silu(_dense(g["node_mlp_0"], jnp.concatenate([h, agg(msg)], -1))))) * m
        c = blk["gcl_equiv"]
        phi = _dense(c["coord_mlp_out"], _pair_mlp(c["coord_mlp"], h, e, senders, receivers))
        x = (x + agg(diff * jnp.tanh(phi) * coords_range)) * m
        h = h * m
    h = _dense(p["embedding_out"], h) * m
    vel = ((x - x_in) * m).reshape(b, n, 3)
    mk = mask[..., None]
    vel = (vel - jnp.sum(vel * mk, 1, keepdims=True) / jnp.sum(mk, 1, keepdims=True)) * mk
    return jnp.concatenate([vel, h.reshape(b, n, -1)[..., : d - 3]], -1)
