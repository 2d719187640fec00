"""MP-PDE: graphs checked by hand, equivariance, the original's parameter count, pushforward, rollout."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci import mppde
from jaxsci.mppde.model import decoder_shape

SMALL = dict(time_window=25, hidden=32, num_layers=2)


def _edges(graph):
    return sorted(zip(np.asarray(graph.receivers).tolist(), np.asarray(graph.senders).tolist()))


def test_grid_graph_by_hand():
    x = np.arange(8) * 0.5
    g = mppde.grid_graph(x, neighbours=2)  # radius 1.0001: two neighbours on each side
    incoming = {i: sorted(s for r, s in _edges(g) if r == i) for i in range(8)}
    assert incoming[0] == [1, 2] and incoming[3] == [1, 2, 4, 5] and incoming[7] == [5, 6]
    gp = mppde.grid_graph(x, neighbours=2, periodic_length=4.0)
    incoming_p = {i: sorted(s for r, s in _edges(gp) if r == i) for i in range(8)}
    assert incoming_p[0] == [1, 2, 6, 7] and all(len(v) == 4 for v in incoming_p.values())
    # offsets x_receiver - x_sender from senders 1, 2, 6, 7 wrap to -0.5, -1, +1, +0.5
    np.testing.assert_allclose(mppde.relative_positions(gp, 4.0)[np.asarray(gp.receivers) == 0], [-0.5, -1.0, 1.0, 0.5], atol=1e-6)
    # the paper's radius: 3 neighbours each side, i.e. at most 6 incoming edges
    g3 = mppde.grid_graph(np.arange(50) * 16 / 50, neighbours=3)
    counts = np.bincount(np.asarray(g3.receivers), minlength=50)
    assert counts.max() == 6 and counts[0] == 3 and int(g3.n_edge[0]) == counts.sum()


def test_irregular_radius_and_knn_graphs():
    x = np.array([0.0, 0.1, 0.5, 1.2, 1.25])
    g = mppde.radius_graph(x, 0.45)
    assert _edges(g) == [(0, 1), (1, 0), (1, 2), (2, 1), (3, 4), (4, 3)]
    k = mppde.knn_graph(x, 2)
    incoming = {i: sorted(s for r, s in _edges(k) if r == i) for i in range(5)}
    assert incoming == {0: [1, 2], 1: [0, 2], 2: [0, 1], 3: [2, 4], 4: [2, 3]}
    with pytest.raises(ValueError, match="distinct"):
        mppde.radius_graph([0.0, 0.0, 1.0], 0.5)
    with pytest.raises(ValueError, match="k must be"):
        mppde.knn_graph(x, 5)


def test_message_passing_is_permutation_equivariant():
    rng = np.random.default_rng(0)
    n = 12
    x = np.sort(rng.uniform(0, 4, n))
    g = mppde.radius_graph(x, 1.0)
    model = mppde.MPPDESolver(**SMALL)
    u = jnp.asarray(rng.normal(size=(n, 25)), jnp.float32)
    variables = jnp.asarray([0.3, 0.5], jnp.float32)
    offsets = mppde.relative_positions(g)
    params = model.init(jax.random.key(0), u, jnp.asarray(x / 4), offsets, variables, 0.1, g)
    out = model.apply(params, u, jnp.asarray(x / 4), offsets, variables, 0.1, g)

    perm = rng.permutation(n)
    inv = np.argsort(perm)  # node i of the original is node inv[i] of the permuted graph
    gp = g._replace(senders=jnp.asarray(inv[np.asarray(g.senders)]), receivers=jnp.asarray(inv[np.asarray(g.receivers)]),
                    nodes={"x": jnp.asarray(x[perm])})
    out_p = model.apply(params, u[perm], jnp.asarray(x[perm] / 4), offsets, variables, 0.1, gp)
    np.testing.assert_allclose(out_p, out[perm], atol=1e-5)


def test_parameter_count_matches_the_original():
    """634,745 parameters for E1 (hidden 128, 6 layers, K 25): the figure of the original code."""
    setup = mppde.Setup(family="E1", nx=50)
    params = mppde.init(jax.random.key(0), mppde.MPPDESolver(), setup)
    assert sum(x.size for x in jax.tree.leaves(params)) == 634_745
    assert decoder_shape(128, 25) == (16, 3, 14)
    with pytest.raises(ValueError, match="hidden >= time_window"):
        mppde.MPPDESolver(hidden=16)


def test_temporal_bundling_output_form():
    """u(t_k) = u(t_0) + k dt d_k: with the decoder's last layer zeroed, the prediction is u(t_0)."""
    setup = mppde.Setup(family="E2", nx=20, t_end=4.0)
    model = mppde.MPPDESolver(**SMALL)
    params = mppde.init(jax.random.key(0), model, setup)
    params = jax.tree_util.tree_map_with_path(lambda p, v: jnp.zeros_like(v) if "decoder_2" in jax.tree_util.keystr(p) else v, params)
    u = jax.random.normal(jax.random.key(1), (3, 25, 20))
    pred = mppde.predict(model, params, setup, u, jnp.array([25, 30, 40]), jnp.ones((3, 1)) * 0.1)
    np.testing.assert_allclose(pred, jnp.broadcast_to(u[:, -1:], pred.shape), atol=1e-6)


def test_faithful_beta_sign():
    eq = jnp.array([[1.0, 0.2, 0.5]])
    np.testing.assert_allclose(mppde.Setup(family="E3", t_end=2.0).normalise(eq), [[1 / 3, -0.5, 0.5]], rtol=1e-6)
    np.testing.assert_allclose(mppde.Setup(family="E3", t_end=2.0, faithful=False).normalise(eq), [[1 / 3, 0.5, 0.5]], rtol=1e-6)


def _toy_batch(setup, b=4, epoch=1):
    u = jnp.sin(jnp.linspace(0, 6, setup.nt)[None, :, None] + jnp.linspace(0, 3, setup.nx)[None, None, :] + jnp.arange(b)[:, None, None])
    return {"u": u, "eq": jnp.full((b, len(setup.variables)), 0.1), "epoch": jnp.int32(epoch)}


def test_pushforward_detaches_the_unrolled_input():
    setup = mppde.Setup(family="E1", nx=16, nt=100)
    model = mppde.MPPDESolver(**SMALL)
    params = mppde.init(jax.random.key(0), model, setup)
    batch = _toy_batch(setup)
    loss = jax.jit(mppde.pushforward_loss(model, setup, max_unrolling=1))
    # find a key whose draw unrolls once, and one that does not
    keys = {int(loss(params, batch, jax.random.key(i))[1]["unrolled"]): jax.random.key(i) for i in range(20)}
    assert set(keys) == {0, 1}
    assert int(loss(params, dict(batch, epoch=jnp.int32(0)), keys[1])[1]["unrolled"]) == 0  # epoch 0: never

    key = keys[1]
    grads = jax.grad(lambda p: loss(p, batch, key)[0])(params)
    # the same draw of starts, recomputed by hand: unroll once outside the gradient
    k = setup.time_window
    key_n, key_s = jax.random.split(key)
    span = setup.nt - 2 * k - k + 1
    start = k + jnp.floor(jax.vmap(jax.random.uniform)(mppde.solver.per_example_keys(key_s, 4)) * span).astype(jnp.int32)
    window0 = jax.vmap(lambda ub, s: jax.lax.dynamic_slice_in_dim(ub, s - k, k, 0))(batch["u"], start)
    window1 = mppde.predict(model, params, setup, window0, start, batch["eq"])
    target = jax.vmap(lambda ub, s: jax.lax.dynamic_slice_in_dim(ub, s + k, k, 0))(batch["u"], start)
    manual = jax.grad(lambda p: jnp.sqrt(jnp.sum((mppde.predict(model, p, setup, window1, start + k, batch["eq"]) - target) ** 2)))(params)
    chex.assert_trees_all_close(grads, manual, rtol=1e-4, atol=1e-6)


def test_rollout_compiles_once_and_matches_stepwise_prediction():
    setup = mppde.Setup(family="E1", nx=16, nt=100)
    model = mppde.MPPDESolver(**SMALL)
    params = mppde.init(jax.random.key(0), model, setup)
    traces = []

    def run(params, u0, eq):
        traces.append(1)
        return mppde.rollout(model, params, setup, u0, eq, 50, 2)

    jitted = jax.jit(run)
    batch = _toy_batch(setup)
    out = jitted(params, batch["u"][:, 25:50], batch["eq"])
    jitted(params, batch["u"][:, 25:50] * 2, batch["eq"] + 1)
    assert len(traces) == 1 and out.shape == (4, 50, 16)
    first = mppde.predict(model, params, setup, batch["u"][:, 25:50], jnp.full(4, 50), batch["eq"])
    second = mppde.predict(model, params, setup, first, jnp.full(4, 75), batch["eq"])
    np.testing.assert_allclose(out, jnp.concatenate([first, second], 1), atol=1e-5)


def test_accumulated_error_by_hand():
    pred = jnp.zeros((2, 3, 4))
    target = jnp.ones((2, 3, 4)) * jnp.array([1.0, 2.0])[:, None, None]
    np.testing.assert_allclose(mppde.accumulated_error(pred, target), [3.0, 12.0])


def test_test_preset_trains_end_to_end(tmp_path):
    import train
    from jaxsci.core import read_metrics
    from train.__main__ import main

    main(["mppde", "--config", f"{train.CONFIG_DIR / 'mppde.py'}:test", "--workdir", str(tmp_path), "--config.fit.progress=false"])
    evals = read_metrics(tmp_path, "eval")
    assert evals and np.isfinite(evals[-1]["acc_error"]) and evals[-1]["weno_acc_error"] > 0
    assert len(read_metrics(tmp_path, "train")) == 2


def test_spectral_conv_matches_an_explicit_dft():
    """SpectralConv1d against a slow sum over modes of an explicit DFT (float64 numpy)."""
    n, c, o, modes = 12, 3, 2, 4
    x = np.random.default_rng(0).normal(size=(n, c)).astype(np.float32)
    layer = mppde.SpectralConv1d(o, modes)
    params = layer.init(jax.random.key(0), jnp.asarray(x))
    w = np.asarray(params["params"]["weight_real"], np.float64) + 1j * np.asarray(params["params"]["weight_imag"], np.float64)
    grid = np.arange(n)
    expected = np.zeros((n, o))
    for m in range(modes):
        coeff = np.exp(-2j * np.pi * m * grid / n) @ x.astype(np.float64)  # (c,)
        out_m = coeff @ w[m]  # (o,)
        # a real signal's irfft: mode 0 counted once, others twice (with their conjugates)
        weight = 1.0 if m == 0 else 2.0
        expected += weight * np.real(np.exp(2j * np.pi * m * grid / n)[:, None] * out_m[None, :]) / n
    np.testing.assert_allclose(layer.apply(params, jnp.asarray(x)), expected, atol=1e-5)
    with pytest.raises(ValueError, match="modes"):
        mppde.SpectralConv1d(o, 8).init(jax.random.key(0), jnp.asarray(x))


def test_fno_baseline_trains_through_the_same_loss_and_rollout():
    setup = mppde.Setup(family="E1", nx=16, nt=100, faithful=False)
    model = mppde.FNO1d(width=8, modes=4, num_layers=2)
    params = mppde.init(jax.random.key(0), model, setup)
    batch = _toy_batch(setup, epoch=0)
    loss, grads = jax.value_and_grad(lambda p: mppde.pushforward_loss(model, setup)(p, batch, jax.random.key(0))[0])(params)
    assert np.isfinite(loss) and all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grads))
    assert mppde.evaluate_rollout(model, params, setup, batch["u"], batch["eq"]).shape == (4,)


def test_generated_file_equals_in_memory_data(tmp_path):
    """Files of python -m jaxsci.pde.generate hold the very trajectories train/mppde.py generates in memory."""
    from jaxsci.pde.generate import generate_file
    from train.mppde import load_dataset, make_dataset

    path = generate_file("E2", num=3, split="valid", out=str(tmp_path), seed=5, chunk=2, dtype="float32",
                         progress=False, nx=[50], nt=100, baseline=True)
    from_file = load_dataset(path, "E2", 50, baseline=True)
    in_memory = make_dataset("E2", 50, 100, 3, "valid", 5, baseline=True)
    assert from_file["u"].shape == (3, 100, 50) and from_file["eq"].shape == (3, 1)
    for k in ("u", "eq", "weno"):
        np.testing.assert_allclose(from_file[k], in_memory[k], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="lacks"):
        load_dataset(path, "E2", 40)
    with pytest.raises(FileNotFoundError, match="jaxsci.pde.generate"):
        load_dataset(str(tmp_path / "nope.h5"), "E2", 50)


def test_wave_setup_uses_the_chebyshev_grid_and_knn_graph():
    from jaxsci.pde import wave

    setup = mppde.Setup(family="WE3", nx=20, nt=100, t_end=100.0, neighbours=3)
    np.testing.assert_allclose(setup.grid_np(), wave.chebyshev_grid_np(20), atol=1e-12)
    g = setup.graph()
    assert np.all(np.bincount(np.asarray(g.receivers), minlength=20) == 3)  # k nearest, as the original
    assert setup.variables == ("bc_left", "bc_right") and setup.periodic_length is None
    np.testing.assert_allclose(setup.normalise(jnp.array([[1.0, 0.0]])), [[1.0, 0.0]])
    model = mppde.MPPDESolver(**SMALL)
    params = mppde.init(jax.random.key(0), model, setup)
    u = jnp.zeros((2, 25, 20))
    assert mppde.predict(model, params, setup, u, jnp.array([25, 50]), jnp.array([[0.0, 1.0], [1.0, 1.0]])).shape == (2, 25, 20)


def test_wave_dataset_and_fno_refusal():
    from train.configs.mppde import get_config
    from train.mppde import make_dataset, make_problem

    data = make_dataset("WE3", 20, 100, 2, "train", 0)
    assert data["u"].shape == (2, 100, 20) and set(np.unique(data["eq"])) <= {0.0, 1.0} and "weno" not in data
    cfg = get_config("test")
    cfg.family, cfg.model = "WE3", "fno"
    with pytest.raises(ValueError, match="regular periodic grid"):
        make_problem(cfg)
    cfg.family = "E9"
    with pytest.raises(ValueError, match="unknown family"):
        make_problem(cfg)
