"""edm_property: the QM9 property predictor that evaluates EDM's conditional generation (an invariant EGNN).

Command: ``python -m train edm_property --config train/configs/edm_property.py:small --workdir runs/edm_prop_alpha``
(``--config.property=alpha|gap|homo|lumo|mu|Cv``). Trained on the *first* half of EDM's training split (the
conditional generator uses the second); then ``python -m train edm --config.conditioning=alpha
--config.classifier=runs/edm_prop_alpha`` reports the generator's MAE with it.
Runtime (2-core CPU): test ~20 s; small ~10 min; paper (nf 128, 7 layers, 1000 epochs) is for a GPU.
Metric: eval ``mae`` (property units) on ``num_eval`` validation molecules; at the end ``classifier.json``
(test MAE) and ``classifier.msgpack`` (the weights). Paper (Table 3, alpha): the classifier on the generator's half
(L-bound) 0.10 Bohr^3.
"""

import ml_collections


def get_config(preset: str = "small") -> ml_collections.ConfigDict:
    presets = {
        "test": dict(max_train=256, nf=16, num_layers=2, batch_size=16, num_steps=4, log_every=2, eval_every=4,
                     checkpoint_every=4, num_eval=32, num_test=32),
        "small": dict(max_train=0, nf=64, num_layers=4, batch_size=96, num_steps=3000, log_every=100, eval_every=1000,
                      checkpoint_every=1000, num_eval=2000, num_test=2000),
        # the original: nf 128, 7 layers, batch 96, 1000 epochs of 50,000 molecules
        "paper": dict(max_train=0, nf=128, num_layers=7, batch_size=96, num_steps=521_000, log_every=1000,
                      eval_every=20_000, checkpoint_every=20_000, num_eval=17_748, num_test=13_083),
    }
    if preset not in presets:
        raise ValueError(f"unknown preset {preset!r} for edm_property; presets: {sorted(presets)}")
    p = presets[preset]
    c = ml_collections.ConfigDict()
    c.preset = preset
    c.cache_dir = ""
    c.property = "alpha"  # alpha | gap | homo | lumo | mu | Cv (EDM's units: Bohr^3, eV, eV, eV, D, cal/mol/K)
    c.max_train = p["max_train"]  # 0 = the whole first half (50,000 molecules)
    c.nf = p["nf"]
    c.num_layers = p["num_layers"]
    c.charge_power = 2
    c.attention = True
    c.layout = "edges"  # edges | dense: the training's EGNN layout (the same function; edges is faster on a CPU)
    c.batch_size = p["batch_size"]
    c.learning_rate = 1e-3  # Adam, cosine-annealed to 0 over the run (the original anneals over its epochs)
    c.weight_decay = 1e-16
    c.num_eval = p["num_eval"]
    c.num_test = p["num_test"]
    c.fit = ml_collections.ConfigDict(dict(
        num_steps=p["num_steps"], seed=0, log_every=p["log_every"], eval_every=p["eval_every"],
        checkpoint_every=p["checkpoint_every"], keep_checkpoints=2, progress=True, check_finite=True,
        donate=True, plot=True,
    ))
    return c
