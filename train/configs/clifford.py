"""clifford: Clifford-layer surrogates (CResNet, rotational CResNet, CFNO) vs ResNet / FNO on Navier-Stokes smoke.

Command: ``python -m train clifford --config train/configs/clifford.py:small --workdir runs/clifford``
(``--config.model=resnet|cresnet|cresnet_rot|fno|cfno``; default cresnet).
Runtime (2-core CPU): test ~15 s (mostly compiling); small (32x32, 64 trajectories, 600 steps of batch 16)
~7 min for cresnet (1.6 steps/s on a busy 2-core CPU), ~2 min for resnet (6 steps/s: at equal parameter count a
Clifford conv does 4x the multiply-adds of the real one); cut to 200 steps (``--config.fit.num_steps=200``) resnet
reached onestep_mse 0.0021 / rollout_mse 0.060, cresnet 0.0039 / 0.109 (one seed, far from converged); paper (128x128, 56 frames, 256 trajectories, ~21k steps of batch 32) is for a GPU.
Metric: eval ``onestep_mse`` (MSE of the next frame over the validation windows, fields smoke, vx, vy)
and ``rollout_mse`` (MSE of the autoregressive rollout from the first ``time_history`` frames to the
end of each validation trajectory). The paper's claim: at equal parameter count the Clifford models
beat their baselines in both (its Figure on Navier-Stokes; read the numbers off the paper).
"""

import ml_collections


def get_config(preset: str = "small") -> ml_collections.ConfigDict:
    presets = {
        # 16x16, a handful of short trajectories, tiny widths: seconds, used by the tests
        "test": dict(nx=16, nt=8, skip=4, num_train=4, num_valid=2, hidden=4, num_blocks=1, modes=(4, 4), batch_size=8,
                     learning_rate=1e-3, num_steps=4, log_every=2, eval_every=4, checkpoint_every=4),
        # 32x32, the paper's depth at small widths (cresnet 16 multivector channels, resnet 32 channels): CPU minutes
        "small": dict(nx=32, nt=24, skip=12, num_train=64, num_valid=8, hidden=16, num_blocks=4, modes=(8, 8), batch_size=16,
                      learning_rate=1e-3, num_steps=600, log_every=50, eval_every=300, checkpoint_every=300),
        # the paper's data (128x128, 56 frames; 256/32 trajectories as PDEArena's smoke set) and widths
        # (hidden 0: the class defaults ResNet 128, CResNet 64, FNO 64, CFNO 32), batch 32, 50 epochs
        "paper": dict(nx=128, nt=56, skip=12, num_train=256, num_valid=32, hidden=0, num_blocks=4, modes=(16, 16), batch_size=32,
                      learning_rate=2e-4, num_steps=50 * (256 * 52 // 32), log_every=200, eval_every=2000, checkpoint_every=2000),
    }
    if preset not in presets:
        raise ValueError(f"unknown preset {preset!r} for clifford; presets: {sorted(presets)}")
    p = presets[preset]
    c = ml_collections.ConfigDict()
    c.preset = preset
    c.nx = p["nx"]  # grid nx x nx on the 32 x 32 box
    c.nt = p["nt"]  # frames kept per trajectory (dt 1.5)
    c.skip = p["skip"]  # solver steps dropped before the first frame (PDEArena: 12)
    c.num_train = p["num_train"]
    c.num_valid = p["num_valid"]
    c.data_seed = 0
    c.model = "cresnet"  # resnet | cresnet | cresnet_rot | fno | cfno
    c.time_history = 4  # input frames (the paper's 4 -> 1)
    c.hidden = p["hidden"]  # multivector channels of the Clifford models (0: class default)
    c.baseline_hidden = 0  # real channels of resnet/fno (0: 2 * hidden, equal parameter count)
    c.num_blocks = p["num_blocks"]
    c.modes = p["modes"]  # Fourier modes per axis (fno, cfno)
    c.padding_mode = "zeros"  # the smoke lives in a closed box
    c.batch_size = p["batch_size"]
    c.learning_rate = p["learning_rate"]  # adam, cosine decay to 0 over fit.num_steps
    c.fit = ml_collections.ConfigDict(dict(
        num_steps=p["num_steps"], seed=0, log_every=p["log_every"], eval_every=p["eval_every"],
        checkpoint_every=p["checkpoint_every"], keep_checkpoints=2, progress=True, check_finite=True,
        donate=True, plot=True,
    ))
    return c
