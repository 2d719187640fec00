"""Print the measured accuracy figures of jaxsci.pde (for RESULTS.md): ``python tests/pde/measure_figures.py``.

Not collected by pytest (the tests assert bounds on the same quantities). Float64 unless stated. Runs in
about a minute on a laptop CPU.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from jaxsci.pde import burgers, maxwell, navier_stokes, shallow_water, wave, weno

L = burgers.LENGTH


def orders(ns, errs):
    return np.log(np.array(errs[:-1]) / np.array(errs[1:])) / np.log(np.array(ns[1:]) / np.array(ns[:-1]))


def params(alpha=1.0, beta=0.0, gamma=0.0, forced=False):
    a = jnp.array([0.3, -0.2, 0.1, 0.25, -0.4]) if forced else jnp.zeros(5)
    return burgers.CEParams(jnp.asarray(alpha), jnp.asarray(beta), jnp.asarray(gamma), a,
                            jnp.array([0.1, -0.3, 0.2, 0.0, 0.35]), jnp.array([0.0, 1.0, 2.0, 3.0, 4.0]),
                            jnp.array([1.0, 2.0, 3.0, 1.0, 2.0]))


def main():
    with jax.enable_x64(True):
        k = 2 * math.pi / L
        ns = [32, 64, 128, 256, 512]
        errs = []
        for n in ns:
            x = burgers.grid(n)
            um, _ = weno.weno5(jnp.sin(k * x) + 0.3 * jnp.cos(2 * k * x))
            d = (um - jnp.roll(um, 1)) / (L / n)
            errs.append(float(jnp.max(jnp.abs(d - (k * jnp.cos(k * x) - 0.6 * k * jnp.sin(2 * k * x))))))
        print("WENO5 linear advection, max error, nx", ns, ["%.2e" % e for e in errs], "orders", orders(ns, errs).round(2))

        p = params(alpha=1.3, beta=0.2, gamma=0.5)
        for split in ("lax_friedrichs", "godunov"):
            errs = []
            for n in ns:
                x = burgers.grid(n)
                u = 1.0 + 0.5 * jnp.sin(k * x)
                ex = (-1.3 * u * 0.5 * k * jnp.cos(k * x) - 0.2 * 0.5 * k**2 * jnp.sin(k * x)
                      + 0.5 * 0.5 * k**3 * jnp.cos(k * x))
                errs.append(float(jnp.max(jnp.abs(burgers.rhs(0.0, u, p, splitting=split) - ex))))
            print(f"full rhs on point values ({split}), orders", orders(ns, errs).round(2))

        errs = []
        for n in ns[:4]:
            dx = L / n
            x = burgers.grid(n)
            ubar = 0.2 + 0.5 * jnp.sin(k * x) * jnp.sin(k * dx / 2) / (k * dx / 2)
            fl = weno.weno5_flux_quadratic(ubar, 1.7, "godunov")
            f = lambda s: 0.5 * 1.7 * (0.2 + 0.5 * jnp.sin(k * s)) ** 2
            errs.append(float(jnp.max(jnp.abs(-(fl - jnp.roll(fl, 1)) / dx + (f(x + dx / 2) - f(x - dx / 2)) / dx))))
        print("Godunov advection on cell averages (finite-volume sense), orders", orders(ns[:4], errs).round(2))

        pt = params(alpha=1.0, beta=0.1, forced=True)
        u0 = 1.0 + 0.3 * jnp.sin(2 * math.pi * burgers.grid(32) / L)
        run = lambda dt, s: burgers.solve(pt, u0, t_end=0.8, nt=2, dt=dt, splitting="godunov", solver=s)[-1]
        for s in ("tsit5", "dopri5"):
            ref = run(0.8 / 512, s)
            dts = [0.8 / 8, 0.8 / 16, 0.8 / 32, 0.8 / 64]
            e = [float(jnp.max(jnp.abs(run(dt, s) - ref))) for dt in dts]
            print(f"time order, fixed-step {s}:", np.log2(np.array(e[:-1]) / np.array(e[1:])).round(2))

        for split in ("lax_friedrichs", "godunov"):
            for alpha in (1.0, 2.0):
                n, t_end = 320, 2.0 / alpha
                x = burgers.grid(n)
                u = burgers.solve(params(alpha), jnp.where((x >= 4) & (x < 8), 1.0, 0.0), t_end=t_end, nt=2,
                                  splitting=split)[-1]
                xs, us = np.asarray(x)[np.asarray(x) > 7], np.asarray(u)[np.asarray(x) > 7]
                i = np.argmax(us < 0.5)
                xsh = xs[i - 1] + (us[i - 1] - 0.5) / (us[i - 1] - us[i]) * (xs[i] - xs[i - 1])
                exp = 8.0 - 0.5 * L / n + 0.5 * alpha * t_end
                print(f"shock position {split} alpha={alpha}: error {xsh - exp:+.4f} (dx = {L / n})")

        for dt in (jnp.float64, jnp.float32):
            p3 = jax.tree.map(lambda a: a.astype(dt), params(3.0, 0.2, 0.3, forced=True))
            u0 = (0.5 + jax.random.uniform(jax.random.key(2), (64,), jnp.float64)).astype(dt)
            u = burgers.solve(p3, u0, t_end=1.0, nt=5)
            m = np.asarray(u, np.float64).sum(-1)
            print(f"burgers mass drift ({np.dtype(dt).name}, forced, E3-like): {np.abs(m / m[0] - 1).max():.1e}")

        for bc, sign in ((0, -1.0), (1, 1.0)):
            res = []
            for n in (40, 60, 80, 120, 200):
                x = np.asarray(wave.chebyshev_grid(n))

                def g(s, d=False):
                    out = 0.0
                    for j in range(-12, 13):
                        z = s + 32 * j - 1.3
                        out = out + (-2 * z * np.exp(-z * z) if d else np.exp(-z * z))
                    return out

                ex = lambda t: g(x + 2 * t) + sign * g(2 * t - 16 - x)
                u0, v0 = ex(0.0), 2 * g(x, True) + sign * 2 * g(-16 - x, True)
                pw = wave.WaveParams(jnp.asarray(1.3), jnp.asarray(2.0), jnp.asarray(bc), jnp.asarray(bc))
                u = wave.solve(pw, jnp.asarray(u0), jnp.asarray(v0), t_end=100.0, nt=6)
                res.append(np.abs(np.asarray(u) - np.stack([ex(t) for t in np.linspace(0, 100, 6)])).max())
            print(f"wave {'Dirichlet' if bc == 0 else 'Neumann'} max error over T=100, nx 40/60/80/120/200:",
                  ["%.1e" % r for r in res])

        cfg = navier_stokes.SmokeConfig(nx=32, ny=32, smoke_advection="conservative")
        st = navier_stokes.initial_state(jax.random.key(0), cfg)
        out = navier_stokes.solve(st, 0.5, nt=20, skip=0, cfg=cfg)
        m = np.asarray(out["smoke"]).sum((1, 2))
        print(f"smoke (conservative, 32^2, 20 steps) mass drift {np.abs(m / float(st.s.sum()) - 1).max():.1e}")
        cfg = shallow_water.SWConfig(ny=32, nx=64)
        h = shallow_water.random_height(jax.random.key(0), cfg, amplitude=0.3)
        q = shallow_water.solve(jnp.stack([h, 0 * h, 0 * h]), nt=30, cfg=cfg)
        m = np.asarray(q[:, 0]).sum((1, 2))
        print(f"shallow water (32x64, 30 frames, f=2) mass drift {np.abs(m / m[0] - 1).max():.1e}")
        k1, k2 = jax.random.split(jax.random.key(0))
        stm = maxwell.YeeState(jax.random.normal(k1, (3, 16, 16, 16)), jax.random.normal(k2, (3, 16, 16, 16)),
                               jnp.asarray(0.0))
        out = maxwell.solve(stm, None, nt=20, save_every=10, skip=0, dt=0.5)
        w = np.asarray(out["energy"])
        naive = 0.5 * (np.asarray(out["e"]) ** 2 + np.asarray(out["h"]) ** 2).sum((1, 2, 3, 4))
        print(f"maxwell 16^3, 200 steps: Yee invariant drift {np.abs(w / w[0] - 1).max():.1e}, "
              f"naive |E|^2+|H|^2 variation {np.abs(naive / naive[0] - 1).max():.1e}")

    # float32 figures
    cfg = navier_stokes.SmokeConfig()
    st = navier_stokes.initial_state(jax.random.key(0), cfg)
    out = navier_stokes.solve(st, 0.5, nt=10, skip=0, cfg=cfg)
    fin = out["state"]
    m = np.asarray(out["smoke"], np.float64).sum((1, 2))
    print(f"smoke 128^2 float32 (semi-Lagrangian, phiflow's): max|div u| after 10 steps "
          f"{float(navier_stokes.max_divergence(fin, cfg)):.1e}, smoke mass drift {np.abs(m / float(st.s.sum()) - 1).max():.1e}")


if __name__ == "__main__":
    main()
