"""Navier-Stokes smoke on tiny grids: exact projection, divergence, smoke mass, buoyancy, jit/vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.pde import navier_stokes as ns


def _neumann_laplacian(nx, ny, dx, dy):
    """Dense 5-point Laplacian on cell centres with zero-flux walls (an independent construction)."""
    n = nx * ny
    a = np.zeros((n, n))
    idx = lambda i, j: i * ny + j
    for i in range(nx):
        for j in range(ny):
            for di, dj, h in ((1, 0, dx), (-1, 0, dx), (0, 1, dy), (0, -1, dy)):
                ii, jj = i + di, j + dj
                if 0 <= ii < nx and 0 <= jj < ny:  # a wall face carries no flux
                    a[idx(i, j), idx(ii, jj)] += 1 / h**2
                    a[idx(i, j), idx(i, j)] -= 1 / h**2
    return a


def test_dct_poisson_matches_dense_solve():
    with jax.enable_x64(True):
        nx, ny, dx, dy = 6, 5, 0.7, 1.3
        rhs = np.random.default_rng(0).normal(size=(nx, ny))
        rhs -= rhs.mean()
        phi = np.asarray(ns.solve_pressure(jnp.asarray(rhs), dx, dy))
        a = _neumann_laplacian(nx, ny, dx, dy)
        ref = np.linalg.lstsq(a, rhs.ravel(), rcond=None)[0].reshape(nx, ny)
        np.testing.assert_allclose(phi - phi.mean(), ref - ref.mean(), atol=1e-10)
        np.testing.assert_allclose((a @ phi.ravel()).reshape(nx, ny), rhs, atol=1e-10)


def test_projection_divergence_free_float32():
    nx, ny, dx, dy = 24, 20, 32 / 24, 32 / 20
    k1, k2 = jax.random.split(jax.random.key(0))
    u = jax.random.normal(k1, (nx + 1, ny))
    v = jax.random.normal(k2, (nx, ny + 1))
    project = jax.jit(ns.project, static_argnums=(2, 3))  # one compilation for the four calls
    pu, pv, _ = project(u, v, dx, dy)
    assert pu.dtype == jnp.float32
    assert float(jnp.abs(ns.divergence(u.at[0].set(0).at[-1].set(0), v.at[:, 0].set(0).at[:, -1].set(0), dx, dy)).max()) > 0.5
    assert float(jnp.abs(ns.divergence(pu, pv, dx, dy)).max()) < 1e-4
    qu, qv, _ = project(pu, pv, dx, dy)  # idempotent
    np.testing.assert_allclose(qu, pu, atol=1e-5)
    np.testing.assert_allclose(qv, pv, atol=1e-5)
    # a pure gradient (zero normal flux at the walls) is removed entirely
    psi = jax.random.normal(jax.random.key(3), (nx, ny))
    gu = jnp.zeros((nx + 1, ny)).at[1:-1].set((psi[1:] - psi[:-1]) / dx)
    gv = jnp.zeros((nx, ny + 1)).at[:, 1:-1].set((psi[:, 1:] - psi[:, :-1]) / dy)
    ru, rv, _ = project(gu, gv, dx, dy)
    assert float(jnp.abs(ru).max()) < 1e-4 and float(jnp.abs(rv).max()) < 1e-4


def test_projection_of_buoyancy_like_field_at_paper_resolution_float32():
    """128^2 on 32 x 32: the hydrostatic part of a buoyancy kick makes phi large; with the refinement
    pass the divergence stays < 1e-4 in float32 (one pass alone leaves more)."""
    cfg = ns.SmokeConfig()
    s = ns.smoke_noise(jax.random.key(4), cfg) * 3.0
    v = jnp.zeros((128, 129)).at[:, 1:-1].set(1.5 * 0.5 * 0.5 * (s[:, 1:] + s[:, :-1]))
    u = 0.1 * jax.random.normal(jax.random.key(5), (129, 128))
    div = lambda a, b: float(jnp.abs(ns.divergence(a, b, cfg.dx, cfg.dy)).max())
    pu, pv, _ = jax.jit(ns.project, static_argnums=(2, 3))(u, v, cfg.dx, cfg.dy)
    assert pu.dtype == jnp.float32 and div(pu, pv) < 1e-4, div(pu, pv)
    one = jax.jit(ns.project, static_argnums=(2, 3, 4))(u, v, cfg.dx, cfg.dy, 0)
    assert div(*one[:2]) > div(pu, pv)


@pytest.mark.parametrize("advection", ["semi_lagrangian", "conservative"])
def test_steps_stay_divergence_free_and_smoke_rises(advection):
    cfg = ns.SmokeConfig(nx=20, ny=20, smoke_advection=advection)
    x = (jnp.arange(20) + 0.5) * cfg.dx
    blob = jnp.exp(-((x[:, None] - 16) ** 2 + (x[None, :] - 10) ** 2) / 8.0)
    st = ns.SmokeState(blob, jnp.zeros((21, 20)), jnp.zeros((20, 21)))
    step = jax.jit(ns.step, static_argnums=2)
    y_mean = lambda s: float(jnp.sum(s * x[None, :]) / jnp.sum(s))
    y0 = y_mean(st.s)
    for _ in range(4):
        st = step(st, 0.5, cfg)
        assert float(ns.max_divergence(st, cfg)) < 1e-4
    assert y_mean(st.s) > y0 + 1.0  # buoyancy lifts the smoke
    assert float(jnp.abs(st.u[0]).max()) == 0.0 and float(jnp.abs(st.v[:, -1]).max()) == 0.0  # closed walls


def test_no_buoyancy_no_motion():
    cfg = ns.SmokeConfig(nx=16, ny=16)
    st = ns.initial_state(jax.random.key(1), cfg)
    out = ns.solve(st, 0.0, nt=5, skip=0, cfg=cfg)  # same static arguments as the drift test: one compile
    np.testing.assert_allclose(out["smoke"][-1], st.s, atol=1e-6)
    assert float(jnp.abs(out["velocity"]).max()) == 0.0


@pytest.mark.parametrize("dtype,tol", [(jnp.float64, 1e-12), (jnp.float32, 1e-5)])
def test_conservative_smoke_mass(dtype, tol):
    """Flux form in a closed box: zero boundary flux, so the total smoke is constant to round-off
    (and stays non-negative), even at Courant numbers of several cells."""
    with jax.enable_x64(True):
        cfg = ns.SmokeConfig(nx=16, ny=16, smoke_advection="conservative")
        st = ns.initial_state(jax.random.key(2), cfg, dtype=dtype)
        out = ns.solve(st, 2.0, nt=10, skip=0, cfg=cfg)
        assert out["smoke"].dtype == dtype
        mass = np.asarray(out["smoke"], np.float64).sum(axis=(1, 2))
        m0 = float(np.asarray(st.s, np.float64).sum())
        assert np.abs(mass / m0 - 1).max() < tol
        assert float(out["smoke"].min()) >= -1e-6
        assert float(jnp.abs(out["velocity"]).max()) > 0.3  # the flow is not trivial


def test_semi_lagrangian_mass_drift_is_what_it_is():
    """Documents (and bounds) the drift of the faithful, non-conservative scheme."""
    cfg = ns.SmokeConfig(nx=16, ny=16)
    st = ns.initial_state(jax.random.key(2), cfg)
    out = ns.solve(st, 0.5, nt=5, skip=0, cfg=cfg)
    drift = np.abs(np.asarray(out["smoke"]).sum(axis=(1, 2)) / float(st.s.sum()) - 1).max()
    assert 0 < drift < 0.5


def test_generate_vmap_jit_no_recompile():
    cfg = ns.SmokeConfig(nx=16, ny=16)
    f = jax.jit(jax.vmap(lambda k: ns.generate(k, nt=3, skip=1, cfg=cfg, buoyancy_y=(0.2, 0.8))))
    a = f(jax.random.split(jax.random.key(0), 2))
    b = f(jax.random.split(jax.random.key(1), 2))
    assert f._cache_size() == 1
    assert a["smoke"].shape == (2, 3, 16, 16) and a["velocity"].shape == (2, 3, 2, 16, 16)
    assert not np.allclose(a["buoyancy_y"], b["buoyancy_y"])
    assert (0.2 <= b["buoyancy_y"]).all() and (b["buoyancy_y"] <= 0.8).all()


def test_refusals():
    with pytest.raises(ValueError, match="unstable for explicit diffusion"):
        ns.check_config(ns.SmokeConfig(nx=256, ny=256))
    ns.check_config(ns.SmokeConfig())  # the paper's 128 x 128 runs
    with pytest.raises(ValueError, match="do not match the grid"):
        ns.solve(ns.initial_state(jax.random.key(0), ns.SmokeConfig(nx=8, ny=8)), 0.5, cfg=ns.SmokeConfig(nx=16, ny=16))
    with pytest.raises(ValueError, match="smoke_advection"):
        ns.check_config(ns.SmokeConfig(smoke_advection="maccormack"))
