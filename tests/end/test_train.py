"""The END runner end to end, its config checks, and the data-parallel step (8 devices = 1 device)."""

import json

import jax
import numpy as np
import pytest

import train
from jaxsci.core import fit, make_mesh
from train.__main__ import main


def test_test_preset_trains_end_to_end_with_curves(tmp_path):
    main(["end", "--config", f"{train.CONFIG_DIR / 'end.py'}:test", "--workdir", str(tmp_path),
          "--config.L=3", "--config.fit.progress=false", "--config.symmetrize=all", "--config.num_test_sym=100"])
    curves = json.loads((tmp_path / "curves.json").read_text())
    assert curves["L"] == 3 and [r["p"] for r in curves["rows"]] == [0.08, 0.16]
    for row in curves["rows"]:
        assert row["num"] == 256
        for name in ("end", "mwpm", "ml"):  # exact ML is computable at L = 3
            assert row[name]["low"] <= row[name]["acc"] <= row[name]["high"]
        assert row["end_sym"]["num"] == 100 and row["end_sym"]["elements"] == 16
        assert row["ml"]["num"] == 128  # on the first num_test_ml syndromes, paired with the others
        assert row["ml"]["acc"] >= row["ml"]["mwpm_same_syndromes"] - 0.03
    assert (tmp_path / "curves.png").stat().st_size > 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert "acc_p0.10" in json.dumps(summary)


def test_bad_config_is_refused():
    config = train.load_config(f"{train.CONFIG_DIR / 'end.py'}:test")
    from train.end import make_problem

    bad = config.copy_and_resolve_references()
    bad.head = "transformer"
    with pytest.raises(ValueError, match="unknown head"):
        make_problem(bad)
    bad = config.copy_and_resolve_references()
    bad.p_train = (0.2, 0.1)
    with pytest.raises(ValueError, match="p_train"):
        make_problem(bad)
    bad = config.copy_and_resolve_references()
    bad.symmetrize = "rotations"
    with pytest.raises(ValueError, match="unknown symmetrize"):
        make_problem(bad)
    with pytest.raises(SystemExit, match="config error"):
        main(["end", "--config", f"{train.CONFIG_DIR / 'end.py'}:test", "--config.noize=bitflip"])


def test_eight_devices_give_the_one_device_result():
    from train.end import make_problem

    config = train.load_config(f"{train.CONFIG_DIR / 'end.py'}:test")
    step, state, data, _, _ = make_problem(config)
    cfg = dict(num_steps=3, progress=False, plot=False, log_every=3)
    one = fit(step, state, data, cfg, mesh=make_mesh(jax.devices()[:1])).state
    eight = fit(step, state, data, cfg, mesh=make_mesh(jax.devices())).state
    assert len(jax.devices()) == 8
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6), one.params, eight.params)
