"""pips: controlled Langevin rollouts of alanine dipeptide (replica-steps per second) and energy + force
evaluations per second, ours (jitted JAX, float32) against OpenMM.

Cases (``quick``: 2 replicas, T 20 / 5 steps, batches 1 and 4, a shorter minimisation of the molecule):

* rollout, n = 16 replicas, the paper's policy ``PolicyMLP(num_atoms=22, mode="potential")`` (random
  weights, torch initialisation), float32: ours is one ``jax.jit`` of :func:`jaxsci.pips.rollout` over
  T = 1000 steps, for sampling (``with_grads=False``) and for a PICE update (``with_grads=True``, the
  per-replica vector-Jacobian products of the policy accumulated inside the scan). The reference is a
  PIPS-style loop as in the original code, over T = 50 steps: n OpenMM Contexts (CPU platform,
  LangevinMiddleIntegrator 300 K, 1/ps, 1 fs, all bonds flexible) with a ``CustomExternalForce``
  carrying the control; each step reads every context's positions, evaluates the control of all
  replicas at once with our jitted policy (numpy in and out), adds the noise, writes every atom's
  force parameters into each context and steps each integrator once. Times are per replica-step, so
  the ratio compares throughputs; both rows share the one reference (the original computes its
  gradients in a separate pass after the paths).
* energy + forces, vacuum amber99sbildn, batches B = 1, 16, 256, 1024 of perturbed conformations
  (0.01 nm Gaussian noise on the minimised start): ours ``jit(vmap(energy, forces))`` in float32;
  OpenMM CPU and Reference platforms (float64 for Reference, mixed for CPU) loop over the batch with one
  Context, ``setPositions`` + ``getState(getEnergy, getForces)``. Times are per evaluation; the notes
  give evaluations/s and the largest relative energy difference of ours from OpenMM's.

Ratio = OpenMM seconds / ours: above 1 means ours is faster. Without ``openmm`` (which also builds the
molecule) the benchmark returns one row saying so.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.harness import Row, register, time_call, time_jitted


def _rollout_rows(built, quick: bool, openmm) -> list[Row]:
    from jaxsci import pips

    n, t_ours, t_ref = (2, 20, 5) if quick else (16, 1000, 50)
    system = built.system
    model = pips.PolicyMLP(num_atoms=22, mode="potential")
    params = pips.init(jax.random.key(0), model, system.start)
    cfg = pips.PICEConfig(num_steps=t_ours, save_every=50 if t_ours % 50 == 0 else t_ours)
    x0 = jnp.broadcast_to(jnp.asarray(system.start, jnp.float32), (n, 22, 3))
    keys = jax.random.split(jax.random.key(1), n)
    repeats = 2 if quick else 3

    ours = {}
    for with_grads in (False, True):
        fn = jax.jit(lambda p, x, k, g=with_grads: pips.rollout(model, p, system, cfg, x, k, with_grads=g))
        ours[with_grads] = time_jitted(fn, params, x0, keys, repeats=repeats, warmup=1)

    ref_s = _openmm_rollout_time(built, model, params, cfg, n, t_ref, repeats, openmm) / (n * t_ref)
    rows = []
    for with_grads, label in ((False, "sampling"), (True, "PICE (with grads)")):
        t = ours[with_grads]
        per = t.median_s / (n * t_ours)
        notes = f"ours {1 / per:,.0f} replica-steps/s (T {t_ours}), OpenMM {1 / ref_s:,.0f} (T {t_ref})"
        rows.append(Row("pips", f"rollout {label}, n {n}", per, ref_s, "OpenMM CPU loop + our policy", t.compile_s,
                        unit="s/replica-step", notes=notes))
    return rows


def _openmm_rollout_time(built, model, params, cfg, n, steps, repeats, openmm) -> float:
    """Seconds for ``steps`` controlled steps of ``n`` OpenMM replicas, the control computed by our policy."""
    from openmm import unit

    from jaxsci import pips

    system = openmm.XmlSerializer.deserialize(openmm.XmlSerializer.serialize(built.molecule.system))
    ext = openmm.CustomExternalForce("-(fx*x+fy*y+fz*z)")
    for name in ("fx", "fy", "fz"):
        ext.addPerParticleParameter(name)
    num_atoms = system.getNumParticles()
    for i in range(num_atoms):
        ext.addParticle(i, [0.0, 0.0, 0.0])
    system.addForce(ext)
    platform = openmm.Platform.getPlatformByName("CPU")
    start = np.asarray(built.system.start, np.float64)
    contexts = []
    for r in range(n):
        integrator = openmm.LangevinMiddleIntegrator(cfg.temp * unit.kelvin, cfg.friction / unit.picosecond,
                                                     cfg.dt * unit.picoseconds)
        integrator.setRandomNumberSeed(r + 1)
        ctx = openmm.Context(system, integrator, platform)
        ctx.setPositions(start * unit.nanometer)
        ctx.setVelocitiesToTemperature(cfg.temp * unit.kelvin, r + 1)
        contexts.append((ctx, integrator))
    policy = jax.jit(jax.vmap(lambda p, x: pips.control(model, p, x, cfg.grad_scale), in_axes=(None, 0)))
    rng = np.random.default_rng(0)

    def loop():
        for _ in range(steps):
            x = np.stack([c.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer)
                          for c, _ in contexts]).astype(np.float32)
            u = np.asarray(policy(params, x), np.float64)
            force = cfg.control_scale * (u + cfg.sigma * rng.standard_normal(u.shape))
            for (ctx, integrator), f in zip(contexts, force):
                for i in range(num_atoms):
                    ext.setParticleParameters(i, i, f[i].tolist())
                ext.updateParametersInContext(ctx)
                integrator.step(1)

    return time_call(loop, repeats=repeats, warmup=1).median_s


def _energy_rows(built, quick: bool, openmm) -> list[Row]:
    from jaxsci.md import forcefield

    ff = built.forcefield
    start = np.asarray(built.system.start, np.float64)
    fn = jax.jit(jax.vmap(lambda x: (forcefield.energy(ff, x), forcefield.forces(ff, x))))
    rows = []
    for batch in ((1, 4) if quick else (1, 16, 256, 1024)):
        xs = start + 0.01 * np.random.default_rng(batch).standard_normal((batch, *start.shape))
        x32 = jnp.asarray(xs, jnp.float32)
        t = time_jitted(fn, x32, repeats=3 if quick else 10)
        per = t.median_s / batch
        e_ours = np.asarray(fn(x32)[0], np.float64)
        for name in ("CPU", "Reference"):
            repeats = 2 if quick else max(3, min(50, 1024 // batch))  # small batches: more, short loops
            ref_s, e_ref = _openmm_energy_time(built, xs, name, repeats, openmm)
            ref_per = ref_s / batch
            rel = float(np.max(np.abs(e_ours - e_ref) / np.maximum(np.abs(e_ref), 1.0)))
            rows.append(Row("pips", f"energy+forces batch {batch}", per, ref_per, f"OpenMM {name}", t.compile_s,
                            unit="s/eval",
                            notes=f"ours {1 / per:,.0f}/s, OpenMM {name} {1 / ref_per:,.0f}/s, max rel dE {rel:.1e}"))
    return rows


def _openmm_energy_time(built, xs, platform_name, repeats, openmm) -> tuple[float, np.ndarray]:
    """Seconds to evaluate energy and forces of every conformation in ``xs`` with one Context, and the energies."""
    from openmm import unit

    platform = openmm.Platform.getPlatformByName(platform_name)
    ctx = openmm.Context(built.molecule.system, openmm.VerletIntegrator(0.001), platform)
    positions = [x * unit.nanometer for x in xs]

    def loop():
        energies = np.empty(len(xs))
        for b, pos in enumerate(positions):
            ctx.setPositions(pos)
            state = ctx.getState(getEnergy=True, getForces=True)
            state.getForces(asNumpy=True)
            energies[b] = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        return energies

    return time_call(loop, repeats=repeats, warmup=1).median_s, loop()


@register("pips")
def bench(quick: bool) -> list[Row]:
    """PIPS controlled rollouts (replica-steps/s) and energy + force evaluations/s of alanine dipeptide vs OpenMM."""
    try:
        import openmm
        import pdbfixer  # noqa: F401  (the molecule is built from its file)
    except ImportError:
        return [Row("pips", "alanine dipeptide (all cases)", 0.0, None, "openmm not installed",
                    notes="openmm and pdbfixer (the md extra) build the molecule")]
    from jaxsci.pips import molecules

    built = molecules.alanine_dipeptide(minimize_steps=50 if quick else 2000, dtype=jnp.float32)
    return _rollout_rows(built, quick, openmm) + _energy_rows(built, quick, openmm)
