"""Pure training steps: ``step(state, batch, key) -> (state, metrics)``.

:func:`gradient_step` builds such a step from a pure loss. Methods whose update is not one gradient
step (a federated round, particles carried in the state, ...) write their own step with the same
signature and hand it to the same loop.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import flax
import jax
import jax.numpy as jnp
import optax

LossFn = Callable[[Any, Any, jax.Array], "tuple[jax.Array, dict[str, jax.Array]]"]
Step = Callable[[Any, Any, jax.Array], "tuple[Any, dict[str, jax.Array]]"]


@flax.struct.dataclass
class TrainState:
    """The state :func:`gradient_step` updates: a pytree, replicated over devices by the loop.

    Attributes:
      params: the model parameters.
      opt_state: the optax state of the optimizer that the step was built with.
      ema_params: an exponential moving average of ``params`` (None when not tracked).
    """

    params: Any
    opt_state: Any
    ema_params: Any = None


def init_train_state(params: Any, optimizer: optax.GradientTransformation, *, ema: bool = False) -> TrainState:
    """A :class:`TrainState` for ``params``; ``ema=True`` starts the EMA at ``params``."""
    ema_params = jax.tree.map(jnp.array, params) if ema else None
    return TrainState(params=params, opt_state=optimizer.init(params), ema_params=ema_params)


def per_example_keys(key: jax.Array, batch_size: int) -> jax.Array:
    """``batch_size`` independent keys, the i-th being ``fold_in(key, i)``.

    Keys follow the *global* example index, not the device: each device's examples draw different
    numbers, and the draws do not depend on how many devices share the batch.
    """
    return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, jnp.arange(batch_size))


def global_norm(tree: Any) -> jax.Array:
    """The L2 norm of all leaves of ``tree`` together (float32 or wider)."""
    leaves = jax.tree.leaves(tree)
    return jnp.sqrt(sum(jnp.sum(jnp.square(x.astype(jnp.promote_types(x.dtype, jnp.float32)))) for x in leaves))


def gradient_step(
    loss_fn: LossFn,
    optimizer: optax.GradientTransformation,
    *,
    clip_norm: float | None = None,
    ema_decay: float | None = None,
) -> Step:
    """Turn a pure loss into a training step for :func:`jaxsci.core.fit`.

    Args:
      loss_fn: ``loss_fn(params, batch, key) -> (loss, metrics)``, a scalar loss averaged over the
        (global) batch and a dict of scalar metrics.
      optimizer: an optax transformation; the state must come from :func:`init_train_state` with it.
      clip_norm: if given, gradients are rescaled to at most this global L2 norm before the update.
      ema_decay: if given, ``ema <- decay * ema + (1 - decay) * params`` after each update (the state
        must have been made with ``ema=True``).

    Returns:
      ``step(state, batch, key) -> (state, metrics)``; metrics hold ``loss``, ``grad_norm`` (before
      clipping) and ``loss_fn``'s own metrics.

    Example:
      >>> step = gradient_step(loss_fn, optax.adam(1e-3), clip_norm=1.0)
      >>> state = init_train_state(params, optax.adam(1e-3))
      >>> state, metrics = jax.jit(step)(state, batch, jax.random.key(0))
    """
    if clip_norm is not None and not clip_norm > 0:
        raise ValueError(f"clip_norm must be positive, got {clip_norm}")
    if ema_decay is not None and not 0.0 <= ema_decay < 1.0:
        raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay}")

    def step(state: TrainState, batch: Any, key: jax.Array):
        if ema_decay is not None and state.ema_params is None:
            raise ValueError("gradient_step(ema_decay=...) needs a state made with init_train_state(..., ema=True)")
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, batch, key)
        grad_norm = global_norm(grads)
        if clip_norm is not None:
            scale = jnp.minimum(1.0, clip_norm / jnp.maximum(grad_norm, 1e-30))
            grads = jax.tree.map(lambda g: (g * scale).astype(g.dtype), grads)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        ema_params = state.ema_params
        if ema_decay is not None:
            ema_params = jax.tree.map(
                lambda e, p: (ema_decay * e + (1.0 - ema_decay) * p).astype(e.dtype), ema_params, params
            )
        metrics = {"loss": loss, "grad_norm": grad_norm, **aux}
        return TrainState(params=params, opt_state=opt_state, ema_params=ema_params), metrics

    return step


class RecentNormsState(NamedTuple):
    """State of :func:`clip_by_recent_norms`: a ring buffer ``norms (max_len,)`` of the recent (clipped) global
    norms, the number of valid entries ``count`` and the next slot ``position``."""

    norms: jax.Array
    count: jax.Array
    position: jax.Array


def clip_by_recent_norms(max_len: int = 50, initial: float = 3000.0) -> optax.GradientTransformation:
    """Adaptive global-norm clipping (EDM's ``gradient_clipping``): the bound is ``1.5 mean + 2 std`` (population
    std) of the last ``max_len`` recorded norms, starting from the single value ``initial``; each step records
    ``min(norm, bound)``. Gradients above the bound are rescaled to it."""
    if max_len < 1 or not initial > 0:
        raise ValueError(f"clip_by_recent_norms needs max_len >= 1 and initial > 0, got {max_len}, {initial}")

    def init(params):
        del params
        norms = jnp.zeros((max_len,), jnp.float32).at[0].set(initial)
        return RecentNormsState(norms, jnp.ones((), jnp.int32), jnp.ones((), jnp.int32) % max_len)

    def update(updates, state, params=None):
        del params
        valid = jnp.arange(max_len) < state.count
        n = state.count.astype(jnp.float32)
        mean = jnp.sum(jnp.where(valid, state.norms, 0.0)) / n
        std = jnp.sqrt(jnp.sum(jnp.where(valid, (state.norms - mean) ** 2, 0.0)) / n)
        bound = 1.5 * mean + 2.0 * std
        norm = global_norm(updates)
        scale = jnp.minimum(1.0, bound / jnp.maximum(norm, 1e-30))
        updates = jax.tree.map(lambda g: (g * scale).astype(g.dtype), updates)
        norms = state.norms.at[state.position].set(jnp.minimum(norm, bound))
        return updates, RecentNormsState(norms, jnp.minimum(state.count + 1, max_len), (state.position + 1) % max_len)

    return optax.GradientTransformation(init, update)
