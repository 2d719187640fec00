"""``burgers`` with ``faithful=True`` against the original MP-PDE generator's own output.

The fixture ``tests/fixtures/mppde_generator.npz`` holds what the original code
(brandstetter-johannes/MP-Neural-PDE-Solvers, run by ``tests/fixtures/make_mppde_generator_fixtures.py``)
drew and computed for 2 E1, 2 E2 and 2 E3 trajectories: parameters, time grid, its nx = 200 and nx = 50
solutions and its data loader's 200 -> 50 downsampling. No torch needed here.

Tolerance ``ATOL = 1e-9``: ``faithful=True`` performs the same arithmetic as the original (same stencils,
same accept/reject sequence of its step-halving Dormand-Prince 5(4)), differing only in the order of
floating-point operations, so the two agree to round-off amplified over 249 output steps (observed
<= 7e-12, the largest in stiff E3 at nx = 200). A single accept/reject decision taken differently would
show up at the level of the local error tolerance (1e-5 relative per step), orders of magnitude above
``ATOL``; so would any difference of scheme (the consistent default scheme is 3e-2 .. 2 away).
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.pde import burgers

FIXTURE = Path(__file__).parents[1] / "fixtures" / "mppde_generator.npz"
ATOL = 1e-9


@pytest.fixture(scope="module")
def orig():
    return dict(np.load(FIXTURE))


def _params(d, i):
    return burgers.CEParams(*(jnp.asarray(d[k][i]) for k in ("alpha", "beta", "gamma", "A", "omega", "phi", "l")))


def _run(d, i, nx, faithful=True):
    p = _params(d, i)
    u0 = burgers.initial_condition(p, nx, faithful=faithful)
    return np.asarray(burgers.solve(p, u0, t_end=float(d["t_end"][i]), nt=int(d["nt"]), faithful=faithful))


@pytest.mark.parametrize("i", range(6), ids=lambda i: f"traj{i}")
def test_faithful_reproduces_original_generator(orig, i):
    """Fine solution, coarse WENO5 baseline and the loader's downsampled target, to round-off."""
    ti = orig["t_index"]
    with jax.enable_x64(True):
        fine, coarse = _run(orig, i, 200), _run(orig, i, 50)
        down = np.asarray(burgers.downsample(jnp.asarray(fine), 50, faithful=True))
    fam = orig["family"][i]
    np.testing.assert_allclose(fine[ti], orig["u_200"][i], rtol=0, atol=ATOL, err_msg=f"{fam} nx=200")
    np.testing.assert_allclose(coarse[ti], orig["u_50"][i], rtol=0, atol=ATOL, err_msg=f"{fam} nx=50")
    np.testing.assert_allclose(down[ti], orig["u_200_to_50"][i], rtol=0, atol=ATOL, err_msg=f"{fam} 200->50")


def test_original_grid_quirk_is_in_the_data(orig):
    """Sanity of the fixture: the original's u_0 and u_{n-1} (the same point x = 0 = L) drift apart."""
    assert np.abs(orig["u_200"][:, -1, 0] - orig["u_200"][:, -1, -1]).max() > 1e-2


def test_default_scheme_differs_from_original_and_is_unchanged(orig):
    """faithful=False is the fixed scheme: far from the original, and bit-for-bit what it was before."""
    ti = orig["t_index"]
    with jax.enable_x64(True):
        runs = [_run(orig, i, 50, faithful=False) for i in (0, 1)]  # the two E1 trajectories
    for i, u in zip((0, 1), runs):
        assert np.abs(u[ti] - orig["u_50"][i]).max() > 0.1
    # values of the default scheme before `faithful` existed (same inputs, same code path)
    np.testing.assert_allclose([np.sum(u[ti] ** 2) for u in runs], [609.1580215276758, 484.71215248751673], rtol=1e-9)
    np.testing.assert_allclose([runs[0][-1, 7], runs[1][-1, 7]], [-1.1966327144061388, 0.08519456417864761], atol=1e-9)


def test_faithful_grid_rhs_and_downsample_switch():
    with jax.enable_x64(True):
        np.testing.assert_allclose(burgers.grid(5, faithful=True), [0.0, 4.0, 8.0, 12.0, 16.0])
        np.testing.assert_allclose(burgers.grid(5), [0.0, 3.2, 6.4, 9.6, 12.8])
        p = burgers.CEParams(1.0, 0.0, 0.0, jnp.zeros(5), jnp.zeros(5), jnp.zeros(5), jnp.ones(5))
        x = burgers.grid(200, faithful=True)
        up = jnp.sin(2 * np.pi * x / burgers.LENGTH) + 0.3  # positive wind at x = 0
        assert abs(float(burgers.rhs(0.0, up, p, faithful=True)[0])) < 1e-12  # quirk 3: advection term 0
        assert abs(float(burgers.rhs(0.0, -up, p, faithful=True)[0])) > 0.1  # ... but not for a negative wind
        up_fixed = jnp.sin(2 * np.pi * burgers.grid(200) / burgers.LENGTH) + 0.3
        assert abs(float(burgers.rhs(0.0, up_fixed, p)[0]) + 0.3 * 2 * np.pi / burgers.LENGTH) < 1e-6  # -u u_x
        u = jnp.arange(20.0)
        np.testing.assert_allclose(burgers.downsample(u, 10, faithful=True)[0], (17 + 18 + 0 + 1 + 2) / 5)
        np.testing.assert_allclose(burgers.downsample(u, 10)[0], (18 + 19 + 0 + 1 + 2) / 5)


def test_generate_faithful_wires_solver_grid_and_downsampling(orig):
    with jax.enable_x64(True):
        out = burgers.generate(jax.random.key(0), "E1", nx=(50,), baseline=True, faithful=True)
        p = burgers.CEParams(*(out[k] for k in burgers.CEParams._fields))
        # the keywords generate() passes (jit caches on them), so its compiled solves are reused
        kw = dict(t_end=4.0, nt=burgers.NT, splitting="lax_friedrichs", faithful=True)
        fine = burgers.solve(p, burgers.initial_condition(p, 200, faithful=True), **kw)
        base = burgers.solve(p, burgers.initial_condition(p, 50, faithful=True), **kw)
        down = burgers.downsample(fine, 50, faithful=True)
    assert set(np.unique(out["l"])) <= {1.0, 2.0}  # the original's l_max = 2
    np.testing.assert_array_equal(out["u_200"], fine)
    np.testing.assert_array_equal(out["weno_50"], base)
    np.testing.assert_array_equal(out["u_50"], down)


def test_faithful_rejects_fixed_step():
    p = burgers.sample_params(jax.random.key(0), "E1")
    with pytest.raises(ValueError, match="faithful"):
        burgers.solve(p, burgers.initial_condition(p, 50, faithful=True), t_end=0.1, dt=0.01, faithful=True)
