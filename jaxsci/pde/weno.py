"""Fifth-order WENO reconstruction (Jiang & Shu 1996) on a periodic 1D grid, and numerical fluxes.

Conventions: cell values ``v[..., i]`` live at ``x_i = i dx`` (periodic, ``nx`` points along the last
axis); interface ``i`` of the returned arrays is ``x_{i+1/2}``. A conservative update is then
``du_i/dt = -(F[i] - F[i-1]) / dx`` with ``F = flux(...)``.
"""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, Float

_D = (0.1, 0.6, 0.3)  # linear (optimal) weights of the three 3-point candidate stencils


def _left_biased(vm2, vm1, v0, vp1, vp2, eps):
    """WENO5-JS value at x_{i+1/2} from the stencil v_{i-2..i+2} (upwind for a positive wind)."""
    q0 = (2.0 * vm2 - 7.0 * vm1 + 11.0 * v0) / 6.0
    q1 = (-vm1 + 5.0 * v0 + 2.0 * vp1) / 6.0
    q2 = (2.0 * v0 + 5.0 * vp1 - vp2) / 6.0
    b0 = 13.0 / 12.0 * (vm2 - 2.0 * vm1 + v0) ** 2 + 0.25 * (vm2 - 4.0 * vm1 + 3.0 * v0) ** 2
    b1 = 13.0 / 12.0 * (vm1 - 2.0 * v0 + vp1) ** 2 + 0.25 * (vm1 - vp1) ** 2
    b2 = 13.0 / 12.0 * (v0 - 2.0 * vp1 + vp2) ** 2 + 0.25 * (3.0 * v0 - 4.0 * vp1 + vp2) ** 2
    a0 = _D[0] / (eps + b0) ** 2
    a1 = _D[1] / (eps + b1) ** 2
    a2 = _D[2] / (eps + b2) ** 2
    return (a0 * q0 + a1 * q1 + a2 * q2) / (a0 + a1 + a2)


def weno5(
    v: Float[Array, "... nx"], eps: float = 1e-6
) -> tuple[Float[Array, "... nx"], Float[Array, "... nx"]]:
    """Left- and right-biased WENO5-JS reconstructions at the interfaces x_{i+1/2} (periodic).

    Args:
      v: cell values, periodic along the last axis (at least 5 points).
      eps: the smoothness-indicator regulariser of Jiang & Shu (1e-6).

    Returns:
      ``(v_minus, v_plus)``: ``v_minus[i]`` is reconstructed from the stencil ``i-2..i+2`` (the state
      just left of ``x_{i+1/2}``), ``v_plus[i]`` from ``i-1..i+3`` (the state just right of it).
    """
    r = lambda k: jnp.roll(v, -k, axis=-1)  # r(k)[i] = v[i+k]
    vm2, vm1, v0, vp1, vp2, vp3 = r(-2), r(-1), v, r(1), r(2), r(3)
    v_minus = _left_biased(vm2, vm1, v0, vp1, vp2, eps)
    v_plus = _left_biased(vp3, vp2, vp1, v0, vm1, eps)  # mirror image of the stencil about x_{i+1/2}
    return v_minus, v_plus


def godunov_flux_quadratic(a, u_left, u_right):
    """Exact Godunov flux of ``f(u) = a u^2 / 2`` (any sign of ``a``) between two states.

    For ``a >= 0`` (convex flux) it is ``min f`` over ``[uL, uR]`` when ``uL <= uR`` and ``max f`` over
    ``[uR, uL]`` otherwise; for ``a < 0`` the roles swap. This is the entropy solution of the Riemann
    problem evaluated at the interface.
    """
    lo = jnp.minimum(u_left, u_right)
    hi = jnp.maximum(u_left, u_right)
    take_min_abs = (u_left <= u_right) == (a >= 0)
    u2 = jnp.where(take_min_abs, jnp.clip(0.0, lo, hi) ** 2, jnp.maximum(u_left**2, u_right**2))
    return 0.5 * a * u2


def weno5_flux_quadratic(
    u: Float[Array, "... nx"], a, splitting: str = "godunov", eps: float = 1e-6
) -> Float[Array, "... nx"]:
    """Numerical flux of ``f(u) = a u^2 / 2`` at the interfaces x_{i+1/2}, WENO5 reconstructed.

    Args:
      u: cell values, periodic along the last axis.
      a: the flux coefficient (a scalar or broadcastable to ``u[..., :1]``).
      splitting: ``"godunov"`` reconstructs the state ``u`` on both sides and applies the exact
        Godunov flux; ``"lax_friedrichs"`` splits ``f = f+ + f-`` with ``f+- = (f +- lam u)/2``,
        ``lam = max |a u|`` over the grid (global LF), and reconstructs each part upwind.
    """
    if splitting == "godunov":
        u_minus, u_plus = weno5(u, eps)
        return godunov_flux_quadratic(a, u_minus, u_plus)
    if splitting == "lax_friedrichs":
        f = 0.5 * a * u**2
        lam = jnp.max(jnp.abs(a * u), axis=-1, keepdims=True)
        f_plus_left, _ = weno5(0.5 * (f + lam * u), eps)
        _, f_minus_right = weno5(0.5 * (f - lam * u), eps)
        return f_plus_left + f_minus_right
    raise ValueError(f"unknown flux splitting {splitting!r}; use 'godunov' or 'lax_friedrichs'")
