"""gradient_step against a hand computation with optax; clipping, EMA, keys, config parsing."""

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from jaxsci.core import ConfigError, apply_overrides, gradient_step, init_train_state, per_example_keys
from jaxsci.core.config import parse_value
from jaxsci.core.step import global_norm


def _loss(params, batch, key):
    return jnp.mean((batch["x"] @ params["w"] - batch["y"]) ** 2), {"aux": jnp.float32(3.0)}


def _setup():
    rng = np.random.default_rng(0)
    batch = {"x": jnp.asarray(rng.normal(size=(16, 3)), jnp.float32), "y": jnp.asarray(rng.normal(size=16), jnp.float32)}
    params = {"w": jnp.asarray([0.5, -1.0, 2.0], jnp.float32)}
    return params, batch


def test_gradient_step_matches_optax_by_hand():
    params, batch = _setup()
    opt = optax.sgd(0.1, momentum=0.9)
    step = jax.jit(gradient_step(_loss, opt))
    state = init_train_state(params, opt)
    opt_state = opt.init(params)
    p = params
    for _ in range(3):
        state, metrics = step(state, batch, jax.random.key(0))
        g = jax.grad(lambda q: _loss(q, batch, None)[0])(p)
        updates, opt_state = opt.update(g, opt_state, p)
        p = optax.apply_updates(p, updates)
    chex.assert_trees_all_close(state.params, p, rtol=1e-6)
    assert float(metrics["aux"]) == 3.0
    np.testing.assert_allclose(metrics["grad_norm"], np.linalg.norm(g["w"]), rtol=1e-5)  # at the last step's input


def test_clipping_rescales_to_the_norm():
    params, batch = _setup()
    opt = optax.sgd(1.0)
    g = jax.grad(lambda q: _loss(q, batch, None)[0])(params)
    norm = float(global_norm(g))
    clip = norm / 4
    state, metrics = gradient_step(_loss, opt, clip_norm=clip)(init_train_state(params, opt), batch, jax.random.key(0))
    np.testing.assert_allclose(metrics["grad_norm"], norm, rtol=1e-6)
    np.testing.assert_allclose(params["w"] - state.params["w"], g["w"] * clip / norm, rtol=1e-5)
    state2, _ = gradient_step(_loss, opt, clip_norm=10 * norm)(init_train_state(params, opt), batch, jax.random.key(0))
    np.testing.assert_allclose(params["w"] - state2.params["w"], g["w"], rtol=1e-5)  # no clip below the norm


def test_ema_follows_its_recursion():
    params, batch = _setup()
    opt = optax.adam(0.1)
    step = jax.jit(gradient_step(_loss, opt, ema_decay=0.8))
    state = init_train_state(params, opt, ema=True)
    ema = params["w"]
    for _ in range(4):
        state, _ = step(state, batch, jax.random.key(0))
        ema = 0.8 * ema + 0.2 * state.params["w"]
    np.testing.assert_allclose(state.ema_params["w"], ema, rtol=1e-6)
    with pytest.raises(ValueError, match="ema=True"):
        gradient_step(_loss, opt, ema_decay=0.8)(init_train_state(params, opt), batch, jax.random.key(0))
    with pytest.raises(ValueError, match="ema_decay"):
        gradient_step(_loss, opt, ema_decay=1.5)


def test_per_example_keys_are_distinct_and_prefix_stable():
    keys = per_example_keys(jax.random.key(1), 8)
    draws = jax.vmap(lambda k: jax.random.normal(k))(keys)
    assert len(set(np.asarray(draws).round(6).tolist())) == 8
    np.testing.assert_array_equal(draws[:4], jax.vmap(lambda k: jax.random.normal(k))(per_example_keys(jax.random.key(1), 4)))


def test_overrides_parse_types_and_refuse_unknown_keys():
    cfg = ml_collections.ConfigDict({"lr": 1e-3, "hidden": (8, 8), "name": "x", "flag": False, "fit": {"num_steps": 10}})
    apply_overrides(cfg, {"lr": "2", "hidden": "[4, 5]", "name": "y", "flag": "true", "fit.num_steps": "7"})
    assert cfg.lr == 2.0 and isinstance(cfg.lr, float) and cfg.hidden == (4, 5) and cfg.name == "y" and cfg.flag is True
    assert cfg.fit.num_steps == 7
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['num_step'\] in config.fit; valid keys are: num_steps"):
        apply_overrides(cfg, {"fit.num_step": "3"})
    with pytest.raises(ConfigError, match="expected int"):
        apply_overrides(cfg, {"fit.num_steps": "1.5"})
    with pytest.raises(ConfigError, match="bool"):
        parse_value("maybe", True)


def test_clip_by_recent_norms_follows_edms_queue():
    """Against an explicit list-based queue: bound = 1.5 mean + 2 std of the last max_len recorded norms,
    starting from [initial], recording min(norm, bound)."""
    from jaxsci.core import clip_by_recent_norms

    max_len, initial = 4, 10.0
    tx = clip_by_recent_norms(max_len, initial)
    state = tx.init({"w": jnp.zeros(3)})
    queue = [initial]
    rng = np.random.default_rng(0)
    clipped = 0
    for k in range(12):
        g = {"w": jnp.asarray(rng.normal(size=3) * (40.0 if k in (2, 7) else 3.0), jnp.float32)}
        bound = 1.5 * np.mean(queue) + 2 * np.std(queue)
        norm = float(np.linalg.norm(g["w"]))
        out, state = tx.update(g, state)
        want = np.asarray(g["w"]) * min(1.0, bound / norm)
        np.testing.assert_allclose(out["w"], want, rtol=1e-5)
        clipped += norm > bound
        queue.insert(0, min(norm, bound))
        queue = queue[:max_len]
    assert clipped >= 2  # the two large gradients were cut
    with pytest.raises(ValueError, match="max_len"):
        clip_by_recent_norms(0)
