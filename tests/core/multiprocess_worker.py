"""One process of the 2-process test: ``python -m tests.core.multiprocess_worker PID NPROC PORT OUT``.

Each process has 2 simulated CPU devices and feeds its own half of every global batch; process 0
writes the final params to OUT (.npz). With NPROC=1 it runs alone as the reference.
"""

import os
import sys

pid, nproc, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # noqa: E402

if nproc > 1:
    jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=nproc, process_id=pid)

import numpy as np  # noqa: E402

from jaxsci.core import fit, make_mesh, to_host  # noqa: E402
from tests.core.problem import data, problem  # noqa: E402

assert jax.process_count() == nproc and jax.device_count() == 2 * nproc
step, state = problem()
loader = data(batch_size=32)  # ArrayLoader slices each global batch by jax.process_index()
result = fit(step, state, loader, dict(num_steps=5, progress=False, plot=False), mesh=make_mesh())
params = to_host(result.state.params)
if pid == 0:
    np.savez(out, w=params["w"], b=params["b"], devices=jax.device_count())
if nproc > 1:
    jax.distributed.shutdown()
