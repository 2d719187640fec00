"""The property predictor: invariant to rotations, translations and permutations, and blind to padding; its runner
end to end, then the conditional EDM runner end to end with its Table-3 evaluation (test presets, QM9 from qm9pack)."""

import importlib.util
import json

import jax
import numpy as np
import pytest

import train
from jaxsci.edm import predictor
from train.__main__ import main


def _molecules(seed=0):
    rng = np.random.default_rng(seed)
    mask = (np.arange(6)[None] < np.array([[6], [4]])).astype(np.float32)
    types = rng.integers(0, 5, (2, 6))
    return dict(positions=(rng.normal(size=(2, 6, 3)) * mask[..., None]).astype(np.float32),
                one_hot=(np.eye(5)[types] * mask[..., None]).astype(np.float32),
                charges=(np.array([1, 6, 7, 8, 9])[types] * mask).astype(np.float32), mask=mask)


def test_predictor_is_invariant_and_ignores_padding():
    model = predictor.PropertyEGNN(nf=16, num_layers=2)
    b = _molecules()
    params = model.init(jax.random.key(0), b["positions"], b["one_hot"], b["charges"], b["mask"])["params"]
    y = predictor.predict(model, params, b, 1.0, 2.0)
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))  # any orthogonal matrix, reflections too
    moved = dict(b, positions=((b["positions"] @ q.T + 3.0) * b["mask"][..., None]).astype(np.float32))
    np.testing.assert_allclose(predictor.predict(model, params, moved, 1.0, 2.0), y, rtol=1e-4)
    perm = np.array([3, 1, 0, 2, 4, 5])
    permuted = {k: v[:, perm] if v.ndim > 1 else v for k, v in b.items()}
    np.testing.assert_allclose(predictor.predict(model, params, permuted, 1.0, 2.0)[1], y[1], rtol=1e-4)
    padded = dict(b, positions=b["positions"] + 50.0 * (1 - b["mask"][..., None]))
    np.testing.assert_allclose(predictor.predict(model, params, padded, 1.0, 2.0), y, rtol=1e-5)
    feats = predictor.atom_scalars(b["one_hot"], b["charges"])
    assert feats.shape == (2, 6, 15)
    np.testing.assert_allclose(feats[0, 0].reshape(5, 3).sum(0), [1.0, b["charges"][0, 0] / 9, (b["charges"][0, 0] / 9) ** 2], rtol=1e-6)


@pytest.mark.skipif(importlib.util.find_spec("qm9pack") is None, reason="qm9pack not installed")
def test_classifier_and_conditional_evaluation_end_to_end(tmp_path):
    clf = tmp_path / "clf"
    main(["edm_property", "--config", f"{train.CONFIG_DIR / 'edm_property.py'}:test", "--workdir", str(clf),
          "--config.fit.progress=False"])
    meta = json.loads((clf / "classifier.json").read_text())
    assert meta["property"] == "alpha" and np.isfinite(meta["test_mae"]) and meta["mad"] > 0
    gen = tmp_path / "gen"
    main(["edm", "--config", f"{train.CONFIG_DIR / 'edm.py'}:test", "--workdir", str(gen), "--config.fit.progress=False",
          "--config.conditioning=alpha", f"--config.classifier={clf}"])
    results = json.loads((gen / "results.json").read_text())
    assert results["num_samples"] == 8 and results["num_test"] == 16 and np.isfinite(results["test_nll"])
    for k in ("atom_stable", "mol_stable", "validity", "uniqueness"):
        assert 0.0 <= results[k] <= 1.0
    out = results["property"]
    assert out["name"] == "alpha"
    for k in ("edm_mae", "l_bound_mae", "u_bound_mae"):
        assert np.isfinite(out[k]) and out[k] >= 0
    assert (gen / "samples.png").stat().st_size > 1000
    evals = [json.loads(line) for line in (gen / "metrics.jsonl").read_text().splitlines() if '"eval"' in line]
    assert evals and {"nll", "atom_stable", "mol_stable"} <= set(evals[-1])
    samples = np.load(gen / "samples.npz")
    x, mask = samples["positions"], samples["mask"]
    np.testing.assert_allclose(np.sum(x * mask[..., None], 1), 0.0, atol=1e-3 * max(1.0, float(np.abs(x).max())))


def test_missing_or_mismatched_classifier_is_refused(tmp_path):
    from train.edm import make_problem

    config = train.load_config(f"{train.CONFIG_DIR / 'edm.py'}:test")
    config.classifier = str(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="set conditioning"):
        make_problem(config)
    config.conditioning = "alpha"
    with pytest.raises(FileNotFoundError, match="no property classifier"):
        make_problem(config)


def test_classifier_config_refusals():
    from train.edm_property import make_problem

    config = train.load_config(f"{train.CONFIG_DIR / 'edm_property.py'}:test")
    config.layout = "sparse"
    with pytest.raises(ValueError, match="unknown layout"):
        make_problem(config)
    config.layout, config.property = "edges", "polarity"
    with pytest.raises(ValueError, match="unknown property"):
        make_problem(config)
