"""The data-set writer (HDF5 round trip, determinism, resume, refusals) and the window loader."""

import h5py
import jax
import numpy as np
import pytest

from jaxsci.pde import burgers, generate
from jaxsci.pde.data import WindowLoader

SMALL = dict(nx=[50], nt=11)


def _write(tmp_path, sub, **kw):
    args = dict(num=5, split="train", seed=3, chunk=2, dtype="float64", progress=False, **SMALL)
    args.update(kw)
    return generate.generate_file("E2", out=str(tmp_path / sub), **args)


def _read(path):
    with h5py.File(path, "r") as f:
        return {k: f[k][()] for k in f}, dict(f.attrs)


def test_hdf5_round_trip_matches_direct_generation(tmp_path):
    data, attrs = _read(_write(tmp_path, "a"))
    assert attrs["equation"] == "E2" and attrs["num"] == 5 and data["done"].all()
    assert data["u_200"].shape == (5, 11, 200) and data["u_50"].shape == (5, 11, 50)
    assert data["beta"].shape == (5,) and data["A"].shape == (5, 5) and data["t"].shape == (11,)
    np.testing.assert_allclose(data["x_50"], burgers.grid_np(50))
    with jax.enable_x64(True):
        keys = generate.trajectory_keys(3, "train", np.array([4]))
        direct = burgers.generate(keys[0], "E2", (50,), 11)
    # unbatched vs vmapped XLA code may round differently, and the adaptive step control can then take
    # another step sequence: agreement is to the solver tolerance (1e-5), here far better
    np.testing.assert_allclose(data["u_50"][4], direct["u_50"], rtol=0, atol=1e-6)
    assert data["beta"][4] == float(direct["beta"])
    assert len(np.unique(data["beta"])) == 5  # every trajectory has its own draw


def test_chunking_does_not_change_the_data(tmp_path):
    a, _ = _read(_write(tmp_path, "a", chunk=2))
    b, _ = _read(_write(tmp_path, "b", chunk=3))
    for k in ("u_200", "u_50", "beta", "A"):
        np.testing.assert_allclose(a[k], b[k], rtol=1e-12, atol=1e-13)
    c, _ = _read(_write(tmp_path, "c", chunk=2, split="valid"))
    assert not np.allclose(a["beta"], c["beta"])  # splits draw other keys


def test_resume_after_interruption(tmp_path):
    path = _write(tmp_path, "r", max_chunks=1)  # "interrupted" after the first chunk
    with h5py.File(path, "r") as f:
        assert f["done"][()].tolist() == [True, False, False]
        first = f["u_50"][0:2].copy()
    with pytest.raises(ValueError, match="incomplete"):
        WindowLoader(path, "u_50", 2, time_window=3, process_index=0, process_count=1)
    with h5py.File(path, "a") as f:  # poison an unfinished chunk: a resume must recompute it
        f["u_50"][2:4] = np.nan
    _write(tmp_path, "r")
    resumed, _ = _read(path)
    full, _ = _read(_write(tmp_path, "full"))
    np.testing.assert_array_equal(resumed["u_50"][0:2], first)  # kept, not recomputed
    for k in ("u_200", "u_50", "beta"):
        np.testing.assert_array_equal(resumed[k], full[k])


def test_refusals_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="unknown equation"):
        generate.generate_file("KdV", num=2, split="train", out=str(tmp_path))
    with pytest.raises(ValueError, match="must divide"):
        generate.generate_file("E1", num=2, split="train", out=str(tmp_path), nx=[33])
    with pytest.raises(ValueError, match="unknown split"):
        generate.generate_file("E1", num=2, split="dev", out=str(tmp_path))
    assert not list(tmp_path.iterdir())  # nothing was written
    path = _write(tmp_path, "x")
    before = _read(path)[0]["u_50"]
    with pytest.raises(ValueError, match="other generation parameters"):
        _write(tmp_path, "x", seed=4)
    with pytest.raises(SystemExit, match="seed"):
        generate.main(["E2", "--num", "5", "--split", "train", "--out", str(tmp_path / "x"), "--seed", "9",
                       "--chunk", "2", "--nx", "50", "--nt", "11", "--quiet"])
    np.testing.assert_array_equal(_read(path)[0]["u_50"], before)


def test_cli_wave(tmp_path, capsys):
    generate.main(["WE1", "--num", "3", "--split", "test", "--out", str(tmp_path), "--nx", "40", "--nt", "8",
                   "--dtype", "float32", "--quiet"])
    data, attrs = _read(tmp_path / "WE1_test.h5")
    assert data["u_40"].shape == (3, 8, 40) and data["u_40"].dtype == np.float32
    assert attrs["dtype"] == "float32" and (data["bc_left"] == 0).all()
    assert "WE1_test.h5" in capsys.readouterr().out


def test_cli_faithful(tmp_path):
    generate.main(["E1", "--num", "1", "--split", "train", "--out", str(tmp_path), "--nx", "50", "--nt", "3",
                   "--faithful", "--quiet"])
    data, attrs = _read(tmp_path / "E1_train.h5")
    assert '"faithful": true' in attrs["options"]
    np.testing.assert_allclose(data["x_50"], np.linspace(0, burgers.LENGTH, 50))  # the original's grid
    assert set(np.unique(data["l"])) <= {1.0, 2.0}  # the original's wavenumbers
    with jax.enable_x64(True):
        key = generate.trajectory_keys(0, "train", np.array([0]))[0]
        direct = burgers.generate(key, "E1", (50,), 3, faithful=True)
    np.testing.assert_allclose(data["u_50"][0], direct["u_50"], rtol=0, atol=1e-9)


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("loader")
    return generate.generate_file("E2", num=6, split="train", out=str(out), seed=0, chunk=3, progress=False,
                                  **SMALL)  # the options of the other tests: the compiled generator is reused


def test_loader_windows_are_slices_of_the_file(data_file):
    loader = WindowLoader(data_file, "u_50", 4, time_window=3, seed=1, process_index=0, process_count=1)
    with h5py.File(data_file, "r") as f:
        u, beta = f["u_50"][()], f["beta"][()]
    b = loader(5)
    assert b["history"].shape == (4, 3, 50) and b["target"].shape == (4, 3, 50)
    for j, (tr, t0) in enumerate(zip(b["trajectory"], b["t0"])):
        assert 3 <= t0 <= 11 - 3
        np.testing.assert_array_equal(b["history"][j], u[tr, t0 - 3 : t0])
        np.testing.assert_array_equal(b["target"][j], u[tr, t0 : t0 + 3])
        assert b["beta"][j] == beta[tr]
    lazy = WindowLoader(data_file, "u_50", 4, time_window=3, seed=1, in_memory=False, process_index=0,
                        process_count=1)
    np.testing.assert_array_equal(lazy(5)["history"], b["history"])
    lazy.close()


def test_loader_is_deterministic_and_shards_by_process(data_file):
    mk = lambda **kw: WindowLoader(data_file, "u_50", 2, time_window=4, seed=7, **kw)
    a, b = mk(process_index=0, process_count=1), mk(process_index=0, process_count=1)
    for step in (0, 1, 2, 7, 100):  # a "resumed" loader gives the same batches
        for k, v in a(step).items():
            np.testing.assert_array_equal(v, b(step)[k])
    seen = np.concatenate([a(s)["trajectory"] for s in range(3)])  # one epoch = a permutation
    assert sorted(seen.tolist()) == list(range(6))
    assert not np.array_equal(seen, np.concatenate([a(s)["trajectory"] for s in range(3, 6)]))
    p0, p1 = mk(process_index=0, process_count=2), mk(process_index=1, process_count=2)
    for k in ("history", "t0", "trajectory"):
        np.testing.assert_array_equal(np.concatenate([p0(4)[k], p1(4)[k]]), a(4)[k])


def test_loader_refuses_bad_requests(data_file):
    with pytest.raises(ValueError, match="no field"):
        WindowLoader(data_file, "u_77", 2, process_index=0, process_count=1)
    with pytest.raises(ValueError, match="time_window"):
        WindowLoader(data_file, "u_50", 2, time_window=6, process_index=0, process_count=1)
    with pytest.raises(ValueError, match="divide"):
        WindowLoader(data_file, "u_50", 3, time_window=2, process_index=0, process_count=2)
