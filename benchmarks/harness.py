"""The benchmark harness: registration, timing, one table, JSON output.

A benchmark is a function ``bench(quick: bool) -> list[Row]`` registered under a name with
:func:`register`. It lives in ``benchmarks/<name>.py``; ``python -m benchmarks`` imports every such
module, runs the requested ones and prints one table. ``quick=True`` asks for tiny sizes (the tests
run that); the default sizes are the ones whose figures go into ``RESULTS.md``.

Timings are wall-clock seconds. JAX functions are timed after compilation with
``jax.block_until_ready`` on their outputs (:func:`time_jitted`); the first call, which compiles, is
reported apart as ``compile_s``. The ratio is ``reference / ours``: above 1 means ours is faster.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib
import json
import pathlib
import platform
import statistics
import sys
import time
from typing import Any, Callable, Sequence

import jax

_REGISTRY: dict[str, Callable[[bool], list["Row"]]] = {}
_NOT_BENCHMARKS = {"__init__", "__main__", "harness"}


@dataclasses.dataclass(frozen=True)
class Timing:
    """Median seconds per call after warm-up; ``compile_s`` is the first call (trace + compile + run)."""

    median_s: float
    compile_s: float | None
    times_s: tuple[float, ...]


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the table: a case timed for ours and (where there is one) for the reference."""

    benchmark: str
    case: str
    ours_s: float
    ref_s: float | None = None
    reference: str = ""
    ours_compile_s: float | None = None
    unit: str = "s/call"
    notes: str = ""

    @property
    def ratio(self) -> float | None:
        """Reference time over ours: > 1 means ours is faster."""
        if self.ref_s is None or self.ours_s <= 0:
            return None
        return self.ref_s / self.ours_s

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "ratio": self.ratio}


def register(name: str):
    """Decorator: register ``bench(quick) -> list[Row]`` under ``name``."""

    def deco(fn):
        if name in _REGISTRY and _REGISTRY[name] is not fn:
            raise ValueError(f"benchmark {name!r} is registered twice")
        _REGISTRY[name] = fn
        return fn

    return deco


def _discover() -> None:
    here = pathlib.Path(__file__).parent
    for path in sorted(here.glob("*.py")):
        if path.stem not in _NOT_BENCHMARKS and not path.stem.startswith("_"):
            importlib.import_module(f"benchmarks.{path.stem}")


def registry() -> dict[str, Callable[[bool], list[Row]]]:
    """All registered benchmarks, after importing every module in ``benchmarks/``."""
    _discover()
    return dict(sorted(_REGISTRY.items()))


def time_jitted(fn: Callable, *args, repeats: int = 20, warmup: int = 2) -> Timing:
    """Time a JAX callable: first call apart (compile), then the median of ``repeats`` calls."""
    t0 = time.perf_counter()
    jax.block_until_ready(fn(*args))
    compile_s = time.perf_counter() - t0
    for _ in range(max(warmup - 1, 0)):
        jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return Timing(statistics.median(times), compile_s, tuple(times))


def time_call(fn: Callable, *args, repeats: int = 5, warmup: int = 1) -> Timing:
    """Time any callable (a reference in numpy/torch, or a whole loop): median of ``repeats`` calls."""
    for _ in range(warmup):
        fn(*args)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _wait(fn(*args))
        times.append(time.perf_counter() - t0)
    return Timing(statistics.median(times), None, tuple(times))


def _wait(out: Any) -> None:
    """Wait for asynchronous device work: JAX arrays, or torch's CUDA stream when torch ran on a GPU."""
    leaves = jax.tree.leaves(out)
    if any(isinstance(x, jax.Array) for x in leaves):
        jax.block_until_ready(out)
    torch = sys.modules.get("torch")
    if torch is not None and any(getattr(x, "is_cuda", False) for x in leaves):
        torch.cuda.synchronize()


def torch_device(torch) -> str:
    """Where a torch reference runs: ``"cuda"`` when JAX runs on a GPU and torch sees one (the same chip as
    ours, so the ratio compares implementations, not machines), else ``"cpu"``."""
    return "cuda" if jax.default_backend() == "gpu" and torch.cuda.is_available() else "cpu"


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 1:
        return f"{x:.3f}"
    if x >= 1e-3:
        return f"{x * 1e3:.3f}m"
    return f"{x * 1e6:.1f}u"


def format_table(rows: Sequence[Row]) -> str:
    """Rows as an aligned text table (times in s, m = milli, u = micro)."""
    header = ("benchmark", "case", "ours", "compile", "reference", "ref", "ratio", "notes")
    body = [
        (
            r.benchmark,
            r.case,
            _fmt(r.ours_s),
            _fmt(r.ours_compile_s),
            r.reference or "-",
            _fmt(r.ref_s),
            "-" if r.ratio is None else f"{r.ratio:.2f}x",
            r.notes,
        )
        for r in rows
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *body)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip() for line in [header, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    devices = jax.devices()
    return {
        "platform": devices[0].platform,
        "device_kind": devices[0].device_kind,
        "device_count": len(devices),
        "host": platform.node(),
        "cpu_count": __import__("os").cpu_count(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def run(names: Sequence[str] = (), *, quick: bool = False, json_path: str | None = None) -> list[Row]:
    """Run the named benchmarks (all when empty), print the table, and write JSON if asked."""
    reg = registry()
    unknown = [n for n in names if n not in reg]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; registered: {sorted(reg)}")
    rows: list[Row] = []
    for name in names or list(reg):
        rows.extend(reg[name](quick))
    print(format_table(rows))
    if json_path:
        path = pathlib.Path(json_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"machine": machine(), "quick": quick, "rows": [r.as_dict() for r in rows]}
        path.write_text(json.dumps(payload, indent=2))
        print(f"wrote {path}")
    return rows
