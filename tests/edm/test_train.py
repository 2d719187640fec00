"""The EDM runner end to end on the test preset (QM9 from qm9pack), the conditional variant, refusals before
any work, and 8 devices = 1 device for the EDM training step through the shared loop."""

import importlib.util
import json

import jax
import numpy as np
import pytest

import train
from jaxsci.core import fit, make_mesh
from train.__main__ import main

pytestmark = pytest.mark.skipif(importlib.util.find_spec("qm9pack") is None, reason="qm9pack not installed")
CONFIG = f"{train.CONFIG_DIR / 'edm.py'}:test"


def test_runner_end_to_end(tmp_path):
    assert main(["edm", "--config", CONFIG, "--workdir", str(tmp_path), "--config.fit.progress=False"]) in (0, None)
    out = json.loads((tmp_path / "results.json").read_text())
    assert out["num_samples"] == 8 and out["num_test"] == 16
    for k in ("atom_stable", "mol_stable", "validity", "uniqueness"):
        assert 0.0 <= out[k] <= 1.0
    assert np.isfinite(out["test_nll"])
    assert (tmp_path / "samples.png").stat().st_size > 1000
    evals = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"eval"' in line]
    assert evals and {"nll", "atom_stable", "mol_stable"} <= set(evals[-1])
    samples = np.load(tmp_path / "samples.npz")
    x, mask = samples["positions"], samples["mask"]
    np.testing.assert_allclose(np.sum(x * mask[..., None], 1), 0.0, atol=1e-3 * max(1.0, float(np.abs(x).max())))


def test_conditional_problem_builds_contexts():
    from train.edm import make_problem

    config = train.load_config(CONFIG)
    config.conditioning = "alpha"
    step, state, loader, evaluate, plot, eval_data = make_problem(config)
    batch = loader(0)
    assert batch["context"].shape == (config.batch_size, 1)
    assert eval_data["sample_context"].shape == (config.eval_samples, 1)
    metrics = jax.jit(evaluate)(state, jax.random.key(0), eval_data)
    assert np.isfinite(float(metrics["nll"]))


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
