"""The pips benchmark runs in quick mode (2 replicas, a few steps, batches 1 and 4) and its rows are well-formed."""

import math

import pytest

from benchmarks.harness import registry

pytest.importorskip("openmm")
pytest.importorskip("pdbfixer")


def test_pips_benchmark_quick():
    rows = registry()["pips"](True)
    cases = [r.case for r in rows]
    assert cases[:2] == ["rollout sampling, n 2", "rollout PICE (with grads), n 2"]
    assert [(r.case, r.reference) for r in rows[2:]] == [
        (f"energy+forces batch {b}", f"OpenMM {p}") for b in (1, 4) for p in ("CPU", "Reference")]
    for r in rows:
        assert r.benchmark == "pips" and r.notes
        assert math.isfinite(r.ours_s) and r.ours_s > 0
        assert r.ref_s is not None and math.isfinite(r.ref_s) and r.ref_s > 0
        assert r.ratio is not None and r.ratio > 0
        assert r.ours_compile_s is not None and r.ours_compile_s > 0
    assert {r.unit for r in rows} == {"s/replica-step", "s/eval"}
