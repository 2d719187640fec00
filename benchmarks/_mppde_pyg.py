"""A PyTorch Geometric implementation of the MP-PDE network, written from the paper's equations, to
time the jitted JAX model against (and to check that both compute the same function).

Only imported when torch and torch_geometric are installed. Weights are copied from a Flax
parameter tree of :class:`jaxsci.mppde.MPPDESolver` (Dense kernels transposed, Conv kernels permuted).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch_geometric.nn import InstanceNorm, MessagePassing


def _linear(kernel, bias):
    layer = nn.Linear(kernel.shape[0], kernel.shape[1])
    layer.weight.data = torch.tensor(np.asarray(kernel).T.copy())
    layer.bias.data = torch.tensor(np.asarray(bias).copy())
    return layer


def _conv(kernel, bias, stride):
    k, cin, cout = kernel.shape
    layer = nn.Conv1d(cin, cout, k, stride=stride)
    layer.weight.data = torch.tensor(np.transpose(np.asarray(kernel), (2, 1, 0)).copy())
    layer.bias.data = torch.tensor(np.asarray(bias).copy())
    return layer


class Layer(MessagePassing):
    def __init__(self, p):
        super().__init__(aggr="mean", node_dim=0)
        d = lambda name: _linear(p[name]["kernel"], p[name]["bias"])
        self.m1, self.m2, self.u1, self.u2 = d("message_1"), d("message_2"), d("update_1"), d("update_2")
        self.norm = InstanceNorm(self.u2.out_features)  # per graph and channel, biased variance, no affine

    def forward(self, h, u, pos, var, edge_index, batch, num_graphs):
        agg = self.propagate(edge_index, h=h, u=u, pos=pos, var=var)
        upd = nn.functional.silu(self.u2(nn.functional.silu(self.u1(torch.cat([h, agg, var], -1)))))
        return self.norm(h + upd, batch, batch_size=num_graphs)

    def message(self, h_i, h_j, u_i, u_j, pos_i, pos_j, var_i):
        m = torch.cat([h_i, h_j, u_i - u_j, pos_i - pos_j, var_i], -1)
        return nn.functional.silu(self.m2(nn.functional.silu(self.m1(m))))


class PygMPPDE(nn.Module):
    """Batched graphs in PyG style: node tensors ``(B*N, .)``, ``edge_index (2, B*E)``."""

    def __init__(self, flax_params, num_layers, decoder_strides, dt, time_window):
        super().__init__()
        p = flax_params["params"]
        self.e1 = _linear(p["embed_1"]["kernel"], p["embed_1"]["bias"])
        self.e2 = _linear(p["embed_2"]["kernel"], p["embed_2"]["bias"])
        self.layers = nn.ModuleList([Layer(p[f"gnn_{i}"]) for i in range(num_layers)])
        self.c1 = _conv(p["decoder_1"]["kernel"], p["decoder_1"]["bias"], decoder_strides)
        self.c2 = _conv(p["decoder_2"]["kernel"], p["decoder_2"]["bias"], 1)
        self.register_buffer("steps", torch.arange(1, time_window + 1, dtype=torch.float32) * dt)  # moves with .to()

    def forward(self, u, pos, var, edge_index, batch, num_graphs):
        h = nn.functional.silu(self.e2(nn.functional.silu(self.e1(torch.cat([u, pos, var], -1)))))
        for layer in self.layers:
            h = layer(h, u, pos, var, edge_index, batch, num_graphs)
        d = self.c2(nn.functional.silu(self.c1(h[:, None]))).squeeze(1)
        return u[:, -1:] + self.steps * d


def batch_graph(senders, receivers, num_nodes, batch_size):
    """Stack ``batch_size`` copies of one graph: ``edge_index (2, B*E)`` and the node -> graph map."""
    offs = (np.arange(batch_size) * num_nodes)[:, None]
    src = (np.asarray(senders)[None] + offs).reshape(-1)
    dst = (np.asarray(receivers)[None] + offs).reshape(-1)
    edge_index = torch.tensor(np.stack([src, dst]), dtype=torch.long)
    batch = torch.arange(batch_size).repeat_interleave(num_nodes)
    return edge_index, batch
