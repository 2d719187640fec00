"""Combined equation of MP-PDE: WENO5 order, time order, Rankine-Hugoniot, mass, jit/vmap, errors.

Float64 checks run inside ``jax.enable_x64(True)`` blocks, so the flag never leaks to other modules.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.pde import burgers, weno

L = burgers.LENGTH


def _orders(ns, errs):
    return np.log(np.array(errs[:-1]) / np.array(errs[1:])) / np.log(np.array(ns[1:]) / np.array(ns[:-1]))


def _params(alpha=1.0, beta=0.0, gamma=0.0, forced=False, dtype=jnp.float64):
    a = jnp.array([0.3, -0.2, 0.1, 0.25, -0.4]) if forced else jnp.zeros(5)
    return burgers.CEParams(
        jnp.asarray(alpha, dtype), jnp.asarray(beta, dtype), jnp.asarray(gamma, dtype),
        a.astype(dtype), jnp.array([0.1, -0.3, 0.2, 0.0, 0.35], dtype),
        jnp.array([0.0, 1.0, 2.0, 3.0, 4.0], dtype), jnp.array([1.0, 2.0, 3.0, 1.0, 2.0], dtype),
    )


def test_weno5_order_linear_advection():
    """Upwind WENO5 derivative of a smooth periodic wave converges at order >= 4.5."""
    with jax.enable_x64(True):
        ns, errs = [64, 128, 256], []
        for n in ns:
            x = burgers.grid(n)
            k = 2 * math.pi / L
            u = jnp.sin(k * x) + 0.3 * jnp.cos(2 * k * x)
            um, _ = weno.weno5(u)
            d = (um - jnp.roll(um, 1)) / (L / n)
            errs.append(float(jnp.max(jnp.abs(d - (k * jnp.cos(k * x) - 0.6 * k * jnp.sin(2 * k * x))))))
        assert _orders(ns, errs).min() >= 4.5, (errs, _orders(ns, errs))


def test_weno5_right_biased_is_mirror_of_left():
    """The right-biased value of u equals the left-biased value of the mirrored field."""
    u = jax.random.normal(jax.random.key(0), (17,))
    _, up = weno.weno5(u)
    um_rev, _ = weno.weno5(u[::-1])
    # interface i+1/2 of u is interface (n-2-i)+1/2 of the reversed field
    np.testing.assert_allclose(up, jnp.roll(um_rev[::-1], -1), rtol=1e-5, atol=1e-6)


def test_full_operator_order_lax_friedrichs():
    """The whole right-hand side (WENO5-LF flux + 4th-order FD) has spatial order >= 4 on smooth u."""
    with jax.enable_x64(True):
        k = 2 * math.pi / L
        p = _params(alpha=1.3, beta=0.2, gamma=0.5)
        ns, errs = [64, 128, 256], []
        for n in ns:
            x = burgers.grid(n)
            u = 1.0 + 0.5 * jnp.sin(k * x)
            ux, uxx, uxxx = 0.5 * k * jnp.cos(k * x), -0.5 * k**2 * jnp.sin(k * x), -0.5 * k**3 * jnp.cos(k * x)
            exact = -1.3 * u * ux + 0.2 * uxx - 0.5 * uxxx
            errs.append(float(jnp.max(jnp.abs(burgers.rhs(0.0, u, p) - exact))))
        assert _orders(ns, errs).min() >= 3.8, (errs, _orders(ns, errs))


def test_godunov_is_fifth_order_finite_volume():
    """With the Godunov flux the advection term is a finite-volume scheme: on exact cell averages it
    reproduces the exact cell average of -(a u^2/2)_x at order >= 4.5."""
    with jax.enable_x64(True):
        k, a = 2 * math.pi / L, 1.7
        ns, errs = [32, 64, 128], []
        for n in ns:
            dx = L / n
            x = burgers.grid(n)
            ubar = 0.2 + 0.5 * jnp.sin(k * x) * jnp.sin(k * dx / 2) / (k * dx / 2)  # exact averages
            flux = weno.weno5_flux_quadratic(ubar, a, "godunov")
            adv = -(flux - jnp.roll(flux, 1)) / dx
            f = lambda s: 0.5 * a * (0.2 + 0.5 * jnp.sin(k * s)) ** 2
            exact = -(f(x + dx / 2) - f(x - dx / 2)) / dx
            errs.append(float(jnp.max(jnp.abs(adv - exact))))
        assert _orders(ns, errs).min() >= 4.5, (errs, _orders(ns, errs))


def test_godunov_flux_is_exact_riemann_flux():
    """Against a brute-force min/max of f over the state interval, both signs of a."""
    rng = np.random.default_rng(0)
    ul, ur, a = rng.normal(size=200), rng.normal(size=200), rng.choice([-1.5, 2.0], size=200)
    s = np.linspace(0, 1, 4001)[:, None]
    vals = 0.5 * a * (ul + s * (ur - ul)) ** 2
    ref = np.where(ul <= ur, vals.min(0), vals.max(0))
    got = np.asarray(weno.godunov_flux_quadratic(a, ul, ur))
    np.testing.assert_allclose(got, ref, atol=1e-6)


def _numpy_rhs_loop(u, alpha, beta, gamma, dx):
    """An independent loop-based WENO5-LF + FD right-hand side (no forcing), for parity."""
    n = len(u)
    lam = max(abs(alpha * v) for v in u)
    fp = [0.5 * (0.5 * alpha * v * v + lam * v) for v in u]
    fm = [0.5 * (0.5 * alpha * v * v - lam * v) for v in u]

    def recon(s):  # s = 5 values, upwind side first
        c = [(2 * s[0] - 7 * s[1] + 11 * s[2]) / 6, (-s[1] + 5 * s[2] + 2 * s[3]) / 6, (2 * s[2] + 5 * s[3] - s[4]) / 6]
        b = [13 / 12 * (s[0] - 2 * s[1] + s[2]) ** 2 + (s[0] - 4 * s[1] + 3 * s[2]) ** 2 / 4,
             13 / 12 * (s[1] - 2 * s[2] + s[3]) ** 2 + (s[1] - s[3]) ** 2 / 4,
             13 / 12 * (s[2] - 2 * s[3] + s[4]) ** 2 + (3 * s[2] - 4 * s[3] + s[4]) ** 2 / 4]
        w = [d / (1e-6 + bb) ** 2 for d, bb in zip((0.1, 0.6, 0.3), b)]
        return sum(wi * ci for wi, ci in zip(w, c)) / sum(w)

    F = [recon([fp[(i + j) % n] for j in (-2, -1, 0, 1, 2)]) + recon([fm[(i + j) % n] for j in (3, 2, 1, 0, -1)])
         for i in range(n)]
    out = []
    for i in range(n):
        g = lambda j: u[(i + j) % n]
        uxx = (-g(2) + 16 * g(1) - 30 * g(0) + 16 * g(-1) - g(-2)) / (12 * dx**2)
        uxxx = (-g(3) + 8 * g(2) - 13 * g(1) + 13 * g(-1) - 8 * g(-2) + g(-3)) / (8 * dx**3)
        out.append(-(F[i] - F[i - 1]) / dx + beta * uxx - gamma * uxxx)
    return np.array(out)


def test_rhs_matches_loop_reference():
    with jax.enable_x64(True):
        u = np.asarray(jax.random.normal(jax.random.key(1), (24,), jnp.float64))
        p = _params(alpha=2.3, beta=0.3, gamma=0.7)
        got = burgers.rhs(0.0, jnp.asarray(u), p)
        np.testing.assert_allclose(got, _numpy_rhs_loop(list(u), 2.3, 0.3, 0.7, L / 24), rtol=1e-10, atol=1e-10)


def test_time_integrator_order():
    """Fixed-step Tsit5 on the semi-discrete system shows its fifth order (dt halved twice)."""
    with jax.enable_x64(True):
        p = _params(alpha=1.0, beta=0.1, forced=True)
        u0 = 1.0 + 0.3 * jnp.sin(2 * math.pi * burgers.grid(32) / L)
        run = lambda dt: burgers.solve(p, u0, t_end=0.8, nt=2, dt=dt, splitting="godunov")[-1]
        ref = run(0.8 / 256)
        dts = [0.8 / 8, 0.8 / 16]
        errs = [float(jnp.max(jnp.abs(run(dt) - ref))) for dt in dts]
        orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
        assert orders.min() >= 4.5, (errs, orders)


@pytest.mark.parametrize("splitting", ["lax_friedrichs", "godunov"])
@pytest.mark.parametrize("alpha", [1.0, 2.0])
def test_shock_moves_at_rankine_hugoniot_speed(splitting, alpha):
    """Step u = 1 on [4, 8), 0 elsewhere: the right jump is a shock of speed alpha (1 + 0) / 2."""
    with jax.enable_x64(True):
        n, t_end = 320, 2.0 / alpha  # the rarefaction catches the shock only at t = 8 / alpha
        x = burgers.grid(n)
        u0 = jnp.where((x >= 4.0) & (x < 8.0), 1.0, 0.0)
        u = burgers.solve(_params(alpha=alpha), u0, t_end=t_end, nt=2, splitting=splitting)[-1]
        right = np.asarray(x > 7.0)
        xs, us = np.asarray(x)[right], np.asarray(u)[right]
        i = np.argmax(us < 0.5)  # first point of the right half below 1/2
        x_shock = xs[i - 1] + (us[i - 1] - 0.5) / (us[i - 1] - us[i]) * (xs[i] - xs[i - 1])
        expected = 8.0 - 0.5 * L / n + 0.5 * alpha * t_end  # the jump starts between grid points 7.95 and 8
        assert abs(x_shock - expected) < 0.25 * L / n, (x_shock, expected)


@pytest.mark.parametrize("dtype,tol", [(jnp.float64, 1e-12), (jnp.float32, 2e-5)])
def test_mass_conserved(dtype, tol):
    """Periodic, conservative form: sum(u) dx is constant to round-off (the forcing modes, l >= 1,
    integrate to zero on the grid, so this holds with forcing too)."""
    with jax.enable_x64(True):
        for forced in (False, True):
            p = _params(alpha=3.0, beta=0.2, gamma=0.3, forced=forced, dtype=dtype)
            u0 = (0.5 + jax.random.uniform(jax.random.key(2), (64,), jnp.float64)).astype(dtype)
            u = burgers.solve(p, u0, t_end=1.0, nt=5)
            assert u.dtype == dtype
            mass = jnp.sum(u.astype(jnp.float64), axis=-1) * (L / 64)
            assert float(jnp.max(jnp.abs(mass - mass[0]))) < tol * float(jnp.sum(jnp.abs(u0))) * L / 64


def test_downsample_is_five_tap_average():
    k = 2 * math.pi * 3 / L
    x = burgers.grid(200)
    for nx in (100, 50, 40):
        got = burgers.downsample(jnp.sin(k * x)[None], nx)[0]
        h = L / 200
        factor = (1 + 2 * math.cos(k * h) + 2 * math.cos(2 * k * h)) / 5
        np.testing.assert_allclose(got, factor * jnp.sin(k * burgers.grid(nx)), atol=1e-5)


def test_jit_vmap_no_recompile():
    f = jax.jit(jax.vmap(lambda k: burgers.generate(k, "E2", nx=(50,), nt=11)))
    out1 = f(jax.random.split(jax.random.key(0), 3))
    out2 = f(jax.random.split(jax.random.key(1), 3))
    assert f._cache_size() == 1
    assert out1["u_200"].shape == (3, 11, 200) and out1["u_50"].shape == (3, 11, 50)
    assert not np.allclose(out1["beta"], out2["beta"]) and np.isfinite(out2["u_200"]).all()
    # the jitted solver itself is not retraced for new parameter values either
    size = burgers.solve._cache_size()
    p = burgers.sample_params(jax.random.key(5), "E3")
    burgers.solve(p, burgers.initial_condition(p, 40), t_end=0.1, nt=3)
    p = burgers.sample_params(jax.random.key(6), "E3")
    burgers.solve(p, burgers.initial_condition(p, 40), t_end=0.1, nt=3)
    assert burgers.solve._cache_size() == size + 1


def test_sample_params_ranges():
    keys = jax.random.split(jax.random.key(3), 256)
    p = jax.vmap(lambda k: burgers.sample_params(k, "E3"))(keys)
    assert 0 <= p.alpha.min() and p.alpha.max() <= 6 and p.alpha.max() > 5
    assert 0.1 <= p.beta.min() and p.beta.max() <= 0.4 and 0 <= p.gamma.min() and p.gamma.max() <= 1
    assert set(np.unique(p.l).tolist()) == {1.0, 2.0, 3.0}
    assert np.abs(p.A).max() <= 0.5 and np.abs(p.omega).max() <= 0.4
    p1 = burgers.sample_params(keys[0], "E1")
    assert float(p1.alpha) == 1.0 and float(p1.beta) == 0.0 and float(p1.gamma) == 0.0


def test_bad_requests_are_refused():
    with pytest.raises(ValueError, match="unknown combined-equation family"):
        burgers.generate(jax.random.key(0), "E4")
    with pytest.raises(ValueError, match="must divide"):
        burgers.generate(jax.random.key(0), "E1", nx=(30,))
    with pytest.raises(ValueError, match="too coarse"):
        burgers.check_resolution("E1", 4)
    with pytest.raises(ValueError, match="unstable"):
        burgers.check_resolution("E3", 100, nx_fine=1000)
    with pytest.raises(ValueError, match="shape"):
        burgers.solve(_params(dtype=jnp.float32), jnp.zeros((2, 16)), t_end=1.0)
    with pytest.raises(ValueError, match="solver"):
        burgers.solve(_params(dtype=jnp.float32), jnp.zeros(16), t_end=1.0, solver="euler")
    with pytest.raises(ValueError, match="splitting"):
        burgers.rhs(0.0, jnp.zeros(16), _params(dtype=jnp.float32), splitting="roe")
