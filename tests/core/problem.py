"""A tiny regression problem shared by the core tests: linear model, MSE, per-example noise."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxsci.core import ArrayLoader, gradient_step, init_train_state, per_example_keys

TRUE_W = np.array([1.0, -2.0, 3.0, 0.5], np.float32)


def data(num_examples=256, batch_size=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(num_examples, 4)).astype(np.float32)
    y = x @ TRUE_W + 0.1 * rng.normal(size=num_examples).astype(np.float32)
    idx = np.arange(num_examples, dtype=np.int32)
    return ArrayLoader({"x": x, "y": y, "idx": idx}, batch_size, seed=seed)


def loss_fn(params, batch, key):
    """MSE with a per-example random input jitter, so the step's PRNG use is exercised."""
    noise = jax.vmap(lambda k: 0.01 * jax.random.normal(k, (4,)))(per_example_keys(key, batch["x"].shape[0]))
    pred = (batch["x"] + noise) @ params["w"] + params["b"]
    return jnp.mean((pred - batch["y"]) ** 2), {"first_idx": batch["idx"][0].astype(jnp.float32)}


OPTIMIZER = optax.adam(1e-2)


def problem(ema=True, clip_norm=10.0):
    params = {"w": jnp.zeros(4, jnp.float32), "b": jnp.zeros((), jnp.float32)}
    state = init_train_state(params, OPTIMIZER, ema=ema)
    step = gradient_step(loss_fn, OPTIMIZER, clip_norm=clip_norm, ema_decay=0.9 if ema else None)
    return step, state
