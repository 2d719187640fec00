"""The 1D combined equation of MP-PDE (Brandstetter, Worrall & Welling 2022), families E1, E2, E3.

Equation, in the **code convention** used everywhere in this module (that of the original generator)::

    u_t + (alpha u^2 / 2 - beta u_x + gamma u_xx)_x = delta(t, x),    x in [0, L), L = 16, periodic,

i.e. ``u_t = -alpha u u_x + beta u_xx - gamma u_xxx + delta``. The paper writes the flux as
``alpha_paper u^2``, so ``alpha = 2 alpha_paper``: E1's ``alpha = 1`` here is the paper's 0.5.

Forcing and initial condition (the paper's)::

    delta(t, x) = sum_{j=1..5} A_j sin(omega_j t + 2 pi l_j x / L + phi_j),    u(0, x) = delta(0, x),

with ``A ~ U[-0.5, 0.5]``, ``omega ~ U[-0.4, 0.4]``, ``phi ~ U[0, 2 pi)``, ``l`` uniform in
``{1, ..., l_max}``; ``l_max = 3`` follows the paper, ``l_max = 2`` the original code
(``torch.randint(1, 3)``).

Families (code convention; the paper's alpha is half):

====  ===============  ================  ===============  =====
name  alpha            beta              gamma            T
====  ===============  ================  ===============  =====
E1    1                0                 0                4
E2    1                U[0, 0.2]         0                4
E3    U[0, 6]          U[0.1, 0.4]       U[0, 1]          2
====  ===============  ================  ===============  =====

(E3's beta range is the code's; the paper states U[0, 0.4].)

Numerics: the advection flux ``alpha u^2 / 2`` by WENO5-JS, either

* ``splitting="lax_friedrichs"`` (default): the finite-difference (Shu-Osher) WENO5 with global
  Lax-Friedrichs flux splitting on point values, fifth order for smooth solutions; or
* ``splitting="godunov"`` (the original's choice): WENO5 reconstruction of the *state* on both sides
  of each interface and the exact Godunov flux. That is a finite-volume scheme, fifth order for cell
  averages; applied to point values (as the original does, and as this module does with that
  option) its advection term is only second-order accurate in the point-value sense.

``u_xx`` and ``u_xxx`` by fourth-order central differences; all terms in
conservative (telescoping) form, so the total mass ``sum(u) dx`` changes only by the forcing, whose
modes (``l >= 1``) sum to zero on the periodic grid: mass is conserved to round-off. Time by
diffrax's Tsit5 (or Dopri5, the original's Dormand-Prince 5(4)), adaptive with
``rtol = atol = 1e-5`` as the original, or at a fixed step.
The reference solution lives on ``nx = 200`` points; the training grids ``nx in {100, 50, 40}`` are
obtained by a 5-tap periodic moving average at stride ``200 / nx`` (:func:`downsample`); the
"WENO5 baseline" of the paper is the same solver run directly at the coarse ``nx``.

Faithful-vs-fixed: by default the grid is ``x_i = i L / nx`` (periodic, no repeated endpoint) with
``dx = L / nx``, and the scheme is the consistent one above. ``faithful=True`` (on :func:`solve`,
:func:`generate`, :func:`grid`, :func:`initial_condition`, :func:`rhs`, :func:`downsample`) instead
reproduces the original generator (``generate/generate_data.py``, ``equations/PDEs.py``,
``common/derivatives.py``, ``temporal/solvers.py``, ``common/utils.py`` of
github.com/brandstetter-johannes/MP-Neural-PDE-Solvers) to round-off, quirks included:

1. grid ``linspace(0, L, nx)``: the last point repeats the first, yet ``dx = L / nx`` (the spacing is
   ``L / (nx - 1)``); the forcing and ``u0`` are evaluated on these points;
2. periodic padding with ghost values ``u_{n-3}, u_{n-2} | u_0 .. u_{n-1} | u_1, u_2``, i.e. period
   ``nx - 1`` points although both ``u_0`` and ``u_{n-1}`` are evolved (and drift apart);
3. at index 0 the advection term uses, for its left interface, the left state at ``x_{n-1/2}`` and the
   right state at ``x_{-1/2}`` (the cyclic shift of the right-biased states runs over ``nx`` points):
   where the wind is positive the term vanishes there, elsewhere it is a mismatched flux difference;
4. "Godunov" flux ``min(f(uL), f(uR))`` if ``uR >= uL`` else ``max``, without the sonic point
   (``f = 0`` for ``uL < 0 < uR``), on WENO5-JS state reconstructions with ``eps = 1e-16``;
5. ``u_xx`` fourth-order (5 points) but ``u_xxx`` only second-order (``(-u_{i-2}/2 + u_{i-1} - u_{i+1}
   + u_{i+2}/2) / dx^3``);
6. time: Dormand-Prince 5(4), one attempted step per output interval ``dt = t_end / (nt - 1)``, each
   rejected step (``rms_x((y5 - y4) / (atol + rtol max(|y_in|, |y5|))) >= 1``, ``atol = rtol = 1e-5``)
   replaced by two half steps recursively, never enlarged, the 5th-order solution propagated;
7. the coarse data: the "WENO5 baseline" (``weno_{n}``) is the solver run on the coarse linspace grid;
   the training targets (``u_{n}``) are the loader's 5-tap average at stride ``200 / n`` of the
   ``nx = 200`` solution, wrapped with the padding of 2 (coarse j centred on fine ``j * stride``);
8. ``l`` uniform in ``{1, 2}`` (``l_max = 2``) by default in :func:`generate`.

Not reproduced: the random draws (torch's; feed the parameters through :class:`CEParams`); the
original's batches of 4 trajectories, which share alpha, beta, gamma and one step-size sequence (its
error norm takes the max over the batch): ``faithful`` is its ``batch_size = 1``. Checked against the
original's own output in ``tests/pde/test_burgers_faithful.py`` (agreement ~1e-11). Units: x and t are
dimensionless (the paper's); u is dimensionless.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from jaxsci.pde.weno import _left_biased, weno5_flux_quadratic

LENGTH = 16.0
NX_FINE = 200
NT = 250
NUM_MODES = 5
_EPS_FAITHFUL = 1e-16  # the original's WENO smoothness regulariser (Jiang-Shu: 1e-6)


class Family(NamedTuple):
    """Parameter ranges ``(low, high)`` of one family (code convention) and its end time ``t_end``."""

    alpha: tuple[float, float]
    beta: tuple[float, float]
    gamma: tuple[float, float]
    t_end: float


FAMILIES: dict[str, Family] = {
    "E1": Family(alpha=(1.0, 1.0), beta=(0.0, 0.0), gamma=(0.0, 0.0), t_end=4.0),
    "E2": Family(alpha=(1.0, 1.0), beta=(0.0, 0.2), gamma=(0.0, 0.0), t_end=4.0),
    "E3": Family(alpha=(0.0, 6.0), beta=(0.1, 0.4), gamma=(0.0, 1.0), t_end=2.0),
}


class CEParams(NamedTuple):
    """Parameters of one trajectory (a pytree; add a leading axis for a batch).

    Attributes:
      alpha, beta, gamma: scalars, code convention (see the module docstring).
      A, omega, phi, l: ``(5,)`` forcing amplitudes, angular frequencies, phases and integer
        wavenumbers (stored as floats so the pytree has one dtype).
    """

    alpha: Float[Array, ""]
    beta: Float[Array, ""]
    gamma: Float[Array, ""]
    A: Float[Array, "5"]
    omega: Float[Array, "5"]
    phi: Float[Array, "5"]
    l: Float[Array, "5"]


def get_family(family: str) -> Family:
    """The :class:`Family` named ``family``, or a ValueError listing the known ones."""
    try:
        return FAMILIES[family]
    except KeyError:
        raise ValueError(f"unknown combined-equation family {family!r}; known: {sorted(FAMILIES)}") from None


def grid(nx: int, length: float = LENGTH, dtype=None, *, faithful: bool = False) -> Float[Array, "nx"]:
    """Periodic grid ``x_i = i length / nx``, ``i = 0..nx-1``; ``faithful``: the original's
    ``linspace(0, length, nx)`` (last point = first point, shifted by one period)."""
    dtype = dtype or jnp.result_type(float)
    if faithful:
        return jnp.linspace(0.0, length, nx, dtype=dtype)
    return jnp.arange(nx, dtype=dtype) * (length / nx)


def sample_params(key: PRNGKeyArray, family: str, *, l_max: int = 3, dtype=None) -> CEParams:
    """Draw one trajectory's parameters of ``family`` ("E1", "E2", "E3"); see the module docstring."""
    fam = get_family(family)
    dtype = dtype or jnp.result_type(float)
    ks = jax.random.split(key, 7)
    uni = lambda k, lo, hi, shape=(): jax.random.uniform(k, shape, dtype, lo, hi)
    return CEParams(
        alpha=uni(ks[0], *fam.alpha),
        beta=uni(ks[1], *fam.beta),
        gamma=uni(ks[2], *fam.gamma),
        A=uni(ks[3], -0.5, 0.5, (NUM_MODES,)),
        omega=uni(ks[4], -0.4, 0.4, (NUM_MODES,)),
        phi=uni(ks[5], 0.0, 2.0 * math.pi, (NUM_MODES,)),
        l=jax.random.randint(ks[6], (NUM_MODES,), 1, l_max + 1).astype(dtype),
    )


def forcing(params: CEParams, t, x: Float[Array, "nx"], length: float = LENGTH) -> Float[Array, "nx"]:
    """``delta(t, x) = sum_j A_j sin(omega_j t + 2 pi l_j x / L + phi_j)`` at the points ``x``."""
    arg = params.omega * t + (2.0 * math.pi / length) * params.l * x[:, None] + params.phi
    return jnp.sum(params.A * jnp.sin(arg), axis=-1)


def initial_condition(
    params: CEParams, nx: int, length: float = LENGTH, *, faithful: bool = False
) -> Float[Array, "nx"]:
    """``u0(x) = delta(0, x)`` on the grid of ``nx`` points (dtype of ``params``; see :func:`grid`)."""
    return forcing(params, 0.0, grid(nx, length, params.A.dtype, faithful=faithful), length)


def _d2(u, dx):
    """Fourth-order central second derivative, periodic."""
    r = lambda k: jnp.roll(u, -k, axis=-1)
    return (-r(2) + 16.0 * r(1) - 30.0 * u + 16.0 * r(-1) - r(-2)) / (12.0 * dx**2)


def _d3(u, dx):
    """Fourth-order central third derivative, periodic."""
    r = lambda k: jnp.roll(u, -k, axis=-1)
    return (-r(3) + 8.0 * r(2) - 13.0 * r(1) + 13.0 * r(-1) - 8.0 * r(-2) + r(-3)) / (8.0 * dx**3)


def _pad_faithful(u):
    """The original's 2-cell periodic padding ``[u_{n-3}, u_{n-2}, u_0 .. u_{n-1}, u_1, u_2]``: it takes
    ``u_{n-1}`` for the repeat of ``u_0`` (period ``n - 1`` points), although both are evolved."""
    return jnp.concatenate([u[..., -3:-1], u, u[..., 1:3]], axis=-1)


def _rhs_faithful(t, u, params: CEParams, length: float = LENGTH):
    """The original's semi-discretisation (see "faithful" in the module docstring), on ``linspace`` points."""
    n = u.shape[-1]
    dx = length / n  # although the linspace spacing is length / (n - 1)
    w0, w1, w2, w3, w4 = (_pad_faithful(u)[..., k : k + n] for k in range(5))  # u_{i-2} .. u_{i+2}
    u_minus = _left_biased(w0, w1, w2, w3, w4, _EPS_FAITHFUL)  # left state at x_{i+1/2}
    # right state at x_{i-1/2} from the mirrored stencil, then shifted one index to the left (periodic
    # over n points): at i = n - 1 this pairs the left state at x_{n-1/2} with the right one at x_{-1/2}.
    u_plus = jnp.roll(_left_biased(w4, w3, w2, w1, w0, _EPS_FAITHFUL), -1, axis=-1)
    f_minus, f_plus = 0.5 * u_minus**2, 0.5 * u_plus**2
    # min/max of the two end fluxes, without the sonic point (f = 0 when u_minus < 0 < u_plus)
    flux = jnp.where(u_plus >= u_minus, jnp.minimum(f_minus, f_plus), jnp.maximum(f_minus, f_plus))
    adv = -params.alpha * (flux - jnp.roll(flux, 1, axis=-1)) / dx
    u_xx = (-(w0 + w4) / 12.0 + 4.0 / 3.0 * (w1 + w3) - 2.5 * w2) / dx**2  # fourth order
    u_xxx = (-0.5 * w0 + w1 - w3 + 0.5 * w4) / dx**3  # second order only
    x = grid(n, length, u.dtype, faithful=True)
    return adv + params.beta * u_xx - params.gamma * u_xxx + forcing(params, t, x, length)


# Dormand-Prince 5(4) tableau (c, a, 5th-order b, embedded 4th-order b_lo; the 7th stage is at y_hi)
_DP_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_DP_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_DP_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_DP_BLO = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)


def _solve_faithful(f, u0, ts, rtol, atol, max_steps):
    """The original's time stepping: for each output interval, try one Dormand-Prince step over the
    whole interval; a step whose error ``rms_x((y5 - y4) / (atol + rtol max(|y_in|, |y5|)))`` is >= 1 is
    replaced by two half steps, recursively; no step is ever enlarged and each interval starts afresh.

    The recursion is a depth-first walk of a binary tree, run here as a loop over (level k, index m):
    the next attempt spans ``[t_i + m h, t_i + (m + 1) h]``, ``h = dt / 2^k``. After an accepted step
    ``m + 1`` is reduced by its factors of 2 (climbing to the level of the next untried sibling).
    """

    dtype = u0.dtype
    a_mat = jnp.array([row + (0.0,) * (7 - len(row)) for row in _DP_A], dtype)
    c, b_hi, b_lo = (jnp.array(v, dtype) for v in (_DP_C, _DP_B, _DP_BLO))
    combine = lambda w, ks: jnp.sum(w[:, None] * ks, axis=0)  # sum_j w_j k_j (elementwise: no matmul precision)

    def attempt(t, h, y):
        stage = lambda s, ks: ks.at[s].set(f(t + c[s] * h, y + h * combine(a_mat[s], ks)))
        ks = jax.lax.fori_loop(0, 7, stage, jnp.zeros((7,) + y.shape, dtype))  # one traced rhs, not 7
        y_hi, y_lo = y + h * combine(b_hi, ks), y + h * combine(b_lo, ks)
        scale = atol + rtol * jnp.maximum(jnp.abs(y), jnp.abs(y_hi))
        return y_hi, jnp.sqrt(jnp.mean(((y_hi - y_lo) / scale) ** 2))

    def interval(y, t_pair):
        t0, t1 = t_pair

        def body(state):
            y, k, m, n = state
            h = (t1 - t0) / 2.0**k
            y_new, err = attempt(t0 + m * h, h, y)
            ok = err < 1.0
            m_next = m + 1
            tz = jnp.minimum(jax.lax.population_count((m_next & -m_next) - 1), k)  # trailing zero bits
            k, m = jnp.where(ok, k - tz, k + 1), jnp.where(ok, m_next >> tz, 2 * m)
            return jnp.where(ok, y_new, y), k, m, n + 1

        def cond(state):
            _, k, m, n = state
            return ((k > 0) | (m < 1)) & (n < max_steps)

        zero = jnp.zeros((), jnp.int32)
        y, _, _, n = jax.lax.while_loop(cond, body, (y, zero, zero, zero))
        y = jnp.where(n < max_steps, y, jnp.nan)
        return y, y

    _, ys = jax.lax.scan(interval, u0, (ts[:-1], ts[1:]))
    return jnp.concatenate([u0[None], ys], axis=0)


def rhs(
    t,
    u: Float[Array, "nx"],
    params: CEParams,
    length: float = LENGTH,
    splitting: str = "lax_friedrichs",
    *,
    faithful: bool = False,
) -> Float[Array, "nx"]:
    """Semi-discrete ``du/dt = -(F_{i+1/2} - F_{i-1/2})/dx + beta u_xx - gamma u_xxx + delta(t, x)``.

    ``faithful=True``: the original's discretisation instead (``splitting`` is then ignored).
    """
    if faithful:
        return _rhs_faithful(t, u, params, length)
    nx = u.shape[-1]
    dx = length / nx
    flux = weno5_flux_quadratic(u, params.alpha, splitting)
    adv = -(flux - jnp.roll(flux, 1, axis=-1)) / dx
    x = grid(nx, length, u.dtype)
    return adv + params.beta * _d2(u, dx) - params.gamma * _d3(u, dx) + forcing(params, t, x, length)


def estimated_steps(family: str, nx: int, length: float = LENGTH, u_max: float = 3.0) -> int:
    """A rough count of explicit Tsit5 steps for ``family`` at ``nx`` (the stability-limited step).

    Uses the largest parameters of the family, a bound ``u_max`` on |u| and the spectral radii of the
    discrete operators (advection ~ 1/dx, u_xx ~ 5.33/dx^2, u_xxx ~ 4.61/dx^3) against a stability
    radius of ~3 of Tsit5. Used to refuse resolutions the explicit scheme cannot afford.
    """
    fam = get_family(family)
    dx = length / nx
    rate = fam.alpha[1] * u_max * 2.0 / dx + fam.beta[1] * (64.0 / 12.0) / dx**2 + fam.gamma[1] * 4.61 / dx**3
    return int(math.ceil(fam.t_end * rate / 3.0)) + 1


def check_resolution(family: str, nx: int, nx_fine: int = NX_FINE, max_steps: int = 2**16) -> None:
    """Raise ValueError (before any work) if ``nx`` cannot be generated stably and affordably."""
    get_family(family)
    if nx < 8:
        raise ValueError(f"nx={nx} is too coarse: the WENO5/FD stencils need at least 8 points")
    if nx_fine % nx:
        raise ValueError(f"nx={nx} must divide the reference resolution nx_fine={nx_fine} (5-tap downsampling)")
    steps = estimated_steps(family, nx_fine)
    if steps > max_steps:
        raise ValueError(
            f"nx_fine={nx_fine} is unstable/unaffordable for {family}: the explicit scheme needs about "
            f"{steps} steps (> max_steps={max_steps}); use a coarser reference grid"
        )


@functools.partial(
    jax.jit,
    static_argnames=("t_end", "nt", "length", "splitting", "rtol", "atol", "dt", "max_steps", "solver", "faithful"),
)
def solve(
    params: CEParams,
    u0: Float[Array, "nx"],
    *,
    t_end: float,
    nt: int = NT,
    length: float = LENGTH,
    splitting: str = "lax_friedrichs",
    rtol: float = 1e-5,
    atol: float = 1e-5,
    dt: float | None = None,
    max_steps: int = 2**16,
    solver: str = "tsit5",
    faithful: bool = False,
) -> Float[Array, "nt nx"]:
    """Integrate the combined equation from ``u0`` and return ``u`` at ``nt`` times ``linspace(0, t_end)``.

    Args:
      params: a :class:`CEParams` (scalars and ``(5,)`` arrays; vmap for a batch).
      u0: initial values on the periodic grid ``x_i = i L / nx``; its dtype is the working dtype.
      t_end: final time (E1/E2: 4, E3: 2; see :data:`FAMILIES`).
      nt: number of saved times, including 0 and ``t_end``.
      length: domain length L.
      splitting: "lax_friedrichs" (fifth order, default) or "godunov" (the original's; see the
        module docstring and :mod:`jaxsci.pde.weno`).
      rtol, atol: tolerances of the adaptive Tsit5 step (ignored when ``dt`` is given).
      dt: a fixed step instead (the caller is responsible for its stability, see :func:`estimated_steps`).
      max_steps: step budget of the adaptive solve.
      solver: "tsit5" (default) or "dopri5" (the original's Dormand-Prince 5(4)).
      faithful: reproduce the original generator (module docstring): its grid (``u0`` on
        :func:`grid` ``(nx, faithful=True)``), discretisation and step-halving Dormand-Prince 5(4) with
        ``rtol``, ``atol`` (1e-5 as the original); ``splitting`` and ``solver`` are then ignored,
        ``dt`` must be None, and ``max_steps`` bounds the step attempts per output interval.

    Returns:
      ``(nt, nx)`` array in the dtype of ``u0``; NaN-filled if the step budget ran out.

    Example:
      >>> p = sample_params(jax.random.key(0), "E1")
      >>> u = solve(p, initial_condition(p, 200), t_end=4.0)   # (250, 200)
    """
    if u0.ndim != 1 or u0.shape[0] < 8:
        raise ValueError(f"u0 must be one trajectory of shape (nx,), nx >= 8 (vmap for a batch); got {u0.shape}")
    if any(jnp.shape(getattr(params, f)) != () for f in ("alpha", "beta", "gamma")) or jnp.shape(params.A) != (
        NUM_MODES,
    ):
        raise ValueError("params must hold scalar alpha, beta, gamma and (5,) forcing arrays (vmap for a batch)")
    dtype = u0.dtype
    params = jax.tree.map(lambda a: jnp.asarray(a, dtype), params)
    if faithful:
        if dt is not None:
            raise ValueError("faithful=True uses the original's adaptive step; dt must be None")
        f = lambda t, y: _rhs_faithful(t, y, params, length)
        return _solve_faithful(f, u0, jnp.linspace(0.0, t_end, nt, dtype=dtype), rtol, atol, max_steps)
    solvers = {"tsit5": diffrax.Tsit5, "dopri5": diffrax.Dopri5}
    if solver not in solvers:
        raise ValueError(f"unknown solver {solver!r}; use one of {sorted(solvers)}")
    term = diffrax.ODETerm(lambda t, y, args: rhs(t, y, args, length, splitting))
    ts = jnp.linspace(0.0, t_end, nt, dtype=dtype)
    if dt is None:
        controller, dt0, steps = diffrax.PIDController(rtol=rtol, atol=atol), None, max_steps
    else:
        controller, dt0, steps = diffrax.ConstantStepSize(), dt, int(math.ceil(t_end / dt)) + 1
    sol = diffrax.diffeqsolve(
        term,
        solvers[solver](),
        t0=0.0,
        t1=t_end,
        dt0=dt0,
        y0=u0,
        args=params,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=controller,
        max_steps=steps,
        throw=False,
    )
    return sol.ys.astype(dtype)


def downsample(u: Float[Array, "... nx_fine"], nx: int, *, faithful: bool = False) -> Float[Array, "... nx"]:
    """5-tap periodic average at stride ``nx_fine / nx``: coarse point j averages fine points
    ``j r - 2 .. j r + 2`` (r = stride), so coarse ``x_j = j L / nx`` sits on fine ``x_{j r}``.

    ``faithful``: the original data loader's version, which wraps with its solver's padding (fine
    index -1 is ``n - 2``, index ``n`` is 1; see the module docstring)."""
    nx_fine = u.shape[-1]
    if nx_fine % nx:
        raise ValueError(f"nx={nx} must divide the fine resolution {nx_fine}")
    stride = nx_fine // nx
    if faithful:
        avg = sum(_pad_faithful(u)[..., k : k + nx_fine] for k in range(5)) / 5.0
    else:
        avg = sum(jnp.roll(u, -k, axis=-1) for k in (-2, -1, 0, 1, 2)) / 5.0
    return avg[..., ::stride]


def generate(
    key: PRNGKeyArray,
    family: str,
    nx: tuple[int, ...] = (100, 50, 40),
    nt: int = NT,
    *,
    nx_fine: int = NX_FINE,
    baseline: bool = False,
    l_max: int | None = None,
    splitting: str = "lax_friedrichs",
    dtype=None,
    faithful: bool = False,
) -> dict[str, Array]:
    """One trajectory of ``family``: parameters, the ``nx_fine`` solution and its downsampled copies.

    Returns a dict with ``u_{nx_fine}`` of shape ``(nt, nx_fine)``, ``u_{n}`` ``(nt, n)`` for each
    ``n`` in ``nx`` (5-tap averages of the fine solution: the training targets), optionally
    ``weno_{n}`` (the solver run directly at ``n`` points from the same parameters: the paper's
    WENO5 baseline), and the parameters ``alpha, beta, gamma`` (scalars) and ``A, omega, phi, l``
    ``(5,)``. Pure and vmappable over ``key``. ``l_max`` defaults to 3 (the paper's), or to 2 (the
    original code's) with ``faithful=True``, which reproduces the original generator throughout
    (solver, grids, downsampling: module docstring); the random draws themselves differ (JAX vs torch).
    """
    fam = get_family(family)
    for n in nx:
        check_resolution(family, n, nx_fine)
    if l_max is None:
        l_max = 2 if faithful else 3
    params = sample_params(key, family, l_max=l_max, dtype=dtype)

    def run(n):
        u0 = initial_condition(params, n, faithful=faithful)
        return solve(params, u0, t_end=fam.t_end, nt=nt, splitting=splitting, faithful=faithful)

    fine = run(nx_fine)
    out = {f"u_{nx_fine}": fine}
    for n in nx:
        out[f"u_{n}"] = downsample(fine, n, faithful=faithful)
        if baseline:
            out[f"weno_{n}"] = run(n)
    out.update(params._asdict())
    return out


def grid_np(nx: int, length: float = LENGTH, *, faithful: bool = False) -> np.ndarray:
    """:func:`grid` as a float64 numpy array (for files and plots)."""
    if faithful:
        return np.linspace(0.0, length, nx)
    return np.arange(nx) * (length / nx)
