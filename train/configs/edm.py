"""edm: E(3)-equivariant diffusion (EDM) generating QM9 molecules with hydrogens, atom types and charges.

Command: ``python -m train edm --config train/configs/edm.py:small --workdir runs/edm``
(``--config.conditioning=alpha`` for EDM's property-conditional model on the second half of the training set).
Data: QM9 from the ``qm9pack`` wheel with EDM's split, cached by ``python -m jaxsci.edm.data`` (~10 s, once).
Runtime (2-core CPU): test ~1 min (mostly compiling); small: see the preset's comment; paper (nf 256, 9 layers,
T 1000, batch 64, 3000 epochs ~ 4.7M steps; the original trains for days on a GPU) is for a GPU/TPU.
Metric: eval ``nll`` (nats, the variational bound on ``num_eval`` validation molecules, EMA weights) and
``atom_stable`` / ``mol_stable`` of ``eval_samples`` molecules sampled by the full T-step chain; at the end
``results.json`` (stability, RDKit validity / uniqueness / novelty of ``num_samples`` samples, test NLL) and
``samples.png``. Paper (QM9, Table 1): NLL -110.7, atom stable 98.7 %, molecule stable 82.0 %, valid 91.9 %,
valid and unique 90.7 %.
"""

import ml_collections


def get_config(preset: str = "small") -> ml_collections.ConfigDict:
    presets = {
        # seconds: a few hundred molecules, a tiny network, a short chain; used by the tests
        "test": dict(max_train=256, nf=16, num_layers=2, timesteps=20, batch_size=16, learning_rate=1e-3, ema_decay=0.9,
                     num_steps=4, log_every=2, eval_every=4, checkpoint_every=4, num_eval=16, eval_samples=4,
                     num_samples=8, num_test=16, nll_draws=2),
        # 2-core CPU, ~25 min: 20,000 training molecules, nf 64 x 4 layers, T 500, batch 32, 2,000 steps (~3 epochs);
        # each evaluation samples 32 molecules with the full chain (~1 min), the end 200 (~5 min)
        # (EMA 0.99: with 0.999 the average still weighs the initial weights by 0.999^2000 = 14 % at the end)
        "small": dict(max_train=20_000, nf=64, num_layers=4, timesteps=500, batch_size=32, learning_rate=5e-4,
                      ema_decay=0.99, num_steps=2000, log_every=100, eval_every=500, checkpoint_every=500,
                      num_eval=256, eval_samples=32, num_samples=200, num_test=1000),
        # the paper's QM9 setting (README of the original: 3000 epochs of 100,000 molecules at batch 64); the dense
        # layout until the GPU comparison of the two is measured (RESULTS.md)
        "paper": dict(layout="dense", max_train=0, nf=256, num_layers=9, timesteps=1000, batch_size=64,
                      learning_rate=1e-4, ema_decay=0.9999, num_steps=4_690_000, log_every=1000, eval_every=100_000,
                      checkpoint_every=20_000, num_eval=2000, eval_samples=256, num_samples=10_000, num_test=13_083),
    }
    if preset not in presets:
        raise ValueError(f"unknown preset {preset!r} for edm; presets: {sorted(presets)}")
    p = presets[preset]
    c = ml_collections.ConfigDict()
    c.preset = preset
    c.dataset = "qm9"  # qm9 | a path to an .sdf or .xyz file of your own molecules (split 80 / 10 / 10)
    c.cache_dir = ""  # where the QM9 cache lives ("" = $JAXSCI_CACHE or ~/.cache/jaxsci)
    c.max_train = p["max_train"]  # 0 = the whole training split
    c.conditioning = ""  # "" (unconditional, all 100k) | a QM9 property: alpha | gap | homo | lumo | mu | Cv
    # the dynamics (EGNN), the paper's QM9 setting apart from the widths
    c.nf = p["nf"]
    c.num_layers = p["num_layers"]
    c.inv_sublayers = 1
    c.attention = True
    c.tanh = True
    c.coords_range = 15.0
    c.norm_constant = 1.0
    c.normalization_factor = 1.0
    # the EGNN's layout (same parameters, same numbers): "edges" (an edge list of the real pairs: a train step
    # 1.3-1.5x faster than dense on a CPU, RESULTS.md) | "dense" (masked (B, N, N) messages); edge_fraction: the edge list's budget
    # as a fraction of B * N * (N - 1), None = enough for random batches (jaxsci.edm.egnn.edge_fraction_for)
    c.layout = p.get("layout", "edges")
    c.edge_fraction = ml_collections.config_dict.placeholder(float)
    # the diffusion
    c.timesteps = p["timesteps"]
    c.noise_schedule = "polynomial_2"  # polynomial_<power> | cosine | learned (needs loss_type vlb)
    c.noise_precision = 1e-5
    c.loss_type = "l2"  # l2 (the paper's QM9 runs) | vlb
    c.norm_values = (1.0, 4.0, 10.0)
    c.include_charges = True
    # optimisation: AdamW (amsgrad, weight decay 1e-12), EDM's adaptive clipping, EMA
    c.batch_size = p["batch_size"]
    c.learning_rate = p["learning_rate"]
    c.weight_decay = 1e-12
    c.clip_grad = True  # clip at 1.5 mean + 2 std of the last 50 gradient norms
    c.ema_decay = p["ema_decay"]  # 0 = no EMA
    # evaluation
    c.num_eval = p["num_eval"]  # validation molecules for the in-training NLL
    # (t, noise) draws per molecule in the NLL estimates: 1 is the paper's (and the recorded runs'); more for a
    # steadier in-training NLL at ~2 network calls per molecule per draw
    c.nll_draws = p.get("nll_draws", 1)
    c.eval_samples = p["eval_samples"]  # molecules sampled at each evaluation for atom / molecule stability
    c.num_samples = p["num_samples"]  # molecules sampled at the end (stability, RDKit)
    c.sample_batch = 100  # molecules per sampling call at the end
    c.num_test = p["num_test"]  # test molecules for the final NLL
    c.classifier = ""  # conditional runs: workdir of a finished edm_property run for the same property (Table 3 MAE)
    c.fit = ml_collections.ConfigDict(dict(
        num_steps=p["num_steps"], seed=0, log_every=p["log_every"], eval_every=p["eval_every"],
        checkpoint_every=p["checkpoint_every"], keep_checkpoints=2, progress=True, check_finite=True,
        donate=True, plot=True,
    ))
    return c
