"""Training loss and batched evaluation of neural decoders, with data sampled on the fly.

A training batch is a dict ``{"p": (B,)}`` of noise rates: each example draws its own error at its own
rate inside the jitted step (from the step key folded with the example index), so the shared loop
shards the rates over devices and the result does not depend on how many there are.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax

from jaxsci.core import per_example_keys
from jaxsci.end import toric


def make_loss(model, L: int, noise: str = "depolarizing", measurement_error: float = 0.0):
    """``loss(params, batch, key) -> (loss, metrics)``: mean softmax cross-entropy of ``model`` on
    fresh samples at the rates ``batch["p"] (B,)``; metrics hold the batch ``accuracy``."""
    toric.check_distance(L)
    if noise not in toric.NOISE_MODELS:
        raise ValueError(f"unknown noise model {noise!r}; choose from {toric.NOISE_MODELS}")

    def loss_fn(params, batch, key):
        p = batch["p"]
        keys = per_example_keys(key, p.shape[0])
        s, labels = jax.vmap(lambda k, pi: toric.sample(k, L, pi, noise, measurement_error))(keys, p)
        logits = model.apply({"params": params}, s)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        acc = jnp.mean(jnp.argmax(logits, -1) == labels)
        return ce, {"accuracy": acc}

    return loss_fn


loss = make_loss  # the public name of the paper's objective (cross-entropy over the 16 classes)


def decode(model, params, syndromes) -> jax.Array:
    """Class labels ``(N,)`` predicted by ``model`` for syndromes ``(N, L, L, 2)``."""
    return jnp.argmax(model.apply({"params": params}, syndromes), -1).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("model", "L", "num", "batch", "noise"))
def _correct_count(model, params, key, p, L: int, num: int, batch: int, noise: str, measurement_error):
    def body(count, i):
        s, labels = toric.sample_batch(jax.random.fold_in(key, i), L, p, batch, noise, measurement_error)
        return count + jnp.sum(decode(model, params, s) == labels), None

    count, _ = jax.lax.scan(body, jnp.zeros((), jnp.int32), jnp.arange(num // batch))
    return count


def evaluate_accuracy(model, params, key, L: int, p: float, num: int, *, batch: int = 4096,
                      noise: str = "depolarizing", measurement_error: float = 0.0) -> tuple[int, int]:
    """``(correct, total)`` of ``model`` on ``num`` fresh syndromes at rate ``p`` (``num`` rounded up
    to a multiple of ``batch``), sampled and decoded in one jitted scan."""
    batch = min(batch, num)
    steps = -(-num // batch)
    correct = _correct_count(model, params, key, jnp.float32(p), L, steps * batch, batch, noise, jnp.float32(measurement_error))
    return int(correct), steps * batch

