"""END's symmetry: its output transforms under translations of the syndrome exactly as the optimal
decoder's does; the non-equivariant baseline does not."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxsci import end
from jaxsci.core import gradient_step, init_train_state
from jaxsci.end import toric

SMALL = dict(channels=(8, 8), kernel_sizes=(3, 3))


def _setup(head, L=5, n=16, seed=0):
    s, labels = toric.sample_batch(jax.random.key(seed), L, 0.15, n)
    model = end.Decoder(head=head, **SMALL)
    params = model.init(jax.random.key(seed + 1), s)["params"]
    # random non-zero biases so no symmetry holds by accident of initialisation
    params = jax.tree.map(lambda a: a + 0.1 * jax.random.normal(jax.random.key(7), a.shape), params)
    return model, params, s, labels


@pytest.mark.parametrize("shift", [(1, 0), (0, 1), (2, 3), (-1, 4)])
def test_end_is_equivariant_under_translations(shift):
    model, params, s, _ = _setup("end")
    out = model.apply({"params": params}, s)
    moved = model.apply({"params": params}, toric.translate_syndrome(s, shift))
    flip = toric.bits_to_label(toric.translation_flip(s, shift))
    assert np.any(np.asarray(flip) != 0)
    np.testing.assert_allclose(moved, toric.permute_logits(out, flip), atol=2e-5, rtol=1e-5)


def test_the_baselines_are_not_equivariant():
    shift = (1, 2)
    for head in ("fc", "mean"):
        model, params, s, _ = _setup(head)
        out = model.apply({"params": params}, s)
        moved = model.apply({"params": params}, toric.translate_syndrome(s, shift))
        flip = toric.bits_to_label(toric.translation_flip(s, shift))
        assert not np.allclose(moved, toric.permute_logits(out, flip), atol=1e-3), head
    # "mean" is translation-invariant instead (the wrong symmetry for the optimal decoder)
    model, params, s, _ = _setup("mean")
    np.testing.assert_allclose(model.apply({"params": params}, toric.translate_syndrome(s, shift)),
                               model.apply({"params": params}, s), atol=2e-5)


def test_end_works_at_any_distance_and_fc_is_tied_to_one():
    model, params, _, _ = _setup("end", L=4)
    s6, _ = toric.sample_batch(jax.random.key(3), 6, 0.1, 4)
    assert model.apply({"params": params}, s6).shape == (4, 16)
    model, params, _, _ = _setup("fc", L=4)
    with pytest.raises(Exception):
        model.apply({"params": params}, s6)


def test_bad_input_is_refused_before_work():
    model = end.Decoder(**SMALL)
    with pytest.raises(ValueError, match="syndrome must have shape"):
        model.init(jax.random.key(0), jnp.zeros((2, 4, 4, 3)))
    with pytest.raises(ValueError, match="unknown head"):
        end.Decoder(head="attention").init(jax.random.key(0), jnp.zeros((2, 4, 4, 2)))


def test_training_learns_and_evaluation_counts_correctly():
    L = 4
    model = end.Decoder(**SMALL)
    s, _ = toric.sample_batch(jax.random.key(0), L, 0.1, 2)
    state = init_train_state(model.init(jax.random.key(1), s)["params"], optax.adam(3e-3))
    step = jax.jit(gradient_step(end.make_loss(model, L), optax.adam(3e-3)))
    batch = {"p": jnp.full((64,), 0.08)}
    losses = []
    for i in range(60):
        state, metrics = step(state, batch, jax.random.key(100 + i))
        losses.append(float(metrics["loss"]))
    assert np.mean(losses[-10:]) < 0.8 * np.mean(losses[:5])
    # evaluate_accuracy counts what decode says on the same samples
    correct, total = end.evaluate_accuracy(model, state.params, jax.random.key(5), L, 0.08, 300, batch=100)
    assert total == 300
    manual = 0
    for i in range(3):
        s_i, l_i = toric.sample_batch(jax.random.fold_in(jax.random.key(5), i), L, 0.08, 100)
        manual += int(np.sum(np.asarray(end.decode(model, state.params, s_i)) == np.asarray(l_i)))
    assert correct == manual
