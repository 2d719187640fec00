"""The EGNN and EDM's dynamics: E(3) and permutation equivariance (float64, to 1e-5), padding that changes
nothing, and the dense layers against an explicit per-edge loop of the paper's equations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci import edm

B, N, F = 3, 7, 6


def _inputs(seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    mask = (np.arange(N)[None] < np.array([[7], [5], [2]])).astype(dtype)
    h = rng.normal(size=(B, N, F)).astype(dtype) * mask[..., None]
    x = 1.5 * rng.normal(size=(B, N, 3)).astype(dtype) * mask[..., None]
    return h, x, mask


def _orthogonal(seed, reflect):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.linalg.det(q))
    return q @ np.diag([1.0, 1.0, -1.0]) if reflect else q


@pytest.fixture(scope="module")
def egnn(x64):
    model = edm.EGNN(out_features=4, nf=16, num_layers=3)
    h, x, mask = _inputs()
    params = model.init(jax.random.key(0), h, x, mask)
    return model, params


@pytest.mark.parametrize("reflect", [False, True])
def test_egnn_is_e3_equivariant(egnn, reflect):
    model, params = egnn
    h, x, mask = _inputs(1)
    q, shift = _orthogonal(2, reflect), np.array([0.7, -3.0, 2.2])
    h_out, x_out = model.apply(params, h, x, mask)
    h_rot, x_rot = model.apply(params, h, (x @ q.T + shift) * mask[..., None], mask)
    np.testing.assert_allclose(h_rot, h_out, atol=1e-5)
    np.testing.assert_allclose(x_rot, (np.asarray(x_out) @ q.T + shift) * mask[..., None], atol=1e-5)
    assert float(jnp.max(jnp.abs(x_out - x))) > 1e-3  # the coordinates do move


def test_egnn_is_permutation_equivariant(egnn):
    model, params = egnn
    h, x, mask = _inputs(3)
    perm = np.array([2, 0, 4, 1, 3, 5, 6])  # permutes the 5 real atoms of molecule 1 among themselves
    h_out, x_out = model.apply(params, h, x, mask)
    h_p, x_p = model.apply(params, h[1:2, perm], x[1:2, perm], mask[1:2, perm])
    np.testing.assert_allclose(h_p[0], h_out[1, perm], atol=1e-5)
    np.testing.assert_allclose(x_p[0], x_out[1, perm], atol=1e-5)


def test_padding_changes_nothing(egnn):
    model, params = egnn
    h, x, mask = _inputs(4)
    h_out, x_out = model.apply(params, h, x, mask)
    garbage = np.random.default_rng(5).normal(size=h.shape) * 100 * (1 - mask[..., None])
    h_g, x_g = model.apply(params, h + garbage, x + garbage[..., :3], mask)
    np.testing.assert_allclose(h_g, h_out, atol=1e-9)
    np.testing.assert_allclose(x_g, x_out, atol=1e-9)
    assert np.all(np.asarray(h_out)[mask == 0] == 0) and np.all(np.asarray(x_out)[mask == 0] == 0)
    # each molecule alone gives the same as in the batch
    h1, x1 = model.apply(params, h[2:3, :2], x[2:3, :2], mask[2:3, :2])
    np.testing.assert_allclose(h1[0], h_out[2, :2], atol=1e-9)
    np.testing.assert_allclose(x1[0], x_out[2, :2], atol=1e-9)


def _dense(p, v):
    return v @ np.asarray(p["kernel"]) + (np.asarray(p["bias"]) if "bias" in p else 0.0)


def _silu(v):
    return v / (1 + np.exp(-v))


def _loop_egnn(params, h, x, norm_constant=1.0, coords_range=15.0, normalization_factor=1.0, layers=3):
    """The paper's equations, one atom pair at a time, for one molecule without padding."""
    n = len(x)
    h = _dense(params["embedding"], h)
    d0 = np.array([[np.sum((x[i] - x[j]) ** 2) for j in range(n)] for i in range(n)])
    for layer in range(layers):
        p = params[f"e_block_{layer}"]
        d2 = np.array([[np.sum((x[i] - x[j]) ** 2) for j in range(n)] for i in range(n)])
        g = p["gcl_0"]
        h_new = np.empty_like(h)
        for i in range(n):
            agg = 0.0
            for j in range(n):
                if i == j:
                    continue
                e = np.concatenate([h[i], h[j], [d2[i, j], d0[i, j]]])
                m = _silu(_dense(g["edge_mlp"]["layer_1"], _silu(_dense(g["edge_mlp"], e))))
                att = 1 / (1 + np.exp(-_dense(g["att_mlp"], m)))
                agg = agg + m * att
            agg = agg / normalization_factor
            h_new[i] = h[i] + _dense(g["node_mlp_1"], _silu(_dense(g["node_mlp_0"], np.concatenate([h[i], agg]))))
        h = h_new
        c = p["gcl_equiv"]
        x_new = x.copy()
        for i in range(n):
            for j in range(n):
                if i == j:
                    continue
                e = np.concatenate([h[i], h[j], [d2[i, j], d0[i, j]]])
                phi = _dense(c["coord_mlp_out"], _silu(_dense(c["coord_mlp"]["layer_1"], _silu(_dense(c["coord_mlp"], e)))))
                diff = (x[i] - x[j]) / (np.sqrt(d2[i, j] + 1e-8) + norm_constant)
                x_new[i] = x_new[i] + diff * np.tanh(phi) * coords_range / normalization_factor
        x = x_new
    return _dense(params["embedding_out"], h), x


def test_dense_layers_match_an_explicit_edge_loop(egnn):
    model, params = egnn
    h, x, mask = _inputs(6)
    h_out, x_out = model.apply(params, h, x, mask)
    p = jax.tree.map(np.asarray, params["params"])
    h_ref, x_ref = _loop_egnn(p, h[1, :5], x[1, :5])
    np.testing.assert_allclose(h_out[1, :5], h_ref, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(x_out[1, :5], x_ref, rtol=1e-7, atol=1e-9)


def test_dynamics_eps_is_equivariant_translation_invariant_and_centred(x64):
    dyn = edm.EGNNDynamics(nf=16, num_layers=2)
    h, x, mask = _inputs(7)
    z = np.concatenate([edm.remove_mean(x, mask), h], -1)
    t = np.array([0.1, 0.5, 0.9])
    params = dyn.init(jax.random.key(1), z, t, mask)
    out = dyn.apply(params, z, t, mask)
    assert out.shape == z.shape
    np.testing.assert_allclose(np.sum(np.asarray(out[..., :3]) * mask[..., None], axis=1), 0.0, atol=1e-9)
    q = _orthogonal(8, True)
    z_rot = np.concatenate([(z[..., :3] @ q.T + np.array([1.0, 2.0, 3.0])) * mask[..., None], h], -1)
    out_rot = dyn.apply(params, z_rot, t, mask)
    np.testing.assert_allclose(out_rot[..., :3], np.asarray(out[..., :3]) @ q.T, atol=1e-5)
    np.testing.assert_allclose(out_rot[..., 3:], out[..., 3:], atol=1e-5)
    # the time input matters, and so does a context
    assert float(jnp.max(jnp.abs(dyn.apply(params, z, 1 - t, mask) - out))) > 1e-4
    ctx_params = dyn.init(jax.random.key(1), z, t, mask, np.ones((B, 2)))
    a = dyn.apply(ctx_params, z, t, mask, np.zeros((B, 2)))
    b = dyn.apply(ctx_params, z, t, mask, np.ones((B, 2)))
    assert float(jnp.max(jnp.abs(a - b))) > 1e-4


def test_bad_shapes_are_refused(egnn):
    model, params = egnn
    h, x, mask = _inputs()
    with pytest.raises(ValueError, match="EGNN expects"):
        model.apply(params, h, x[..., :2], mask)
    with pytest.raises(ValueError, match="EGNN expects"):
        model.apply(params, h, x, mask[:, :3])


# --- the edge-list layout: the same parameters, the same numbers --------------------------------------------------
REAL_PAIRS = 7 * 6 + 5 * 4 + 2 * 1  # the real ordered pairs of _inputs' mask: 64 of B * N * (N - 1) = 126


@pytest.mark.parametrize("fraction", [1.0, REAL_PAIRS / (B * N * (N - 1))])
def test_edge_layout_equals_dense_values_and_gradients(egnn, fraction):
    model, params = egnn
    edges = edm.EGNN(out_features=4, nf=16, num_layers=3, layout="edges", edge_fraction=fraction)
    h, x, mask = _inputs(9)
    np.testing.assert_allclose(edges.apply(params, h, x, mask)[0], model.apply(params, h, x, mask)[0], atol=1e-12)
    np.testing.assert_allclose(edges.apply(params, h, x, mask)[1], model.apply(params, h, x, mask)[1], atol=1e-12)

    def loss(m):
        return lambda p, x: jnp.sum(jnp.sin(m.apply(p, h, x, mask)[0])) + jnp.sum(m.apply(p, h, x, mask)[1] ** 2)

    g_dense = jax.grad(loss(model), argnums=(0, 1))(params, x)
    g_edges = jax.jit(jax.grad(loss(edges), argnums=(0, 1)))(params, x)
    for a, b in zip(jax.tree.leaves(g_dense), jax.tree.leaves(g_edges)):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)


def test_edge_layout_over_budget_is_nan_not_wrong(egnn):
    model, params = egnn
    h, x, mask = _inputs(10)
    short = edm.EGNN(out_features=4, nf=16, num_layers=3, layout="edges",
                     edge_fraction=(REAL_PAIRS - 1) / (B * N * (N - 1)))
    h_out, x_out = short.apply(params, h, x, mask)
    assert np.all(np.isnan(h_out)) and np.all(np.isnan(x_out))
    with pytest.raises(ValueError, match="unknown layout"):
        edm.EGNN(nf=16, num_layers=1, layout="sparse").apply(params, h, x, mask)
    with pytest.raises(ValueError, match="edge_fraction"):
        edm.EGNN(nf=16, num_layers=1, layout="edges", edge_fraction=0.0).apply(params, h, x, mask)


def test_edge_graph_lists_exactly_the_real_pairs():
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], np.float32)
    g = edm.egnn.CompleteGraph.edges(jnp.asarray(mask), 0.5)  # 12 slots for 6 + 2 real pairs
    valid = np.asarray(g.targets) < 8
    pairs = sorted(zip(np.asarray(g.receivers)[valid].tolist(), np.asarray(g.senders)[valid].tolist()))
    assert pairs == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (4, 5), (5, 4)]
    assert not bool(g.overflow) and valid.sum() == 8 and len(valid) == 12


def test_edge_fraction_for_covers_random_batches():
    sizes = np.random.default_rng(0).integers(3, 30, 5000)
    frac = edm.egnn.edge_fraction_for(sizes, 16)
    assert 0.3 < frac < 1.0
    rng = np.random.default_rng(1)
    worst = max(np.sum(s * (s - 1)) for s in (rng.choice(sizes, 16) for _ in range(2000)))
    assert worst <= frac * 16 * 29 * 28
    assert edm.egnn.edge_fraction_for(np.full(10, 5), 4) == pytest.approx(1.0)  # equal sizes: all pairs are real
    # small batches get the exact worst case: here the 3 largest molecules (29, 29, 20 atoms)
    small = edm.egnn.edge_fraction_for(np.array([29, 29, 20, 5, 5, 5]), 3)
    assert small == pytest.approx((2 * 29 * 28 + 20 * 19) / (3 * 29 * 28))


def test_dynamics_and_predictor_take_the_edge_layout(x64):
    h, x, mask = _inputs(11)
    z = np.concatenate([edm.remove_mean(x, mask), h], -1)
    t = np.array([0.1, 0.5, 0.9])
    dense = edm.EGNNDynamics(nf=16, num_layers=2)
    params = dense.init(jax.random.key(2), z, t, mask)
    edges = edm.EGNNDynamics(nf=16, num_layers=2, layout="edges", edge_fraction=0.6)
    np.testing.assert_allclose(edges.apply(params, z, t, mask), dense.apply(params, z, t, mask), atol=1e-12)
    one_hot = np.eye(5)[np.arange(N) % 5][None].repeat(B, 0) * mask[..., None]
    charges = np.array([1.0, 6, 7, 8, 9])[np.arange(N) % 5][None] * mask
    p_dense = edm.predictor.PropertyEGNN(nf=16, num_layers=2)
    p_params = p_dense.init(jax.random.key(3), x, one_hot, charges, mask)
    p_edges = edm.predictor.PropertyEGNN(nf=16, num_layers=2, layout="edges")
    np.testing.assert_allclose(p_edges.apply(p_params, x, one_hot, charges, mask),
                               p_dense.apply(p_params, x, one_hot, charges, mask), rtol=1e-10)
