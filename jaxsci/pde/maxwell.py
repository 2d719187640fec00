"""3D Maxwell equations by FDTD (Yee 1966) in a periodic box with random point and plane sources.

Equations in normalised units (``c = eps = mu = 1``)::

    E_t = curl H - J,    H_t = -curl E,

on a periodic box of ``n^3`` cells (default 32^3, ``dx = 1``). Yee grid: ``E_x`` at ``(i+1/2, j, k)``,
``E_y`` at ``(i, j+1/2, k)``, ``E_z`` at ``(i, j, k+1/2)``; ``H_x`` at ``(i, j+1/2, k+1/2)``, etc.
Leapfrog in time: ``H`` lives at half steps. Arrays are ``(3, nx, ny, nz)``, component first.

Invariant: without sources the scheme conserves exactly (to round-off) the *modified* energy
``W^n = 1/2 sum(|E^n|^2 + H^(n-1/2) . H^(n+1/2)) dx^3``, not ``1/2 sum(|E|^2 + |H|^2)`` of any one
half-step pair (see :func:`yee_energy`). Stable for ``dt <= dx / sqrt(3)`` (checked; default
``dt = 0.5 dx``). Numerical dispersion: ``sin(w dt / 2) / dt = sqrt(sum_i sin^2(k_i dx / 2)) / dx``.

Sources (our choice; the Clifford-layers paper's Maxwell data came from a 32^3 FDTD run with
random sources, settings not all published): ``num_point`` dipoles (random cell, axis, amplitude
``U[0.5, 1]``, angular frequency ``U[0.3, 1]``, phase) and ``num_plane`` sheets of current (random
normal axis and position, polarisation along one of the two other axes), each ``A sin(w t + phi)``.
Fields start at zero; frames are saved every ``save_every`` steps after ``skip`` steps.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

N = 32
DT = 0.5
NT = 8
SAVE_EVERY = 8
SKIP = 32


class YeeState(NamedTuple):
    """``e = E^n`` and ``h = H^(n-1/2)``, each ``(3, nx, ny, nz)``; ``t = n dt``."""

    e: Float[Array, "3 nx ny nz"]
    h: Float[Array, "3 nx ny nz"]
    t: Float[Array, ""]


def check_dt(dt: float, dx: float = 1.0) -> None:
    """Refuse time steps beyond the 3D Courant limit ``dx / sqrt(3)`` (before any work)."""
    if not 0 < dt <= dx / math.sqrt(3.0):
        raise ValueError(f"dt={dt} is unstable for the Yee scheme: need 0 < dt <= dx/sqrt(3) = {dx / math.sqrt(3):.4f}")


def _fwd(f, axis):
    return jnp.roll(f, -1, axis=axis) - f


def _bwd(f, axis):
    return f - jnp.roll(f, 1, axis=axis)


def curl_e(e, dx):
    """Curl of E on the H points (forward differences), periodic."""
    ex, ey, ez = e
    return jnp.stack([_fwd(ez, 1) - _fwd(ey, 2), _fwd(ex, 2) - _fwd(ez, 0), _fwd(ey, 0) - _fwd(ex, 1)]) / dx


def curl_h(h, dx):
    """Curl of H on the E points (backward differences), periodic."""
    hx, hy, hz = h
    return jnp.stack([_bwd(hz, 1) - _bwd(hy, 2), _bwd(hx, 2) - _bwd(hz, 0), _bwd(hy, 0) - _bwd(hx, 1)]) / dx


def divergence_e(e, dx):
    """Divergence of E at the cell corners (backward differences); constant without sources."""
    return (_bwd(e[0], 0) + _bwd(e[1], 1) + _bwd(e[2], 2)) / dx


class Sources(NamedTuple):
    """Current sources: spatial patterns ``(S, 3, nx, ny, nz)`` and per-source ``amp, omega, phi (S,)``."""

    pattern: Float[Array, "S 3 nx ny nz"]
    amp: Float[Array, "S"]
    omega: Float[Array, "S"]
    phi: Float[Array, "S"]

    def current(self, t):
        return jnp.einsum("s,scxyz->cxyz", self.amp * jnp.sin(self.omega * t + self.phi), self.pattern,
                          precision=jax.lax.Precision.HIGHEST)


def step(state: YeeState, sources: Sources | None, dt: float, dx: float = 1.0) -> YeeState:
    """One leapfrog step: ``H^(n+1/2)`` from ``E^n``, then ``E^(n+1)`` with ``J`` at ``t + dt/2``."""
    h = state.h - dt * curl_e(state.e, dx)
    rhs = curl_h(h, dx)
    if sources is not None:
        rhs = rhs - sources.current(state.t + 0.5 * dt)
    return YeeState(state.e + dt * rhs, h, state.t + dt)


def yee_energy(e, h_old, h_new, dx: float = 1.0):
    """The discrete invariant ``1/2 sum(|E^n|^2 + H^(n-1/2) . H^(n+1/2)) dx^3``."""
    return 0.5 * (jnp.sum(e * e) + jnp.sum(h_old * h_new)) * dx**3


def random_sources(key: PRNGKeyArray, shape=(N, N, N), num_point: int = 2, num_plane: int = 1,
                   dtype=None) -> Sources:
    """Random point dipoles and current sheets (see the module docstring)."""
    dtype = dtype or jnp.result_type(float)
    s = num_point + num_plane
    keys = jax.random.split(key, 7)
    grids = jnp.meshgrid(*(jnp.arange(n) for n in shape), indexing="ij")
    pos = jnp.stack([jax.random.randint(k, (s,), 0, n) for k, n in zip(jax.random.split(keys[0], 3), shape)], 1)
    comp = jax.random.randint(keys[1], (s,), 0, 3)
    point = [(grids[0] == pos[i, 0]) & (grids[1] == pos[i, 1]) & (grids[2] == pos[i, 2]) for i in range(num_point)]
    normal = jax.random.randint(keys[2], (num_plane,), 0, 3)
    offset = jax.random.randint(keys[3], (num_plane,), 1, 3)  # polarisation is another axis than the normal
    planes, pol = [], []
    for i in range(num_plane):
        g = jnp.stack(grids)[normal[i]]
        planes.append(g == pos[num_point + i, normal[i]])
        pol.append((normal[i] + offset[i]) % 3)
    comp = jnp.concatenate([comp[:num_point], jnp.asarray(pol, jnp.int32).reshape(-1)])
    masks = jnp.stack(point + planes).astype(dtype)  # (S, nx, ny, nz)
    pattern = jax.nn.one_hot(comp, 3, dtype=dtype)[:, :, None, None, None] * masks[:, None]
    return Sources(
        pattern=pattern,
        amp=jax.random.uniform(keys[4], (s,), dtype, 0.5, 1.0),
        omega=jax.random.uniform(keys[5], (s,), dtype, 0.3, 1.0),
        phi=jax.random.uniform(keys[6], (s,), dtype, 0.0, 2 * math.pi),
    )


@functools.partial(jax.jit, static_argnames=("nt", "save_every", "skip", "dt", "dx"))
def solve(state0: YeeState, sources: Sources | None, *, nt: int = NT, save_every: int = SAVE_EVERY,
          skip: int = SKIP, dt: float = DT, dx: float = 1.0) -> dict[str, Array]:
    """Run ``skip`` steps, then save ``nt`` frames every ``save_every`` steps.

    Returns ``e (nt, 3, nx, ny, nz)`` (``E^n``), ``h`` (``H^(n+1/2)``, the half step after each saved
    ``E``), ``energy (nt,)`` (:func:`yee_energy` at each frame) and the final ``state``.
    """
    check_dt(dt, dx)
    if state0.e.ndim != 4 or state0.e.shape[0] != 3 or state0.h.shape != state0.e.shape:
        raise ValueError(f"E and H must both have shape (3, nx, ny, nz); got {state0.e.shape}, {state0.h.shape}")
    if sources is not None and sources.pattern.shape[1:] != state0.e.shape:
        raise ValueError(f"source patterns {sources.pattern.shape[1:]} do not match the fields {state0.e.shape}")
    one = lambda st, _: (step(st, sources, dt, dx), None)
    st, _ = jax.lax.scan(one, state0, None, length=skip)

    def frame(st, _):
        st = jax.lax.scan(one, st, None, length=save_every)[0]
        h_next = st.h - dt * curl_e(st.e, dx)
        return st, (st.e, h_next, yee_energy(st.e, st.h, h_next, dx))

    final, (e, h, energy) = jax.lax.scan(frame, st, None, length=nt)
    return {"e": e, "h": h, "energy": energy, "state": final}


def generate(key: PRNGKeyArray, nt: int = NT, *, n: int = N, num_point: int = 2, num_plane: int = 1,
             save_every: int = SAVE_EVERY, skip: int = SKIP, dt: float = DT, dtype=None) -> dict[str, Array]:
    """One trajectory from rest driven by random sources: ``e``, ``h`` ``(nt, 3, n, n, n)`` and the
    source parameters ``amp, omega, phi (S,)``."""
    check_dt(dt)
    src = random_sources(key, (n, n, n), num_point, num_plane, dtype)
    zero = jnp.zeros((3, n, n, n), src.amp.dtype)
    out = solve(YeeState(zero, zero, jnp.zeros((), src.amp.dtype)), src, nt=nt, save_every=save_every,
                skip=skip, dt=dt)
    return {"e": out["e"], "h": out["h"], "amp": src.amp, "omega": src.omega, "phi": src.phi}
