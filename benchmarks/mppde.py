"""mppde: a full MP-PDE rollout of a batch (jitted JAX) against the classical WENO5 solver at the
same coarse resolution (ours, jitted) and against a PyTorch Geometric implementation of the same
network with the same weights (when torch and torch_geometric are installed).

The rollout predicts time steps 50..249 from the true window 25..49 (8 windows of K = 25), as the
paper's metric does; the WENO5 solver integrates the same 250 output times from t = 0 (the paper's
"WENO5" runtime). The paper reports, per rollout on its GPU: WENO5 1.7-4.8 s, MP-PDE 0.08-0.09 s.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.harness import Row, register, time_call, time_jitted, torch_device
from jaxsci import mppde
from jaxsci.mppde.model import decoder_shape
from jaxsci.pde import burgers


def _pyg_rows(model, params, setup, u, eq, batch, quick, ours_s, ours_out) -> list[Row]:
    try:
        import torch

        from benchmarks._mppde_pyg import PygMPPDE, batch_graph
    except ImportError:
        return [Row("mppde", f"rollout E1 nx {setup.nx}, batch {batch}", ours_s, None, "PyG (not installed)")]
    k1, s1, k2 = decoder_shape(model.hidden, model.time_window)
    dev = torch_device(torch)
    net = PygMPPDE(jax.device_get(params), model.num_layers, s1, setup.dt, setup.time_window).to(dev)
    graph = setup.graph()
    edge_index, node_batch = (x.to(dev) for x in batch_graph(graph.senders, graph.receivers, setup.nx, batch))
    pos = torch.tensor(np.tile(np.asarray(setup.grid() / setup.length), batch)[:, None], dtype=torch.float32,
                       device=dev)
    k, start = setup.time_window, setup.gt_steps * setup.time_window
    num_windows = (setup.nt - start) // k

    @torch.no_grad()
    def torch_rollout():
        window = torch.tensor(np.asarray(u[:, start - k : start]).transpose(0, 2, 1).reshape(batch * setup.nx, k),
                              device=dev)
        outs = []
        for i in range(num_windows):
            t = torch.full((batch * setup.nx, 1), (start + i * k) * setup.dt / setup.t_end, device=dev)
            window = net(window, pos, t, edge_index, node_batch, batch)
            outs.append(window)
        return torch.stack(outs)

    out = torch_rollout().cpu().numpy()  # (W, B*N, K) -> (B, W*K, N)
    out = out.reshape(num_windows, batch, setup.nx, k).transpose(1, 0, 3, 2).reshape(batch, num_windows * k, setup.nx)
    diff = float(np.max(np.abs(out - np.asarray(ours_out))))
    ref = time_call(torch_rollout, repeats=2 if quick else 5)
    return [Row("mppde", f"rollout E1 nx {setup.nx}, batch {batch}", ours_s, ref.median_s, f"PyG, same weights ({dev} torch)",
                notes=f"max |diff| {diff:.1e}")]


@register("mppde")
def bench(quick: bool) -> list[Row]:
    """MP-PDE rollout vs WENO5 (jitted) and vs PyTorch Geometric."""
    rows = []
    batch = 2 if quick else 16
    for nx in ((50,) if quick else (100, 50)):
        setup = mppde.Setup(family="E1", nx=nx)
        model = mppde.MPPDESolver(hidden=32 if quick else 128, num_layers=2 if quick else 6)
        params = mppde.init(jax.random.key(0), model, setup)
        keys = jax.random.split(jax.random.key(1), batch)
        data = jax.jit(jax.vmap(lambda k: burgers.generate(k, "E1", nx=(nx,))))(keys)
        u = data[f"u_{nx}"]
        eq = jnp.zeros((batch, 0))
        roll = jax.jit(lambda p, u: mppde.evaluate_rollout(model, p, setup, u, eq))
        full = jax.jit(lambda p, u: mppde.rollout(model, p, setup, u[:, 25:50], eq, 50, 8))
        ours = time_jitted(roll, params, u, repeats=3 if quick else 10)
        # the classical baseline: WENO5 at the same nx over the whole trajectory (adaptive Tsit5)
        cp = burgers.sample_params(jax.random.key(2), "E1")
        params_b = jax.tree.map(lambda x: jnp.broadcast_to(x, (batch, *x.shape)), cp)
        weno = jax.jit(jax.vmap(lambda p: burgers.solve(p, burgers.initial_condition(p, nx), t_end=4.0, nt=250)))
        ref = time_jitted(weno, params_b, repeats=3 if quick else 10)
        case = f"rollout E1 nx {nx}, batch {batch}"
        rows.append(Row("mppde", case, ours.median_s, ref.median_s, "WENO5 (ours, jitted)", ours.compile_s))
        rows += _pyg_rows(model, params, setup, u, eq, batch, quick, ours.median_s, full(params, u))
    return rows
