"""train.sweep: the job file's grammar, parallel runs with their last eval metrics, and the deadline."""

import json

import pytest

from train import sweep


def test_parse_jobs_expands_variables_and_adds_workdirs(monkeypatch):
    monkeypatch.setenv("STEPS", "7")
    text = "# comment\n\na: demo --config.fit.num_steps=$STEPS  # trailing\nb-1.x: demo --workdir elsewhere\n"
    jobs = sweep.parse_jobs(text, "root")
    assert jobs == [("a", ["demo", "--config.fit.num_steps=7", "--workdir", "root/a"]),
                    ("b-1.x", ["demo", "--workdir", "elsewhere"])]


@pytest.mark.parametrize("text, match", [
    ("no colon here", "expected 'name:"),
    ("bad name!: demo", "expected 'name:"),
    ("a: demo\na: demo", "used twice"),
    ("a:   ", "no arguments"),
])
def test_parse_jobs_refuses_malformed_lines(text, match):
    with pytest.raises(ValueError, match=match):
        sweep.parse_jobs(text, "root")


def test_sweep_runs_jobs_in_parallel_and_stops_at_the_deadline(tmp_path):
    jobs = tmp_path / "jobs.txt"
    jobs.write_text(
        "short: demo --config train/configs/demo.py:test\n"
        # far more steps than the deadline allows: stopped, with the evaluations made so far kept
        "long: demo --config train/configs/demo.py:test --config.fit.num_steps=10000000 --config.fit.eval_every=50\n"
    )
    root = tmp_path / "runs"
    # the deadline must leave the short job (a fresh python, jax import, compile, 20 steps) time to finish on a
    # loaded 2-core machine: at 15 s it ran out there; in the loaded suite it needed 19 s (2026-12-07)
    code = sweep.main([str(jobs), "--parallel", "2", "--root", str(root), "--deadline", "40", "--show", "mse"])
    rows = {r["name"]: r for r in json.loads((root / "sweep.json").read_text())}
    assert code == 1  # not every job finished
    assert rows["short"]["status"] == "ok" and rows["short"]["rc"] == 0
    assert rows["short"]["eval_step"] == 20 and rows["short"]["mse"] > 0
    assert rows["long"]["status"] == "deadline" and rows["long"]["rc"] != 0
    assert (root / "short.log").exists() and (root / "long" / "metrics.jsonl").exists()
