"""Layer behaviour beyond parity: refusals before work, jit without recompiles, whitening, shapes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.clifford import (
    CliffordBatchNorm,
    CliffordConv,
    CliffordConv1d,
    CliffordConv2d,
    CliffordConv3d,
    CliffordGroupNorm,
    CliffordLinear,
    CliffordSpectralConv2d,
    CliffordSpectralConv3d,
    from_reference_layout,
    to_reference_layout,
)

KEY = jax.random.key(0)


@pytest.mark.parametrize("layer,shape,match", [
    (CliffordConv2d((1, 1), 3), (2, 8, 8, 2, 8), "blade axis of size 4"),
    (CliffordConv2d((1, 1), 3), (2, 8, 2, 4), r"\*2 spatial"),
    (CliffordConv1d((1, 1, 1), 4, groups=3), (2, 8, 4, 8), "groups=3"),
    (CliffordConv2d((1, 1), 3, padding_mode="reflect"), (2, 8, 8, 2, 4), "padding_mode"),
    (CliffordConv2d((1, 1), 3, rotation=True), (2, 8, 8, 2, 4), r"g = \(-1, -1\)"),
    (CliffordConv3d((1, 1, 1), 3, kernel_size=(3, 3)), (1, 4, 4, 4, 2, 8), "kernel_size"),
    (CliffordConv((1, 1), 3, kernel_size=3), (1, 4, 4, 2, 4), "kernel_size as a tuple"),
    (CliffordLinear((1, -1), 3), (5, 2, 2), "blade axis of size 4"),
    (CliffordSpectralConv2d((1, 1), 3, modes=(5, 2)), (2, 8, 8, 2, 4), "2 m <= size"),
    (CliffordSpectralConv2d((1, 1, 1), 3, modes=(2, 2)), (2, 8, 8, 2, 8), "2D algebra"),
    (CliffordSpectralConv3d((1, 1, 1), 3, modes=(2, 2)), (2, 8, 8, 8, 2, 8), "3 ints"),
    (CliffordGroupNorm((1, 1), num_groups=4), (2, 8, 6, 4), "divide by num_groups"),
    (CliffordBatchNorm((1, 1, 1), use_running_average=False), (2, 8, 6, 4), "blade axis of size 8"),
], ids=lambda v: type(v).__name__ if not isinstance(v, (tuple, str)) else None)
def test_bad_input_raises_before_work(layer, shape, match):
    with pytest.raises(ValueError, match=match):
        layer.init(KEY, jnp.ones(shape))


def test_unsupported_metric_raises():
    with pytest.raises(ValueError, match="dimension"):
        CliffordLinear((1, 1, 1, 1, 1), 2).init(KEY, jnp.ones((2, 3, 32)))
    with pytest.raises(ValueError, match="-1, 0 or"):
        CliffordConv1d((2,), 2).init(KEY, jnp.ones((2, 5, 3, 2)))


@pytest.mark.parametrize("layer,shape,out", [
    (CliffordConv1d((0, 1, 1, 1), 3, kernel_size=3, stride=2, padding=1), (2, 9, 2, 16), (2, 5, 3, 16)),
    (CliffordConv2d((-1, -1), 6, kernel_size=(3, 1), dilation=(2, 1), groups=2, rotation=True), (2, 9, 5, 4, 4),
     (2, 5, 5, 6, 4)),
    (CliffordConv3d((1, 1, 1), 2, kernel_size=1, padding=1, padding_mode="circular"), (1, 3, 3, 3, 2, 8),
     (1, 5, 5, 5, 2, 8)),
    (CliffordSpectralConv3d((1, 1, -1), 2, modes=(2, 1, 2)), (1, 4, 3, 5, 2, 8), (1, 4, 3, 5, 2, 8)),
], ids=["pga-1d", "rot-groups", "3d-circ", "spectral3d"])
def test_output_shapes(layer, shape, out):
    y, _ = jax.jit(layer.init_with_output)(KEY, jnp.ones(shape))
    assert y.shape == out


def test_jit_does_not_recompile():
    layer = CliffordConv2d((1, -1), 4, kernel_size=3, padding=1, padding_mode="circular")
    x = jax.random.normal(KEY, (2, 8, 8, 3, 4))
    params = layer.init(KEY, x)
    traces = []

    @jax.jit
    def step(params, x):
        traces.append(1)
        return jax.grad(lambda p: jnp.sum(layer.apply(p, x) ** 2))(params)

    step(params, x)
    step(jax.tree.map(lambda a: a + 1, params), x + 1)
    assert len(traces) == 1


def test_layout_roundtrip():
    x = jax.random.normal(KEY, (2, 5, 6, 3, 4))
    assert to_reference_layout(x).shape == (2, 3, 5, 6, 4)
    np.testing.assert_array_equal(from_reference_layout(to_reference_layout(x)), x)


def _blade_cov(y):
    yc = (y - y.mean(axis=tuple(range(y.ndim - 2)))).reshape(-1, *y.shape[-2:])
    return np.einsum("nci,ncj->cij", yc, yc) / len(yc)


def test_exact_whitening_gives_identity_covariance_reference_does_not():
    """The reference's whitening (L^-T x) decorrelates but does not normalise; exact_whitening=True
    (L^-1 x) gives unit covariance. Both have zero mean."""
    key1, key2 = jax.random.split(KEY)
    mix = jnp.eye(4) * jnp.array([0.5, 1.0, 2.0, 3.0]) + 0.5 * jax.random.normal(key1, (4, 4))
    x = jax.random.normal(key2, (16, 8, 8, 2, 4)) @ mix + 1.0
    for exact in (True, False):
        layer = CliffordBatchNorm((1, 1), use_running_average=False, exact_whitening=exact, affine=False, epsilon=0.0)
        variables = jax.jit(layer.init)(KEY, x)
        y, _ = layer.apply(variables, x, mutable=["batch_stats"])
        cov = _blade_cov(np.asarray(y, np.float64))
        np.testing.assert_allclose(np.asarray(y).mean(axis=(0, 1, 2)), 0, atol=1e-5)
        if exact:
            np.testing.assert_allclose(cov, np.broadcast_to(np.eye(4), cov.shape), atol=1e-4)
        else:
            assert np.abs(cov - np.eye(4)).max() > 0.1


def test_group_norm_instance_and_layer_limits():
    x = jax.random.normal(KEY, (3, 5, 4, 6, 4)) * 3.0 + 2.0
    inst = CliffordGroupNorm((1, 1), num_groups=6, exact_whitening=True, affine=False, epsilon=0.0)
    y = inst.apply({}, x)
    for b in range(3):  # per sample and channel: unit covariance
        cov = _blade_cov(np.asarray(y[b], np.float64))
        np.testing.assert_allclose(cov, np.broadcast_to(np.eye(4), cov.shape), atol=1e-4)
    layer_norm = CliffordGroupNorm((1, 1), num_groups=1, exact_whitening=True, affine=False, epsilon=0.0)
    y = np.asarray(layer_norm.apply({}, x), np.float64)
    yc = y[0].reshape(-1, 4) - y[0].reshape(-1, 4).mean(0)
    np.testing.assert_allclose(yc.T @ yc / len(yc), np.eye(4), atol=1e-4)


def test_batchnorm_eval_uses_running_stats():
    x = jax.random.normal(KEY, (4, 6, 3, 4))
    layer = CliffordBatchNorm((1, 1), momentum=0.5)
    variables = layer.init(KEY, x, use_running_average=False)
    _, upd = layer.apply(variables, x, use_running_average=False, mutable=["batch_stats"])
    mean = np.asarray(x).reshape(-1, 3, 4).mean(0)
    np.testing.assert_allclose(upd["batch_stats"]["mean"], 0.5 * mean, rtol=1e-5, atol=1e-6)
    y_eval = layer.apply({**variables, **upd}, x, use_running_average=True)
    y_train, _ = layer.apply({**variables, **upd}, x, use_running_average=False, mutable=["batch_stats"])
    assert np.abs(np.asarray(y_eval) - np.asarray(y_train)).max() > 1e-2


def test_rotational_kernel_rotates_the_vector_part():
    """With a 1x1 kernel, one channel and scale 1, the rotational layer maps blades (e1, e2, e12) by the
    rotation matrix of the normalised quaternion w: orthogonal with determinant 1 (up to the 1e-4 in
    the normalisation), and the scalar output is the scalar part of x w."""
    layer = CliffordConv2d((-1, -1), 1, kernel_size=1, rotation=True, use_bias=False)
    x = jnp.zeros((1, 1, 1, 1, 4))
    params = jax.jit(layer.init)(KEY, x)["params"]
    w = np.array([0.9, -1.3, 0.4, 2.0], np.float32)
    params = {"weight": w.reshape(4, 1, 1, 1, 1), "scale": np.ones((1, 1, 1, 1), np.float32)}
    basis = jnp.eye(4).reshape(4, 1, 1, 1, 4)
    m = np.asarray(jax.jit(layer.apply)({"params": params}, basis)).reshape(4, 4).T  # column j: image of blade j
    rot = m[1:, 1:]
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-3)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-3)
    np.testing.assert_allclose(m[1:, 0], 0.0)  # the scalar input does not reach the rotated blades
    np.testing.assert_allclose(m[0], [w[0], -w[1], -w[2], -w[3]], rtol=1e-6)  # scalar part of x w (quaternions)
