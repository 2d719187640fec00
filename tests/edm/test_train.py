"""The EDM runner: refusals before any work, and 8 devices = 1 device for the EDM training step through the shared
loop. (The runner end to end: the conditional run in test_predictor.py, the unconditional one in the colab test.)"""

import importlib.util
import pathlib

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
    ("layout", "sparse", "unknown layout"),
    ("edge_fraction", 1.5, "edge_fraction must be in"),
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


def test_training_on_molecules_from_a_file(tmp_path):
    """dataset=<xyz file>: atom types from the file's elements, an 80 / 10 / 10 split, a finite training step."""
    from jaxsci.edm import data
    from train.edm import make_problem

    sdf = data.read_sdf(pathlib.Path(__file__).parent / "data" / "cdk2_first2.sdf")
    rng = np.random.default_rng(0)
    lines = []
    for k in range(12):
        symbols, x = sdf[k % 2]
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        lines += [str(len(symbols)), f"copy {k}"] + [f"{s} {a:.5f} {b:.5f} {c:.5f}" for s, (a, b, c) in zip(symbols, x @ q.T)]
    path = tmp_path / "mine.xyz"
    path.write_text("\n".join(lines) + "\n")
    config = train.load_config(CONFIG)
    config.dataset = str(path)
    config.batch_size = 8
    step, state, loader, evaluate, plot, eval_data = make_problem(config)
    elements = {e for symbols, _ in sdf for e in symbols}
    batch = loader(0)
    assert batch["one_hot"].shape[-1] == len(elements) and batch["positions"].shape[0] == 8
    state, metrics = jax.jit(step)(state, batch, jax.random.key(0))
    assert np.isfinite(float(metrics["loss"]))
    config.dataset = str(tmp_path / "missing.sdf")
    with pytest.raises(FileNotFoundError, match="neither 'qm9' nor a file"):
        make_problem(config)
