"""The PIPS runner end to end on the test preset, the alanine dipeptide system it builds (start in C5,
target in C7ax), and config refusals before any work."""

import json

import jax
import numpy as np
import pytest

import train
from train.__main__ import main

pytest.importorskip("openmm")


@pytest.fixture(scope="module")
def built():
    from jaxsci.pips import molecules

    return molecules.alanine_dipeptide()


def test_alanine_start_and_target_basins(built):
    phi, psi = np.rad2deg(built.start_cv)
    assert -170 < phi < -130 and (psi > 140 or psi < -170)  # C5 (the original's "C7eq" file)
    phi, psi = np.rad2deg(built.target_cv)
    assert 45 < phi < 85 and -80 < psi < -20  # C7ax
    system = built.system
    np.testing.assert_allclose(np.asarray(system.cv(system.start)), built.start_cv, atol=1e-5)
    # both are minima of the force field: small forces compared with a thermal kick
    for x in (system.start, system.target):
        assert float(np.abs(np.asarray(jax.grad(system.potential)(x))).max()) < 300.0
    assert float(system.potential(system.start)) < float(system.potential(system.target)) + 20.0


def test_runner_end_to_end(tmp_path):
    cfg = f"{train.CONFIG_DIR / 'pips.py'}:test"
    assert main(["pips", "--config", cfg, "--workdir", str(tmp_path), "--config.fit.progress=False"]) in (0, None)
    out = json.loads((tmp_path / "paths.json").read_text())
    assert set(out["metrics"]) == {"pips", "md_300K", "md_1000K", "steered_md"}
    for m in out["metrics"].values():
        assert 0.0 <= m["hit"] <= 1.0 and m["rmsd"] > 0
    assert (tmp_path / "paths.png").stat().st_size > 1000
    evals = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"eval"' in line]
    assert evals and "hit" in evals[-1]
    emap = np.load(tmp_path / "energy_map.npz")  # the relaxed (phi, psi) map under the plotted paths
    assert emap["energy"].shape == (3, 3) and np.all(np.isfinite(emap["energy"])) and emap["energy"].min() == 0.0
    np.testing.assert_allclose(emap["phi_deg"], [-120.0, 0.0, 120.0])


@pytest.mark.parametrize("override, match", [
    ("--config.mode=bias", "unknown mode"),
    ("--config.implicit=tip3p", "unknown implicit"),
    ("--config.optimizer=lbfgs", "unknown optimizer"),
    ("--config.molecule=ubiquitin", "unknown molecule"),
    ("--config.molecule=chignolin", "GBn2"),  # the peptides are built in GBn2 only
    ("--config.lr_schedule=step", "unknown lr_schedule"),
    ("--config.eval_sigma=-0.1", "eval_sigma"),
    ("--config.energy_map=1", "energy_map"),
    ("--config.sigma_start=0", "sigma_start"),
    ("--config.constraints=allbonds", "unknown constraints"),
])
def test_bad_values_are_refused_before_work(override, match):
    from train.pips import make_problem

    config = train.load_config(f"{train.CONFIG_DIR / 'pips.py'}:test")
    key, value = override[len("--config."):].split("=")
    config[key] = {"eval_sigma": float, "sigma_start": float, "energy_map": int}.get(key, str)(value)
    with pytest.raises(ValueError, match=match):
        make_problem(config)


def test_hbond_constraints_hold_in_rollouts_and_baselines(monkeypatch):
    """``constraints=hbonds`` at 2 fs: the built start and target, PIPS rollouts and steered MD keep every bond to a
    hydrogen at its length; the runner's config key reaches the builder."""
    from jaxsci import pips
    from jaxsci.md import langevin
    from jaxsci.pips import baselines, molecules
    from train.pips import make_problem

    built = molecules.alanine_dipeptide(constraints="hbonds")  # minimised as the fixture's (the same compiled FIRE)
    system, cons = built.system, built.system.constraints
    assert cons.idx.shape == (12, 2)  # alanine dipeptide's 12 hydrogens
    for x in (system.start, system.target):
        assert float(np.abs(np.asarray(langevin.constraint_error(x, cons))).max()) < 1e-6
    keys = jax.random.split(jax.random.key(1), 2)
    x0 = np.broadcast_to(np.asarray(system.start), (2, *system.start.shape))
    cfg = pips.PICEConfig(num_steps=100, dt=0.002, sigma=0.2, save_every=50)
    model = pips.PolicyMLP(num_atoms=x0.shape[1], features=(16, 16))
    params = pips.init(jax.random.key(0), model, system.start)
    runs = {"pips": jax.jit(lambda p, x, k: pips.rollout(model, p, system, cfg, x, k)[0])(params, x0, keys),
            "steered": jax.jit(lambda x, k: baselines.md_paths(system, x, k, num_steps=100, dt=0.002, save_every=50,
                                                               bias=baselines.steered_bias(system, 500.0)))(x0, keys)}
    for name, paths in runs.items():
        assert float(np.abs(np.asarray(paths.saved) - np.asarray(x0)[:, None]).max()) > 1e-2, name  # they moved
        assert float(np.abs(np.asarray(langevin.constraint_error(paths.saved, cons))).max()) < 1e-5, name

    # the runner hands the key to the builder (recorded here instead of building the molecule a second time)
    calls = []
    monkeypatch.setattr(molecules, "alanine_dipeptide", lambda *a, **kw: calls.append(kw) or built)
    config = train.load_config(f"{train.CONFIG_DIR / 'pips.py'}:test")
    config.constraints = "hbonds"
    make_problem(config)
    assert calls == [{"constraints": "hbonds"}]
    with pytest.raises(ValueError, match="unknown constraints"):
        molecules.polyproline(constraints="allbonds")


def test_unknown_key_is_a_config_error():
    with pytest.raises(SystemExit, match="config error"):
        main(["pips", "--config", f"{train.CONFIG_DIR / 'pips.py'}:test", "--config.sigmaa=0.1"])


def test_annealed_sigma_reaches_the_batches():
    from train.pips import make_problem, sigma_at

    config = train.load_config(f"{train.CONFIG_DIR / 'pips.py'}:test")
    config.sigma, config.sigma_start, config.fit.num_steps = 0.2, 0.4, 10
    assert sigma_at(config, 0) == pytest.approx(0.4) and sigma_at(config, 10) == pytest.approx(0.2)
    assert sigma_at(config, 5) == pytest.approx(0.3) and sigma_at(config, 99) == pytest.approx(0.2)
    step, state, data, *_ = make_problem(config)
    batch = data(5)
    np.testing.assert_allclose(batch["sigma"], 0.3, rtol=1e-6)
    assert batch["sigma"].shape == (config.num_replicas,)
    _, metrics = jax.jit(step)(state, batch, jax.random.key(0))
    assert np.isfinite(float(metrics["cost"]))
    config.sigma_start = None
    assert "sigma" not in make_problem(config)[2](5)
