"""The PIPS policy: an MLP on raw Cartesian coordinates, in the paper's two parameterisations.

``mode="force"``: the network outputs the control ``u(x)`` directly, ``(N, 3)``.
``mode="potential"``: the network outputs a scalar bias potential ``b(x)`` and the control is
``u(x) = -grad_scale * grad_x b(x)`` (the original multiplies the gradient by 10).
The original's layout: ReLU, widths 128-256-256-256-128, no bias on the last layer of the potential,
and PyTorch's default initialisation (``torch_init``: weights and biases uniform in +-1/sqrt(fan_in)),
which matters here: Flax's default (LeCun normal) gives initial controls ~10x larger, whose forces
(x control_scale 1000) heat the molecule within a few hundred femtoseconds.
"""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxsci.core.nn import torch_dense

MODES = ("force", "potential")


class PolicyMLP(nn.Module):
    """``x (N, 3)`` nm -> ``(N, 3)`` control (mode "force") or ``()`` bias potential (mode "potential")."""

    num_atoms: int
    mode: str = "potential"
    features: Sequence[int] = (128, 256, 256, 256, 128)
    torch_init: bool = True

    def _dense(self, h, width, use_bias=True):
        if not self.torch_init:
            return nn.Dense(width, use_bias=use_bias)(h)
        return torch_dense(width, h, use_bias=use_bias)

    @nn.compact
    def __call__(self, x):
        if self.mode not in MODES:
            raise ValueError(f"unknown policy mode {self.mode!r}; choose one of {MODES}")
        if x.shape[-2:] != (self.num_atoms, 3):
            raise ValueError(f"policy expects positions (..., {self.num_atoms}, 3), got {x.shape}")
        h = x.reshape(*x.shape[:-2], 3 * self.num_atoms)
        for width in self.features:
            h = nn.relu(self._dense(h, width))
        if self.mode == "force":
            return self._dense(h, 3 * self.num_atoms).reshape(x.shape)
        return self._dense(h, 1, use_bias=False)[..., 0]


def control(model: PolicyMLP, params, x: jax.Array, grad_scale: float = 10.0) -> jax.Array:
    """The control ``u(x)``, ``(N, 3)``, of one configuration ``x (N, 3)``."""
    if model.mode == "force":
        return model.apply({"params": params}, x)
    return -grad_scale * jax.grad(lambda y: model.apply({"params": params}, y))(x)


def init(key: jax.Array, model: PolicyMLP, x: jax.Array):
    """Parameters for configurations shaped like ``x (N, 3)``."""
    return model.init(key, jnp.asarray(x, jnp.float32))["params"]
