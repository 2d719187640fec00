"""Beyond one machine: the same ``fit`` as 2 processes (CPU collectives) equals one process."""

import os
import pathlib
import socket
import subprocess
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _launch(nproc, out):
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{env.get('PYTHONPATH', '')}"
    port = str(_free_port())
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.core.multiprocess_worker", str(pid), str(nproc), port, str(out)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for pid in range(nproc)
    ]
    logs = [p.communicate(timeout=240)[0] for p in procs]
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-3000:]
    return np.load(out)


def test_two_processes_equal_one(tmp_path):
    single = _launch(1, tmp_path / "single.npz")
    multi = _launch(2, tmp_path / "multi.npz")
    assert int(single["devices"]) == 2 and int(multi["devices"]) == 4
    np.testing.assert_allclose(multi["w"], single["w"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(multi["b"], single["b"], rtol=1e-5, atol=1e-5)
    assert np.abs(single["w"]).sum() > 0
