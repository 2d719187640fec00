"""clifford: Clifford-layer surrogates (CResNet, rotational CResNet, CFNO) vs ResNet / FNO on smoke, shallow water, Maxwell.

Command: ``python -m train clifford --config train/configs/clifford.py:small --workdir runs/clifford``
(``--config.pde=smoke|shallow_water|maxwell``, default smoke; ``--config.model=resnet|cresnet|cresnet_rot|fno|cfno``,
default cresnet; ``cresnet_rot`` is 2D only).

PDEs (data generated in memory by ``jaxsci.pde``; ``config.pde`` picks the per-PDE settings in ``per_pde``):

- ``smoke``: 2D Navier-Stokes smoke (:mod:`jaxsci.pde.navier_stokes`), nx x nx closed box, Cl(2, 0)
  multivector (smoke, vx, vy, 0), zero padding.
- ``shallow_water``: 2D shallow water on a periodic f-plane (:mod:`jaxsci.pde.shallow_water`), grid
  ``nx x nx/2`` (x by y, square cells), Cl(2, 0) multivector (height, u, v, 0), circular padding;
  ``skip`` = saved frames (dt 0.2) dropped at the start.
- ``maxwell``: 3D Maxwell by FDTD in a periodic nx^3 box with random sources (:mod:`jaxsci.pde.maxwell`),
  Cl(3, 0) multivector ``F = E + I H`` = (0, Ex, Ey, Ez, Hz, -Hy, Hx, 0), circular padding; models
  ResNet3d / CResNet3d / FNO3d / CFNO3d; ``skip`` = FDTD steps before the first frame (frames every 8
  steps of dt 0.5).

The data and width keys (nx, nt, skip, num_train, num_valid, hidden, num_blocks, modes, batch_size,
padding_mode) are None at the top level: the run takes them from ``per_pde.<pde>`` (this preset's
values for that PDE); setting one at the top level (``--config.nx=16``) overrides it for any PDE.

Runtime (2-core CPU, shared): test ~15 s per PDE (mostly compiling). small: smoke (32x32, 64 trajectories,
600 steps of batch 16) ~7 min for cresnet (1.6 steps/s on a busy 2-core CPU), ~2 min for resnet (6 steps/s: at
equal parameter count a Clifford conv does 4x the multiply-adds of the real one); cut to 200 steps
(``--config.fit.num_steps=200``) resnet reached onestep_mse 0.0021 / rollout_mse 0.060, cresnet 0.0039 / 0.109
(one seed, far from converged).
shallow_water small (32x16, 64 trajectories, 600 steps of batch 16): cresnet 4.5 min (2.5 steps/s) onestep_mse
1.5e-4 / rollout_mse 2.9e-4; resnet 1.3 min (9.5 steps/s) 2.5e-5 / 1.1e-4. For scale: persistence (next frame =
last frame) gives 1.2e-5 / 1.4e-4 on these validation trajectories: the heights are 1 +- 0.03, the
velocities ~0.01, and 600 steps do not beat it one step ahead.
maxwell small (16^3, 32 trajectories, batch 4) is slow on a CPU (3D convs): 0.3 steps/s cresnet, 0.6 resnet,
so 600 steps take ~35 / ~17 min; cut to 60 steps (``--config.fit.num_steps=60``, ~4 / ~2 min) cresnet
reached onestep_mse 0.066 / rollout_mse 0.154, resnet 0.099 / 0.103 (persistence 0.35 / 0.20, predicting
the mean field 0.11). All: one seed, 2-core CPU shared with other jobs, 2026-11-24.
paper (smoke 128x128, 56 frames, 256 trajectories, ~21k steps of batch 32) is for a GPU.
Metric: eval ``onestep_mse`` (MSE of the next frame over the validation windows, field blades only:
smoke/height, vx, vy in 2D; E, H in 3D) and ``rollout_mse`` (MSE of the autoregressive rollout from the
first ``time_history`` frames to the end of each validation trajectory). The paper's claim: at equal
parameter count the Clifford models beat their baselines in both (its Navier-Stokes, shallow-water and
Maxwell figures; read the numbers off the paper).
"""

import ml_collections

PDES = ("smoke", "shallow_water", "maxwell")


def _presets(preset: str) -> tuple[dict, dict]:
    """(settings shared by the PDEs, {pde: per-PDE settings}) of ``preset``."""
    shared = {
        "test": dict(learning_rate=1e-3, num_steps=4, log_every=2, eval_every=4, checkpoint_every=4),
        "small": dict(learning_rate=1e-3, num_steps=600, log_every=50, eval_every=300, checkpoint_every=300),
        "paper": dict(learning_rate=2e-4, num_steps=50 * (256 * 52 // 32), log_every=200, eval_every=2000,
                      checkpoint_every=2000),
    }
    per_pde = {
        "test": {
            # tiny grids, a handful of short trajectories, tiny widths: seconds, used by the tests
            "smoke": dict(nx=16, nt=8, skip=4, num_train=4, num_valid=2, hidden=4, num_blocks=1, modes=(4, 4),
                          batch_size=8, padding_mode="zeros"),
            "shallow_water": dict(nx=16, nt=8, skip=0, num_train=4, num_valid=2, hidden=4, num_blocks=1, modes=(4, 4),
                                  batch_size=8, padding_mode="circular"),
            "maxwell": dict(nx=8, nt=6, skip=8, num_train=4, num_valid=1, hidden=2, num_blocks=1, modes=(2, 2, 2),
                            batch_size=8, padding_mode="circular"),
        },
        "small": {
            # 32x32, the paper's depth at small widths (cresnet 16 multivector channels, resnet 32 channels): CPU minutes
            "smoke": dict(nx=32, nt=24, skip=12, num_train=64, num_valid=8, hidden=16, num_blocks=4, modes=(8, 8),
                          batch_size=16, padding_mode="zeros"),
            # 32 x 16 (x by y), 24 frames of dt 0.2 after 4 dropped
            "shallow_water": dict(nx=32, nt=24, skip=4, num_train=64, num_valid=8, hidden=16, num_blocks=4,
                                  modes=(8, 8), batch_size=16, padding_mode="circular"),
            # 16^3, 12 frames (every 8 FDTD steps) after 32 steps; cresnet3d 8 multivector channels, resnet3d 23
            "maxwell": dict(nx=16, nt=12, skip=32, num_train=32, num_valid=4, hidden=8, num_blocks=4, modes=(4, 4, 4),
                            batch_size=4, padding_mode="circular"),
        },
        "paper": {
            # the paper's data (128x128, 56 frames; 256/32 trajectories as PDEArena's smoke set) and widths
            # (hidden 0: the class defaults ResNet 128, CResNet 64, FNO 64, CFNO 32), batch 32, 50 epochs
            "smoke": dict(nx=128, nt=56, skip=12, num_train=256, num_valid=32, hidden=0, num_blocks=4, modes=(16, 16),
                          batch_size=32, padding_mode="zeros"),
            # the paper's grid shape (64 x 128 lat x lon; ours 128 x 64 x by y on the plane) and 90 frames
            "shallow_water": dict(nx=128, nt=88, skip=2, num_train=256, num_valid=32, hidden=0, num_blocks=4,
                                  modes=(16, 16), batch_size=32, padding_mode="circular"),
            # 32^3, 8 frames (the generator's defaults); class defaults ResNet3d 90, CResNet3d 32, FNO3d 45, CFNO3d 16
            "maxwell": dict(nx=32, nt=8, skip=32, num_train=256, num_valid=32, hidden=0, num_blocks=4, modes=(8, 8, 8),
                            batch_size=32, padding_mode="circular"),
        },
    }
    if preset not in shared:
        raise ValueError(f"unknown preset {preset!r} for clifford; presets: {sorted(shared)}")
    return shared[preset], per_pde[preset]


def get_config(preset: str = "small") -> ml_collections.ConfigDict:
    p, per_pde = _presets(preset)
    c = ml_collections.ConfigDict()
    c.preset = preset
    c.pde = "smoke"  # smoke | shallow_water | maxwell
    # per-PDE keys (None: per_pde.<pde>.<key>; train/clifford.py PER_PDE_KEYS, the module docstring)
    c.nx = None  # grid: smoke nx x nx on the 32 x 32 box; shallow water nx x nx/2; maxwell nx^3
    c.nt = None  # frames kept per trajectory
    c.skip = None  # dropped at the start: solver steps (smoke: PDEArena 12; maxwell) or frames (shallow water)
    c.num_train = None
    c.num_valid = None
    c.hidden = None  # multivector channels of the Clifford models (0: class default)
    c.num_blocks = None
    c.modes = None  # Fourier modes per axis (fno, cfno)
    c.batch_size = None
    c.padding_mode = None  # zeros (smoke: closed box) | circular (periodic shallow water, maxwell)
    c.per_pde = ml_collections.ConfigDict({pde: ml_collections.ConfigDict(per_pde[pde]) for pde in PDES})
    c.data_seed = 0
    c.model = "cresnet"  # resnet | cresnet | cresnet_rot (2D only) | fno | cfno
    c.time_history = 4  # input frames (the paper's 4 -> 1)
    c.baseline_hidden = 0  # real channels of resnet/fno (0: sqrt(2^dim) * hidden, equal parameter count)
    c.learning_rate = p["learning_rate"]  # adam, cosine decay to 0 over fit.num_steps
    c.fit = ml_collections.ConfigDict(dict(
        num_steps=p["num_steps"], seed=0, log_every=p["log_every"], eval_every=p["eval_every"],
        checkpoint_every=p["checkpoint_every"], keep_checkpoints=2, progress=True, check_finite=True,
        donate=True, plot=True,
    ))
    return c
