"""EDM's diffusion: the schedules, rotation invariance of the loss and the likelihood, the likelihood against an
independent Monte-Carlo computation of the variational bound (Gaussian KLs of q(z_s | z_t, x) and p(z_s | z_t),
not the library's SNR-weighted form), the sampler's centre of mass, the atom-count histogram, refusals."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

from jaxsci import edm

K = 5
CHARGES = np.array([1, 6, 7, 8, 9])


def _batch(seed=0, counts=(4, 6, 3), n=6):
    rng = np.random.default_rng(seed)
    b = len(counts)
    mask = (np.arange(n)[None] < np.array(counts)[:, None]).astype(np.float32)
    types = rng.integers(0, K, (b, n))
    pos = (1.3 * rng.normal(size=(b, n, 3)) * mask[..., None]).astype(np.float32)
    return dict(positions=pos, one_hot=(np.eye(K)[types] * mask[..., None]).astype(np.float32),
                charges=(CHARGES[types] * mask).astype(np.float32), mask=mask)


def _model(timesteps=8, **kw):
    cfg = edm.EDMConfig(timesteps=timesteps, **kw)
    return edm.EDM(cfg, edm.EGNNDynamics(nf=16, num_layers=2))


def test_polynomial_schedule_matches_its_formula():
    T, s = 1000, 1e-5
    a2 = edm.polynomial_schedule(T, s=s, power=2.0)
    assert a2.shape == (T + 1,)
    raw = (1 - (np.linspace(0, T + 1, T + 1) / (T + 1)) ** 2) ** 2
    ratios = np.concatenate([[1.0], raw[1:] / raw[:-1]])  # the clip only bites at the very end
    np.testing.assert_allclose(a2[:-1], ((1 - 2 * s) * np.cumprod(np.clip(ratios, 0.001, 1)) + s)[:-1], rtol=1e-12)
    np.testing.assert_allclose(a2[0], 1 - s, rtol=1e-12)
    gamma = edm.gamma_table("polynomial_2", T, s)
    assert np.all(np.diff(gamma) > 0)
    np.testing.assert_allclose(gamma[0], -math.log((1 - s) / s), rtol=1e-9)  # sigma_0^2 ~ s: the precision
    assert np.all(np.diff(edm.gamma_table("cosine", T, s)) > 0)


def test_learned_gamma_is_monotonic_with_its_endpoints():
    model = _model(noise_schedule="learned", loss_type="vlb")
    params = edm.init(jax.random.key(0), model, _batch())
    g = model.apply({"params": params}, jnp.linspace(0, 1, 101), method=edm.EDM.gamma)
    assert np.all(np.diff(np.asarray(g)) > 0)
    np.testing.assert_allclose([g[0], g[-1]], [-5.0, 10.0], rtol=1e-5)


def _rotation(seed=3):
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return (q * np.sign(np.linalg.det(q))).astype(np.float32)


@pytest.mark.parametrize("loss_type", ["l2", "vlb"])
def test_loss_and_likelihood_are_rotation_and_translation_invariant(loss_type):
    model = _model(loss_type=loss_type)
    batch = _batch(1)
    params = edm.init(jax.random.key(0), model, batch)
    q = _rotation()
    moved = dict(batch, positions=(batch["positions"] @ q.T + np.array([2.0, -1.0, 0.5], np.float32)) * batch["mask"][..., None])
    node_mask = jnp.asarray(batch["mask"])
    eps = edm.sample_position_feature_noise(jax.random.key(4), node_mask, model.cfg.feature_dim)
    eps0 = edm.sample_position_feature_noise(jax.random.key(5), node_mask, model.cfg.feature_dim)
    rot = lambda e: jnp.concatenate([e[..., :3] @ q.T, e[..., 3:]], -1)  # noqa: E731
    t_int = jnp.array([0, 3, 8])
    a = edm.loss_per_molecule(model, params, batch, None, t_int=t_int, eps=eps)
    b = edm.loss_per_molecule(model, params, moved, None, t_int=t_int, eps=rot(eps))
    np.testing.assert_allclose(a, b, rtol=2e-4)
    a = edm.nll_per_molecule(model, params, batch, None, t_int=t_int + 1, eps=eps, eps_0=eps0)
    b = edm.nll_per_molecule(model, params, moved, None, t_int=t_int + 1, eps=rot(eps), eps_0=rot(eps0))
    np.testing.assert_allclose(a, b, rtol=2e-4)


def test_simple_l2_loss_is_the_papers_formula():
    model = _model()
    batch = _batch(2)
    params = edm.init(jax.random.key(0), model, batch)
    node_mask = jnp.asarray(batch["mask"])
    eps = edm.sample_position_feature_noise(jax.random.key(6), node_mask, model.cfg.feature_dim)
    t_int = jnp.array([2, 5, 7])
    x, h, _ = edm.normalize(batch, model.cfg)
    gamma = jnp.asarray(model.cfg.gamma_table, jnp.float32)[t_int][:, None, None]
    xh = jnp.concatenate([x, h], -1)
    z = jnp.sqrt(jax.nn.sigmoid(-gamma)) * xh + jnp.sqrt(jax.nn.sigmoid(gamma)) * eps
    eps_hat = model.apply({"params": params}, z, t_int / model.cfg.timesteps, node_mask)[0]
    n = batch["mask"].shape[1]
    simple = 0.5 * jnp.sum((eps - eps_hat) ** 2, (1, 2)) / ((3 + model.cfg.feature_dim) * n)
    got = edm.loss_per_molecule(model, params, batch, None, t_int=t_int, eps=eps)
    prior = edm.kl_prior(xh, node_mask, jnp.full((3,), model.cfg.gamma_table[-1], jnp.float32))
    np.testing.assert_allclose(got, simple + prior, rtol=1e-5)


def _bound_by_gaussian_kls(model, params, batch, num_noise, seed):
    """-log p(x, h | N) <= KL_prior + sum_{t=1}^T E KL(q(z_s|z_t,x) || p(z_s|z_t)) + E[-log p(x, h | z_0)]
    for one molecule (batch of 1), every t summed explicitly, the expectations over ``num_noise`` draws, in float64
    numpy apart from the network's eps prediction. Returns (bound, standard error)."""
    cfg = model.cfg
    T = cfg.timesteps
    mask = batch["mask"][0].astype(bool)
    n_at = int(mask.sum())
    d_x = (n_at - 1) * 3
    x = batch["positions"][0][mask].astype(np.float64)
    x = x - x.mean(0)
    h = np.concatenate([batch["one_hot"][0][mask] / cfg.norm_values[1], batch["charges"][0][mask, None] / cfg.norm_values[2]], -1)
    xh = np.concatenate([x, h], -1)
    gam = cfg.gamma_table.astype(np.float64)
    a2, s2 = 1 / (1 + np.exp(gam)), 1 / (1 + np.exp(-gam))
    rng = np.random.default_rng(seed)

    def noise(m):
        e = rng.normal(size=(m, n_at, xh.shape[1]))
        e[..., :3] -= e[..., :3].mean(1, keepdims=True)
        return e

    def eps_hat(z, t):
        zb = np.zeros((len(z),) + batch["mask"].shape[1:] + (xh.shape[1],), np.float32)
        zb[:, :n_at] = z
        mb = np.repeat(batch["mask"], len(z), 0)
        out = model.apply({"params": params}, jnp.asarray(zb), jnp.full((len(z),), t / T, jnp.float32), jnp.asarray(mb))[0]
        return np.asarray(out, np.float64)[:, :n_at]

    # prior: KL(N(alpha_T xh, sigma_T^2) || N(0, 1)), x on its d_x-dimensional subspace
    aT, sT = math.sqrt(a2[T]), math.sqrt(s2[T])
    kl1 = -math.log(sT) + 0.5 * sT**2 - 0.5
    prior = (d_x + h.size) * kl1 + 0.5 * aT**2 * np.sum(xh**2)
    per_sample = np.zeros(num_noise)
    for t in range(1, T + 1):
        s = t - 1
        at, st, as_, ss = math.sqrt(a2[t]), math.sqrt(s2[t]), math.sqrt(a2[s]), math.sqrt(s2[s])
        a_ts = at / as_
        s2_ts = st**2 - a_ts**2 * ss**2
        var_q = s2_ts * ss**2 / st**2
        e = noise(num_noise)
        z = at * xh + st * e
        xh_hat = (z - st * eps_hat(z, t)) / at
        mu_q = a_ts * ss**2 / st**2 * z + as_ * s2_ts / st**2 * xh
        mu_p = a_ts * ss**2 / st**2 * z + as_ * s2_ts / st**2 * xh_hat
        per_sample += np.sum((mu_q - mu_p) ** 2, axis=(1, 2)) / (2 * var_q)
    # t = 0: Gaussian x on the subspace with std sigma_0 / alpha_0; discretised h
    a0, s0 = math.sqrt(a2[0]), math.sqrt(s2[0])
    e = noise(num_noise)
    z0 = a0 * xh + s0 * e
    x_hat = (z0[..., :3] - s0 * eps_hat(z0, 0)[..., :3]) / a0
    sx = s0 / a0
    nll_x = 0.5 * d_x * math.log(2 * math.pi) + d_x * math.log(sx) + np.sum((x - x_hat) ** 2, (1, 2)) / (2 * sx**2)
    zc = z0[..., 3:3 + K] * cfg.norm_values[1]
    sc = s0 * cfg.norm_values[1]
    p_cat = norm.cdf((1.5 - zc) / sc) - norm.cdf((0.5 - zc) / sc) + 1e-10
    p_cat = p_cat / p_cat.sum(-1, keepdims=True)
    true_k = np.argmax(h[:, :K], -1)
    nll_cat = -np.sum(np.log(p_cat[:, np.arange(n_at), true_k]), 1)
    zi, si, c = z0[..., 3 + K] * cfg.norm_values[2], s0 * cfg.norm_values[2], np.round(h[:, K] * cfg.norm_values[2])
    nll_int = -np.sum(np.log(norm.cdf((c + 0.5 - zi) / si) - norm.cdf((c - 0.5 - zi) / si) + 1e-10), 1)
    total = prior + per_sample + nll_x + nll_cat + nll_int
    return total.mean(), total.std() / math.sqrt(num_noise)


def test_likelihood_estimators_agree_with_an_independent_bound():
    """Both estimators (the evaluation NLL, t ~ U{1..T} plus a separate t = 0 term, and the VLB training loss,
    t ~ U{0..T}), stratified over t, against the explicit sum; the precision is raised to 1e-2 (and the
    feature scaling dropped) so that the terms, and so the Monte-Carlo error, stay moderate at T = 6."""
    model = _model(timesteps=6, noise_precision=1e-2, norm_values=(1.0, 1.0, 1.0))
    batch = _batch(7, counts=(5,), n=7)
    params = edm.init(jax.random.key(1), model, batch)
    ref, ref_se = _bound_by_gaussian_kls(model, params, batch, num_noise=256, seed=0)
    T, m = 6, 1260
    big = jax.tree.map(lambda v: np.repeat(v, m, 0), batch)
    vlb_model = _model(timesteps=6, noise_precision=1e-2, norm_values=(1.0, 1.0, 1.0), loss_type="vlb")
    t_nll, t_vlb = np.tile(np.arange(1, T + 1), m // T), np.tile(np.arange(0, T + 1), m // (T + 1))
    nll = jax.jit(lambda p, k: edm.nll_per_molecule(model, p, big, k, t_int=jnp.asarray(t_nll)))(params, jax.random.key(2))
    vlb = jax.jit(lambda p, k: edm.loss_per_molecule(vlb_model, p, big, k, t_int=jnp.asarray(t_vlb)))(params, jax.random.key(3))
    assert ref > 100  # an untrained model: a bound far from 0, so agreement is not vacuous
    for est, t in ((np.asarray(nll), t_nll), (np.asarray(vlb), t_vlb)):
        strata = np.unique(t)
        se = np.sqrt(sum(est[t == k].var() / np.sum(t == k) for k in strata)) / len(strata)
        mean = np.mean([est[t == k].mean() for k in strata])
        assert abs(mean - ref) < 4 * math.hypot(se, ref_se), (mean, ref, se, ref_se)
        assert math.hypot(se, ref_se) < 0.02 * ref  # the check resolves a 2 % error


def test_sampler_keeps_the_centre_of_mass_at_zero_and_masks_padding():
    model = _model(timesteps=10)
    batch = _batch(3)
    params = edm.init(jax.random.key(0), model, batch)
    mask = jnp.asarray(batch["mask"])
    x, types, charges, chain = jax.jit(lambda p, k: edm.sample(model, p, k, mask, return_chain=4))(params, jax.random.key(5))
    m = np.asarray(mask)[..., None]
    np.testing.assert_allclose(np.sum(np.asarray(x) * m, 1), 0.0, atol=1e-4 * float(np.abs(x).max()) + 1e-5)
    np.testing.assert_allclose(np.sum(np.asarray(chain[..., :3]) * m, 2), 0.0, atol=1e-4 * float(np.abs(chain).max()) + 1e-5)
    assert chain.shape == (4,) + mask.shape + (3 + model.cfg.feature_dim,)
    assert np.all(np.asarray(types)[np.asarray(mask) == 0] == -1) and np.all(np.asarray(x)[np.asarray(mask) == 0] == 0)
    assert np.all((np.asarray(types)[np.asarray(mask) > 0] >= 0) & (np.asarray(types)[np.asarray(mask) > 0] < K))


def test_num_atoms_follow_the_histogram():
    hist = np.zeros(30)
    hist[[3, 9, 19, 29]] = [1, 2, 3, 4]
    n = np.asarray(edm.sample_num_atoms(jax.random.key(0), hist, 20_000))
    assert set(np.unique(n)) == {3, 9, 19, 29}
    np.testing.assert_allclose([np.mean(n == k) for k in (3, 9, 19, 29)], [0.1, 0.2, 0.3, 0.4], atol=0.015)
    np.testing.assert_allclose(edm.log_p_num_atoms(hist, jnp.array([9])), [math.log(0.2)], rtol=1e-6)
    np.testing.assert_array_equal(edm.node_mask_for(jnp.array([1, 3]), 4), [[1, 0, 0, 0], [1, 1, 1, 0]])


def test_bad_configs_and_batches_are_refused():
    with pytest.raises(ValueError, match="unknown noise schedule"):
        edm.EDMConfig(noise_schedule="linear")
    with pytest.raises(ValueError, match="learned noise schedule needs"):
        edm.EDMConfig(noise_schedule="learned", loss_type="l2")
    with pytest.raises(ValueError, match="unknown loss_type"):
        edm.EDMConfig(loss_type="mse")
    with pytest.raises(ValueError, match="too large"):
        edm.EDMConfig(norm_values=(1.0, 4.0, 100.0))
    model = _model()
    batch = _batch()
    params = edm.init(jax.random.key(0), model, batch)
    with pytest.raises(ValueError, match="one_hot"):
        edm.loss_per_molecule(model, params, dict(batch, one_hot=batch["one_hot"][..., :4]), jax.random.key(0))
    with pytest.raises(ValueError, match="needs 'charges'"):
        edm.loss_per_molecule(model, params, {k: v for k, v in batch.items() if k != "charges"}, jax.random.key(0))


def test_ancestral_sampler_with_the_exact_denoiser_returns_the_data_point():
    """For data that is one fixed molecule (x*, h*), the optimal denoiser is eps*(z_t) = (z_t - alpha_t xh*) / sigma_t;
    the sampler driven by it must end at x* (up to sigma_0 / alpha_0 noise) with h*'s types and charges."""
    cfg = edm.EDMConfig(timesteps=200)
    batch = _batch(11, counts=(6, 4), n=6)
    mask = jnp.asarray(batch["mask"])
    x, h, _ = edm.normalize(batch, cfg)
    xh = jnp.concatenate([x, h], -1)
    table = jnp.asarray(cfg.gamma_table, jnp.float32)
    gamma_fn = lambda t: table[jnp.round(t * cfg.timesteps).astype(jnp.int32)]  # noqa: E731

    def eps_star(z, t):
        g = gamma_fn(t)[:, None, None]
        return (z - jnp.sqrt(jax.nn.sigmoid(-g)) * xh) / jnp.sqrt(jax.nn.sigmoid(g)) * mask[..., None]

    out_x, types, charges = edm.ancestral_sample(eps_star, gamma_fn, cfg, jax.random.key(0), mask)
    m = np.asarray(batch["mask"]) > 0
    np.testing.assert_allclose(np.asarray(out_x)[m], np.asarray(x)[m], atol=0.05)
    np.testing.assert_array_equal(np.asarray(types)[m], np.argmax(batch["one_hot"], -1)[m])
    np.testing.assert_array_equal(np.asarray(charges)[m], batch["charges"][m])


def test_nll_estimate_averages_independent_draws():
    model = _model()
    batch = _batch(3)
    params = edm.init(jax.random.key(0), model, batch)
    key = jax.random.key(9)
    draws = [edm.nll_per_molecule(model, params, batch, k) for k in jax.random.split(key, 3)]
    np.testing.assert_allclose(edm.nll_estimate(model, params, batch, key, num_draws=3), np.mean(draws, 0), rtol=1e-5)
    log_pN = jnp.array([-1.0, -2.0, -3.0])
    np.testing.assert_allclose(edm.nll_estimate(model, params, batch, key, log_pN, num_draws=3),
                               np.mean(draws, 0) - log_pN, rtol=1e-5)
    assert not np.allclose(draws[0], draws[1])  # the draws differ: the average is not one draw repeated
    with pytest.raises(ValueError, match="num_draws"):
        edm.nll_estimate(model, params, batch, key, num_draws=0)
