"""END experiment: train a neural decoder of the toric code on syndromes sampled inside the jitted step,
then measure accuracy-vs-p curves for it, MWPM (pymatching) and, for L <= 3, the exact ML decoder."""

from __future__ import annotations

import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxsci import end
from jaxsci.core import check_keys, gradient_step, init_train_state
from jaxsci.core.log import pyplot, save_figure
from jaxsci.end import baselines, metrics, symmetry, toric

SYMMETRIZE = {"none": (), "point_group": symmetry.POINT_GROUP, "all": symmetry.ELEMENTS}

CONFIG_KEYS = (
    "preset", "L", "noise", "measurement_error", "p_train", "head", "channels", "kernel_sizes", "dtype", "batch_size",
    "learning_rate", "weight_decay", "p_eval", "num_eval", "p_test", "num_test", "num_test_ml", "symmetrize", "num_test_sym", "fit",
)
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}
EVAL_CHUNK = 2048  # syndromes decoded at once by the in-training evaluation


def make_model(config) -> end.Decoder:
    if config.dtype not in DTYPES:
        raise ValueError(f"unknown dtype {config.dtype!r}; choose from {sorted(DTYPES)}")
    if config.head not in end.HEADS:
        raise ValueError(f"unknown head {config.head!r}; choose from {end.HEADS}")
    return end.Decoder(head=config.head, channels=tuple(config.channels), kernel_sizes=tuple(config.kernel_sizes),
                       dtype=None if config.dtype == "float32" else DTYPES[config.dtype])


def make_problem(config):
    check_keys(config, CONFIG_KEYS, "end config")
    toric.check_distance(config.L)
    if config.noise not in toric.NOISE_MODELS:
        raise ValueError(f"unknown noise {config.noise!r}; choose from {toric.NOISE_MODELS}")
    if config.symmetrize not in SYMMETRIZE:
        raise ValueError(f"unknown symmetrize {config.symmetrize!r}; choose from {sorted(SYMMETRIZE)}")
    lo, hi = config.p_train
    if not 0 < lo <= hi < 1:
        raise ValueError(f"p_train must satisfy 0 < low <= high < 1, got {config.p_train}")
    L, seed = config.L, config.fit.seed
    model = make_model(config)
    params = model.init(jax.random.key(seed), jnp.zeros((1, L, L, 2), bool))["params"]
    schedule = optax.warmup_cosine_decay_schedule(0.0, config.learning_rate, max(1, config.fit.num_steps // 10),
                                                  max(2, config.fit.num_steps))
    optimizer = optax.adamw(schedule, weight_decay=config.weight_decay)
    state = init_train_state(params, optimizer)
    step = gradient_step(end.make_loss(model, L, config.noise, config.measurement_error), optimizer, clip_norm=1.0)

    def data(i):
        rng = np.random.default_rng([seed, 7, i])
        return {"p": rng.uniform(lo, hi, config.batch_size).astype(np.float32)}

    p_eval = tuple(float(p) for p in config.p_eval)
    num_eval = config.num_eval

    def evaluate(state, key):
        out = {}
        for k, p in enumerate(p_eval):
            s, labels = toric.sample_batch(jax.random.fold_in(key, k), L, p, num_eval, config.noise, config.measurement_error)
            # decoded EVAL_CHUNK syndromes at a time: one batch of 16384 at L 8 with the paper trunk took 13.8 GB on a CPU
            decoded = jax.lax.map(lambda x: end.decode(model, state.params, x[None])[0], s, batch_size=min(EVAL_CHUNK, num_eval))
            out[f"acc_p{p:.2f}"] = jnp.mean(decoded == labels)
        return out

    def plot(state, path):
        return test_curves(config, model, state.params, os.path.dirname(path))

    return step, state, data, evaluate, plot


def test_curves(config, model, params, workdir: str, *, chunk: int = 20_000) -> str:
    """Accuracy of the trained decoder and MWPM on the same ``num_test`` syndromes per rate of
    ``config.p_test``, and (L <= the ML limit, no measurement noise) of the exact ML decoder on the first
    ``num_test_ml`` of them, with the network's and MWPM's accuracy on that same subset beside it (a paired
    gap); writes ``curves.json`` and ``curves.png``, returns the png."""
    L, noise, q = config.L, config.noise, config.measurement_error
    # the weights are arguments of the jitted decoders, not compiled-in constants
    decode = jax.jit(lambda prm, s: end.decode(model, prm, s))
    with_ml = q == 0 and L <= baselines.ml_max_distance(noise) and config.num_test_ml > 0
    elements = SYMMETRIZE[config.symmetrize]
    if elements and noise != "depolarizing":
        elements = tuple(w for w in elements if "dual" not in w)  # duality is a symmetry of depolarising noise only
    decode_sym = jax.jit(lambda prm, s: jnp.argmax(
        symmetry.symmetrize(lambda x: model.apply({"params": prm}, x), s, elements=elements), -1))
    num_ml = config.num_test_ml if with_ml else 0
    num_sym = config.num_test_sym if elements else 0
    rows = []
    key = jax.random.key(10_000 + config.fit.seed)
    for k, p in enumerate(config.p_test):
        # per-syndrome correctness; ML and the symmetrised decoder only on the first num_ml / num_sym
        right = {"end": [], "mwpm": [], "ml": [], "end_sym": []}
        done = lambda name: sum(len(r) for r in right[name])  # noqa: E731
        t_net = t_mwpm = 0.0
        for c in range(-(-config.num_test // chunk)):
            n = min(chunk, config.num_test - c * chunk)
            s, labels = toric.sample_batch(jax.random.fold_in(jax.random.fold_in(key, k), c), L, p, n, noise, q)
            s_np, labels = np.asarray(s), np.asarray(labels)
            t0 = time.perf_counter()
            right["end"].append(np.asarray(decode(params, s)) == labels)
            t_net += time.perf_counter() - t0
            t0 = time.perf_counter()
            right["mwpm"].append(baselines.mwpm_decode(s_np) == labels)
            t_mwpm += time.perf_counter() - t0
            m = min(n, num_ml - done("ml"))
            if m > 0:
                right["ml"].append(baselines.ml_decode(s_np[:m], p, noise) == labels[:m])
            m = min(n, num_sym - done("end_sym"))
            for lo in range(0, max(m, 0), 1024):  # the orbit multiplies the batch by up to 16
                hi = min(m, lo + 1024)
                right["end_sym"].append(np.asarray(decode_sym(params, s[lo:hi])) == labels[lo:hi])
        right = {name: np.concatenate(r) if r else np.zeros(0, bool) for name, r in right.items()}
        interval = lambda r: dict(zip(("acc", "low", "high"), metrics.accuracy_interval(int(r.sum()), r.size)))  # noqa: E731
        row = {"p": float(p), "num": right["end"].size, "end": interval(right["end"]), "mwpm": interval(right["mwpm"])}
        if right["ml"].size:
            m = right["ml"].size
            row["ml"] = {**interval(right["ml"]), "num": m, "end_same_syndromes": float(right["end"][:m].mean()),
                         "mwpm_same_syndromes": float(right["mwpm"][:m].mean())}
        if right["end_sym"].size:
            m = right["end_sym"].size
            row["end_sym"] = {**interval(right["end_sym"]), "num": m, "elements": len(elements),
                              "end_same_syndromes": float(right["end"][:m].mean())}
        row["seconds"] = {"net": t_net, "mwpm": t_mwpm}
        rows.append(row)
        print(f"[end] L {L} p {p:.3f}: {config.head} {row['end']['acc']:.4f}  mwpm {row['mwpm']['acc']:.4f}"
              + (f"  ml {row['ml']['acc']:.4f}" if "ml" in row else "")
              + (f"  symmetrised {row['end_sym']['acc']:.4f} (plain {row['end_sym']['end_same_syndromes']:.4f} on those)"
                 if "end_sym" in row else ""))
    with open(os.path.join(workdir, "curves.json"), "w") as f:
        json.dump({"L": L, "noise": noise, "head": config.head, "rows": rows}, f, indent=1)
    return plot_curves(rows, os.path.join(workdir, "curves.png"), title=f"L = {L}, {noise}", label=config.head)


def plot_curves(rows, path: str, *, title: str = "", label: str = "end") -> str:
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(5, 3.6))
    p = [r["p"] for r in rows]
    names = {"end": "CNN" if label == "fc" else "mean-pooled CNN" if label == "mean" else "END", "mwpm": "MWPM", "ml": "exact ML"}
    for key, style in (("end", "o-"), ("mwpm", "s--"), ("ml", "k:")):
        if key not in rows[0]:
            continue
        acc = np.array([r[key]["acc"] for r in rows])
        err = np.array([[r[key]["acc"] - r[key]["low"] for r in rows], [r[key]["high"] - r[key]["acc"] for r in rows]])
        ax.errorbar(p, acc, yerr=err, fmt=style, ms=3, capsize=2, label=names[key])
    ax.set_xlabel("depolarising rate p")
    ax.set_ylabel("logical accuracy")
    ax.set_title(title)
    ax.legend()
    return save_figure(fig, path, dpi=120)


def train_and_evaluate(config, workdir, resume: bool = False) -> dict:
    from train import fit_and_plot

    return fit_and_plot("end", config, workdir, make_problem(config), resume)
