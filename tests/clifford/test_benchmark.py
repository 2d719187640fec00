"""The clifford benchmark runs in quick mode (with or without the torch reference installed)."""

from benchmarks.harness import registry


def test_clifford_benchmark_quick():
    rows = registry()["clifford"](True)
    assert len(rows) == 4
    assert {r.case.split(" ")[0] for r in rows} == {"CliffordConv2d", "CliffordSpectralConv2d"}
    assert all(r.ours_s > 0 and r.ours_compile_s is not None for r in rows)
