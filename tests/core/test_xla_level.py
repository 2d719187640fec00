"""conftest compiles the suite at LLVM -O0 (half the compile time of XLA's default -O3): the numbers may move in the
last bits (vectorised and scalar code round differently), never more, so what the tests check holds at the default."""

import os
import subprocess
import sys

import numpy as np

PROGRAM = r"""
import sys
import jax, jax.numpy as jnp, numpy as np

w = jax.random.normal(jax.random.key(1), (96, 96))

def mlp(x):  # matmuls, transcendentals, a reduction, a softmax
    for _ in range(3):
        x = jnp.tanh(x @ w / 9.7) * jnp.exp(-0.1 * x ** 2) + jnp.log1p(jnp.abs(x))
    return jnp.sum(x ** 2, axis=1), jax.nn.softmax(x, -1)

def langevin(x, key):  # a scan with threefry draws, as the MD and diffusion samplers
    def step(carry, k):
        x, v = carry
        v = 0.9 * v - 0.01 * jnp.sin(x) + 0.05 * jax.random.normal(k, x.shape)
        return (x + 0.01 * v, v), jnp.mean(v ** 2)
    return jax.lax.scan(step, (x, jnp.zeros_like(x)), jax.random.split(key, 200))

x = jax.random.normal(jax.random.key(0), (32, 96))
outs = [*jax.jit(mlp)(x), *jax.tree.leaves(jax.jit(langevin)(x, jax.random.key(2))),
        jax.jit(jax.grad(lambda x: jnp.sum(mlp(x)[1] * jnp.cos(x))))(x)]
np.savez(sys.argv[1], *[np.asarray(o) for o in outs])
"""


def _run(flags: str, path) -> list[np.ndarray]:
    env = {**os.environ, "XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"}
    env.pop("JAX_COMPILATION_CACHE_DIR", None)  # compile both, do not read one back
    out = subprocess.run([sys.executable, "-c", PROGRAM, str(path)], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    with np.load(path) as f:
        return [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]


def test_o0_agrees_with_the_default_level_to_rounding(tmp_path):
    default = _run("", tmp_path / "o3.npz")
    o0 = _run("--xla_backend_optimization_level=0", tmp_path / "o0.npz")
    assert len(default) == len(o0) == 6
    for a, b in zip(o0, default):
        assert a.shape == b.shape and a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7)
