"""end: the equivariant neural decoder (END) for the toric code under depolarising noise, with the
non-equivariant CNN (``--config.head=fc``) as the baseline of equal trunk.

Command: ``python -m train end --config train/configs/end.py:small --workdir runs/end_L6``
(``--config.L=4|6|8``, ``--config.head=end|fc|mean``).
Runtime (2-core CPU): test ~20 s (mostly compiling); small (L 6, batch 256, 3000 steps) ~15 min;
paper-like (longer, wider) is for a GPU.
Data: sampled on the fly inside the jitted step (each example its own rate, uniform in ``p_train``).
Metric: eval ``acc_p<rate>``, the accuracy on ``num_eval`` fresh syndromes per rate; at the end the
run writes ``curves.json`` and ``curves.png``: END vs MWPM (and exact ML for L <= 3) over
``p_test`` with ``num_test`` syndromes per rate and 95 % Wilson intervals.
Paper: END above MWPM over p in [0.05, 0.18] at L = 4, 6, 8 (their Figure on depolarising noise).
"""

import ml_collections


def get_config(preset: str = "small") -> ml_collections.ConfigDict:
    presets = {
        "test": dict(L=4, channels=(8, 8), kernel_sizes=(3, 3), batch_size=32, learning_rate=3e-3, num_steps=6,
                     log_every=3, eval_every=6, checkpoint_every=6, num_eval=64, num_test=256, num_test_ml=128, p_test=(0.08, 0.16)),
        "small": dict(L=6, channels=(32, 64, 64), kernel_sizes=(3, 3, 3), batch_size=256, learning_rate=2e-3,
                      num_steps=3000, log_every=100, eval_every=1000, checkpoint_every=1000, num_eval=4096,
                      num_test=100_000, num_test_ml=10_000, p_test=tuple(round(0.05 + 0.01 * k, 2) for k in range(14))),
        "paper": dict(L=6, channels=(64, 128, 128, 128), kernel_sizes=(3, 3, 3, 3), batch_size=512, learning_rate=1e-3,
                      num_steps=100_000, log_every=500, eval_every=10_000, checkpoint_every=10_000, num_eval=16384,
                      num_test=1_000_000, num_test_ml=100_000, p_test=tuple(round(0.05 + 0.01 * k, 2) for k in range(14))),
    }
    if preset not in presets:
        raise ValueError(f"unknown preset {preset!r} for end; presets: {sorted(presets)}")
    p = presets[preset]
    c = ml_collections.ConfigDict()
    c.preset = preset
    c.L = p["L"]  # code distance
    c.noise = "depolarizing"  # or "bitflip"
    c.measurement_error = 0.0  # probability that a syndrome bit is misread
    c.p_train = (0.05, 0.18)  # training rates, uniform per example
    c.head = "end"  # end | fc | mean
    c.channels = p["channels"]
    c.kernel_sizes = p["kernel_sizes"]
    c.dtype = "float32"  # trunk compute dtype: float32 | bfloat16
    c.batch_size = p["batch_size"]
    c.learning_rate = p["learning_rate"]  # adamw, one-cycle (warm-up 10 %, cosine down)
    c.weight_decay = 1e-4
    c.p_eval = (0.10, 0.15)  # rates evaluated during training
    c.num_eval = p["num_eval"]
    c.p_test = p["p_test"]  # rates of the final curves
    c.num_test = p["num_test"]
    c.symmetrize = "none"  # also test the decoder averaged over its orbit: none | point_group (8) | all (16, with duality)
    c.num_test_sym = 20_000  # ... on the first this-many test syndromes per rate (16x the decoding cost)
    c.num_test_ml = p["num_test_ml"]  # exact ML (L <= 3) on the first this-many test syndromes per rate (~5 ms each)
    c.fit = ml_collections.ConfigDict(dict(
        num_steps=p["num_steps"], seed=0, log_every=p["log_every"], eval_every=p["eval_every"],
        checkpoint_every=p["checkpoint_every"], keep_checkpoints=2, progress=True, check_finite=True,
        donate=True, plot=True,
    ))
    return c
