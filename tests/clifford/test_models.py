"""The Clifford-layers surrogates (jaxsci.clifford.models) and their training runner (train/clifford.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.clifford import models

SMALL = dict(time_history=2, num_blocks=1, modes=(2, 2))
NAMES = sorted(models.MODELS)


def _small(name, hidden=3):
    return models.make_model(name, hidden=hidden, **SMALL)


def _input(b=2, h=8, w=6, t=2, seed=0):
    x = jax.random.normal(jax.random.key(seed), (b, h, w, t, 4))
    return x.at[..., 3].set(0.0)  # bivector 0, as the data


@pytest.mark.parametrize("name", NAMES)
def test_output_shape_and_zero_bivector(name):
    model = _small(name)
    x = _input()
    params = model.init(jax.random.key(0), x)
    y = model.apply(params, x)
    assert y.shape == (2, 8, 6, 1, 4)
    assert np.all(np.asarray(y[..., 3]) == 0.0) and np.any(np.asarray(y[..., :3]) != 0.0)
    # a spatially varying input gives a spatially varying output (the convs see space)
    assert np.std(np.asarray(y[..., 0]), axis=(1, 2)).min() > 0


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(2, 8, 6, 2, 3), (2, 8, 6, 3, 4), (8, 6, 2, 4), (2, 8, 6, 8)])
def test_bad_input_shape_is_refused_before_work(name, shape):
    model = _small(name)
    # eval_shape traces only: the error comes from the shape check, before any array is computed
    with pytest.raises(ValueError, match=r"time_history=2, 4 blades"):
        jax.eval_shape(model.init, jax.random.key(0), jax.ShapeDtypeStruct(shape, jnp.float32))


def test_unknown_model_and_bad_padding_are_refused():
    with pytest.raises(ValueError, match="unknown model 'unet'"):
        models.make_model("unet")
    with pytest.raises(ValueError, match="padding_mode"):
        models.ResNet(time_history=2, hidden=4, padding_mode="reflect").init(jax.random.key(0), _input())


def _count(model, nx=32):
    shapes = jax.eval_shape(model.init, jax.random.key(0), jax.ShapeDtypeStruct((1, nx, nx, 4, 4), jnp.float32))
    return models.count_params(shapes)


def test_parameter_counts_match_at_default_widths():
    """The paper compares at equal parameter count: the default baselines (twice the width) match."""
    counts = {name: _count(cls()) for name, cls in models.MODELS.items()}
    print("parameters at default widths:", counts)
    assert abs(counts["resnet"] / counts["cresnet"] - 1) < 0.2
    assert abs(counts["fno"] / counts["cfno"] - 1) < 0.2
    # and the check can fail: a baseline at the Clifford model's width has about 4x fewer weights
    assert counts["cresnet"] / _count(models.ResNet(hidden=64)) > 3
    # the rotational conv adds one scale per kernel entry
    assert counts["cresnet_rot"] > counts["cresnet"]


def test_count_params_by_hand():
    model = models.ResNet(time_history=1, hidden=2, num_blocks=1, kernel_size=3)
    params = model.init(jax.random.key(0), _input(t=1))
    # embed 3->2, 2->2 (1x1), block 2x (3x3, 2->2), project 2->2, 2->3 (1x1); weights + biases
    expected = (3 * 2 + 2) + (2 * 2 + 2) + 2 * (9 * 2 * 2 + 2) + (2 * 2 + 2) + (2 * 3 + 3)
    assert models.count_params(params) == expected


def test_rotational_model_uses_rotational_convs():
    params = _small("cresnet_rot").init(jax.random.key(0), _input())["params"]
    assert "scale" in params["block_0_conv_1"] and "scale" not in params["embed_1"]


def test_real_spectral_conv_drops_high_modes():
    layer = models.SpectralConv2d(features=2, modes=(2, 2))
    grid = np.arange(8)
    low = np.cos(2 * np.pi * 1 * grid / 8)[None, :, None, None] * np.ones((1, 8, 8, 1), np.float32)
    high = np.cos(2 * np.pi * 3 * grid / 8)[None, :, None, None] * np.ones((1, 8, 8, 1), np.float32)
    params = layer.init(jax.random.key(0), jnp.asarray(low))
    assert np.abs(layer.apply(params, jnp.asarray(high))).max() < 1e-5
    assert np.abs(layer.apply(params, jnp.asarray(low))).max() > 1e-3
    with pytest.raises(ValueError, match="modes"):
        models.SpectralConv2d(2, (5, 2)).init(jax.random.key(0), jnp.asarray(low))


@pytest.mark.parametrize("name", ["cresnet", "cfno"])
def test_jitted_model_does_not_recompile(name):
    model = _small(name)
    params = model.init(jax.random.key(0), _input())
    traces = []

    @jax.jit
    def apply(p, x):
        traces.append(1)
        return model.apply(p, x)

    y1 = apply(params, _input(seed=1))
    y2 = apply(params, _input(seed=2))
    assert len(traces) == 1 and apply._cache_size() == 1
    assert not np.allclose(y1, y2)


def test_windows_gather_and_rollout():
    from train.clifford import gather, rollout, windows

    frames = np.arange(2 * 5).reshape(2, 5, 1, 1, 1) * np.ones((1, 1, 3, 2, 4))  # value = 5 i + t
    pairs = windows(frames, 2)
    assert pairs.shape == (2 * 3, 2)
    batch = gather(frames, pairs[[4]], 2)  # trajectory 1, start 1
    assert batch["x"].shape == (1, 3, 2, 2, 4) and batch["y"].shape == (1, 3, 2, 1, 4)
    np.testing.assert_array_equal(batch["x"][0, 0, 0, :, 0], [6, 7])
    np.testing.assert_array_equal(batch["y"][0, 0, 0, :, 0], [8])
    with pytest.raises(ValueError, match="too short"):
        windows(frames, 5)

    model = _small("cresnet")
    x0 = _input(b=1)
    params = model.init(jax.random.key(0), x0)
    pred = rollout(model, params, x0, 2)
    y1 = model.apply(params, x0)
    y2 = model.apply(params, jnp.concatenate([x0[..., 1:, :], y1], -2))
    np.testing.assert_allclose(pred[:, 0], y1[..., 0, :], atol=1e-6)
    np.testing.assert_allclose(pred[:, 1], y2[..., 0, :], atol=1e-5)


@pytest.mark.parametrize("pde,model", [("smoke", "cfno"), ("shallow_water", "cresnet"), ("maxwell", "cfno")])
def test_test_preset_trains_end_to_end(tmp_path, pde, model):
    import train
    from jaxsci.core import read_metrics
    from train.__main__ import main

    main(["clifford", "--config", f"{train.CONFIG_DIR / 'clifford.py'}:test", "--workdir", str(tmp_path),
          "--config.fit.progress=false", f"--config.model={model}", f"--config.pde={pde}"])
    evals = read_metrics(tmp_path, "eval")
    assert evals and 0 < evals[-1]["onestep_mse"] < 10 and 0 < evals[-1]["rollout_mse"] < 100
    assert len(read_metrics(tmp_path, "train")) == 2
    assert (tmp_path / "rollout.png").stat().st_size > 1000
    if pde == "smoke":
        with pytest.raises(SystemExit, match="config error"):
            main(["clifford", "--config", f"{train.CONFIG_DIR / 'clifford.py'}:test", "--workdir", str(tmp_path / "x"),
                  "--config.hiden=3"])


def test_runner_resolves_per_pde_settings_and_refuses_2d_models_in_3d(tmp_path):
    import train
    from jaxsci.core.config import apply_overrides
    from train.__main__ import main
    from train.clifford import resolve

    config = train.load_config(f"{train.CONFIG_DIR / 'clifford.py'}:test")
    assert resolve(config)["nx"] == config.per_pde.smoke.nx and resolve(config)["padding_mode"] == "zeros"
    r = resolve(apply_overrides(config, {"pde": "maxwell", "nx": "6"}))
    assert (r["dim"], r["nx"], r["padding_mode"], r["modes"]) == (3, 6, "circular", config.per_pde.maxwell.modes)
    with pytest.raises(ValueError, match="unknown pde"):
        resolve(apply_overrides(config, {"pde": "burgers"}))
    # before any data is generated (the workdir stays empty)
    with pytest.raises(ValueError, match="cresnet_rot.*not available for pde 'maxwell'"):
        main(["clifford", "--config", f"{train.CONFIG_DIR / 'clifford.py'}:test", "--workdir", str(tmp_path / "rot"),
              "--config.pde=maxwell", "--config.model=cresnet_rot"])
    assert not (tmp_path / "rot").exists()
    with pytest.raises(ValueError, match="2D only"):
        models.make_model("cresnet_rot", dim=3)
    with pytest.raises(ValueError, match="3 entries"):
        models.make_model("cfno", dim=3, modes=(2, 2))


# ---- 3D (Maxwell) ---------------------------------------------------------------------------------

NAMES_3D = sorted(models.MODELS_3D)


def _input3d(b=1, n=(4, 4, 6), t=2, seed=0):
    x = jax.random.normal(jax.random.key(seed), (b, *n, t, 8))
    return x.at[..., 0].set(0.0).at[..., 7].set(0.0)  # scalar and pseudoscalar 0, as the data


@pytest.mark.parametrize("name", NAMES_3D)
def test_3d_output_shape_and_zero_scalar_pseudoscalar(name):
    model = models.make_model(name, hidden=2, dim=3, **SMALL | dict(modes=(2, 2, 2)))
    x = _input3d()
    params = model.init(jax.random.key(0), x)
    y = model.apply(params, x)
    assert y.shape == (1, 4, 4, 6, 1, 8)
    assert np.all(np.asarray(y[..., [0, 7]]) == 0.0) and np.all(np.std(np.asarray(y[..., 1:7]), axis=(1, 2, 3)) > 0)
    with pytest.raises(ValueError, match=r"time_history=2, 8 blades"):
        jax.eval_shape(model.init, jax.random.key(0), jax.ShapeDtypeStruct((1, 4, 4, 6, 2, 4), jnp.float32))


def test_3d_parameter_counts_match_at_equal_width():
    """Baselines sqrt(8) times as wide as the Clifford models have about their parameter count."""
    def count(model):
        x = jax.ShapeDtypeStruct((1, 16, 16, 16, 4, 8), jnp.float32)
        return models.count_params(jax.eval_shape(model.init, jax.random.key(0), x))

    counts = {name: count(cls()) for name, cls in models.MODELS_3D.items()}  # class defaults
    print("3D parameters at default widths:", counts)
    assert abs(counts["resnet"] / counts["cresnet"] - 1) < 0.03
    assert abs(counts["fno"] / counts["cfno"] - 1) < 0.03
    small = {n: count(models.make_model(n, hidden=8, modes=(4, 4, 4), dim=3)) for n in NAMES_3D}
    assert abs(small["resnet"] / small["cresnet"] - 1) < 0.05 and abs(small["fno"] / small["cfno"] - 1) < 0.05
    assert models.baseline_width(8, 3) == 23 and models.baseline_width(16, 2) == 32
    # the 3D convs are 3x3x3: a Clifford conv C -> O has 8 * 27 * C * O weights (+ 8 O biases)
    params = models.CResNet3d(hidden=2, num_blocks=1).init(jax.random.key(0), _input3d(t=4))["params"]
    assert params["block_0_conv_1"]["weight"].shape == (8, 3, 3, 3, 2, 2)


def test_maxwell_multivector_encoding():
    from jaxsci.clifford import CliffordAlgebra

    e = jax.random.normal(jax.random.key(1), (2, 3, 4, 4, 4))  # (time, component, X, Y, Z)
    h = jax.random.normal(jax.random.key(2), (2, 3, 4, 4, 4))
    f = models.to_multivector_em(e, h)
    assert f.shape == (2, 4, 4, 4, 8)
    e2, h2 = models.from_multivector_em(f)
    np.testing.assert_array_equal(e2, e)
    np.testing.assert_array_equal(h2, h)
    alg = CliffordAlgebra((1, 1, 1))
    assert alg.blade_names == ("1", "e1", "e2", "e3", "e12", "e13", "e23", "e123")
    # E is the vector part; H enters as its Hodge dual I H (I = e123): Hx e23 + Hy e31 + Hz e12
    E, H = np.moveaxis(np.asarray(e), 1, -1), np.moveaxis(np.asarray(h), 1, -1)
    np.testing.assert_array_equal(f[..., 1:4], E)
    pseudo = alg.embed(jnp.ones(1), [7])
    np.testing.assert_allclose(alg.geometric_product(pseudo, alg.embed(jnp.asarray(H), [1, 2, 3])),
                               alg.embed(f[..., 4:7], [4, 5, 6]), atol=1e-6)
    assert np.all(np.asarray(f[..., [0, 7]]) == 0)
    # 2D round trip too
    s, v = jnp.ones((2, 4, 3)), jax.random.normal(jax.random.key(3), (2, 2, 4, 3))
    s2, v2 = models.from_multivector(models.to_multivector(s, v))
    np.testing.assert_array_equal(s2, s)
    np.testing.assert_array_equal(v2, v)


def test_maxwell_encoding_commutes_with_rotations():
    """Rotating E and H (a pseudovector: H -> Q H for proper Q) is the rotor sandwich R F ~R of F = E + I H:
    the bivector signs of the encoding are the ones under which the multivector transforms as one object."""
    from jaxsci.clifford import CliffordAlgebra

    alg = CliffordAlgebra((1, 1, 1))
    a, b = np.array([1.0, 0.3, -0.5]), np.array([0.2, -1.0, 0.7])
    rotor = alg.geometric_product(alg.embed(jnp.asarray(b / np.linalg.norm(b)), [1, 2, 3]),
                                  alg.embed(jnp.asarray(a / np.linalg.norm(a)), [1, 2, 3]))
    q = np.stack([np.asarray(alg.sandwich(rotor, alg.embed(jnp.eye(3)[i], [1, 2, 3])))[1:4] for i in range(3)], 1)
    assert np.allclose(q @ q.T, np.eye(3), atol=1e-5) and np.isclose(np.linalg.det(q), 1, atol=1e-5)
    e = jax.random.normal(jax.random.key(4), (5, 3, 1, 1, 1))
    h = jax.random.normal(jax.random.key(5), (5, 3, 1, 1, 1))
    rotated = models.to_multivector_em(np.einsum("ij,tjxyz->tixyz", q, e), np.einsum("ij,tjxyz->tixyz", q, h))
    np.testing.assert_allclose(alg.sandwich(rotor, models.to_multivector_em(e, h)), rotated, atol=1e-5)
    # a wrong orientation of H_y (e13 instead of e31) breaks it
    wrong = models.to_multivector_em(e, h).at[..., 5].multiply(-1)
    rot_wrong = models.to_multivector_em(np.einsum("ij,tjxyz->tixyz", q, e), np.einsum("ij,tjxyz->tixyz", q, h))
    assert not np.allclose(alg.sandwich(rotor, wrong), rot_wrong.at[..., 5].multiply(-1), atol=1e-3)
