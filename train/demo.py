"""The demo experiment: fit ``f(x) = sin(3x) + x/2`` on [-2, 2] from noisy samples with an MLP.

Not a paper method: it shows the shape every method's runner has (data -> model -> loss -> step ->
``fit``) and is the small model of the loop's benchmark.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxsci.core import ArrayLoader, check_keys, gradient_step, init_train_state

CONFIG_KEYS = ("preset", "num_examples", "noise", "hidden", "batch_size", "learning_rate", "clip_norm", "ema_decay", "fit")


def target(x):
    return jnp.sin(3.0 * x) + 0.5 * x


class MLP(nn.Module):
    """``(B, 1) -> (B, 1)``: SiLU hidden layers of the given widths."""

    hidden: Sequence[int]

    @nn.compact
    def __call__(self, x):
        for width in self.hidden:
            x = nn.silu(nn.Dense(width)(x))
        return nn.Dense(1)(x)


def make_problem(config):
    """``(step, state, loader, evaluate)`` for the demo: everything ``fit`` needs."""
    check_keys(config.keys(), CONFIG_KEYS, "the demo config")
    rng = np.random.default_rng(config.fit.seed)
    x = rng.uniform(-2, 2, size=(config.num_examples, 1)).astype(np.float32)
    y = np.asarray(target(x)) + config.noise * rng.normal(size=x.shape).astype(np.float32)
    loader = ArrayLoader({"x": x, "y": y}, config.batch_size, seed=config.fit.seed)

    model = MLP(tuple(config.hidden))
    params = model.init(jax.random.key(config.fit.seed), jnp.zeros((1, 1)))
    optimizer = optax.adam(config.learning_rate)

    def loss_fn(params, batch, key):
        err = model.apply(params, batch["x"]) - batch["y"]
        return jnp.mean(err**2), {}

    x_eval = jnp.linspace(-2, 2, 256)[:, None]

    def evaluate(state, key):
        return {
            "mse": jnp.mean((model.apply(state.params, x_eval) - target(x_eval)) ** 2),
            "mse_ema": jnp.mean((model.apply(state.ema_params, x_eval) - target(x_eval)) ** 2),
        }

    step = gradient_step(loss_fn, optimizer, clip_norm=config.clip_norm, ema_decay=config.ema_decay)
    state = init_train_state(params, optimizer, ema=True)
    return step, state, loader, evaluate


def train_and_evaluate(config, workdir, resume: bool = False) -> dict:
    from train import fit_and_plot

    return fit_and_plot("demo", config, workdir, (*make_problem(config), None), resume)
