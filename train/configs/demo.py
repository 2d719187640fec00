"""demo: an MLP fits a noisy 1D function; exercises the shared loop end to end (not a paper method).

Command: ``python -m train demo --config train/configs/demo.py:small --workdir runs/demo``
Runtime: test ~5 s, small ~20 s on a 2-core CPU. Metric: eval ``mse`` on a clean grid; the small
preset reaches mse < 1e-2 (the noise variance is 1e-2 and is not part of the eval target).
"""

import ml_collections


def get_config(preset: str = "small") -> ml_collections.ConfigDict:
    presets = {
        "test": dict(num_examples=256, hidden=(32, 32), batch_size=32, num_steps=20, log_every=5, eval_every=10, checkpoint_every=10),
        "small": dict(num_examples=4096, hidden=(64, 64), batch_size=128, num_steps=3000, log_every=100, eval_every=500, checkpoint_every=1000),
    }
    if preset not in presets:
        raise ValueError(f"unknown preset {preset!r} for demo; presets: {sorted(presets)}")
    p = presets[preset]
    config = ml_collections.ConfigDict()
    config.preset = preset
    config.num_examples = p["num_examples"]
    config.noise = 0.1
    config.hidden = p["hidden"]
    config.batch_size = p["batch_size"]
    config.learning_rate = 3e-3
    config.clip_norm = 1.0
    config.ema_decay = 0.99
    config.fit = ml_collections.ConfigDict(
        dict(
            num_steps=p["num_steps"],
            seed=0,
            log_every=p["log_every"],
            eval_every=p["eval_every"],
            checkpoint_every=p["checkpoint_every"],
            keep_checkpoints=2,
            progress=True,
            check_finite=True,
            donate=True,
            plot=True,
        )
    )
    return config
