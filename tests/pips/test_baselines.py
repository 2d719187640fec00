"""Baselines on the toy molecule: unbiased MD stays in the start basin at 300 K; steered MD with a stiff
spring on the collective variable reaches the target, and its reported energies exclude the bias."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci import pips
from jaxsci.pips import baselines

from .test_pice import toy_potential, toy_system


def test_unbiased_md_stays_and_steered_md_arrives():
    system = toy_system()
    x0 = jnp.stack([system.start] * 8)
    keys = jax.random.split(jax.random.key(0), 8)
    run = dict(num_steps=500, save_every=50)
    free = baselines.md_paths(system, x0, keys, **run)
    steered = baselines.md_paths(system, x0, keys, bias=baselines.steered_bias(system, spring=2e4), **run)
    assert float(pips.hits(system, free.x).mean()) <= 0.25
    assert float(pips.hits(system, steered.x).mean()) == 1.0
    # energies along the path are the molecule's (no bias term)
    np.testing.assert_allclose(steered.energy[:, -1], jax.vmap(toy_potential)(steered.x), rtol=1e-5)
    assert np.all(np.asarray(steered.max_energy) >= np.asarray(steered.energy).max(-1) - 1e-4)


def test_steered_bias_moves_its_centre_and_refuses_without_cv():
    system = toy_system()
    bias = baselines.steered_bias(system, spring=100.0)
    assert float(bias(system.start, 0.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(bias(system.target, 1.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(bias(system.start, 1.0)) == pytest.approx(0.5 * 100 * 0.1**2, rel=1e-3)
    with pytest.raises(ValueError, match="no cv"):
        baselines.steered_bias(pips.System(toy_potential, system.masses, system.start, system.target), 1.0)
