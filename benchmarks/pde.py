"""jaxsci.pde generators: trajectories per second, JAX (jit + vmap over a batch) against references.

References, run on the same machine:

* Burgers family (E1, E3): a plain NumPy implementation of the same scheme written here (WENO5-JS with
  global Lax-Friedrichs splitting, fourth-order FD for u_xx and u_xxx, the forcing), integrated by its
  own Python-loop Dormand-Prince 5(4) with the original's tolerances (rtol = atol = 1e-5), one
  trajectory at a time as the original generator did. Ours runs the same method (diffrax Dopri5).
  The note gives the largest difference between the two solutions.
* Wave (WE3): the original's method, scipy ``solve_ivp(method="Radau", rtol=atol=1e-3)`` on the
  Chebyshev method of lines, against our exact-in-time eigen-solution.
* Smoke: phiflow (``phi``) when it imports; otherwise the row has no reference.
* Shallow water, Maxwell: ours only (the originals are Julia / external FDTD codes).

Times are seconds per trajectory (batch time / batch size); ``ratio = reference / ours``.
"""

from __future__ import annotations

import math

import jax
import numpy as np

from benchmarks.harness import Row, register, time_call, time_jitted
from jaxsci.pde import burgers, maxwell, navier_stokes, shallow_water, wave

# ----------------------------------------------------------------------------- NumPy reference

# the Dormand-Prince 5(4) tableau, shared with the faithful solver; _DP_E: 5th minus embedded 4th-order weights
_DP_C, _DP_A, _DP_B = burgers._DP_C, burgers._DP_A, burgers._DP_B
_DP_E = tuple(b - bs for b, bs in zip(_DP_B, burgers._DP_BLO))


def _np_weno_left(s0, s1, s2, s3, s4, eps=1e-6):
    q = ((2 * s0 - 7 * s1 + 11 * s2) / 6, (-s1 + 5 * s2 + 2 * s3) / 6, (2 * s2 + 5 * s3 - s4) / 6)
    b = (13 / 12 * (s0 - 2 * s1 + s2) ** 2 + 0.25 * (s0 - 4 * s1 + 3 * s2) ** 2,
         13 / 12 * (s1 - 2 * s2 + s3) ** 2 + 0.25 * (s1 - s3) ** 2,
         13 / 12 * (s2 - 2 * s3 + s4) ** 2 + 0.25 * (3 * s2 - 4 * s3 + s4) ** 2)
    w = [d / (eps + bk) ** 2 for d, bk in zip((0.1, 0.6, 0.3), b)]
    return (w[0] * q[0] + w[1] * q[1] + w[2] * q[2]) / (w[0] + w[1] + w[2])


def numpy_burgers_rhs(t, u, p, x, length=burgers.LENGTH):
    """Reference right-hand side (NumPy, one trajectory). ``p``: dict of float64 parameters."""
    dx = length / u.size
    sh = lambda k: np.roll(u, -k)
    lam = np.max(np.abs(p["alpha"] * u))
    f = 0.5 * p["alpha"] * u * u
    fp, fm = 0.5 * (f + lam * u), 0.5 * (f - lam * u)
    r = lambda a, k: np.roll(a, -k)
    flux = _np_weno_left(r(fp, -2), r(fp, -1), fp, r(fp, 1), r(fp, 2)) + \
        _np_weno_left(r(fm, 3), r(fm, 2), r(fm, 1), fm, r(fm, -1))
    uxx = (-sh(2) + 16 * sh(1) - 30 * u + 16 * sh(-1) - sh(-2)) / (12 * dx**2)
    uxxx = (-sh(3) + 8 * sh(2) - 13 * sh(1) + 13 * sh(-1) - 8 * sh(-2) + sh(-3)) / (8 * dx**3)
    forcing = np.sum(p["A"] * np.sin(p["omega"] * t + 2 * np.pi * p["l"] * x[:, None] / length + p["phi"]), -1)
    return -(flux - np.roll(flux, 1)) / dx + p["beta"] * uxx - p["gamma"] * uxxx + forcing


def numpy_dopri5(f, u0, ts, rtol=1e-5, atol=1e-5):
    """Adaptive Dormand-Prince 5(4) in a Python loop, landing on every output time."""
    out = [u0]
    u, t, h = u0.copy(), ts[0], 1e-3
    for t_next in ts[1:]:
        while t < t_next - 1e-12:
            h = min(h, t_next - t)
            k = []
            for i in range(7):
                y = u + h * sum(a * kk for a, kk in zip(_DP_A[i], k)) if i else u
                k.append(f(t + _DP_C[i] * h, y))
            u_new = u + h * sum(b * kk for b, kk in zip(_DP_B, k) if b)
            err = h * sum(e * kk for e, kk in zip(_DP_E, k) if e)
            scale = atol + rtol * np.maximum(np.abs(u), np.abs(u_new))
            e = math.sqrt(np.mean((err / scale) ** 2)) + 1e-16
            if e <= 1:
                u, t = u_new, t + h
            h = h * min(10.0, max(0.2, 0.9 * e**-0.2))
        out.append(u.copy())
    return np.stack(out)


def numpy_burgers_solve(p, nx, nt, t_end):
    x = burgers.grid_np(nx)
    u0 = np.sum(p["A"] * np.sin(2 * np.pi * p["l"] * x[:, None] / burgers.LENGTH + p["phi"]), -1)
    return numpy_dopri5(lambda t, u: numpy_burgers_rhs(t, u, p, x), u0, np.linspace(0, t_end, nt))


# ----------------------------------------------------------------------------- benchmark


def _per_traj(timing, batch):
    return timing.median_s / batch, (timing.compile_s or 0.0)


def _burgers_rows(family, batch, nx, nt, repeats):
    t_end = burgers.FAMILIES[family].t_end
    keys = jax.random.split(jax.random.key(0), batch)

    def one(k):
        p = burgers.sample_params(k, family)
        return burgers.solve(p, burgers.initial_condition(p, nx), t_end=t_end, nt=nt, solver="dopri5")

    with jax.enable_x64(True):
        fn = jax.jit(jax.vmap(one))
        tm = time_jitted(fn, keys, repeats=repeats, warmup=1)
        ours = np.asarray(fn(keys))
        params = jax.vmap(lambda k: burgers.sample_params(k, family))(keys)
    p0 = {k: np.asarray(v[0], np.float64) for k, v in params._asdict().items()}
    ref_timing = time_call(lambda: numpy_burgers_solve(p0, nx, nt, t_end), repeats=1, warmup=0)
    ref = numpy_burgers_solve(p0, nx, nt, t_end)
    diff = float(np.abs(ref - ours[0]).max())
    s, c = _per_traj(tm, batch)
    return Row("pde", f"burgers {family} nx={nx} nt={nt} (batch {batch}, float64)", s, ref_timing.median_s,
               "numpy WENO5 + Dopri5 loop", c, "s/traj", f"{1 / s:.1f} traj/s; max|ours-ref| {diff:.1e}")


def _wave_row(batch, nx, nt, repeats, with_reference):
    keys = jax.random.split(jax.random.key(0), batch)

    def one(k):
        p = wave.sample_params(k, "WE3")
        return wave.solve(p, *wave.initial_condition(p, wave.chebyshev_grid(nx)), nt=nt, bcs=(0, 1))

    fn = jax.jit(jax.vmap(one))
    tm = time_jitted(fn, keys, repeats=repeats, warmup=1)
    s, c = _per_traj(tm, batch)
    ref_s, note = None, f"{1 / s:.1f} traj/s"
    if with_reference:
        try:
            from scipy.integrate import solve_ivp
        except ImportError:
            note += "; scipy missing: no reference"
        else:
            d = wave.cheb_diff_matrix(nx)
            x = wave.chebyshev_grid_np(nx)

            def f(t, y):  # the original's method of lines, Dirichlet both sides, c = 2
                u, v = y[:nx], y[nx:]
                uxx = d @ (d @ u)
                uxx[0] = uxx[-1] = 0.0
                v = v.copy()
                v[0] = v[-1] = 0.0
                return np.concatenate([v, 4.0 * uxx])

            u0 = np.exp(-(x - 1.0) ** 2)
            y0 = np.concatenate([u0, -4.0 * (x - 1.0) * u0])
            run = lambda: solve_ivp(f, (0, wave.T_END), y0, method="Radau", t_eval=np.linspace(0, wave.T_END, nt),
                                    rtol=1e-3, atol=1e-3)
            ref_s = time_call(run, repeats=1, warmup=0).median_s
    return Row("pde", f"wave WE3 nx={nx} nt={nt} T=100 (batch {batch})", s, ref_s,
               "scipy Radau 1e-3 (original's)" if ref_s else "", c, "s/traj", note)


def _smoke_row(batch, n, nt, skip, repeats):
    cfg = navier_stokes.SmokeConfig(nx=n, ny=n)
    keys = jax.random.split(jax.random.key(0), batch)
    fn = jax.jit(jax.vmap(lambda k: navier_stokes.generate(k, nt, cfg=cfg, skip=skip)))
    tm = time_jitted(fn, keys, repeats=repeats, warmup=1)
    s, c = _per_traj(tm, batch)
    ref_s, note = None, f"{1 / s:.2f} traj/s, {(nt + skip)} steps"
    try:
        import phi  # noqa: F401
    except ImportError:
        note += "; phiflow not installed: no reference"
    else:
        ref_s = _phiflow_smoke(n, nt + skip)
    return Row("pde", f"smoke {n}x{n}, {nt + skip} steps (batch {batch})", s, ref_s,
               "phiflow 3 (jax backend, CG)" if ref_s else "", c, "s/traj", note)


def _phiflow_smoke(n, steps):  # pragma: no cover - only where phiflow installs
    from phi.jax import flow as pf

    box = pf.Box(x=32, y=32)
    smoke = abs(pf.CenteredGrid(pf.Noise(scale=11.0, smoothness=6.0), pf.extrapolation.BOUNDARY, x=n, y=n,
                                bounds=box))
    vel = pf.StaggeredGrid(0, pf.extrapolation.ZERO, x=n, y=n, bounds=box)

    @pf.jit_compile
    def step(s, v):
        s = pf.advect.semi_lagrangian(s, v, 1.5)
        v = pf.advect.semi_lagrangian(v, v, 1.5) + 1.5 * (s * (0, 0.5)).at(v)
        v = pf.diffuse.explicit(v, 0.01, 1.5)
        v, _ = pf.fluid.make_incompressible(v, (), pf.Solve("CG", 1e-5, 1e-5))  # pure-JAX CG, as phiflow's examples
        return s, v

    def run():
        s, v = smoke, vel
        for _ in range(steps):
            s, v = step(s, v)
        return s.values.numpy("y,x")

    return time_call(run, repeats=1, warmup=1).median_s


def _simple_row(name, fn, keys, repeats, note=""):
    tm = time_jitted(fn, keys, repeats=repeats, warmup=1)
    s, c = _per_traj(tm, len(keys))
    return Row("pde", name, s, None, "", c, "s/traj", f"{1 / s:.2f} traj/s" + note)


@register("pde")
def bench(quick: bool) -> list[Row]:
    """PDE generators: trajectories/s, JAX vs NumPy/scipy (and phiflow where installed)."""
    if quick:
        rows = [_burgers_rows("E1", 2, 40, 10, 2)]
        rows.append(_wave_row(2, 40, 10, 2, with_reference=False))
        return rows
    rows = [_burgers_rows("E1", 32, 200, 250, 3), _burgers_rows("E3", 16, 200, 250, 2)]
    rows.append(_wave_row(32, 200, 250, 5, with_reference=True))
    rows.append(_smoke_row(4, 128, navier_stokes.NT, navier_stokes.SKIP_STEPS, 2))
    keys = jax.random.split(jax.random.key(0), 4)
    rows.append(_simple_row("shallow water 64x128, 90 frames (batch 4)",
                            jax.jit(jax.vmap(lambda k: shallow_water.generate(k))), keys, 2))
    rows.append(_simple_row("maxwell 32^3, 96 Yee steps (batch 4)",
                            jax.jit(jax.vmap(lambda k: maxwell.generate(k))), keys, 3))
    return rows

