"""The edm benchmark runs in quick mode (with or without torch), and its PyTorch reference computes the same
function as the JAX model with the same weights: eps predictions, the L2 training loss and its gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import edm as bench_edm
from benchmarks.harness import registry
from jaxsci import edm


def test_edm_benchmark_quick():
    rows = registry()["edm"](True)
    assert [r.case for r in rows] == ["train step nf 16 L 2, batch 4", "train step nf 16 L 2, batch 4, edge list",
                                      "sample chain T 10 nf 16 L 2, batch 4",
                                      "train step nf 16 L 2, batch 4: edge list vs dense"]
    assert all(r.benchmark == "edm" and r.ours_s > 0 and r.ours_compile_s is not None for r in rows)
    assert "dense masked" in rows[0].notes and "edge list" in rows[1].notes
    layout = rows.pop()
    assert layout.ref_s > 0 and float(layout.notes.split("max |d eps| ")[1]) < 1e-4  # the same network, both layouts
    try:
        import torch  # noqa: F401
    except ImportError:
        assert all(r.ref_s is None and "not installed" in r.reference for r in rows)
        return
    assert all(r.ref_s > 0 and r.ratio is not None for r in rows)
    assert all(float(r.notes.split("max |d eps| ")[1]) < 1e-4 for r in rows[:2])


@pytest.mark.parametrize("inv_sublayers", [1, 2])
def test_torch_reference_is_the_same_function(inv_sublayers):
    torch = pytest.importorskip("torch")
    from benchmarks import _edm_torch as tref

    model = edm.EDM(edm.EDMConfig(timesteps=20), edm.EGNNDynamics(nf=16, num_layers=2, inv_sublayers=inv_sublayers))
    batch = bench_edm.molecule_batch(4, seed=3, n=12)
    params = edm.init(jax.random.key(0), model, batch)
    # non-trivial coordinate updates: the xavier(gain 0.001) last layer would make x_out - x ~ 0
    params = jax.tree_util.tree_map_with_path(
        lambda path, v: v * 1000.0 if "coord_mlp_out" in jax.tree_util.keystr(path) else v, params)
    net = tref.load_flax(tref.EGNNDynamics(model.cfg.feature_dim, 16, 2, inv_sublayers), params["dynamics"]["egnn"])
    diff = tref.Diffusion(net, model.cfg.gamma_table, model.cfg.num_classes, model.cfg.norm_values)
    tb = {k: torch.tensor(v) for k, v in batch.items()}
    edge_mask = tref.edge_mask_of(tb["mask"])
    mask = jnp.asarray(batch["mask"])

    # eps predictions on noised inputs at several t
    x, h, _ = edm.normalize(batch, model.cfg)
    noise = edm.sample_position_feature_noise(jax.random.key(1), mask, model.cfg.feature_dim)
    z = jnp.concatenate([x, h], -1) + 0.5 * noise
    t = jnp.array([0.0, 0.3, 0.7, 1.0])
    ours = np.asarray(model.apply({"params": params}, z, t, mask)[0])
    with torch.no_grad():
        ref = diff.net(torch.tensor(np.asarray(z)), torch.tensor(np.asarray(t)), tb["mask"], edge_mask).numpy()
    assert np.abs(ours[..., :3]).max() > 1e-2  # the coordinate branch matters
    np.testing.assert_allclose(ref, ours, rtol=1e-4, atol=1e-4)  # float32; |eps_h| up to ~100 here

    # the training loss (one molecule at t = 0) and its gradient w.r.t. every EGNN parameter
    t_int = jnp.array([0, 5, 13, 20])

    def jax_loss(p):
        return jnp.mean(edm.loss_per_molecule(model, p, batch, None, training=True, t_int=t_int, eps=noise))

    loss, grads = jax.value_and_grad(jax_loss)(params)
    ref_loss = diff.loss(tb["positions"], tb["one_hot"], tb["charges"], tb["mask"], edge_mask,
                         t_int=torch.tensor(np.asarray(t_int)), eps=torch.tensor(np.asarray(noise)))
    ref_loss.backward()
    np.testing.assert_allclose(float(ref_loss.detach()), float(loss), rtol=1e-5)
    g_egnn = grads["dynamics"]["egnn"]
    scale = max(float(jnp.max(jnp.abs(g))) for g in jax.tree.leaves(g_egnn))
    for path, g_ref in tref.flax_grads(net):
        g = g_egnn
        for k in path:
            g = g[k]
        np.testing.assert_allclose(g_ref, np.asarray(g), rtol=1e-3, atol=1e-5 * scale, err_msg=str(path))


def test_torch_sampler_runs_and_centres():
    torch = pytest.importorskip("torch")
    from benchmarks import _edm_torch as tref

    torch.manual_seed(0)
    model = bench_edm.make_model(16, 2, timesteps=5)
    batch = bench_edm.molecule_batch(3, seed=4)
    params = edm.init(jax.random.key(0), model, batch)
    net = tref.load_flax(tref.EGNNDynamics(model.cfg.feature_dim, 16, 2), params["dynamics"]["egnn"])
    diff = tref.Diffusion(net, model.cfg.gamma_table)
    mask = torch.tensor(batch["mask"])
    x, types, charges = diff.sample(mask, tref.edge_mask_of(mask), model.cfg.feature_dim)
    assert x.shape == (3, 29, 3) and (mask == 0).any()
    assert torch.all(types[mask == 0] == -1) and torch.all(charges[mask == 0] == 0)
    scale = max(1.0, float(x.abs().max()))  # an untrained chain's positions can be large: float32 sums relative to them
    assert float((x * mask[..., None]).sum(1).abs().max()) < 1e-5 * scale and float(x[mask == 0].abs().sum()) == 0.0
