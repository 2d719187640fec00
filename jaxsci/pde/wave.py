"""The 1D wave equation of MP-PDE (WE1, WE2, WE3) by Chebyshev collocation, exact in time.

Equation: ``u_tt = c^2 u_xx`` on ``x in [-8, 8]``, ``t in [0, 100]``, ``nt = 250`` saved times, wave speed
``c = 2`` (a per-trajectory scalar: families may draw it from a range, and :func:`solve` takes any
value without recompiling). Initial condition (the original's): a Gaussian pulse
``u0 = exp(-(x - x0)^2)``, ``x0 ~ U(-4, 4)``, with ``u_t(0) = c u0'`` (the pulse moves to the left).

Boundary conditions, per side, ``a u + b du/dn = 0`` with ``n`` the outward normal:
``0 = Dirichlet (a, b) = (1, 0)``, ``1 = Neumann (0, 1)``, ``2 = Robin (1, robin_b)``.
WE1: both Dirichlet; WE2: both Neumann; WE3: each side drawn independently from {Dirichlet, Neumann}
(the original generator's intent; its solver kept the right boundary Dirichlet whatever was drawn,
a quirk fixed here).

Discretisation: ``nx`` Chebyshev-Gauss-Lobatto points ``x_j = -8 + 8 (1 - cos(pi j / (nx - 1)))``
(ascending), the Chebyshev differentiation matrix D, the boundary values eliminated through the two
boundary equations (``u_b = M u_interior``), giving a linear system ``u_tt = c^2 A u_interior`` whose
matrix A has real, non-positive eigenvalues for these conditions. A is diagonalised once per
(``nx``, boundary pair) in float64 NumPy on the host (cached; checked real and stable), so the
solution at any time is exact for the semi-discrete system::

    u(t) = V [cos(w t) V^-1 u0 + sin(w t) / w V^-1 v0],   w = c sqrt(-lambda).

There is no time step, hence no CFL condition; accuracy is spectral in ``nx``. The original used
scipy's Radau with rtol = atol = 1e-3 and stored trajectories time-reversed; we store them forward.
Units are dimensionless.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

XMIN, XMAX = -8.0, 8.0
T_END = 100.0
NT = 250
NX_FINE = 200
DIRICHLET, NEUMANN, ROBIN = 0, 1, 2
_BC_NAMES = {"dirichlet": DIRICHLET, "neumann": NEUMANN, "robin": ROBIN}


class Family(NamedTuple):
    """Boundary codes each side may take (drawn uniformly), the range of c, and the end time."""

    bcs: tuple[int, ...]
    c: tuple[float, float]
    t_end: float = T_END


FAMILIES: dict[str, Family] = {
    "WE1": Family(bcs=(DIRICHLET,), c=(2.0, 2.0)),
    "WE2": Family(bcs=(NEUMANN,), c=(2.0, 2.0)),
    "WE3": Family(bcs=(DIRICHLET, NEUMANN), c=(2.0, 2.0)),
}


class WaveParams(NamedTuple):
    """One trajectory: pulse centre ``x0``, wave speed ``c`` (scalars), boundary codes (int scalars)."""

    x0: Float[Array, ""]
    c: Float[Array, ""]
    bc_left: Int[Array, ""]
    bc_right: Int[Array, ""]


def get_family(family: str) -> Family:
    try:
        return FAMILIES[family]
    except KeyError:
        raise ValueError(f"unknown wave-equation family {family!r}; known: {sorted(FAMILIES)}") from None


def bc_code(name: str | int) -> int:
    """``"dirichlet" | "neumann" | "robin"`` (or the code itself) -> 0 | 1 | 2."""
    if isinstance(name, (int, np.integer)) and int(name) in _BC_NAMES.values():
        return int(name)
    try:
        return _BC_NAMES[str(name).lower()]
    except KeyError:
        raise ValueError(f"unknown boundary condition {name!r}; use one of {sorted(_BC_NAMES)}") from None


def chebyshev_grid_np(nx: int, xmin: float = XMIN, xmax: float = XMAX) -> np.ndarray:
    """The ``nx`` Chebyshev-Gauss-Lobatto points on ``[xmin, xmax]``, ascending (float64)."""
    return xmin + 0.5 * (xmax - xmin) * (1.0 - np.cos(np.pi * np.arange(nx) / (nx - 1)))


def chebyshev_grid(nx: int, xmin: float = XMIN, xmax: float = XMAX, dtype=None) -> Float[Array, "nx"]:
    return jnp.asarray(chebyshev_grid_np(nx, xmin, xmax), dtype or jnp.result_type(float))


def cheb_diff_matrix(nx: int, xmin: float = XMIN, xmax: float = XMAX) -> np.ndarray:
    """Chebyshev differentiation matrix ``(nx, nx)`` on the ascending grid (float64; exact on
    polynomials of degree < nx). Off-diagonal ``c_i/c_j (-1)^(i+j) / (x_i - x_j)``; diagonal from the
    negative row sums (which makes D annihilate constants to round-off)."""
    x = chebyshev_grid_np(nx, xmin, xmax)
    c = np.ones(nx)
    c[0] = c[-1] = 2.0
    c *= (-1.0) ** np.arange(nx)
    dx = x[:, None] - x[None, :]
    d = np.outer(c, 1.0 / c) / (dx + np.eye(nx))
    return d - np.diag(d.sum(axis=1))


@functools.lru_cache(maxsize=64)
def _modes(nx: int, bc_left: int, bc_right: int, robin_b: float, xmin: float, xmax: float):
    """Eigen-decomposition of the boundary-eliminated u_xx operator: (V, V^-1, lambda, M), float64."""
    d = cheb_diff_matrix(nx, xmin, xmax)
    coef = {DIRICHLET: (1.0, 0.0), NEUMANN: (0.0, 1.0), ROBIN: (1.0, robin_b)}
    (al, bl), (ar, br) = coef[bc_left], coef[bc_right]
    rows = np.zeros((2, nx))  # a u + b du/dn = 0; du/dn = -u_x on the left, +u_x on the right
    rows[0, 0] += al
    rows[0] -= bl * d[0]
    rows[1, -1] += ar
    rows[1] += br * d[-1]
    bnd, inner = [0, nx - 1], np.arange(1, nx - 1)
    m = -np.linalg.solve(rows[:, bnd], rows[:, inner])  # (2, nx-2): boundary values from interior
    e = np.zeros((nx, nx - 2))
    e[inner, np.arange(nx - 2)] = 1.0
    e[bnd] = m
    a = (d @ d @ e)[inner]
    lam, v = np.linalg.eig(a)
    scale = np.abs(lam).max()
    if np.abs(lam.imag).max() > 1e-8 * scale or lam.real.max() > 1e-8 * scale:
        raise ValueError(f"nx={nx}: the Chebyshev operator with boundaries {bc_left, bc_right} is not stable")
    lam, v = lam.real, v.real
    return v, np.linalg.inv(v), np.minimum(lam, 0.0), m


def _stacked_modes(nx, pairs, robin_b, xmin, xmax):
    mats = [_modes(nx, l, r, robin_b, xmin, xmax) for l, r in pairs]
    return [np.stack(z) for z in zip(*mats)]


def check_resolution(nx: int) -> None:
    """Refuse grids the collocation cannot use (before any work)."""
    if not 8 <= nx <= 1024:
        raise ValueError(f"nx={nx} Chebyshev points is outside the supported range [8, 1024]")


def initial_condition(params: WaveParams, x: Float[Array, "nx"]) -> tuple[Float[Array, "nx"], Float[Array, "nx"]]:
    """Gaussian pulse ``u0 = exp(-(x - x0)^2)`` and ``v0 = u_t(0) = c u0'`` (left-moving)."""
    u0 = jnp.exp(-((x - params.x0) ** 2))
    return u0, -2.0 * params.c * (x - params.x0) * u0


def solve(
    params: WaveParams,
    u0: Float[Array, "nx"],
    v0: Float[Array, "nx"],
    *,
    t_end: float = T_END,
    nt: int = NT,
    bcs: tuple[int, ...] = (DIRICHLET, NEUMANN, ROBIN),
    robin_b: float = 1.0,
    xmin: float = XMIN,
    xmax: float = XMAX,
) -> Float[Array, "nt nx"]:
    """Solve ``u_tt = c^2 u_xx`` from ``(u0, v0)`` on the Chebyshev grid; ``u`` at ``linspace(0, t_end, nt)``.

    Args:
      params: :class:`WaveParams`; ``c`` and the boundary codes may be traced (vmap over a batch).
        ``x0`` is unused here (it only shapes :func:`initial_condition`).
      u0, v0: ``(nx,)`` displacement and velocity on :func:`chebyshev_grid` (their dtype is kept).
        Interior values are used; boundary values follow from the boundary conditions.
      bcs: the boundary codes that may occur (static): the operator is diagonalised for each pair
        (codes not listed here are not checked under jit: list every code your params use).
      robin_b: ``b`` of the Robin condition ``u + b du/dn = 0``.

    Returns:
      ``(nt, nx)`` displacement, exact in time for the semi-discrete system.
    """
    if u0.ndim != 1 or u0.shape != v0.shape:
        raise ValueError(f"u0 and v0 must both have shape (nx,) (vmap for a batch); got {u0.shape}, {v0.shape}")
    nx = u0.shape[-1]
    check_resolution(nx)
    bcs = tuple(sorted(set(bc_code(b) for b in bcs)))
    pairs = [(l, r) for l in bcs for r in bcs]
    v, vinv, lam, m = _stacked_modes(nx, tuple(pairs), float(robin_b), float(xmin), float(xmax))
    dtype = u0.dtype
    lookup = np.full((3, 3), 0, np.int32)
    for i, (l, r) in enumerate(pairs):
        lookup[l, r] = i
    idx = jnp.asarray(lookup)[params.bc_left, params.bc_right]
    v, vinv, lam, m = (jnp.asarray(z, dtype)[idx] for z in (v, vinv, lam, m))
    mm = lambda x, y: jnp.matmul(x, y, precision=jax.lax.Precision.HIGHEST)  # no TF32/bf16 passes on GPUs
    a = mm(vinv, u0[1:-1])
    b = mm(vinv, v0[1:-1])
    w = jnp.asarray(params.c, dtype) * jnp.sqrt(-lam)
    t = jnp.linspace(0.0, t_end, nt, dtype=dtype)[:, None]
    wt = w * t
    safe_w = jnp.where(w > 0, w, 1.0)
    sinc_t = jnp.where(w > 0, jnp.sin(wt) / safe_w, t)
    inner = mm(jnp.cos(wt) * a + sinc_t * b, v.T)  # (nt, nx-2)
    bnd = mm(inner, m.T)  # (nt, 2)
    return jnp.concatenate([bnd[:, :1], inner, bnd[:, 1:]], axis=-1)


def sample_params(key: PRNGKeyArray, family: str, dtype=None) -> WaveParams:
    """Draw ``x0 ~ U(-4, 4)``, ``c`` from the family's range and the boundary codes."""
    fam = get_family(family)
    dtype = dtype or jnp.result_type(float)
    k1, k2, k3, k4 = jax.random.split(key, 4)
    choices = jnp.asarray(fam.bcs, jnp.int32)
    return WaveParams(
        x0=jax.random.uniform(k1, (), dtype, -4.0, 4.0),
        c=jax.random.uniform(k2, (), dtype, *fam.c),
        bc_left=jax.random.choice(k3, choices),
        bc_right=jax.random.choice(k4, choices),
    )


def generate(
    key: PRNGKeyArray,
    family: str,
    nx: tuple[int, ...] = (100, 50, 40, 20),
    nt: int = NT,
    *,
    nx_fine: int = NX_FINE,
    dtype=None,
) -> dict[str, Array]:
    """One trajectory of ``family``: ``u_{n}`` ``(nt, n)`` for ``n`` in ``(nx_fine, *nx)``, each solved
    directly on its own Chebyshev grid (as the original did), plus ``x0, c, bc_left, bc_right``."""
    fam = get_family(family)
    for n in (nx_fine, *nx):
        check_resolution(n)
    p = sample_params(key, family, dtype)
    out = {}
    for n in (nx_fine, *nx):
        u0, v0 = initial_condition(p, chebyshev_grid(n, dtype=p.x0.dtype))
        out[f"u_{n}"] = solve(p, u0, v0, t_end=fam.t_end, nt=nt, bcs=fam.bcs)
    out.update(p._asdict())
    return out
