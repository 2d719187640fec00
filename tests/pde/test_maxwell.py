"""3D Maxwell FDTD: the Yee invariant, the source work balance, dispersion relation, div E, jit/vmap."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.pde import maxwell as mx


def _random_state(shape=(6, 5, 4)):
    k1, k2 = jax.random.split(jax.random.key(0))
    return mx.YeeState(jax.random.normal(k1, (3, *shape)), jax.random.normal(k2, (3, *shape)), jnp.asarray(0.0))


def test_modified_energy_is_conserved_in_a_lossless_periodic_box():
    with jax.enable_x64(True):
        out = mx.solve(_random_state(), None, nt=12, save_every=5, skip=0, dt=0.55)
        w = np.asarray(out["energy"])
        assert np.abs(w / w[0] - 1).max() < 1e-12
        naive = 0.5 * (np.asarray(out["e"]) ** 2 + np.asarray(out["h"]) ** 2).sum(axis=(1, 2, 3, 4))
        assert np.abs(naive / naive[0] - 1).max() > 1e-3  # |E|^2 + |H|^2 at one half step is not invariant


def test_energy_changes_by_the_work_of_the_sources():
    """Discrete Poynting theorem: W^(n+1) - W^n = -dt J^(n+1/2) . (E^n + E^(n+1)) / 2, exactly."""
    with jax.enable_x64(True):
        shape, dt = (6, 6, 6), 0.5
        src = mx.random_sources(jax.random.key(3), shape, num_point=2, num_plane=1)
        st = _random_state(shape)

        @jax.jit
        def balance(st):
            new = mx.step(st, src, dt)
            h_next = new.h - dt * mx.curl_e(new.e, 1.0)
            w0 = mx.yee_energy(st.e, st.h, new.h)
            w1 = mx.yee_energy(new.e, new.h, h_next)
            work = -dt * jnp.sum(src.current(st.t + 0.5 * dt) * 0.5 * (st.e + new.e))
            return new, w0, w1, work

        for _ in range(6):
            new, w0, w1, work = balance(st)
            assert abs(float(w1 - w0 - work)) < 1e-10 * float(w0)
            assert abs(float(work)) > 1e-3
            st = new


def test_plane_wave_follows_the_yee_dispersion_relation():
    """E_y = cos(k x - w t), H_z staggered: the discrete w, not the continuous w = k, is exact."""
    with jax.enable_x64(True):
        nx, dt, steps = 16, 0.5, 40
        k = 2 * math.pi * 3 / nx
        w = 2 / dt * math.asin(dt * math.sin(k / 2))
        x = np.arange(nx)
        e = np.zeros((3, nx, 2, 2))
        h = np.zeros((3, nx, 2, 2))
        e[1] = np.cos(k * x)[:, None, None]
        h[2] = np.cos(k * (x + 0.5) + 0.5 * w * dt)[:, None, None]  # H^(-1/2) at x_(i+1/2)
        st = mx.YeeState(jnp.asarray(e), jnp.asarray(h), jnp.asarray(0.0))
        for _ in range(steps):
            st = mx.step(st, None, dt)
        t = steps * dt
        err_discrete = np.abs(np.asarray(st.e[1, :, 0, 0]) - np.cos(k * x - w * t)).max()
        err_continuous = np.abs(np.asarray(st.e[1, :, 0, 0]) - np.cos(k * x - k * t)).max()
        assert err_discrete < 1e-10 and err_continuous > 1e-2, (err_discrete, err_continuous)


def test_divergence_free_evolution_without_sources():
    with jax.enable_x64(True):
        st = _random_state()
        d0 = mx.divergence_e(st.e, 1.0)
        for _ in range(10):
            st = mx.step(st, None, 0.5)
        np.testing.assert_allclose(mx.divergence_e(st.e, 1.0), d0, atol=1e-12)


def test_sources_generate_and_no_recompile():
    src = mx.random_sources(jax.random.key(1), (6, 6, 6), num_point=2, num_plane=1)
    counts = np.asarray(src.pattern.sum(axis=(2, 3, 4)))  # (S, 3): cells per component
    assert (counts[:2].sum(1) == 1).all() and counts[2].sum() == 36
    f = jax.jit(jax.vmap(lambda key: mx.generate(key, nt=2, n=6, save_every=2, skip=4)))
    a = f(jax.random.split(jax.random.key(0), 2))
    b = f(jax.random.split(jax.random.key(1), 2))
    assert f._cache_size() == 1
    assert a["e"].shape == (2, 2, 3, 6, 6, 6) and a["h"].shape == (2, 2, 3, 6, 6, 6)
    assert float(jnp.abs(a["e"]).max()) > 0 and not np.allclose(a["omega"], b["omega"])


def test_unstable_dt_refused():
    with pytest.raises(ValueError, match="unstable for the Yee scheme"):
        mx.generate(jax.random.key(0), dt=0.6)
    z = jnp.zeros((3, 4, 4, 4))
    with pytest.raises(ValueError, match="shape"):
        mx.solve(mx.YeeState(z, z[:, :2], jnp.asarray(0.0)), None)
