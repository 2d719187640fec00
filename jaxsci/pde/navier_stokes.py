"""2D incompressible Navier-Stokes smoke with buoyancy (the Clifford-layers / PDEArena data).

Equations, in a closed box ``[0, 32] x [0, 32]`` (units as the paper's, dimensionless)::

    u_t + (u . grad) u = -grad p + nu lap u + (0, b s),    div u = 0,
    s_t + u . grad s = 0,

``nu = 0.01``, buoyancy ``b = buoyancy_y = 0.5`` (a per-trajectory scalar), time step ``dt = 1.5``.

Discretisation (the operator splitting of phiflow's ``advect.semi_lagrangian`` / ``diffuse.explicit`` /
``fluid.make_incompressible`` as PDEArena used it; our own code): a staggered (MAC) grid of
``nx x ny`` cells (default 128 x 128, ``dx = 32 / 128``); the smoke ``s`` at cell centres, the velocity
as ``u`` on the x-faces ``(nx + 1, ny)`` and ``v`` on the y-faces ``(nx, ny + 1)``. Arrays are indexed
``[..., x, y]``. One step:

1. smoke: semi-Lagrangian advection (one Euler backtrace, bilinear sampling, zero-gradient outside);
2. buoyancy ``(0, b s)`` averaged to the y-faces, added as ``dt * force``;
3. velocity: semi-Lagrangian self-advection (the tangential component is zero outside the box:
   phiflow's ``extrapolation.ZERO``), then one explicit diffusion step ``nu dt lap u`` (stable while
   ``nu dt / dx^2 <= 1/4``, checked: finer grids are refused);
4. projection: ``u -= grad phi`` with ``lap phi = div u`` and closed-box (no-penetration) walls. The
   Neumann Poisson problem on the cell-centred grid is diagonalised by the type-II DCT, so it is
   solved **exactly** by ``dctn``/``idctn`` (O(N^2 log N), jit-compiled) instead of phiflow's
   iterative CG, plus one refinement pass against float32 rounding; the discrete divergence after
   projection is zero to round-off (~1e-6 in float32 at 128^2).

Semi-Lagrangian advection (phiflow's, the default, faithful to the data of the paper) is not
conservative: the single Euler backtrace is not volume-preserving, and with dt = 1.5 the Courant
number reaches 10-20 cells, so the total smoke drifts (measured: -27% over the first 30 steps at
128^2 in float32; -4.6% over 100 steps of a solid-body-like rotation at Courant number 0.4).
``SmokeConfig(smoke_advection="conservative")`` switches the smoke to a flux-form scheme whose total
changes only by the boundary flux, zero in the closed box: conserved to round-off (tested). Initial smoke: ``|noise|`` of a random Fourier series with
power-law spectrum (:func:`smoke_noise`, in the spirit of phiflow's ``Noise(scale=11, smoothness=6)``,
not bit-compatible); initial velocity zero. PDEArena keeps frames 12..67 (t = 18 to 100.5, 56 frames).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.fft import dctn, idctn
from jaxtyping import Array, Float, PRNGKeyArray

DOMAIN = 32.0
NX = 128
NU = 0.01
BUOYANCY_Y = 0.5
DT = 1.5
SKIP_STEPS = 12
NT = 56


class SmokeState(NamedTuple):
    """Smoke ``s (nx, ny)`` at cell centres; face velocities ``u (nx+1, ny)``, ``v (nx, ny+1)``."""

    s: Float[Array, "nx ny"]
    u: Float[Array, "nx+1 ny"]
    v: Float[Array, "nx ny+1"]


class SmokeConfig(NamedTuple):
    """Static settings (hashable): grid, domain, viscosity, time step, smoke advection scheme.

    ``smoke_advection``: ``"semi_lagrangian"`` (phiflow's, as PDEArena; not conservative) or
    ``"conservative"`` (flux form, MUSCL-minmod upwind fluxes through the faces, SSP-RK2 substeps with
    ``dt_sub (|u|/dx + |v|/dy) <= 0.5``): the total smoke then changes only by the boundary flux,
    zero in the closed box, i.e. it is conserved to round-off.
    """

    nx: int = NX
    ny: int = NX
    length_x: float = DOMAIN
    length_y: float = DOMAIN
    nu: float = NU
    dt: float = DT
    smoke_advection: str = "semi_lagrangian"

    @property
    def dx(self) -> float:
        return self.length_x / self.nx

    @property
    def dy(self) -> float:
        return self.length_y / self.ny


def check_config(cfg: SmokeConfig) -> None:
    """Refuse grids the explicit diffusion step cannot run stably (before any work)."""
    if cfg.smoke_advection not in ("semi_lagrangian", "conservative"):
        raise ValueError(f"unknown smoke_advection {cfg.smoke_advection!r}; use semi_lagrangian or conservative")
    if cfg.nx < 4 or cfg.ny < 4:
        raise ValueError(f"grid {cfg.nx}x{cfg.ny} is too small (at least 4x4 cells)")
    r = cfg.nu * cfg.dt * (1.0 / cfg.dx**2 + 1.0 / cfg.dy**2)
    if r > 0.5:
        raise ValueError(
            f"grid {cfg.nx}x{cfg.ny} on {cfg.length_x}x{cfg.length_y} is unstable for explicit diffusion: "
            f"nu dt (1/dx^2 + 1/dy^2) = {r:.3f} > 1/2; use a coarser grid or a smaller dt"
        )


def _sample(f, x0, y0, hx, hy, px, py):
    """Bilinear value of ``f`` (samples at ``(x0 + i hx, y0 + j hy)``) at points ``(px, py)``; points
    outside are clamped to the sample range (so the edge values extend outwards)."""
    nx, ny = f.shape
    fx = jnp.clip((px - x0) / hx, 0.0, nx - 1.0)
    fy = jnp.clip((py - y0) / hy, 0.0, ny - 1.0)
    i0 = jnp.clip(jnp.floor(fx).astype(jnp.int32), 0, nx - 2)
    j0 = jnp.clip(jnp.floor(fy).astype(jnp.int32), 0, ny - 2)
    wx, wy = fx - i0, fy - j0
    f00, f10, f01, f11 = f[i0, j0], f[i0 + 1, j0], f[i0, j0 + 1], f[i0 + 1, j0 + 1]
    return (1 - wx) * ((1 - wy) * f00 + wy * f01) + wx * ((1 - wy) * f10 + wy * f11)


def _grids(cfg: SmokeConfig, dtype):
    dx, dy = cfg.dx, cfg.dy
    xc = (jnp.arange(cfg.nx, dtype=dtype) + 0.5) * dx
    yc = (jnp.arange(cfg.ny, dtype=dtype) + 0.5) * dy
    xf = jnp.arange(cfg.nx + 1, dtype=dtype) * dx
    yf = jnp.arange(cfg.ny + 1, dtype=dtype) * dy
    return xc, yc, xf, yf


def _velocity_samplers(state: SmokeState, cfg: SmokeConfig):
    """Functions giving u and v at arbitrary points; tangential ghosts are zero (no-slip walls)."""
    dx, dy = cfg.dx, cfg.dy
    u_pad = jnp.pad(state.u, ((0, 0), (1, 1)))  # ghost rows at y = -dy/2 and Ly + dy/2
    v_pad = jnp.pad(state.v, ((1, 1), (0, 0)))
    su = lambda px, py: _sample(u_pad, 0.0, -0.5 * dy, dx, dy, px, py)
    sv = lambda px, py: _sample(v_pad, -0.5 * dx, 0.0, dx, dy, px, py)
    return su, sv


def divergence(u: Float[Array, "nx+1 ny"], v: Float[Array, "nx ny+1"], dx: float, dy: float):
    """Discrete divergence at cell centres ``(nx, ny)``."""
    return (u[1:] - u[:-1]) / dx + (v[:, 1:] - v[:, :-1]) / dy


def solve_pressure(div: Float[Array, "nx ny"], dx: float, dy: float) -> Float[Array, "nx ny"]:
    """Mean-free ``phi`` with ``lap phi = div`` (5-point, homogeneous Neumann walls) by type-II DCT.

    ``div`` must have zero mean (it has: the wall fluxes are zero); the constant mode is dropped.
    """
    nx, ny = div.shape
    kx = jnp.arange(nx, dtype=div.dtype)
    ky = jnp.arange(ny, dtype=div.dtype)
    lam = (-4.0 / dx**2 * jnp.sin(jnp.pi * kx / (2 * nx)) ** 2)[:, None] + (
        -4.0 / dy**2 * jnp.sin(jnp.pi * ky / (2 * ny)) ** 2
    )[None, :]
    d = dctn(div, type=2, norm="ortho")
    lam = lam.at[0, 0].set(1.0)
    return idctn((d / lam).at[0, 0].set(0.0), type=2, norm="ortho")


def project(u, v, dx: float, dy: float, refine: int = 1):
    """Divergence-free part of the face velocity (walls: zero normal velocity); returns ``(u, v, phi)``.

    ``refine`` extra correction passes (iterative refinement) remove the rounding error of the first
    solve: buoyancy makes ``phi`` large (hydrostatic), and in float32 one pass leaves ``|div u|`` ~1e-4
    on the 128^2 grid; after one more pass it is ~1e-6.
    """
    u = u.at[0].set(0.0).at[-1].set(0.0)
    v = v.at[:, 0].set(0.0).at[:, -1].set(0.0)
    phi = jnp.zeros((u.shape[0] - 1, u.shape[1]), u.dtype)
    for _ in range(1 + refine):
        dphi = solve_pressure(divergence(u, v, dx, dy), dx, dy)
        u = u.at[1:-1].add(-(dphi[1:] - dphi[:-1]) / dx)
        v = v.at[:, 1:-1].add(-(dphi[:, 1:] - dphi[:, :-1]) / dy)
        phi = phi + dphi
    return u, v, phi


def _laplacian_faces(f, axis_normal: int, h_n: float, h_t: float):
    """5-point Laplacian of a face component: normal direction uses the face neighbours (walls are
    fixed), tangential direction has zero ghosts (no-slip)."""
    if axis_normal == 0:
        fp = jnp.pad(f, ((0, 0), (1, 1)))
        lap_t = (fp[:, 2:] - 2 * f + fp[:, :-2]) / h_t**2
        lap_n = jnp.zeros_like(f).at[1:-1].set((f[2:] - 2 * f[1:-1] + f[:-2]) / h_n**2)
    else:
        fp = jnp.pad(f, ((1, 1), (0, 0)))
        lap_t = (fp[2:] - 2 * f + fp[:-2]) / h_t**2
        lap_n = jnp.zeros_like(f).at[:, 1:-1].set((f[:, 2:] - 2 * f[:, 1:-1] + f[:, :-2]) / h_n**2)
    return lap_t + lap_n


def _minmod(a, b):
    return jnp.where(a * b > 0, jnp.sign(a) * jnp.minimum(jnp.abs(a), jnp.abs(b)), 0.0)


def _face_flux(s, vel, axis):
    """Upwind MUSCL-minmod flux ``vel * s_face`` through the interior faces along ``axis``; the wall
    faces carry no flux. ``vel`` has one more entry than ``s`` along ``axis``."""
    s = jnp.moveaxis(s, axis, 0)
    vel = jnp.moveaxis(vel, axis, 0)
    d = s[1:] - s[:-1]
    slope = jnp.zeros_like(s).at[1:-1].set(_minmod(d[:-1], d[1:]))
    left = s[:-1] + 0.5 * slope[:-1]  # value at face i+1/2 from cell i
    right = s[1:] - 0.5 * slope[1:]
    vin = vel[1:-1]
    flux = jnp.where(vin > 0, vin * left, vin * right)
    zero = jnp.zeros_like(flux[:1])
    return jnp.moveaxis(jnp.concatenate([zero, flux, zero]), 0, axis)


def advect_conservative(s, u, v, dt, dx, dy):
    """Flux-form advection of ``s`` by the face velocity over ``dt``: SSP-RK2 substeps, their number
    chosen from the CFL number at run time (``lax.fori_loop`` with a traced trip count)."""
    cfl = dt * jnp.max(jnp.abs(u)) / dx + dt * jnp.max(jnp.abs(v)) / dy
    n = jnp.maximum(1, jnp.ceil(cfl / 0.5)).astype(jnp.int32)
    h = dt / n.astype(s.dtype)

    def rate(q):
        fx, fy = _face_flux(q, u, 0), _face_flux(q, v, 1)
        return -(fx[1:] - fx[:-1]) / dx - (fy[:, 1:] - fy[:, :-1]) / dy

    def body(_, q):
        q1 = q + h * rate(q)
        return 0.5 * (q + q1 + h * rate(q1))

    return jax.lax.fori_loop(0, n, body, s)


def step(state: SmokeState, buoyancy_y, cfg: SmokeConfig = SmokeConfig()) -> SmokeState:
    """One time step ``dt`` (see the module docstring for the splitting)."""
    dtype = state.s.dtype
    dx, dy, dt = cfg.dx, cfg.dy, cfg.dt
    xc, yc, xf, yf = _grids(cfg, dtype)
    su, sv = _velocity_samplers(state, cfg)
    # 1. smoke, semi-Lagrangian with the old velocity
    if cfg.smoke_advection == "conservative":
        s = advect_conservative(state.s, state.u, state.v, dt, dx, dy)
    else:
        X, Y = jnp.meshgrid(xc, yc, indexing="ij")
        s = _sample(state.s, 0.5 * dx, 0.5 * dy, dx, dy, X - dt * su(X, Y), Y - dt * sv(X, Y))
    # 3a. velocity self-advection (each component backtraced from its own faces)
    Xu, Yu = jnp.meshgrid(xf, yc, indexing="ij")
    u = su(Xu - dt * su(Xu, Yu), Yu - dt * sv(Xu, Yu))
    Xv, Yv = jnp.meshgrid(xc, yf, indexing="ij")
    v = sv(Xv - dt * su(Xv, Yv), Yv - dt * sv(Xv, Yv))
    # 2. buoyancy of the new smoke on the interior y-faces
    v = v.at[:, 1:-1].add(dt * buoyancy_y * 0.5 * (s[:, 1:] + s[:, :-1]))
    # 3b. explicit viscosity
    u = u + cfg.nu * dt * _laplacian_faces(u, 0, dx, dy)
    v = v + cfg.nu * dt * _laplacian_faces(v, 1, dy, dx)
    # 4. projection
    u, v, _ = project(u, v, dx, dy)
    return SmokeState(s, u, v)


def smoke_noise(key: PRNGKeyArray, cfg: SmokeConfig = SmokeConfig(), scale: float = 11.0,
                smoothness: float = 6.0, dtype=None) -> Float[Array, "nx ny"]:
    """``|n|`` of a random Fourier series, unit standard deviation before ``abs``.

    Fourier amplitudes ``~ N(0, 1) * (|k| scale)^-smoothness`` for ``|k| scale > 0.5`` (k in cycles per
    unit length), zero below: smooth blobs of size ~ ``scale``.
    """
    dtype = dtype or jnp.result_type(float)
    kx = jnp.fft.fftfreq(cfg.nx, cfg.dx)[:, None]
    ky = jnp.fft.fftfreq(cfg.ny, cfg.dy)[None, :]
    k = jnp.sqrt(kx**2 + ky**2) * scale
    amp = jnp.where(k > 0.5, jnp.maximum(k, 0.5) ** (-smoothness), 0.0)
    k1, k2 = jax.random.split(key)
    coef = (jax.random.normal(k1, k.shape) + 1j * jax.random.normal(k2, k.shape)) * amp
    field = jnp.fft.ifft2(coef).real
    field = field / jnp.maximum(jnp.std(field), 1e-30)
    return jnp.abs(field).astype(dtype)


def initial_state(key: PRNGKeyArray, cfg: SmokeConfig = SmokeConfig(), dtype=None) -> SmokeState:
    """Random smooth smoke, fluid at rest."""
    s = smoke_noise(key, cfg, dtype=dtype)
    return SmokeState(s, jnp.zeros((cfg.nx + 1, cfg.ny), s.dtype), jnp.zeros((cfg.nx, cfg.ny + 1), s.dtype))


def centred_velocity(state: SmokeState) -> Float[Array, "2 nx ny"]:
    """Face velocities averaged to the cell centres, ``(2, nx, ny)`` = (vx, vy)."""
    return jnp.stack([0.5 * (state.u[1:] + state.u[:-1]), 0.5 * (state.v[:, 1:] + state.v[:, :-1])])


@functools.partial(jax.jit, static_argnames=("nt", "skip", "cfg"))
def solve(state0: SmokeState, buoyancy_y, *, nt: int = NT, skip: int = SKIP_STEPS,
          cfg: SmokeConfig = SmokeConfig()) -> dict[str, Array]:
    """Run ``skip + nt`` steps from ``state0``; keep the last ``nt`` frames.

    Returns ``{"smoke": (nt, nx, ny), "velocity": (nt, 2, nx, ny)}`` (cell-centred, as PDEArena stores
    them) and the final staggered ``"state"``. Frame ``k`` is the state after ``skip + 1 + k`` steps.
    """
    check_config(cfg)
    want = ((cfg.nx, cfg.ny), (cfg.nx + 1, cfg.ny), (cfg.nx, cfg.ny + 1))
    got = tuple(tuple(a.shape) for a in state0)
    if got != want:
        raise ValueError(f"state shapes (s, u, v) {got} do not match the grid {cfg.nx}x{cfg.ny}: want {want}")
    buoyancy_y = jnp.asarray(buoyancy_y, state0.s.dtype)
    body = lambda st, _: (step(st, buoyancy_y, cfg),) * 2
    st, _ = jax.lax.scan(lambda c, x: (step(c, buoyancy_y, cfg), None), state0, None, length=skip)
    final, traj = jax.lax.scan(body, st, None, length=nt)
    vel = jax.vmap(centred_velocity)(traj)
    return {"smoke": traj.s, "velocity": vel, "state": final}


def generate(key: PRNGKeyArray, nt: int = NT, *, cfg: SmokeConfig = SmokeConfig(), skip: int = SKIP_STEPS,
             buoyancy_y: float | tuple[float, float] = BUOYANCY_Y, dtype=None) -> dict[str, Array]:
    """One trajectory: random initial smoke (and ``buoyancy_y ~ U[lo, hi]`` if a range is given).

    Returns ``smoke (nt, nx, ny)``, ``velocity (nt, 2, nx, ny)`` and ``buoyancy_y ()``.
    """
    check_config(cfg)
    k1, k2 = jax.random.split(key)
    st = initial_state(k1, cfg, dtype)
    lo, hi = (buoyancy_y, buoyancy_y) if np.isscalar(buoyancy_y) else buoyancy_y
    b = jax.random.uniform(k2, (), st.s.dtype, lo, hi)
    out = solve(st, b, nt=nt, skip=skip, cfg=cfg)
    return {"smoke": out["smoke"], "velocity": out["velocity"], "buoyancy_y": b}


def max_divergence(state: SmokeState, cfg: SmokeConfig) -> Float[Array, ""]:
    """``max |div u|`` of a state (a diagnostic)."""
    return jnp.max(jnp.abs(divergence(state.u, state.v, cfg.dx, cfg.dy)))

