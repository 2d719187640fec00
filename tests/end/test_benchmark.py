"""The end benchmark runs in quick mode."""

from benchmarks.harness import registry


def test_end_benchmark_quick():
    rows = registry()["end"](True)
    assert [r.case.split(" ")[1] for r in rows] == ["float32", "bfloat16"] and all("L4 batch 256" in r.case for r in rows)
    assert all(r.ours_s > 0 and r.ref_s > 0 for r in rows)
