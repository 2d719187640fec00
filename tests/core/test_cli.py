"""``python -m train`` and ``python -m benchmarks`` end to end, at tiny sizes."""

import json
import subprocess
import sys

import pytest

import train
from benchmarks.harness import format_table, registry, run
from jaxsci.core import read_metrics
from train.__main__ import main


def test_train_lists_methods(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "demo" in out and "methods" in out
    assert "demo" in train.methods()


def test_train_listing_as_a_module():
    out = subprocess.run([sys.executable, "-m", "train"], capture_output=True, text=True, check=True).stdout
    assert "demo" in out


def test_demo_test_preset_trains_and_resumes(tmp_path, capsys):
    workdir = tmp_path / "demo"
    cfg = f"{train.CONFIG_DIR / 'demo.py'}:test"
    main(["demo", "--config", cfg, "--workdir", str(workdir), "--config.fit.progress=false", "--config.fit.num_steps=10"])
    assert [r["step"] for r in read_metrics(workdir, "train")] == [5, 10]
    main(["demo", "--config", cfg, "--workdir", str(workdir), "--resume", "--config.fit.progress=false"])
    train_records = read_metrics(workdir, "train")
    assert [r["step"] for r in train_records] == [5, 10, 15, 20]
    evals = read_metrics(workdir, "eval")
    assert evals[-1]["step"] == 20 and evals[-1]["mse"] < evals[0]["mse"]
    summary = json.loads((workdir / "summary.json").read_text())
    assert summary["start_step"] == 10 and summary["step"] == 20


def test_unknown_override_names_valid_keys():
    with pytest.raises(SystemExit, match=r"unknown key\(s\) \['learning_rat'\].*learning_rate"):
        main(["demo", "--config", f"{train.CONFIG_DIR / 'demo.py'}:test", "--config.learning_rat=1"])


def test_unknown_method_and_preset():
    with pytest.raises(SystemExit, match="unknown method 'nope'"):
        main(["nope"])
    with pytest.raises(ValueError, match="unknown preset 'huge'"):
        main(["demo", "--config", f"{train.CONFIG_DIR / 'demo.py'}:huge"])


def test_benchmark_table_runs(tmp_path, capsys):
    assert "core" in registry()
    out_json = tmp_path / "bench.json"
    rows = run(["core"], quick=True, json_path=str(out_json))
    printed = capsys.readouterr().out
    assert "lean hand loop" in printed and "ratio" in printed
    payload = json.loads(out_json.read_text())
    assert payload["quick"] and payload["machine"]["device_count"] == 8
    assert all(r["ours_s"] > 0 and r["ref_s"] > 0 and r["ratio"] > 0 for r in payload["rows"])
    assert format_table(rows).count("\n") == len(rows) + 1
    with pytest.raises(SystemExit, match="unknown benchmark"):
        run(["nope"], quick=True)
