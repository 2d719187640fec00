"""Test setup: 8 simulated CPU devices, so every sharded code path runs as on a real mesh; LLVM at -O0; and one
XLA compilation cache for the whole session.

The flags must be set before JAX initialises its backends, hence at import time of this file. They go into
the environment, so the processes the tests start (notebook kernels, sweep jobs, multi-process runs) and
the pytest-xdist workers see the same devices, precision and cache.

The cache: a fresh, empty directory per session (made by the first process that imports this file: the
xdist controller, or pytest itself without xdist; removed by it at the end), shared by the workers and
their subprocesses. A program that several tests compile identically (a test preset's train step, run by
its runner test and again by its notebook) is compiled once per session and read back after that. Every
session still compiles everything once, as on a fresh machine. Set ``JAX_COMPILATION_CACHE_DIR`` yourself
to keep a cache across sessions (it is then neither emptied nor removed).
"""

import os
import shutil
import tempfile

_flags = os.environ.get("XLA_FLAGS", "")
if "xla_force_host_platform_device_count" not in _flags:
    _flags = f"{_flags} --xla_force_host_platform_device_count=8"
# the suite is compile-bound (hundreds of small programs, most run a few times): LLVM at -O0 instead of XLA's default
# -O3 compiles them in about half the time, and the numbers move only in the last bits (tests/core/test_xla_level.py).
# A test whose run time dominates can compile its own jit at -O3 (jax.jit(..., compiler_options=...), as the 100 ps MD
# test does). -O1 and -O2 were tried and rejected: each makes two programs of the PDE generator (a chunked file and an
# in-memory batch) part at 1e-4 on a chaotic trajectory, which -O3 and -O0 do not. Timings: RESULTS.md, "Test suite".
# Benchmarks and training runs do not import this file and keep XLA's default. Set the flag yourself to test at
# another level.
if "xla_backend_optimization_level" not in _flags:
    _flags = f"{_flags} --xla_backend_optimization_level=0"
os.environ["XLA_FLAGS"] = _flags.strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("JAX_DEFAULT_MATMUL_PRECISION", "highest")

_OWN_CACHE = None
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _OWN_CACHE = tempfile.mkdtemp(prefix="jaxsci-xla-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _OWN_CACHE
    # programs that took >= 0.3 s to compile (a random sampler's takes 0.5-2.5 s on a 2-core CPU); not the many
    # tiny eager-op programs, cheaper to compile than to store. No size bound: JAX then takes no file lock and
    # scans no directory on each write. A worker that reads an entry while another writes it gets an unreadable
    # entry, which JAX reports as a warning and compiles instead.
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.3")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_default_matmul_precision", "highest")


def pytest_sessionfinish(session, exitstatus):
    if _OWN_CACHE is not None and not hasattr(session.config, "workerinput"):  # the process that made it
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)


@pytest.fixture(scope="module")
def x64():
    """float64 for a whole test module (parity with double-precision references, exact symmetry checks)."""
    old = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", old)
