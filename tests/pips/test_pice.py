"""PICE on a toy three-atom molecule: the scan's per-replica gradients and costs against an explicit
step-by-step loop, importance weights, Kabsch RMSD, the policy's two modes, and 8 devices = 1 device through the shared loop."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxsci import pips
from jaxsci.core import fit, init_train_state, make_mesh
from jaxsci.md import langevin
from jaxsci.pips.pice import PICEConfig, System

R0, K_BOND, H, C, W = 0.15, 5e4, 20.0, 0.25, 0.05


def toy_potential(x):
    """Two stiff bonds 0-1, 1-2 and a double well (height H kJ/mol) in the 0-2 distance, minima C -+ W nm."""
    d = lambda i, j: jnp.sqrt(jnp.sum((x[i] - x[j]) ** 2))  # noqa: E731
    bonds = K_BOND / 2 * ((d(0, 1) - R0) ** 2 + (d(1, 2) - R0) ** 2)
    return bonds + H * (1 - ((d(0, 2) - C) / W) ** 2) ** 2


def toy_config(d02):
    half = d02 / 2
    y = np.sqrt(R0**2 - half**2)
    return jnp.array([[-half, 0.0, 0.0], [0.0, y, 0.0], [half, 0.0, 0.0]])


def toy_system():
    start, target = toy_config(C - W), toy_config(C + W)
    cv = lambda x: jnp.sqrt(jnp.sum((x[0] - x[2]) ** 2))[None]  # noqa: E731
    return System(potential=toy_potential, masses=jnp.array([12.0, 14.0, 12.0]), start=start, target=target,
                  cv=cv, cv_periodic=False, hit_radius=0.03)


def small_model(mode="potential"):
    return pips.PolicyMLP(num_atoms=3, mode=mode, features=(16, 16))


@pytest.mark.parametrize("mode", ["potential", "force"])
def test_scan_gradients_and_costs_match_an_explicit_loop(mode):
    system, model = toy_system(), small_model(mode)
    cfg = PICEConfig(num_steps=6, save_every=3, sigma=0.1, control_scale=100.0)
    params = pips.init(jax.random.key(0), model, system.start)
    keys = jax.random.split(jax.random.key(1), 2)
    x0 = jnp.stack([system.start] * 2)
    paths, grads = pips.rollout(model, params, system, cfg, x0, keys, with_grads=True)

    masses = system.masses
    for n in range(2):  # the same draws, one step at a time, with the gradient of each step taken apart
        k_v, k_run = jax.random.split(keys[n])
        state = langevin.init_state(toy_potential, x0[n], langevin.maxwell_boltzmann(k_v, masses, cfg.temp))
        cost, total, emax = 0.0, jax.tree.map(jnp.zeros_like, params), float(state.energy)
        step_keys = [k for kb in jax.random.split(k_run, 2) for k in jax.random.split(kb, 3)]
        for k in step_keys:
            k_eps, k_xi = jax.random.split(k)
            eps = cfg.sigma * jax.random.normal(k_eps, (3, 3))
            xi = jax.random.normal(k_xi, (3, 3))
            u = pips.control(model, params, state.x, cfg.grad_scale)
            g = jax.grad(lambda p: jnp.sum(pips.control(model, p, state.x, cfg.grad_scale) * -eps))(params)
            total = jax.tree.map(jnp.add, total, g)
            cost += (0.5 * jnp.sum(u * u) + jnp.abs(jnp.sum(u * eps))) / cfg.sigma**2
            state = langevin.middle_step(toy_potential, state, masses, xi, dt=cfg.dt, friction=cfg.friction,
                                         temp=cfg.temp, external=cfg.control_scale * (u + eps))
            emax = max(emax, float(state.energy))
        np.testing.assert_allclose(paths.x[n], state.x, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(paths.control_cost[n], cost / cfg.num_steps, rtol=1e-4)
        np.testing.assert_allclose(paths.max_energy[n], emax, rtol=1e-5)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a[n], b, rtol=1e-4, atol=1e-6), grads, total)
    phi = cfg.terminal_scale * jnp.exp(jnp.mean((pips.pairwise_distances(paths.x) - pips.pairwise_distances(system.target)) ** 2, (-2, -1)))
    np.testing.assert_allclose(paths.cost, paths.control_cost + phi, rtol=1e-6)


def test_importance_weights_and_effective_sample_size():
    w, ess = pips.importance_weights(jnp.zeros(8))
    np.testing.assert_allclose(w, 1 / 8)
    np.testing.assert_allclose(ess, 8.0, rtol=1e-6)
    w, ess = pips.importance_weights(jnp.array([0.0, 50.0, 50.0, 50.0]))
    assert w[0] > 0.999 and abs(float(ess) - 1.0) < 1e-3
    w, _ = pips.importance_weights(jnp.array([1.0, 2.0]))
    np.testing.assert_allclose(w[0] / w[1], np.e, rtol=1e-6)


def test_kabsch_rmsd_ignores_rigid_motion_but_not_reflection():
    x = jax.random.normal(jax.random.key(0), (7, 3))
    q, _ = jnp.linalg.qr(jax.random.normal(jax.random.key(1), (3, 3)))
    q = q * jnp.sign(jnp.linalg.det(q))  # a proper rotation
    assert float(pips.kabsch_rmsd(x @ q.T + jnp.array([1.0, -2.0, 0.5]), x)) < 1e-5
    mirrored = x * jnp.array([1.0, 1.0, -1.0])
    assert float(pips.kabsch_rmsd(mirrored, x)) > 0.05
    y = x + 0.1 * jax.random.normal(jax.random.key(2), x.shape)
    xc, yc = x - x.mean(0), y - y.mean(0)
    assert float(pips.kabsch_rmsd(y, x)) <= float(jnp.sqrt(jnp.mean(jnp.sum((xc - yc) ** 2, -1)))) + 1e-6


def test_pairwise_distances_have_finite_gradients_on_the_diagonal():
    x = toy_config(0.2)
    np.testing.assert_allclose(pips.pairwise_distances(x)[0, 2], 0.2, rtol=1e-6)
    g = jax.grad(lambda x: pips.terminal_cost(x, toy_config(0.3), 10.0))(x)
    assert np.all(np.isfinite(g))


def test_policy_modes_and_refusals():
    x = toy_config(0.2)
    potential = small_model("potential")
    params = pips.init(jax.random.key(0), potential, x)
    u = pips.control(potential, params, x, grad_scale=10.0)
    g = jax.grad(lambda y: potential.apply({"params": params}, y))(x)
    np.testing.assert_allclose(u, -10.0 * g, rtol=1e-6)
    force = small_model("force")
    assert pips.control(force, pips.init(jax.random.key(0), force, x), x).shape == (3, 3)
    with pytest.raises(ValueError, match="unknown policy mode"):
        pips.init(jax.random.key(0), pips.PolicyMLP(num_atoms=3, mode="bias"), x)
    with pytest.raises(ValueError, match="expects positions"):
        pips.init(jax.random.key(0), potential, jnp.zeros((4, 3)))
    with pytest.raises(ValueError, match="multiple of save_every"):
        PICEConfig(num_steps=10, save_every=3)
    with pytest.raises(ValueError, match="sigma must be >= 0"):
        PICEConfig(sigma=-0.1)
    with pytest.raises(ValueError, match="PICE needs control noise"):
        pips.make_step(potential, toy_system(), PICEConfig(num_steps=6, save_every=3, sigma=0.0), optax.sgd(1e-3))


def test_sampling_without_control_noise_follows_the_learned_control_alone():
    """sigma = 0: the same paths as sigma > 0 would give with eps = 0, i.e. a path driven by u alone; the
    running cost is reported with lambda = 1 (u.u / 2 per step, averaged)."""
    system, model = toy_system(), small_model()
    params = pips.init(jax.random.key(0), model, system.start)
    cfg = PICEConfig(num_steps=6, save_every=3, sigma=0.0, control_scale=100.0)
    keys = jax.random.split(jax.random.key(1), 2)
    paths, _ = pips.rollout(model, params, system, cfg, jnp.stack([system.start] * 2), keys)
    k_v, k_run = jax.random.split(keys[0])
    state = langevin.init_state(toy_potential, system.start, langevin.maxwell_boltzmann(k_v, system.masses, cfg.temp))
    cost = 0.0
    for k in [k for kb in jax.random.split(k_run, 2) for k in jax.random.split(kb, 3)]:
        xi = jax.random.normal(jax.random.split(k)[1], (3, 3))
        u = pips.control(model, params, state.x, cfg.grad_scale)
        cost += 0.5 * float(jnp.sum(u * u))
        state = langevin.middle_step(toy_potential, state, system.masses, xi, dt=cfg.dt, friction=cfg.friction,
                                     temp=cfg.temp, external=cfg.control_scale * u)
    np.testing.assert_allclose(paths.x[0], state.x, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(paths.control_cost[0], cost / cfg.num_steps, rtol=1e-4)


def test_per_replica_sigma_overrides_the_config():
    """``sigma (n,)`` (an annealed schedule's value): equal to the config's, the same paths and costs; each replica
    follows its own value (replica 1 at sigma 0 equals a sampling rollout of that replica)."""
    system, model = toy_system(), small_model()
    params = pips.init(jax.random.key(0), model, system.start)
    cfg = PICEConfig(num_steps=6, save_every=3, sigma=0.05, control_scale=100.0)
    keys = jax.random.split(jax.random.key(2), 2)
    x0 = jnp.stack([system.start] * 2)
    base, g_base = pips.rollout(model, params, system, cfg, x0, keys, with_grads=True)
    same, g_same = pips.rollout(model, params, system, cfg, x0, keys, with_grads=True, sigma=jnp.array([0.05, 0.05]))
    np.testing.assert_allclose(same.x, base.x, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(same.cost, base.cost, rtol=1e-6)
    chex.assert_trees_all_close(g_same, g_base, rtol=1e-5, atol=1e-8)
    mixed, _ = pips.rollout(model, params, system, cfg, x0, keys, sigma=jnp.array([0.05, 0.0]))
    sampled, _ = pips.rollout(model, params, system, dataclasses.replace(cfg, sigma=0.0), x0, keys)
    np.testing.assert_allclose(mixed.x[0], base.x[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(mixed.x[1], sampled.x[1], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(mixed.control_cost[1], sampled.control_cost[1], rtol=1e-6)


def test_a_blown_up_replica_gets_weight_zero_and_the_update_stays_finite():
    """A replica whose path turns non-finite (here: it starts where the potential is NaN) is counted in ``diverged``,
    left out of the weights and of every other metric, cost_min included, and the update is that of the others."""
    # sqrt(1 - x_00): NaN energy and force beyond x_00 = 1 nm, a gentle push before it
    system = dataclasses.replace(toy_system(), potential=lambda x: toy_potential(x) + jnp.sqrt(1.0 - x[0, 0]))
    model = small_model()
    cfg = PICEConfig(num_steps=6, save_every=3, sigma=0.05, control_scale=100.0)
    optimizer = optax.sgd(1e-3)
    state = init_train_state(pips.init(jax.random.key(0), model, system.start), optimizer)
    blown = system.start.at[:, 0].add(2.0)  # the whole molecule shifted into the NaN region
    step = jax.jit(pips.make_step(model, system, cfg, optimizer))
    new, metrics = step(state, {"x0": jnp.stack([system.start, blown, system.start]), "index": jnp.arange(3)},
                        jax.random.key(1))
    assert int(metrics["diverged"]) == 1
    for name, value in metrics.items():
        assert np.isfinite(float(value)), name
    # the same update as from the two healthy replicas alone (their keys fold in their own indices)
    ref, ref_metrics = step(state, {"x0": jnp.stack([system.start] * 2), "index": jnp.array([0, 2])}, jax.random.key(1))
    chex.assert_trees_all_close(new.params, ref.params, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(float(metrics["cost_min"]), float(ref_metrics["cost_min"]), rtol=1e-6)


def _toy_problem(num_replicas=8):
    system, model = toy_system(), small_model()
    cfg = PICEConfig(num_steps=300, save_every=50, sigma=0.05, control_scale=200.0, terminal_scale=100.0)
    optimizer = optax.adam(3e-3)
    state = init_train_state(pips.init(jax.random.key(0), model, system.start), optimizer)
    batch = {"x0": jnp.stack([system.start] * num_replicas), "index": jnp.arange(num_replicas)}
    return system, model, cfg, pips.make_step(model, system, cfg, optimizer), state, batch


def test_eight_devices_give_the_one_device_result():
    system, model, cfg, step, state, batch = _toy_problem()
    data = lambda i: jax.tree.map(np.asarray, batch)  # noqa: E731
    fit_cfg = dict(num_steps=2, progress=False, plot=False, log_every=2)
    one = fit(step, state, data, fit_cfg, mesh=make_mesh(jax.devices()[:1])).state
    eight = fit(step, state, data, fit_cfg, mesh=make_mesh(jax.devices())).state
    assert len(jax.devices()) == 8
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6), one.params, eight.params)
