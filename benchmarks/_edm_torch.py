"""A PyTorch EGNN + equivariant diffusion in the style of the original EDM code (Hoogeboom et al. 2022,
``egnn/egnn_new.py``, ``egnn/models.py`` ``EGNN_dynamics_QM9``, ``equivariant_diffusion/en_diffusion.py``),
written from the paper and that code's structure, to time :mod:`jaxsci.edm` against.

As in the original, a batch ``(B, N)`` of padded molecules is flattened to ``B*N`` nodes and a flat edge list of
all ``N x N`` pairs per molecule (``i == j`` and padding included, then zeroed by ``edge_mask (B*N*N, 1)``);
messages gather ``h[row], h[col]`` and are summed with ``scatter_add`` onto ``row``. Layer sizes, activations
(SiLU, sigmoid attention, ``tanh * coords_range`` coordinate updates, ``(x_i - x_j) / (|x_i - x_j| + 1)``) and
the diffusion arithmetic are those of :class:`jaxsci.edm.EGNNDynamics` / :mod:`jaxsci.edm.diffusion`, so the
FLOPs match; :func:`load_flax` copies a Flax parameter tree in (Dense kernel ``(in, out)`` = Linear weight.T).

Only imported when torch is installed.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

F = nn.functional


def _mlp(n_in: int, nf: int) -> nn.Sequential:
    """Linear, SiLU, Linear, SiLU (phi_e and the body of phi_x)."""
    return nn.Sequential(nn.Linear(n_in, nf), nn.SiLU(), nn.Linear(nf, nf), nn.SiLU())


def scatter_sum(data: torch.Tensor, index: torch.Tensor, num: int) -> torch.Tensor:
    """``(num, C)``: rows of ``data (E, C)`` summed by ``index (E,)`` (TF's unsorted_segment_sum)."""
    out = data.new_zeros((num, data.shape[1]))
    return out.scatter_add_(0, index[:, None].expand(-1, data.shape[1]), data)


def coord2diff(x: torch.Tensor, row: torch.Tensor, col: torch.Tensor, norm_constant: float = 1.0):
    """``(d2 (E, 1), diff (E, 3))``: squared edge lengths and ``(x_row - x_col) / (|x_row - x_col| + c)``."""
    diff = x[row] - x[col]
    d2 = torch.sum(diff**2, 1, keepdim=True)
    return d2, diff / (torch.sqrt(d2 + 1e-8) + norm_constant)


class GCL(nn.Module):
    """Invariant layer: edge MLP on ``[h_row, h_col, edge_attr]``, sigmoid attention, sum onto ``row``, residual
    node MLP."""

    def __init__(self, nf: int, edge_nf: int = 2, normalization_factor: float = 1.0):
        super().__init__()
        self.edge_mlp = _mlp(2 * nf + edge_nf, nf)
        self.att_mlp = nn.Linear(nf, 1)
        self.node_mlp = nn.Sequential(nn.Linear(2 * nf, nf), nn.SiLU(), nn.Linear(nf, nf))
        self.normalization_factor = normalization_factor

    def forward(self, h, row, col, edge_attr, node_mask, edge_mask):
        m = self.edge_mlp(torch.cat([h[row], h[col], edge_attr], 1))
        m = m * torch.sigmoid(self.att_mlp(m)) * edge_mask
        agg = scatter_sum(m, row, h.shape[0]) / self.normalization_factor
        return (h + self.node_mlp(torch.cat([h, agg], 1))) * node_mask


class EquivariantUpdate(nn.Module):
    """``x_i += sum_j diff_ij tanh(phi_x(h_i, h_j, a_ij)) coords_range / normalization_factor``."""

    def __init__(self, nf: int, edge_nf: int = 2, normalization_factor: float = 1.0, coords_range: float = 15.0):
        super().__init__()
        self.coord_mlp = _mlp(2 * nf + edge_nf, nf)
        self.coord_out = nn.Linear(nf, 1, bias=False)
        nn.init.xavier_uniform_(self.coord_out.weight, gain=0.001)
        self.normalization_factor, self.coords_range = normalization_factor, coords_range

    def forward(self, h, x, row, col, diff, edge_attr, node_mask, edge_mask):
        phi = self.coord_out(self.coord_mlp(torch.cat([h[row], h[col], edge_attr], 1)))
        trans = diff * torch.tanh(phi) * self.coords_range * edge_mask
        return (x + scatter_sum(trans, row, x.shape[0]) / self.normalization_factor) * node_mask


class EquivariantBlock(nn.Module):
    def __init__(self, nf: int, inv_sublayers: int = 1, normalization_factor: float = 1.0, coords_range: float = 15.0,
                 norm_constant: float = 1.0):
        super().__init__()
        self.gcls = nn.ModuleList([GCL(nf, 2, normalization_factor) for _ in range(inv_sublayers)])
        self.gcl_equiv = EquivariantUpdate(nf, 2, normalization_factor, coords_range)
        self.norm_constant = norm_constant

    def forward(self, h, x, row, col, d0, node_mask, edge_mask):
        d2, diff = coord2diff(x, row, col, self.norm_constant)
        edge_attr = torch.cat([d2, d0], 1)
        for gcl in self.gcls:
            h = gcl(h, row, col, edge_attr, node_mask, edge_mask)
        x = self.gcl_equiv(h, x, row, col, diff, edge_attr, node_mask, edge_mask)
        return h * node_mask, x


class EGNNDynamics(nn.Module):
    """EDM's noise predictor on a flat edge list: ``(xh (B, N, 3 + F), t (B,), node_mask (B, N), edge_mask
    (B, N, N))`` -> ``eps_hat (B, N, 3 + F)``; t in [0, 1] appended to h, ``eps_x = x_out - x`` minus its masked
    mean."""

    def __init__(self, in_node_nf: int, nf: int = 256, num_layers: int = 9, inv_sublayers: int = 1,
                 normalization_factor: float = 1.0, coords_range: float = 15.0, norm_constant: float = 1.0):
        super().__init__()
        self.embedding = nn.Linear(in_node_nf + 1, nf)
        self.blocks = nn.ModuleList([
            EquivariantBlock(nf, inv_sublayers, normalization_factor, coords_range, norm_constant)
            for _ in range(num_layers)])
        self.embedding_out = nn.Linear(nf, in_node_nf + 1)
        self._edges: dict = {}

    def edges(self, b: int, n: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        """``row, col (B*N*N,)``: every ordered pair ``(i, j)`` of each molecule, cached (``get_adj_matrix``)."""
        key = (b, n, str(device))
        if key not in self._edges:
            idx = torch.arange(b * n, device=device).view(b, n)
            row, col = idx[:, :, None].expand(b, n, n), idx[:, None, :].expand(b, n, n)
            self._edges[key] = (row.reshape(-1), col.reshape(-1))
        return self._edges[key]

    def forward(self, xh, t, node_mask, edge_mask):
        b, n, d = xh.shape
        row, col = self.edges(b, n, xh.device)
        nm = node_mask.reshape(b * n, 1)
        em = edge_mask.reshape(b * n * n, 1)
        xh = xh.reshape(b * n, d) * nm
        x, h = xh[:, :3], xh[:, 3:]
        h = torch.cat([h, t.reshape(b, 1).expand(b, n).reshape(b * n, 1)], 1)
        d0, _ = coord2diff(x, row, col)
        h_out, x_out = self.embedding(h), x
        for block in self.blocks:
            h_out, x_out = block(h_out, x_out, row, col, d0, nm, em)
        h_out = self.embedding_out(h_out) * nm
        vel = remove_mean(((x_out - x) * nm).view(b, n, 3), node_mask)
        return torch.cat([vel, h_out[:, :-1].view(b, n, d - 3)], 2)


def remove_mean(x: torch.Tensor, node_mask: torch.Tensor) -> torch.Tensor:
    """``x (B, N, D)`` minus its mean over the real atoms (``node_mask (B, N)``), 0 on padding."""
    m = node_mask[..., None]
    n = m.sum(1, keepdim=True).clamp_min(1.0)
    return (x - (x * m).sum(1, keepdim=True) / n) * m


def edge_mask_of(node_mask: torch.Tensor) -> torch.Tensor:
    """``(B, N, N)`` 1 for pairs of distinct real atoms."""
    eye = torch.eye(node_mask.shape[1], device=node_mask.device, dtype=node_mask.dtype)
    return node_mask[:, :, None] * node_mask[:, None, :] * (1 - eye)


def load_flax(net: EGNNDynamics, egnn_params) -> EGNNDynamics:
    """Copy ``params["dynamics"]["egnn"]`` of a :class:`jaxsci.edm.EDM` into ``net`` (in place); returns it."""
    paths, params = _flax_paths(net), list(net.parameters())
    assert len(paths) == len(params), (len(paths), len(params))
    for (path, kernel_or_bias), param in zip(paths, params):
        v = egnn_params
        for k in path:
            v = v[k]
        v = np.asarray(v[kernel_or_bias], np.float32)
        param.data = torch.tensor(v.T.copy() if kernel_or_bias == "kernel" else v, device=param.device)
    return net


def _flax_paths(net: EGNNDynamics) -> list[tuple[tuple[str, ...], str]]:
    """The Flax location of every torch parameter, in ``net.parameters()`` order."""
    def lin(path, bias=True):
        return [(path, "kernel"), (path, "bias")] if bias else [(path, "kernel")]

    out = lin(("embedding",))
    for i, block in enumerate(net.blocks):
        for j in range(len(block.gcls)):
            g = (f"e_block_{i}", f"gcl_{j}")
            out += lin(g + ("edge_mlp",)) + lin(g + ("edge_mlp", "layer_1")) + lin(g + ("att_mlp",))
            out += lin(g + ("node_mlp_0",)) + lin(g + ("node_mlp_1",))
        e = (f"e_block_{i}", "gcl_equiv")
        out += lin(e + ("coord_mlp",)) + lin(e + ("coord_mlp", "layer_1")) + lin(e + ("coord_mlp_out",), bias=False)
    out += lin(("embedding_out",))
    return out


def flax_grads(net: EGNNDynamics) -> list[tuple[tuple[str, ...], np.ndarray]]:
    """``net``'s ``.grad``s as ``(flax path + (kernel|bias,), array in Flax layout)``."""
    return [(path + (kb,), p.grad.detach().cpu().numpy().T if kb == "kernel" else p.grad.detach().cpu().numpy())
            for (path, kb), p in zip(_flax_paths(net), net.parameters())]


class Diffusion:
    """The L2 training loss and ancestral sampling of EDM around a :class:`EGNNDynamics`, with a predefined
    schedule ``gamma_table (T + 1,)`` (the same numbers as :attr:`jaxsci.edm.EDMConfig.gamma_table`)."""

    def __init__(self, net: EGNNDynamics, gamma_table, num_classes: int = 5, norm_values=(1.0, 4.0, 10.0)):
        self.net, self.k, self.norm_values = net, num_classes, norm_values
        dev = next(net.parameters()).device
        self.gamma_table = torch.tensor(np.asarray(gamma_table, np.float32), device=dev)
        self.T = len(gamma_table) - 1

    def gamma(self, t):
        return self.gamma_table[torch.round(t * self.T).long()]

    def noise(self, node_mask, feature_dim):
        """``(B, N, 3 + F)``: zero-mean Gaussian on x, standard on h, 0 on padding."""
        m = node_mask[..., None]
        zx = remove_mean(torch.randn(node_mask.shape + (3,), device=m.device) * m, node_mask)
        return torch.cat([zx, torch.randn(node_mask.shape + (feature_dim,), device=m.device) * m], 2)

    def normalize(self, positions, one_hot, charges, node_mask):
        n0, n1, n2 = self.norm_values
        m = node_mask[..., None]
        x = remove_mean(positions, node_mask) / n0
        return torch.cat([x, torch.cat([one_hot / n1, charges[..., None] / n2], 2) * m], 2)

    def loss(self, positions, one_hot, charges, node_mask, edge_mask, t_int=None, eps=None):
        """Mean over the batch of EDM's training loss (``loss_type="l2"``): ``KL prior + 0.5 |eps - eps_hat|^2 /
        ((3 + F) N)`` at ``t ~ U{0..T}``, ``-log p(x, h | z_0)`` (without constants) where ``t = 0``."""
        b, n = node_mask.shape
        xh = self.normalize(positions, one_hot, charges, node_mask)
        f = xh.shape[2] - 3
        if t_int is None:
            t_int = torch.randint(0, self.T + 1, (b,), device=xh.device)
        if eps is None:
            eps = self.noise(node_mask, f)
        t = t_int.float() / self.T
        gamma_t = self.gamma(t)
        a_t, s_t = torch.sigmoid(-gamma_t).sqrt()[:, None, None], torch.sigmoid(gamma_t).sqrt()[:, None, None]
        z_t = a_t * xh + s_t * eps
        eps_hat = self.net(z_t, t, node_mask, edge_mask)
        sq = (eps - eps_hat) ** 2
        denom = (3 + f) * n
        error, error_x = sq.sum((1, 2)) / denom, sq[..., :3].sum((1, 2)) / denom
        loss_t = 0.5 * error
        loss_0 = 0.5 * error_x - self._log_ph_given_z0(xh[..., 3:], z_t, gamma_t, node_mask)
        loss = self._kl_prior(xh, node_mask) + torch.where(t_int == 0, loss_0, loss_t)
        return loss.mean()

    def _log_ph_given_z0(self, h, z0, gamma_0, node_mask):
        """``(B,)``: discretised likelihoods of the charges (integer bins) and atom types (bins around 1, normalised
        over K) under ``N(z_0, sigma_0 * norm_value)``."""
        _, n1, n2 = self.norm_values
        k, m = self.k, node_mask[..., None]
        sigma_0 = torch.sigmoid(gamma_0).sqrt()[:, None, None]

        def bin_mass(c, s):
            return (torch.special.ndtr((c + 0.5) / s) - torch.special.ndtr((c - 0.5) / s)).clamp_min(0.0)

        centred = torch.round(h[..., k:k + 1] * n2) - z0[..., 3 + k:4 + k] * n2
        log_p = (torch.log(bin_mass(centred, sigma_0 * n2) + 1e-10) * m).sum((1, 2))
        log_cat = torch.log(bin_mass(z0[..., 3:3 + k] * n1 - 1.0, sigma_0 * n1) + 1e-10)
        log_cat = log_cat - torch.logsumexp(log_cat, -1, keepdim=True)
        return log_p + (log_cat * h[..., :k] * n1 * m).sum((1, 2))

    def _kl_prior(self, xh, node_mask):
        gamma_T = self.gamma_table[-1]
        a_T, s_T = torch.sigmoid(-gamma_T).sqrt(), torch.sigmoid(gamma_T).sqrt()
        mu = a_T * xh
        m = node_mask[..., None]
        kl_h = ((-torch.log(s_T) + 0.5 * (s_T**2 + mu[..., 3:] ** 2) - 0.5) * m).sum((1, 2))
        d = (node_mask.sum(1) - 1) * 3
        return kl_h + d * -torch.log(s_T) + 0.5 * (d * s_T**2 + (mu[..., :3] ** 2).sum((1, 2))) - 0.5 * d

    @torch.no_grad()
    def sample(self, node_mask, edge_mask, feature_dim):
        """``z_T -> z_0 -> (x, h)``: ``T`` network calls in a Python loop, then ``p(x, h | z_0)``; returns ``(x (B, N,
        3), atom_types (B, N), charges (B, N))``."""
        b = node_mask.shape[0]
        z = self.noise(node_mask, feature_dim)
        for s_int in range(self.T - 1, -1, -1):
            s = torch.full((b,), s_int / self.T, device=z.device)
            t = torch.full((b,), (s_int + 1) / self.T, device=z.device)
            g_s, g_t = self.gamma(s), self.gamma(t)
            s2_ts = -torch.expm1(F.softplus(g_s) - F.softplus(g_t))
            a_ts = torch.exp(0.5 * (F.logsigmoid(-g_t) - F.logsigmoid(-g_s)))
            sig_s, sig_t = torch.sigmoid(g_s).sqrt(), torch.sigmoid(g_t).sqrt()
            eps_hat = self.net(z, t, node_mask, edge_mask)
            mu = z / a_ts[:, None, None] - (s2_ts / a_ts / sig_t)[:, None, None] * eps_hat
            z = mu + (s2_ts.sqrt() * sig_s / sig_t)[:, None, None] * self.noise(node_mask, feature_dim)
            z = torch.cat([remove_mean(z[..., :3], node_mask), z[..., 3:]], 2)
        zeros = torch.zeros((b,), device=z.device)
        g_0 = self.gamma(zeros)
        eps_hat = self.net(z, zeros, node_mask, edge_mask)
        a_0, s_0 = torch.sigmoid(-g_0).sqrt()[:, None, None], torch.sigmoid(g_0).sqrt()[:, None, None]
        xh = (z - s_0 * eps_hat) / a_0 + torch.exp(0.5 * g_0)[:, None, None] * self.noise(node_mask, feature_dim)
        x = remove_mean(xh[..., :3], node_mask) * self.norm_values[0]
        real = node_mask > 0
        types = torch.where(real, z[..., 3:3 + self.k].argmax(-1), -1)
        charges = torch.where(real, torch.round(z[..., 3 + self.k] * self.norm_values[2]).long(), 0)
        return x, types, charges
