"""Wave equation: spectral accuracy against exact solutions, boundary conditions, jit/vmap, errors.

Float64 checks run inside ``jax.enable_x64(True)`` blocks (no global flag).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.pde import wave

X0, C = 1.3, 2.0


def _images(s, deriv=False):
    """32-periodic sum of the pulse g(s) = exp(-(s - x0)^2) (or of g')."""
    out = 0.0
    for k in range(-12, 13):
        z = s + 32 * k - X0
        out = out + (-2 * z * np.exp(-z * z) if deriv else np.exp(-z * z))
    return out


def _dalembert(x, t, sign):
    """Left-moving pulse on [-8, 8] with its reflections: sign -1 Dirichlet, +1 Neumann."""
    u = _images(x + C * t) + sign * _images(C * t - 16 - x)
    ut = C * _images(x + C * t, True) + sign * C * _images(C * t - 16 - x, True)
    return u, ut


def _params(bl, br, c=C):
    return wave.WaveParams(jnp.asarray(X0), jnp.asarray(c), jnp.asarray(bl), jnp.asarray(br))


@pytest.mark.parametrize("bc,sign", [(wave.DIRICHLET, -1.0), (wave.NEUMANN, 1.0)])
def test_spectral_accuracy_against_dalembert(bc, sign):
    """Over T = 100 (about 25 reflections), the error falls geometrically with nx down to ~1e-9."""
    with jax.enable_x64(True):
        ts = np.linspace(0.0, 100.0, 6)
        errs = []
        for n in (40, 60, 80):
            x = np.asarray(wave.chebyshev_grid(n))
            u0, v0 = _dalembert(x, 0.0, sign)
            u = wave.solve(_params(bc, bc), jnp.asarray(u0), jnp.asarray(v0), t_end=100.0, nt=6)
            exact = np.stack([_dalembert(x, t, sign)[0] for t in ts])
            errs.append(float(np.abs(np.asarray(u) - exact).max()))
        assert errs[0] > 1e2 * errs[1] > 1e4 * errs[2], errs  # faster than any power of nx
        assert errs[2] < 1e-8, errs


def test_mixed_and_robin_standing_modes():
    """Exact modes: Dirichlet left + Neumann right, sin(k (x + 8)) with k = 5.5 pi / 16; symmetric Robin
    u + du/dn = 0, cos(k x) with k tan(8 k) = 1. Each oscillates as cos(c k t)."""
    with jax.enable_x64(True):
        lo, hi = 2 * math.pi / 8 + 1e-9, 2 * math.pi / 8 + math.pi / 16 - 1e-9  # bracket a root of k tan 8k = 1
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if mid * math.tan(8 * mid) < 1 else (lo, mid)
        k_robin = 0.5 * (lo + hi)
        cases = [
            ((wave.DIRICHLET, wave.NEUMANN), 5.5 * math.pi / 16, lambda x, k: np.sin(k * (x + 8))),
            ((wave.NEUMANN, wave.DIRICHLET), 5.5 * math.pi / 16, lambda x, k: np.sin(k * (8 - x))),
            ((wave.ROBIN, wave.ROBIN), k_robin, lambda x, k: np.cos(k * x)),
        ]
        x = np.asarray(wave.chebyshev_grid(64))
        ts = np.linspace(0.0, 30.0, 7)
        for (bl, br), k, mode in cases:
            u = wave.solve(_params(bl, br), jnp.asarray(mode(x, k)), jnp.zeros(64), t_end=30.0, nt=7)
            exact = np.cos(C * k * ts)[:, None] * mode(x, k)[None]
            np.testing.assert_allclose(u, exact, atol=1e-9, err_msg=str((bl, br)))


def test_boundary_conditions_hold_along_the_trajectory():
    with jax.enable_x64(True):
        n = 48
        x = wave.chebyshev_grid(n)
        d = jnp.asarray(wave.cheb_diff_matrix(n))
        for bl, br in [(0, 0), (1, 1), (0, 1), (1, 0), (2, 2)]:
            p = _params(bl, br)._replace(x0=jnp.asarray(6.0))  # starts near the right wall
            u = wave.solve(p, *wave.initial_condition(p, x), t_end=10.0, nt=21)
            ux = u @ d.T
            coef = {0: (1.0, 0.0), 1: (0.0, 1.0), 2: (1.0, 1.0)}
            left = coef[bl][0] * u[:, 0] - coef[bl][1] * ux[:, 0]
            right = coef[br][0] * u[:, -1] + coef[br][1] * ux[:, -1]
            assert float(jnp.abs(left).max()) < 1e-10 and float(jnp.abs(right).max()) < 1e-10, (bl, br)


def test_speed_scales_time():
    """Doubling c is the same as doubling time (checks that c enters as c^2 u_xx)."""
    with jax.enable_x64(True):
        x = wave.chebyshev_grid(50)
        u0 = jnp.exp(-((x - 1.0) ** 2))
        a = wave.solve(_params(0, 1, c=1.0), u0, jnp.zeros(50), t_end=20.0, nt=11)
        b = wave.solve(_params(0, 1, c=2.0), u0, jnp.zeros(50), t_end=10.0, nt=11)
        np.testing.assert_allclose(a, b, atol=1e-10)


def test_generate_jit_vmap_no_recompile_float32():
    f = jax.jit(jax.vmap(lambda k: wave.generate(k, "WE3", nx=(40,), nt=20)))
    o1 = f(jax.random.split(jax.random.key(0), 8))
    o2 = f(jax.random.split(jax.random.key(1), 8))
    assert f._cache_size() == 1
    assert o1["u_200"].shape == (8, 20, 200) and o1["u_40"].dtype == jnp.float32
    assert len({(int(a), int(b)) for a, b in zip(o2["bc_left"], o2["bc_right"])}) > 1  # mixed pairs
    # float32 stays accurate (the eigenbasis is well conditioned): coarse and fine agree at x = 0
    assert np.isfinite(o2["u_200"]).all() and np.abs(o2["u_200"]).max() < 2.0
    i = 3
    p = wave.WaveParams(*(o2[k][i] for k in ("x0", "c", "bc_left", "bc_right")))
    with jax.enable_x64(True):
        p64 = wave.WaveParams(jnp.asarray(float(p.x0)), jnp.asarray(2.0), p.bc_left, p.bc_right)
        x = wave.chebyshev_grid(200)
        ref = wave.solve(p64, *wave.initial_condition(p64, x), t_end=100.0, nt=20, bcs=(0, 1))
    assert float(np.abs(np.asarray(o2["u_200"][i]) - np.asarray(ref)).max()) < 1e-3


def test_bad_requests_are_refused():
    with pytest.raises(ValueError, match="unknown wave-equation family"):
        wave.generate(jax.random.key(0), "WE9")
    with pytest.raises(ValueError, match="outside the supported range"):
        wave.generate(jax.random.key(0), "WE1", nx=(4,))
    with pytest.raises(ValueError, match="shape"):
        wave.solve(_params(0, 0), jnp.zeros(20), jnp.zeros(21))
    with pytest.raises(ValueError, match="unknown boundary condition"):
        wave.bc_code("periodic")
