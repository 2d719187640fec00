"""The EDM runner: refusals before any work, and 8 devices = 1 device for the EDM training step through the shared
loop. (The runner end to end: the conditional run in test_predictor.py, the unconditional one in the colab test.)"""

import importlib.util
import jax
import numpy as np
import pytest

import train
from jaxsci.core import fit, make_mesh
from train.__main__ import main

pytestmark = pytest.mark.skipif(importlib.util.find_spec("qm9pack") is None, reason="qm9pack not installed")
CONFIG = f"{train.CONFIG_DIR / 'edm.py'}:test"


@pytest.mark.parametrize("key, value, match", [
    ("conditioning", "polarity", "unknown conditioning"),
    ("noise_schedule", "learned", "learned noise schedule needs"),
    ("noise_schedule", "sigmoid", "unknown noise schedule"),
])
def test_bad_values_are_refused_before_work(key, value, match):
    from train.edm import make_problem

    config = train.load_config(CONFIG)
    config[key] = value
    with pytest.raises(ValueError, match=match):
        make_problem(config)


def test_unknown_key_is_a_config_error():
    with pytest.raises(SystemExit, match="config error"):
        main(["edm", "--config", CONFIG, "--config.nff=3"])


def test_eight_devices_give_the_one_device_result():
    from train.edm import make_problem

    config = train.load_config(CONFIG)
    step, state, loader, *_ = make_problem(config)
    fit_cfg = dict(num_steps=2, progress=False, plot=False, log_every=2)
    one = fit(step, state, loader, fit_cfg, mesh=make_mesh(jax.devices()[:1])).state
    eight = fit(step, state, loader, fit_cfg, mesh=make_mesh(jax.devices())).state
    assert len(jax.devices()) == 8
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-6), one.params, eight.params)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-6), one.ema_params, eight.ema_params)
