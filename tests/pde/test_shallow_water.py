"""Planar shallow water: conservation to round-off, gravity-wave speed, geostrophic balance, jit/vmap."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.pde import shallow_water as sw


def test_mass_conserved_float64_and_momentum_without_rotation():
    with jax.enable_x64(True):
        for f in (2.0, 0.0):
            cfg = sw.SWConfig(ny=12, nx=24, f=f)
            h = sw.random_height(jax.random.key(0), cfg, amplitude=0.3)
            u = 0.2 * jnp.sin(2 * math.pi * (jnp.arange(12) + 0.5) / 12)[:, None] * jnp.ones((1, 24))
            q = sw.solve(jnp.stack([h, h * u, 0.1 * h]), nt=15, cfg=cfg)
            assert q.dtype == jnp.float64
            tot = np.asarray(q.sum(axis=(2, 3)))
            assert np.abs(tot[:, 0] / tot[0, 0] - 1).max() < 1e-10
            if f == 0.0:
                assert np.abs(tot[:, 1:] - tot[0, 1:]).max() < 1e-10 * np.abs(tot[0, 0])
            assert float(jnp.abs(q[-1] - q[0]).max()) > 1e-2  # something happened


@pytest.mark.parametrize("g", [1.0, 4.0])
def test_gravity_wave_speed(g):
    """A small standing wave cos(2 pi x / Lx) oscillates with period Lx / sqrt(g H)."""
    with jax.enable_x64(True):
        cfg = sw.SWConfig(ny=4, nx=64, f=0.0, g=g, dt_out=0.05 / math.sqrt(g))
        x = (np.arange(64) + 0.5) * cfg.dx
        mode = np.cos(2 * math.pi * x / cfg.length_x)
        h = 1.0 + 1e-4 * jnp.asarray(mode)[None, :] * jnp.ones((4, 1))
        q = sw.solve(jnp.stack([h, 0 * h, 0 * h]), nt=80, cfg=cfg)
        a = (np.asarray(q[:, 0, 0]) - 1.0) @ mode
        i = int(np.argmax(a < 0))
        t_zero = (i - 1 + a[i - 1] / (a[i - 1] - a[i])) * cfg.dt_out
        expected = cfg.length_x / math.sqrt(g) / 4  # a quarter period
        assert abs(t_zero / expected - 1) < 5e-3, (t_zero, expected)


def test_geostrophic_jet_is_steady():
    """h = 1 + e sin(2 pi y / Ly), u = -(g / f) h_y, v = 0 is an exact steady state (checks the sign
    and size of the Coriolis term); the scheme keeps it up to small numerical diffusion."""
    with jax.enable_x64(True):
        cfg = sw.SWConfig(ny=32, nx=8, f=2.0, dt_out=0.5)
        k = 2 * math.pi / cfg.length_y
        y = (jnp.arange(32) + 0.5) * cfg.dy
        h = (1.0 + 0.05 * jnp.sin(k * y))[:, None] * jnp.ones((1, 8))
        u = (-(cfg.g / cfg.f) * 0.05 * k * jnp.cos(k * y))[:, None] * jnp.ones((1, 8))
        q = sw.solve(jnp.stack([h, h * u, 0 * h]), nt=11, cfg=cfg)
        drift = float(jnp.abs(q[-1, 0] - h).max()) / 0.05
        assert drift < 0.1, drift
        flipped = sw.solve(jnp.stack([h, -h * u, 0 * h]), nt=11, cfg=cfg)  # the wrong balance adjusts
        assert float(jnp.abs(flipped[-1, 0] - h).max()) / 0.05 > 5 * drift, drift


def test_generate_vmap_no_recompile_and_refusals():
    cfg = sw.SWConfig(ny=8, nx=16)
    f = jax.jit(jax.vmap(lambda key: sw.generate(key, nt=4, cfg=cfg)))
    a = f(jax.random.split(jax.random.key(0), 2))
    b = f(jax.random.split(jax.random.key(1), 2))
    assert f._cache_size() == 1
    assert a["height"].shape == (2, 4, 8, 16) and a["velocity"].shape == (2, 4, 2, 8, 16)
    assert not np.allclose(a["height"], b["height"])
    with pytest.raises(ValueError, match="shape"):
        sw.solve(jnp.ones((3, 4, 4)), cfg=cfg)
    with pytest.raises(ValueError, match="cfl"):
        sw.check_config(sw.SWConfig(cfl=0.9))
