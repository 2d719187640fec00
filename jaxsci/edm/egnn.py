"""The E(n)-equivariant graph network of EDM (Hoogeboom et al. 2022, Sec. 3.3 and App. B), on masked dense batches.

A molecule batch is dense: ``h (B, N, F)`` node features, ``x (B, N, 3)`` positions (Angstrom, divided by the
first normalisation factor), ``node_mask (B, N)``; the graph is complete over the real atoms of each molecule (no
self-loops). The network runs it in one of two layouts (:class:`CompleteGraph`, the same parameters and numbers):

- ``layout="dense"``: ``(B, N, N, nf)`` messages over every slot, padding masked out; no gathers or scatters.
- ``layout="edges"``: a jraph-style edge list of the real pairs only (built in the graph with a static budget of
  ``edge_fraction * B * N * (N - 1)`` edges), gathered by sender / receiver and summed with ``segment_sum``.
  A QM9 batch has about half as many real pairs as dense slots; on a CPU the edge list is the faster one
  (``benchmarks/edm.py``). A batch with more real pairs than the budget gives NaN outputs (never silently
  dropped edges): pick the fraction with :func:`edge_fraction_for`.

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

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

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


LAYOUTS = ("dense", "edges")


@dataclasses.dataclass(frozen=True)
class CompleteGraph:
    """Pair operations on the complete graph of each molecule, in either layout.

    Node arrays are ``(B, N, F)`` in the dense layout and ``(B * N, F)`` in the edge layout (:meth:`nodes` /
    :meth:`unnodes` convert); pair arrays are ``(B, N, N, F)`` (receiver i, sender j) or ``(E, F)``. Build with
    :meth:`dense` or :meth:`edges`."""

    shape: tuple[int, int]  # (B, N)
    node_mask: jax.Array  # (B, N) or (B * N,)
    edge_mask: jax.Array | None = None  # dense: (B, N, N)
    receivers: jax.Array | None = None  # edges: (E,) in [0, B * N); padding edges point at atom 0 ...
    senders: jax.Array | None = None
    targets: jax.Array | None = None  # ... and sum into B * N, which segment_sum drops
    overflow: jax.Array | None = None  # () bool: the batch has more real pairs than the budget

    @classmethod
    def dense(cls, node_mask: jax.Array) -> "CompleteGraph":
        m = node_mask.astype(jnp.float32)
        return cls(node_mask.shape, m, edge_mask=edge_mask_of(m))

    @classmethod
    def edges(cls, node_mask: jax.Array, edge_fraction: float = 1.0) -> "CompleteGraph":
        """The real pairs of ``node_mask (B, N)`` as an edge list with ``ceil(edge_fraction * B * N * (N - 1))``
        slots (at least 1), sorted by receiver; jit-compatible (``jnp.nonzero`` with a static size)."""
        b, n = node_mask.shape
        check_layout("edges", edge_fraction)
        budget = max(1, math.ceil(edge_fraction * b * n * (n - 1)))
        pairs = edge_mask_of(node_mask).reshape(-1) > 0
        (flat,) = jnp.nonzero(pairs, size=budget, fill_value=b * n * n)
        valid = flat < b * n * n
        mol, rest = flat // (n * n), flat % (n * n)
        recv, send = mol * n + rest // n, mol * n + rest % n
        return cls((b, n), node_mask.astype(jnp.float32).reshape(-1),
                   receivers=jnp.where(valid, recv, 0), senders=jnp.where(valid, send, 0),
                   targets=jnp.where(valid, recv, b * n), overflow=jnp.sum(pairs) > budget)

    @property
    def is_dense(self) -> bool:
        return self.edge_mask is not None

    def nodes(self, a: jax.Array) -> jax.Array:
        """``(B, N, F)`` -> this layout's node array."""
        return a if self.is_dense else a.reshape((-1,) + a.shape[2:])

    def unnodes(self, a: jax.Array) -> jax.Array:
        """This layout's node array -> ``(B, N, F)``; with NaN everywhere if the edge budget overflowed."""
        if self.is_dense:
            return a
        return jnp.where(self.overflow, jnp.nan, a).reshape(self.shape + a.shape[1:])

    def pair_sum(self, a_i: jax.Array, a_j: jax.Array) -> jax.Array:
        """``a_i[receiver] + a_j[sender]`` for every pair."""
        if self.is_dense:
            return a_i[..., :, None, :] + a_j[..., None, :, :]
        return a_i[self.receivers] + a_j[self.senders]

    def coord_diff(self, x: jax.Array, norm_constant: float) -> tuple[jax.Array, jax.Array]:
        """Per pair: ``(d2 (..., 1), (x_i - x_j) / (|x_i - x_j| + norm_constant) (..., 3))``."""
        diff = self.pair_sum(x, -x)
        d2 = jnp.sum(diff**2, axis=-1, keepdims=True)
        return d2, diff / (jnp.sqrt(d2 + 1e-8) + norm_constant)

    def aggregate(self, m: jax.Array) -> jax.Array:
        """``sum_j m_ij`` over the real pairs: a node array."""
        if self.is_dense:
            return jnp.sum(m * self.edge_mask[..., None].astype(m.dtype), axis=-2)
        return jax.ops.segment_sum(m, self.targets, num_segments=self.node_mask.shape[0], indices_are_sorted=True)


def check_layout(layout: str, edge_fraction: float = 1.0) -> None:
    """Refuse an unknown ``layout`` or an ``edge_fraction`` outside (0, 1] (before any work)."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose from {LAYOUTS}")
    if not 0 < edge_fraction <= 1:
        raise ValueError(f"edge_fraction must be in (0, 1], got {edge_fraction}")


def complete_graph(node_mask: jax.Array, layout: str = "dense", edge_fraction: float = 1.0) -> CompleteGraph:
    """:class:`CompleteGraph` of ``node_mask (B, N)`` in ``layout`` ("dense" | "edges")."""
    check_layout(layout, edge_fraction)
    return CompleteGraph.dense(node_mask) if layout == "dense" else CompleteGraph.edges(node_mask, edge_fraction)


def edge_fraction_for(num_atoms: np.ndarray, batch_size: int, n_max: int | None = None, z: float = 6.0) -> float:
    """An ``edge_fraction`` for batches of ``batch_size`` molecules drawn at random from molecules with
    ``num_atoms (M,)`` atoms, over the dense count ``B * n_max * (n_max - 1)`` (capped at 1): the mean number of real
    pairs of a batch plus ``z`` standard deviations (with z = 6 a random batch overflows with odds below 1e-9), or the
    exact worst case (the ``batch_size`` largest molecules) when that is smaller; below 16 molecules, where the normal
    approximation is poor, always the worst case."""
    num_atoms = np.asarray(num_atoms, np.float64)
    n_max = int(num_atoms.max()) if n_max is None else n_max
    pairs = num_atoms * (num_atoms - 1)
    dense = batch_size * n_max * max(n_max - 1, 1)
    worst = np.sort(pairs)[::-1][:batch_size].sum() + pairs.max() * max(batch_size - len(pairs), 0)
    if batch_size < 16:
        return float(min(1.0, worst / dense))
    need = batch_size * pairs.mean() + z * math.sqrt(batch_size) * pairs.std()
    return float(min(1.0, need / dense, worst / dense))


class PairMLP(nn.Module):
    """``phi([h_i, h_j, a_ij])`` for every pair: Linear, SiLU, Linear, SiLU -> pair array of width ``nf``.

    The first layer's kernel ``W = [W_i; W_j; W_a]`` (the same parameters as one Linear on the concatenation) is
    applied per atom, ``h W_i`` and ``h W_j``, then combined over the pairs: ``N`` instead of ``N^2`` products with
    the ``2 nf x nf`` block, the same numbers as the concatenated form."""

    nf: int

    @nn.compact
    def __call__(self, h, edge_attr, graph: CompleteGraph):
        f = h.shape[-1]
        fan_in = 2 * f + edge_attr.shape[-1]
        init = torch_uniform(fan_in)
        kernel = self.param("kernel", init, (fan_in, self.nf))
        bias = self.param("bias", init, (self.nf,))
        m = graph.pair_sum(h @ kernel[:f], h @ kernel[f:2 * f]) + edge_attr @ kernel[2 * f:] + bias
        return nn.silu(torch_dense(self.nf, nn.silu(m), name="layer_1"))


class GCL(nn.Module):
    """Invariant graph convolution: node array ``h`` (width nf) -> ``h`` (residual), with attention."""

    nf: int
    normalization_factor: float = 1.0
    attention: bool = True

    @nn.compact
    def __call__(self, h, edge_attr, graph: CompleteGraph):
        m = PairMLP(self.nf, name="edge_mlp")(h, edge_attr, graph)
        if self.attention:
            m = m * nn.sigmoid(torch_dense(1, m, name="att_mlp"))
        agg = graph.aggregate(m) / self.normalization_factor
        out = torch_dense(self.nf, nn.silu(torch_dense(self.nf, jnp.concatenate([h, agg], -1), name="node_mlp_0")),
                          name="node_mlp_1")
        return (h + out) * graph.node_mask[..., None].astype(h.dtype)


class EquivariantUpdate(nn.Module):
    """``x_i <- x_i + sum_j diff_ij tanh(phi_x(h_i, h_j, a_ij)) coords_range / normalization_factor``."""

    nf: int
    normalization_factor: float = 1.0
    tanh: bool = True
    coords_range: float = 15.0

    @nn.compact
    def __call__(self, h, x, diff, edge_attr, graph: CompleteGraph):
        m = PairMLP(self.nf, name="coord_mlp")(h, edge_attr, graph)
        phi = nn.Dense(1, use_bias=False, kernel_init=nn.initializers.variance_scaling(0.001**2, "fan_avg", "uniform"),
                       name="coord_mlp_out")(m)
        phi = jnp.tanh(phi) * self.coords_range if self.tanh else phi
        return (x + graph.aggregate(diff * phi) / self.normalization_factor) * graph.node_mask[..., None].astype(x.dtype)


class EGNNSettings(nn.Module):
    """The hyperparameters shared by :class:`EquivariantBlock`, :class:`EGNN` and :class:`EGNNDynamics` (the paper's
    QM9 values as defaults, apart from the width ``nf``, 256 there). ``layout`` / ``edge_fraction``: see
    :class:`CompleteGraph` (the same parameters in either layout)."""

    nf: int = 256
    inv_sublayers: int = 1
    normalization_factor: float = 1.0
    attention: bool = True
    tanh: bool = True
    coords_range: float = 15.0
    norm_constant: float = 1.0
    layout: str = "dense"
    edge_fraction: float = 1.0

    def settings(self) -> dict:
        return {f: getattr(self, f) for f in ("nf", "inv_sublayers", "normalization_factor", "attention", "tanh",
                                              "coords_range", "norm_constant", "layout", "edge_fraction")}


class EquivariantBlock(EGNNSettings):
    """``inv_sublayers`` GCLs on ``[d_ij^2, d0_ij^2]`` edges, then one :class:`EquivariantUpdate`."""

    @nn.compact
    def __call__(self, h, x, d0, graph: CompleteGraph):
        d2, diff = graph.coord_diff(x, self.norm_constant)
        edge_attr = jnp.concatenate([d2, d0], axis=-1)
        for i in range(self.inv_sublayers):
            h = GCL(self.nf, self.normalization_factor, self.attention, name=f"gcl_{i}")(h, edge_attr, graph)
        x = EquivariantUpdate(self.nf, self.normalization_factor, self.tanh, self.coords_range, name="gcl_equiv")(
            h, x, diff, edge_attr, graph)
        return h * graph.node_mask[..., None].astype(h.dtype), x


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
        graph = complete_graph(node_mask, self.layout, self.edge_fraction)
        h, x = graph.nodes(h), graph.nodes(x)
        d0, _ = graph.coord_diff(x, self.norm_constant)
        h = torch_dense(self.nf, h, name="embedding")
        for i in range(self.num_layers):
            h, x = EquivariantBlock(**self.settings(), name=f"e_block_{i}")(h, x, d0, graph)
        h = torch_dense(out_features, h, name="embedding_out")
        h = h * graph.node_mask[..., None].astype(h.dtype)
        return graph.unnodes(h), graph.unnodes(x)


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
