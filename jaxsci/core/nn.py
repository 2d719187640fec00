"""Small Flax helpers shared by the methods' models.

PyTorch's default initialisation of ``nn.Linear`` / ``nn.Conv`` (weights and biases uniform in
``+-1/sqrt(fan_in)``) differs from Flax's (LeCun normal weights, zero biases); models that reproduce a
PyTorch original use :func:`torch_uniform` so that their training starts where the original's does.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp


def torch_uniform(fan_in: int):
    """Initialiser: uniform in ``+-1/sqrt(fan_in)`` (PyTorch's default for weights and biases)."""
    bound = 1.0 / math.sqrt(fan_in)
    return lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound, bound)


def torch_dense(features: int, x: jax.Array, *, use_bias: bool = True, name: str | None = None) -> jax.Array:
    """``nn.Dense(features)(x)`` with PyTorch's default initialisation (call inside a compact method)."""
    init = torch_uniform(x.shape[-1])
    return nn.Dense(features, use_bias=use_bias, kernel_init=init, bias_init=init, name=name)(x)
