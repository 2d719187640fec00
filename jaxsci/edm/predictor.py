"""The property predictor EDM uses to evaluate conditional generation (Sec. 5.3): an E(n)-invariant EGNN regressor
trained on the *first* half of the QM9 training split, while the conditional generator trains on the second.

As in the original (``qm9/property_prediction``, after Satorras et al.'s EGNN): atom features are the one-hot type
times powers of the scaled charge, ``h0 = one_hot (x) [1, c, c^2]`` with ``c = Z / 9``; ``num_layers`` invariant
graph convolutions on squared distances (attention, SiLU, residual; the coordinates are not updated), a node MLP,
a sum over the atoms and a graph MLP to one number. Trained with an L1 loss on ``(y - mean) / MAD``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxsci.core.nn import torch_dense
from jaxsci.edm.egnn import GCL, complete_graph

CHARGE_SCALE = 9.0  # the largest atomic number in QM9 (F)


def atom_scalars(one_hot: jax.Array, charges: jax.Array, charge_power: int = 2) -> jax.Array:
    """``(B, N, K * (charge_power + 1))``: ``one_hot (B, N, K)`` times ``(charges / 9)^p`` for p = 0..charge_power."""
    powers = (charges[..., None] / CHARGE_SCALE) ** jnp.arange(charge_power + 1, dtype=one_hot.dtype)
    return (one_hot[..., :, None] * powers[..., None, :]).reshape(one_hot.shape[:2] + (-1,))


class PropertyEGNN(nn.Module):
    """``(positions (B, N, 3), one_hot (B, N, K), charges (B, N), mask (B, N))`` -> ``(B,)`` the normalised property.

    The original's setting: ``nf=128, num_layers=7``, attention, charge_power 2. ``layout`` / ``edge_fraction``:
    as in :class:`~jaxsci.edm.egnn.CompleteGraph`."""

    nf: int = 128
    num_layers: int = 7
    charge_power: int = 2
    attention: bool = True
    layout: str = "dense"
    edge_fraction: float = 1.0

    @nn.compact
    def __call__(self, positions, one_hot, charges, mask):
        graph = complete_graph(mask, self.layout, self.edge_fraction)
        h = torch_dense(self.nf, graph.nodes(atom_scalars(one_hot, charges, self.charge_power)), name="embedding")
        d2, _ = graph.coord_diff(graph.nodes(positions), 0.0)
        for i in range(self.num_layers):
            h = GCL(self.nf, 1.0, self.attention, name=f"gcl_{i}")(h, d2, graph)
        h = torch_dense(self.nf, nn.silu(torch_dense(self.nf, h, name="node_dec_0")), name="node_dec_1")
        h = graph.unnodes(h)
        g = jnp.sum(h * mask[..., None].astype(h.dtype), axis=1)
        return torch_dense(1, nn.silu(torch_dense(self.nf, g, name="graph_dec_0")), name="graph_dec_1")[..., 0]


def predict(model: PropertyEGNN, params, batch: dict, mean: float, mad: float) -> jax.Array:
    """``(B,)`` the property in its own units: ``mad * f(molecule) + mean``."""
    out = model.apply({"params": params}, batch["positions"], batch["one_hot"], batch["charges"], batch["mask"])
    return mad * out + mean


def l1_loss(model: PropertyEGNN, params, batch: dict, mean: float, mad: float) -> tuple[jax.Array, dict]:
    """The original's training loss: mean ``|f(molecule) - (y - mean) / MAD|``; also the MAE in the property's units."""
    pred = model.apply({"params": params}, batch["positions"], batch["one_hot"], batch["charges"], batch["mask"])
    err = jnp.abs(pred - (batch["target"] - mean) / mad)
    return jnp.mean(err), {"mae": jnp.mean(err) * mad}
