"""The property predictor of EDM's conditional evaluation: an invariant EGNN regressor on the first half of EDM's QM9
training split, trained through the shared loop; writes ``classifier.json`` (settings, normalisation, test MAE) and
``classifier.msgpack`` (weights), which ``train/edm.py`` loads with ``--config.classifier=<workdir>``."""

from __future__ import annotations

import json
import os

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxsci.core import check_keys, gradient_step, init_train_state
from jaxsci.core.data import ArrayLoader, map_chunks
from jaxsci.edm import data as qm9
from jaxsci.edm import egnn as edm_egnn
from jaxsci.edm import predictor as prop

CONFIG_KEYS = ("preset", "cache_dir", "property", "max_train", "nf", "num_layers", "charge_power", "attention",
               "layout", "batch_size", "learning_rate", "weight_decay", "num_eval", "num_test", "fit")


def model_from(settings: dict, layout: str = "dense", edge_fraction: float = 1.0) -> prop.PropertyEGNN:
    """The classifier of ``settings``; the layout changes the speed, not the function (dense fits any batch)."""
    return prop.PropertyEGNN(nf=settings["nf"], num_layers=settings["num_layers"], charge_power=settings["charge_power"],
                             attention=settings["attention"], layout=layout, edge_fraction=edge_fraction)


def arrays(mols: qm9.Molecules, name: str) -> dict[str, np.ndarray]:
    """The EDM batch of ``mols`` (:func:`train.edm.as_arrays`) with the property ``name`` as ``target``."""
    from train.edm import as_arrays

    return {**as_arrays(mols), "target": mols.properties[name].astype(np.float32)}


def make_problem(config):
    check_keys(config, CONFIG_KEYS, "edm_property config")
    if config.property not in qm9.QM9_PROPERTIES:
        raise ValueError(f"unknown property {config.property!r}; choose from {qm9.QM9_PROPERTIES}")
    edm_egnn.check_layout(config.layout)
    cache = config.cache_dir or None
    train = qm9.load_qm9(cache, split="train_first_half")
    if config.max_train:
        train = train.take(np.arange(min(config.max_train, len(train))))
    valid = qm9.load_qm9(cache, split="valid")
    valid = valid.take(np.arange(min(config.num_eval, len(valid))))
    y = train.properties[config.property]
    mean, mad = float(y.mean()), float(np.mean(np.abs(y - y.mean())))
    settings = {k: config[k] for k in ("property", "nf", "num_layers", "charge_power", "attention")}
    settings.update(mean=mean, mad=mad)
    # training and validation batches in config.layout (its budget covers random batches); the test set in dense
    fraction = edm_egnn.edge_fraction_for(train.num_atoms, min(config.batch_size, len(valid)))
    model = model_from(settings, config.layout, fraction)
    train_arrays = arrays(train, config.property)
    params = model.init(jax.random.key(config.fit.seed), *(jnp.asarray(train_arrays[k][:1]) for k in
                                                           ("positions", "one_hot", "charges", "mask")))["params"]
    schedule = optax.cosine_decay_schedule(config.learning_rate, max(1, config.fit.num_steps))
    optimizer = optax.adamw(schedule, weight_decay=config.weight_decay)
    state = init_train_state(params, optimizer)
    step = gradient_step(lambda p, b, k: prop.l1_loss(model, p, b, mean, mad), optimizer)

    def evaluate(state, key, eval_data):
        return {"mae": jnp.mean(jnp.abs(prop.predict(model, state.params, eval_data, mean, mad) - eval_data["target"]))}

    def plot(state, path):
        return finish(config, model_from(settings), settings, state.params, os.path.dirname(path))

    return step, state, ArrayLoader(train_arrays, config.batch_size, seed=config.fit.seed), evaluate, plot, arrays(valid, config.property)


def finish(config, model, settings, params, workdir: str) -> str:
    """Test MAE; ``classifier.json`` and ``classifier.msgpack``."""
    test = qm9.load_qm9(config.cache_dir or None, split="test")
    test = arrays(test.take(np.arange(min(config.num_test, len(test)))), config.property)
    fn = jax.jit(lambda p, b: prop.predict(model, p, b, settings["mean"], settings["mad"]))
    pred = map_chunks(lambda chunk: fn(params, chunk), test, 500)
    settings = dict(settings, test_mae=float(np.mean(np.abs(pred - test["target"]))), num_test=int(len(pred)))
    print(f"[edm_property] {config.property}: test MAE {settings['test_mae']:.4g} on {len(pred)} molecules")
    with open(os.path.join(workdir, "classifier.msgpack"), "wb") as f:
        f.write(flax.serialization.to_bytes(jax.device_get(params)))
    path = os.path.join(workdir, "classifier.json")
    with open(path, "w") as f:
        json.dump(settings, f, indent=1)
    return path


def load_classifier(workdir: str):
    """``(model, params, settings)`` of a finished ``edm_property`` run; a clear error if it is missing."""
    meta, weights = os.path.join(workdir, "classifier.json"), os.path.join(workdir, "classifier.msgpack")
    for path in (meta, weights):
        if not os.path.exists(path):
            raise FileNotFoundError(f"no property classifier at {path}: train one with python -m train edm_property "
                                    f"--workdir {workdir}")
    with open(meta) as f:
        settings = json.load(f)
    model = model_from(settings)
    dummy = (jnp.zeros((1, 2, 3)), jnp.zeros((1, 2, len(qm9.QM9_ATOMS))), jnp.zeros((1, 2)), jnp.ones((1, 2)))
    template = model.init(jax.random.key(0), *dummy)["params"]
    with open(weights, "rb") as f:
        params = flax.serialization.from_bytes(template, f.read())
    return model, params, settings


def train_and_evaluate(config, workdir, resume: bool = False) -> dict:
    import train

    return train.fit_and_plot("edm_property", config, workdir, make_problem(config), resume=resume)
