"""EDM experiment: train the equivariant diffusion on QM9 (EDM's split, from the ``qm9pack`` wheel) through the
shared loop with EMA and EDM's adaptive gradient clipping; evaluate the NLL on validation molecules and the
stability of sampled ones during training; at the end sample ``num_samples`` molecules and report stability,
RDKit validity / uniqueness / novelty and the test NLL (``results.json``, ``samples.png``)."""

from __future__ import annotations

import itertools
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxsci import edm
from jaxsci.core import check_keys, clip_by_recent_norms, gradient_step, init_train_state
from jaxsci.core.data import ArrayLoader, map_chunks
from jaxsci.core.log import pyplot, save_figure
from jaxsci.edm import data as qm9
from jaxsci.edm import metrics

CONFIG_KEYS = (
    "preset", "dataset", "cache_dir", "max_train", "conditioning", "nf", "num_layers", "inv_sublayers", "attention", "tanh",
    "coords_range", "norm_constant", "normalization_factor", "layout", "edge_fraction", "timesteps", "noise_schedule",
    "noise_precision", "loss_type", "norm_values", "include_charges", "batch_size", "learning_rate", "weight_decay",
    "clip_grad", "ema_decay", "num_eval", "nll_draws", "eval_samples", "num_samples", "sample_batch", "num_test",
    "classifier", "fit",
)


def make_model(config, atoms=qm9.QM9_ATOMS, edge_fraction: float | None = None) -> edm.EDM:
    """The model of ``config``; ``edge_fraction`` (layout "edges"): the budget when ``config.edge_fraction`` is None."""
    frac = config.edge_fraction if config.edge_fraction is not None else (edge_fraction or 1.0)
    edm.egnn.check_layout(config.layout, frac)
    cfg = edm.EDMConfig(num_classes=len(atoms), include_charges=config.include_charges,
                        timesteps=config.timesteps, noise_schedule=config.noise_schedule,
                        noise_precision=config.noise_precision, loss_type=config.loss_type,
                        norm_values=tuple(float(v) for v in config.norm_values))
    dynamics = edm.EGNNDynamics(nf=config.nf, num_layers=config.num_layers, inv_sublayers=config.inv_sublayers,
                                normalization_factor=config.normalization_factor, attention=config.attention,
                                tanh=config.tanh, coords_range=config.coords_range, norm_constant=config.norm_constant,
                                layout=config.layout, edge_fraction=frac)
    return edm.EDM(cfg, dynamics)


def as_arrays(mols: qm9.Molecules, context: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The dense batch :mod:`jaxsci.edm.diffusion` reads: positions, one_hot, charges, mask (+ context)."""
    out = {"positions": mols.positions, "one_hot": mols.one_hot(np.float32),
           "charges": mols.charges.astype(np.float32), "mask": mols.mask.astype(np.float32)}
    if context is not None:
        out["context"] = context.astype(np.float32)
    return out


def load_data(config):
    """``(train, valid, test)`` Molecules: QM9 with EDM's split (its second half when conditioning), or the molecules
    of an SDF / XYZ file (``dataset=<path>``), shuffled (``fit.seed``) and split 80 / 10 / 10."""
    if config.dataset != "qm9":
        return _file_splits(config)
    if config.conditioning and config.conditioning not in qm9.QM9_PROPERTIES:
        raise ValueError(f"unknown conditioning property {config.conditioning!r}; choose from {qm9.QM9_PROPERTIES}")
    cache = config.cache_dir or None
    train = qm9.load_qm9(cache, split="train_second_half" if config.conditioning else "train")
    if config.max_train:
        train = train.take(np.arange(min(config.max_train, len(train))))
    valid, test = qm9.load_qm9(cache, split="valid"), qm9.load_qm9(cache, split="test")
    return train, valid.take(np.arange(min(config.num_eval, len(valid)))), test.take(np.arange(min(config.num_test, len(test))))


def _file_splits(config):
    path = config.dataset
    if config.conditioning:
        raise ValueError("conditioning needs QM9's properties: set dataset='qm9'")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"dataset {path!r} is neither 'qm9' nor a file")
    ext = os.path.splitext(path)[1].lower()
    readers = {".sdf": qm9.read_sdf, ".xyz": qm9.read_xyz}
    if ext not in readers:
        raise ValueError(f"dataset {path!r}: unknown format {ext!r}; an .sdf or .xyz file, or 'qm9'")
    mols = qm9.molecules_from(readers[ext](path))
    if len(mols) < 3:
        raise ValueError(f"dataset {path!r} holds {len(mols)} molecules; at least 3 are needed (train / valid / test)")
    order = np.random.default_rng(config.fit.seed).permutation(len(mols))
    n_held = max(1, len(mols) // 10)
    test, valid, train = order[:n_held], order[n_held:2 * n_held], order[2 * n_held:]
    if config.max_train:
        train = train[:config.max_train]
    return (mols.take(train), mols.take(valid[:config.num_eval]), mols.take(test[:config.num_test]))


def _has_stability_tables(atoms) -> bool:
    """Whether the bond-length tables and valences cover every pair of ``atoms`` (else no stability metric)."""
    try:
        metrics.stability(np.zeros((1, 1, 3)), np.zeros((1, 1), int), np.ones((1, 1), bool), atoms)
    except ValueError:
        return False
    return True


def property_norms(train: qm9.Molecules, name: str) -> tuple[float, float]:
    """EDM's normalisation of a conditioning property: mean and mean absolute deviation on the training set."""
    v = train.properties[name]
    return float(v.mean()), float(np.mean(np.abs(v - v.mean())))


def make_problem(config):
    check_keys(config, CONFIG_KEYS, "edm config")
    if min(config.batch_size, config.eval_samples, config.num_eval, config.nll_draws) < 1:
        raise ValueError("batch_size, eval_samples, num_eval and nll_draws must be >= 1")
    make_model(config)  # refuses bad diffusion settings before loading data
    if config.classifier:
        if not config.conditioning:
            raise ValueError("classifier is for the conditional model: set conditioning too")
        from train.edm_property import load_classifier

        if load_classifier(config.classifier)[2]["property"] != config.conditioning:
            raise ValueError(f"the classifier at {config.classifier} predicts another property than {config.conditioning!r}")
    train, valid, test = load_data(config)
    atoms = train.atoms
    # the edge list's budget: enough for random batches of the smallest batch the run evaluates
    smallest = min(config.batch_size, len(valid), config.eval_samples, config.sample_batch)
    model = make_model(config, atoms, edm.egnn.edge_fraction_for(train.num_atoms, smallest))
    with_stability = _has_stability_tables(atoms)
    histogram = qm9.atom_histogram(train)
    ctx = None
    if config.conditioning:
        mean, mad = property_norms(train, config.conditioning)
        ctx = lambda m: ((m.properties[config.conditioning] - mean) / mad)[:, None]  # noqa: E731
    arrays = as_arrays(train, None if ctx is None else ctx(train))
    eval_arrays = as_arrays(valid, None if ctx is None else ctx(valid))
    # molecules to sample at evaluation: (num_atoms, context) pairs of training molecules (the joint distribution)
    rng = np.random.default_rng(config.fit.seed)
    pick = rng.choice(len(train), config.eval_samples, replace=len(train) < config.eval_samples)
    pick = pick[np.argsort(-train.num_atoms[pick])]  # largest first (the order the recorded runs used)
    eval_arrays["sample_mask"] = _left_align(train.mask[pick])
    if ctx is not None:
        eval_arrays["sample_context"] = arrays["context"][pick]

    params = edm.init(jax.random.key(config.fit.seed), model, jax.tree.map(lambda a: a[:1], arrays))
    parts = [clip_by_recent_norms()] if config.clip_grad else []
    optimizer = optax.chain(*parts, optax.scale_by_amsgrad(), optax.add_decayed_weights(config.weight_decay),
                            optax.scale(-config.learning_rate))
    ema = config.ema_decay > 0
    state = init_train_state(params, optimizer, ema=ema)
    step = gradient_step(lambda p, b, k: edm.loss(model, p, b, k), optimizer, ema_decay=config.ema_decay if ema else None)
    loader = ArrayLoader(arrays, config.batch_size, seed=config.fit.seed)
    log_pN = lambda mask: edm.log_p_num_atoms(histogram, jnp.sum(mask, 1).astype(jnp.int32))  # noqa: E731

    def evaluate(state, key, eval_data):
        params = state.ema_params if ema else state.params
        k_nll, k_sample = jax.random.split(key)
        batch = {k: v for k, v in eval_data.items() if not k.startswith("sample_")}
        nll = edm.nll_estimate(model, params, batch, k_nll, log_pN(batch["mask"]), num_draws=config.nll_draws)
        out = {"nll": jnp.mean(nll)}
        if with_stability:
            x, types, _ = edm.sample(model, params, k_sample, eval_data["sample_mask"], eval_data.get("sample_context"))
            out.update(metrics.stability_jax(x, types, eval_data["sample_mask"] > 0, atoms))
        return out

    def plot(state, path):
        return final_evaluation(config, model, state, train, test, histogram, os.path.dirname(path), ctx)

    return step, state, loader, evaluate, plot, eval_arrays


def _left_align(mask: np.ndarray) -> np.ndarray:
    """Masks with the real atoms first (as sampling expects): row i keeps its count of atoms."""
    n = mask.sum(1).astype(int)
    return (np.arange(mask.shape[1])[None] < n[:, None]).astype(np.float32)


def final_evaluation(config, model, state, train, test, histogram, workdir: str, ctx) -> str:
    """Sample ``num_samples`` molecules (atom counts, and contexts, from the training set), measure stability and
    RDKit validity / uniqueness / novelty, and the NLL of ``num_test`` test molecules; ``results.json``,
    ``samples.npz``, ``samples.png``."""
    params = state.ema_params if state.ema_params is not None else state.params
    params = jax.device_get(params)
    test_arrays = as_arrays(test, None if ctx is None else ctx(test))
    nll_fn = jax.jit(lambda p, b, k: edm.nll_estimate(model, p, b, k, edm.log_p_num_atoms(
        histogram, jnp.sum(b["mask"], 1).astype(jnp.int32)), num_draws=config.nll_draws))
    chunk_index = itertools.count()  # chunk i draws its t and noise from key 10_000 + i
    nll = float(np.mean(map_chunks(lambda b: nll_fn(params, b, jax.random.key(10_000 + next(chunk_index))),
                                   test_arrays, config.sample_batch)))

    sample_fn = jax.jit(lambda p, k, m, c: edm.sample(model, p, k, m, c))
    rng = np.random.default_rng(config.fit.seed + 1)
    xs, ts, masks, targets = [], [], [], []
    t0 = time.perf_counter()
    for i in range(-(-config.num_samples // config.sample_batch)):
        pick = rng.choice(len(train), config.sample_batch)
        mask = _left_align(train.mask[pick])
        context = None if ctx is None else jnp.asarray(ctx(train.take(pick)), jnp.float32)
        if ctx is not None:
            targets.append(train.properties[config.conditioning][pick])
        x, types, _ = sample_fn(params, jax.random.key(20_000 + i), jnp.asarray(mask), context)
        xs.append(np.asarray(x))
        ts.append(np.asarray(types))
        masks.append(mask > 0)
    seconds = time.perf_counter() - t0
    x, types, mask = (np.concatenate(v)[: config.num_samples] for v in (xs, ts, masks))
    targets = np.concatenate(targets)[: config.num_samples] if targets else None
    atoms = train.atoms
    results = {"num_samples": int(len(x)), "num_train": len(train), "num_test": len(test), "sampling_seconds": seconds,
               "test_nll": nll, "atoms": list(atoms)}
    stable = np.zeros(len(x), bool)
    if _has_stability_tables(atoms):
        stab = metrics.stability(x, np.where(mask, types, 0), mask, atoms)
        stable = stab["mol_stable_per_mol"]
        train_smiles = {s for s in metrics.smiles_list(train.positions, np.where(train.mask, train.atom_types, 0),
                                                       train.mask, atoms) if s is not None}
        chem = metrics.rdkit_metrics(x, np.where(mask, types, 0), mask, atoms, train_smiles=train_smiles)
        results.update(atom_stable=stab["atom_stable"], mol_stable=stab["mol_stable"],
                       **{k: chem[k] for k in ("validity", "uniqueness", "novelty", "valid_and_unique")})
    if config.dataset == "qm9":
        results["paper_qm9"] = {"nll": -110.7, "atom_stable": 0.987, "mol_stable": 0.820, "validity": 0.919,
                                "valid_and_unique": 0.907}
    if config.classifier:
        results["property"] = conditional_mae(config, train, x, types, mask, targets)
    print("[edm] " + "  ".join(f"{k}={v:.4g}" for k, v in results.items() if isinstance(v, float)))
    with open(os.path.join(workdir, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    np.savez_compressed(os.path.join(workdir, "samples.npz"), positions=x, atom_types=types, mask=mask)
    return plot_molecules(x, types, mask, stable, atoms, os.path.join(workdir, "samples.png"))


def conditional_mae(config, train, x, types, mask, targets) -> dict:
    """EDM's Table 3 for one property: the classifier's MAE on the generated molecules against the property they were
    conditioned on ("EDM"), on the generator's own training molecules ("L-bound") and on those with the property
    shuffled ("U-bound"), in the property's units."""
    from train.edm_property import arrays, load_classifier

    model, params, s = load_classifier(config.classifier)
    fn = jax.jit(lambda p, b: edm.predictor.predict(model, p, b, s["mean"], s["mad"]))

    def predict(b):
        return map_chunks(lambda chunk: fn(params, chunk), b, 500)

    generated = as_arrays(qm9.Molecules(x, np.where(mask, types, -1), mask, qm9.QM9_ATOMS))  # conditioning is QM9 only
    real = arrays(train.take(np.arange(min(len(train), config.num_test))), config.conditioning)
    pred_real = predict(real)
    shuffled = np.random.default_rng(0).permutation(real["target"])
    return {"name": config.conditioning, "edm_mae": float(np.mean(np.abs(predict(generated) - targets))),
            "l_bound_mae": float(np.mean(np.abs(pred_real - real["target"]))),
            "u_bound_mae": float(np.mean(np.abs(pred_real - shuffled))), "classifier_test_mae": s["test_mae"]}


COLORS = {"H": "0.85", "C": "0.2", "N": "tab:blue", "O": "tab:red", "F": "tab:green"}


def plot_molecules(x, types, mask, stable, atoms, path: str, num: int = 12) -> str:
    """A grid of sampled molecules in 3D: atoms coloured by element, bonds from the distance tables."""
    plt = pyplot()
    num = min(num, len(x))
    cols = min(4, num)
    rows = -(-num // cols)
    fig = plt.figure(figsize=(3 * cols, 3 * rows))
    orders = metrics.bond_orders(x[:num], np.where(mask[:num], types[:num], 0), mask[:num], atoms, check_exists=True)
    for i in range(num):
        ax = fig.add_subplot(rows, cols, i + 1, projection="3d")
        m = mask[i]
        p, t = x[i][m], types[i][m]
        for a, b in zip(*np.nonzero(np.triu(orders[i][np.ix_(m, m)]))):
            ax.plot(*p[[a, b]].T, color="0.5", lw=1 + orders[i][np.ix_(m, m)][a, b])
        ax.scatter(*p.T, c=[COLORS.get(atoms[k], "tab:purple") for k in t], s=[30 if atoms[k] == "H" else 80 for k in t],
                   depthshade=False,
                   edgecolors="k", linewidths=0.3)
        ax.set_title(("stable" if stable[i] else "unstable") + f", {m.sum()} atoms", fontsize=8)
        ax.set_axis_off()
    return save_figure(fig, path)


def train_and_evaluate(config, workdir, resume: bool = False) -> dict:
    import train

    return train.fit_and_plot("edm", config, workdir, make_problem(config), resume=resume)
