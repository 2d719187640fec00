"""Benchmarks: each method's hot path under ``jit``, timed beside its reference.

Run ``python -m benchmarks [name ...] [--quick] [--json PATH]``. See ``benchmarks/README.md``.
"""

from benchmarks.harness import Row, Timing, register, registry, run, time_call, time_jitted

__all__ = ["Row", "Timing", "register", "registry", "run", "time_call", "time_jitted"]
