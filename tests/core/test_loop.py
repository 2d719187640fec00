"""The shared loop: devices, resumption, compilation, logging, and refusal of bad input."""

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.core import (
    ArrayLoader,
    Checkpointer,
    ConfigError,
    NonFiniteError,
    fit,
    make_mesh,
    read_metrics,
    to_host,
)
from tests.core.problem import data, problem

QUIET = dict(progress=False, plot=False)


def _host(state):
    return to_host(state)


@pytest.mark.parametrize("num_steps", [1, 5])
def test_eight_devices_equal_one(num_steps):
    assert jax.device_count() == 8
    step, state = problem()
    loader = data()
    cfg = dict(num_steps=num_steps, **QUIET)
    one = fit(step, state, loader, cfg, mesh=make_mesh(jax.devices()[:1])).state
    eight = fit(step, state, loader, cfg, mesh=make_mesh(jax.devices())).state
    assert one.params["w"].sharding.mesh.size == 1 and eight.params["w"].sharding.mesh.size == 8
    chex.assert_trees_all_close(_host(one), _host(eight), atol=1e-5, rtol=1e-5)
    # and the run really trained: the loss-reducing update moved the weights
    assert np.abs(_host(eight).params["w"]).sum() > 0


def test_state_is_replicated_and_caller_arrays_survive_donation():
    step, state = problem()
    result = fit(step, state, data(), dict(num_steps=3, **QUIET))
    assert result.state.params["w"].sharding.is_fully_replicated
    np.testing.assert_array_equal(np.asarray(state.params["w"]), 0.0)  # not deleted by donation


def test_resume_equals_uninterrupted(tmp_path):
    k = 6
    step, state = problem()
    loader = data()
    cfg = dict(num_steps=2 * k, log_every=1, checkpoint_every=k, **QUIET)
    full = fit(step, state, loader, cfg, workdir=tmp_path / "full").state

    with pytest.raises(KeyboardInterrupt):
        def interrupted(i):  # the process dies while loading the batch after step k+2
            if i == k + 2:
                raise KeyboardInterrupt
            return loader(i)

        fit(step, state, interrupted, cfg, workdir=tmp_path / "resumed")
    assert Checkpointer(tmp_path / "resumed" / "checkpoints").latest_step() == k
    resumed = fit(step, state, loader, cfg, workdir=tmp_path / "resumed", resume=True).state

    chex.assert_trees_all_close(_host(full.params), _host(resumed.params), atol=1e-6, rtol=1e-6)
    chex.assert_trees_all_close(_host(full.opt_state), _host(resumed.opt_state), atol=1e-6, rtol=1e-6)
    chex.assert_trees_all_close(_host(full.ema_params), _host(resumed.ema_params), atol=1e-6, rtol=1e-6)
    # the data stream resumed where it stopped: same batch at every step, no record after k kept twice
    first = [(r["step"], r["first_idx"]) for r in read_metrics(tmp_path / "full", "train")]
    again = [(r["step"], r["first_idx"]) for r in read_metrics(tmp_path / "resumed", "train")]
    assert first == again and len(first) == 2 * k


def test_step_compiles_once():
    traces = []
    base, state = problem()

    def step(state, batch, key):
        traces.append(1)  # runs only while tracing
        return base(state, batch, key)

    fit(step, state, data(), dict(num_steps=7, log_every=2, **QUIET))
    assert len(traces) == 1


def test_logging_eval_and_summary(tmp_path):
    step, state = problem()
    calls = []

    def evaluate(state, key):
        calls.append(1)
        return {"w_err": jnp.linalg.norm(state.params["w"] - jnp.array([1.0, -2.0, 3.0, 0.5]))}

    result = fit(step, state, data(), dict(num_steps=40, log_every=10, eval_every=20, progress=False), workdir=tmp_path, evaluate=evaluate)
    train = read_metrics(tmp_path, "train")
    evals = read_metrics(tmp_path, "eval")
    assert [r["step"] for r in train] == [10, 20, 30, 40]
    assert [r["step"] for r in evals] == [20, 40]
    assert len(calls) == 1  # evaluate is jitted: traced once
    assert train[-1]["loss"] < train[0]["loss"]
    assert evals[-1]["w_err"] < evals[0]["w_err"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["step"] == 40 and summary["eval"]["w_err"] == pytest.approx(evals[-1]["w_err"])
    assert result.summary["checkpoint"] == 40
    assert (tmp_path / "metrics.png").stat().st_size > 1000


def _eval_set(n=40):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return {"x": x, "y": x @ np.array([1.0, -2.0, 3.0, 0.5], np.float32)}


def _eval_metrics(state, key, d):
    pred = d["x"] @ state.params["w"] + state.params["b"]
    noise = jax.random.normal(key, ())  # the eval key still reaches evaluate
    return {"mse": jnp.mean((pred - d["y"]) ** 2), "noisy": jnp.mean(pred) + noise}


def test_eval_data_is_a_jit_argument_traced_once_and_equals_closure(tmp_path):
    step, state = problem()
    valid = _eval_set()
    seen = []

    def evaluate(state, key, d):
        seen.append(jax.tree.map(lambda x: (type(x), x.shape), d))
        return _eval_metrics(state, key, d)

    def closure(state, key):
        return _eval_metrics(state, key, valid)

    cfg = dict(num_steps=6, log_every=2, eval_every=2, **QUIET)
    fit(step, state, data(), cfg, workdir=tmp_path / "arg", evaluate=evaluate, eval_data=valid)
    fit(step, state, data(), cfg, workdir=tmp_path / "closure", evaluate=closure)
    assert len(seen) == 1  # one trace (hence one compile) for the three evaluations
    assert all(issubclass(t, jax.core.Tracer) and shape == valid[k].shape for k, (t, shape) in seen[0].items())
    arg, ref = read_metrics(tmp_path / "arg", "eval"), read_metrics(tmp_path / "closure", "eval")
    assert [r["step"] for r in arg] == [2, 4, 6]
    for a, r in zip(arg, ref):
        assert a["mse"] == pytest.approx(r["mse"], rel=1e-6) and a["noisy"] == pytest.approx(r["noisy"], rel=1e-6)


def test_eval_data_eight_devices_equal_one():
    step, state = problem()
    valid = _eval_set()
    cfg = dict(num_steps=3, **QUIET)
    out = [
        fit(step, state, data(), cfg, evaluate=_eval_metrics, eval_data=valid, mesh=make_mesh(devices)).summary["eval"]
        for devices in (jax.devices()[:1], jax.devices())
    ]
    assert out[0]["mse"] == pytest.approx(out[1]["mse"], rel=1e-5)
    assert out[0]["noisy"] == pytest.approx(out[1]["noisy"], rel=1e-5)


def test_eval_data_without_evaluate_is_refused():
    step, state = problem()
    with pytest.raises(ValueError, match="eval_data"):
        fit(step, state, data(), dict(num_steps=1, **QUIET), eval_data=_eval_set())


def test_keeps_last_checkpoints(tmp_path):
    step, state = problem()
    fit(step, state, data(), dict(num_steps=10, checkpoint_every=2, keep_checkpoints=2, **QUIET), workdir=tmp_path)
    assert Checkpointer(tmp_path / "checkpoints").all_steps() == [8, 10]


def test_unknown_config_key_names_valid_keys():
    step, state = problem()
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['num_step'\].*num_steps"):
        fit(step, state, data(), dict(num_step=3))


def test_indivisible_batch_is_refused_before_work():
    step, state = problem()
    traces = []

    def counting(state, batch, key):
        traces.append(1)
        return step(state, batch, key)

    with pytest.raises(ValueError, match="global batch size 12 does not divide by the 8 devices"):
        fit(counting, state, data(batch_size=12), dict(num_steps=3, **QUIET))
    assert not traces


def test_mismatched_batch_leaves_are_refused():
    step, state = problem()
    bad = lambda i: {"x": np.zeros((16, 4), np.float32), "y": np.zeros(8, np.float32), "idx": np.zeros(16, np.int32)}
    with pytest.raises(ValueError, match="disagree on the leading"):
        fit(step, state, bad, dict(num_steps=1, **QUIET))


def test_resume_without_checkpoint(tmp_path):
    step, state = problem()
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        fit(step, state, data(), dict(num_steps=3, **QUIET), workdir=tmp_path, resume=True)


def test_fresh_run_refuses_workdir_with_checkpoints(tmp_path):
    step, state = problem()
    fit(step, state, data(), dict(num_steps=2, **QUIET), workdir=tmp_path)
    with pytest.raises(FileExistsError, match="resume to continue"):
        fit(step, state, data(), dict(num_steps=4, **QUIET), workdir=tmp_path)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    step, state = problem()
    loader = data()

    def poisoned(i):  # batch 7 (the 8th step) carries a NaN
        batch = loader(i)
        if i == 7:
            batch = dict(batch, y=np.full_like(batch["y"], np.nan))
        return batch

    cfg = dict(num_steps=20, log_every=5, checkpoint_every=3, **QUIET)
    with pytest.raises(NonFiniteError, match=r"step 7.*last good checkpoint is step 6"):
        fit(step, state, poisoned, cfg, workdir=tmp_path)
    ckpt = Checkpointer(tmp_path / "checkpoints")
    assert ckpt.latest_step() == 6
    restored = ckpt.restore(None, state)
    assert all(np.all(np.isfinite(x)) for x in jax.tree.leaves(restored))


def test_iterable_data_resumes_by_skipping(tmp_path):
    step, state = problem()
    loader = data()
    cfg = dict(num_steps=6, checkpoint_every=3, **QUIET)
    full = fit(step, state, (loader(i) for i in range(6)), cfg, workdir=tmp_path / "a").state
    fit(step, state, (loader(i) for i in range(6)), dict(cfg, num_steps=3), workdir=tmp_path / "b")
    resumed = fit(step, state, (loader(i) for i in range(6)), cfg, workdir=tmp_path / "b", resume=True).state
    chex.assert_trees_all_close(_host(full.params), _host(resumed.params), atol=1e-6)


def test_array_loader_is_deterministic_and_covers_epochs():
    x = np.arange(40)
    loader = ArrayLoader(x, 8, seed=3)
    epoch0 = np.concatenate([loader(i) for i in range(5)])
    assert sorted(epoch0) == list(range(40))
    np.testing.assert_array_equal(ArrayLoader(x, 8, seed=3)(7), loader(7))
    assert not np.array_equal(loader(5), loader(0))  # a new permutation each epoch
    parts = [ArrayLoader(x, 8, seed=3, process_index=p, process_count=2)(2) for p in range(2)]
    np.testing.assert_array_equal(np.concatenate(parts), loader(2))
    with pytest.raises(ValueError, match="same leading"):
        ArrayLoader({"a": np.zeros(4), "b": np.zeros(5)}, 2)


def test_array_loader_tuple_seed_and_process_index_check():
    x = np.arange(40)
    np.testing.assert_array_equal(ArrayLoader(x, 8, seed=(3,))(0), ArrayLoader(x, 8, seed=3)(0))
    # a longer seed is another stream (epoch 1 = step 5; NumPy's SeedSequence ignores trailing zeros,
    # so [3, 0, 0] and [3, 0] coincide in epoch 0)
    assert not np.array_equal(ArrayLoader(x, 8, seed=(3, 0))(5), ArrayLoader(x, 8, seed=3)(5))
    np.testing.assert_array_equal(ArrayLoader(x, 8, seed=3).global_indices(1), ArrayLoader(x, 8, seed=3)(1))
    with pytest.raises(ValueError, match="process_index 2 not in"):
        ArrayLoader(x, 8, process_index=2, process_count=2)


def test_map_chunks_equals_one_call_and_compiles_once():
    from jaxsci.core import map_chunks

    arrays = {"a": np.arange(23.0).reshape(23, 1), "b": np.arange(23) % 5}
    shapes = []

    def fn(chunk):
        shapes.append(chunk["a"].shape)
        return {"s": chunk["a"][:, 0] * 2 + chunk["b"], "n": chunk["b"]}

    out = map_chunks(fn, arrays, 10)
    np.testing.assert_array_equal(out["s"], arrays["a"][:, 0] * 2 + arrays["b"])
    np.testing.assert_array_equal(out["n"], arrays["b"])
    assert shapes == [(10, 1)] * 3  # the last chunk (3 examples) padded to 10
    np.testing.assert_array_equal(map_chunks(lambda c: c["b"], arrays, 50), arrays["b"])
    with pytest.raises(ValueError, match="chunk_size"):
        map_chunks(fn, arrays, 0)
