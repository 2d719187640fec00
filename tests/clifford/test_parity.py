"""Parity with the reference ``cliffordlayers`` 0.1.1, forward and backward, float32, to 1e-5.

The fixtures (``tests/fixtures/clifford/*.npz``) were made by ``tests/fixtures/make_clifford_fixtures.py``
from the PyTorch reference; this file needs no torch. Reference tensors are ``(B, C, *spatial, I)``;
ours ``(B, *spatial, C, I)``: the conversion happens here, at the parity boundary, and so does the
mapping of the reference's parameters into our Flax parameters.

Where the reference is wrong, our layers are compared with the explicit loops in ``slow.py`` instead,
and the test shows that the reference differs:

- ``groups > 1``: the reference splits its blade-major feature axis into groups, so a group holds
  some blades of all channels instead of all blades of some channels;
- ``CliffordSpectralConv3d``: the reference writes the (+kx, +ky, -kz) block into the (-kx, +ky, -kz)
  corner (it equals our slow loop with that bug emulated);
- ``CliffordLinear(bias=False)``: the reference crashes.
"""

from __future__ import annotations

import functools
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.clifford import (
    CliffordAlgebra,
    CliffordBatchNorm,
    CliffordConv,
    CliffordGroupNorm,
    CliffordLinear,
    CliffordSpectralConv2d,
    CliffordSpectralConv3d,
)
from tests.clifford.slow import slow_conv, slow_spectral

FIXTURES = pathlib.Path(__file__).parent.parent / "fixtures" / "clifford"
TOL = dict(rtol=1e-5, atol=1e-5)


@functools.cache
def _npz(name):
    with np.load(FIXTURES / f"{name}.npz") as d:
        return {k: d[k] for k in d.files}


def _cases(name, prefix):
    d = _npz(name)
    return sorted({k.split("/")[1] for k in d if k.split("/")[0] == prefix})


def _case(name, prefix, case):
    d = _npz(name)
    head = f"{prefix}/{case}/"
    out = {k[len(head):]: v for k, v in d.items() if k.startswith(head)}
    out["meta"] = json.loads(str(out["meta"]))
    return out


def ours(x):  # (B, C, *S, I) -> (B, *S, C, I)
    return np.moveaxis(x, 1, -2)


def ref(y):  # (B, *S, C, I) -> (B, C, *S, I)
    return np.moveaxis(np.asarray(y), -2, 1)


def _run(module, params, x, cot, extra_vars=None, mutable=False):
    """Output, grad wrt x and grad wrt params of sum(y * cot)."""
    variables = dict(extra_vars or {})

    def loss(p, x):
        out = module.apply({"params": p, **variables}, x, mutable=mutable)
        y = out[0] if mutable else out
        return jnp.sum(y * cot), out

    (_, out), (gp, gx) = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))(params, jnp.asarray(x))
    return out, gx, gp


def _max_err(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


# ---- parameter maps: reference shapes -> ours ------------------------------------------------------

def conv_weight(w):  # (I, O, C/g, *k) -> (I, *k, C/g, O)
    nd = w.ndim - 3
    return np.transpose(w, (0, *range(3, 3 + nd), 2, 1))


def conv_weight_back(w):  # ours -> reference
    nd = w.ndim - 3
    return np.transpose(w, (0, nd + 2, nd + 1, *range(1, nd + 1)))


# ---- CliffordLinear -----------------------------------------------------------------------------------

@pytest.mark.parametrize("case", _cases("linear", "linear"))
def test_linear_parity(case):
    c = _case("linear", "linear", case)
    g = tuple(c["meta"]["g"])
    layer = CliffordLinear(g, features=c["param/weight"].shape[1])
    params = {"weight": np.transpose(c["param/weight"], (0, 2, 1)), "bias": c["param/bias"].T}
    y, gx, gp = _run(layer, params, c["x"], c["cot"])
    np.testing.assert_allclose(y, c["y"], **TOL)
    np.testing.assert_allclose(gx, c["grad_x"], **TOL)
    np.testing.assert_allclose(np.transpose(gp["weight"], (0, 2, 1)), c["grad/weight"], **TOL)
    np.testing.assert_allclose(gp["bias"].T, c["grad/bias"], **TOL)


def test_linear_without_bias_matches_slow_loop_where_reference_crashes():
    """The reference's CliffordLinear(bias=False) crashes (recorded by the fixture script); ours
    equals the explicit loop of geometric products."""
    assert "NoneType" in str(_npz("linear")["linear_nobias_error"])
    alg = CliffordAlgebra((1, -1, 0))
    layer = CliffordLinear(alg.g, features=3, use_bias=False)
    x = jax.random.normal(jax.random.key(0), (4, 2, 8))
    params = jax.jit(layer.init)(jax.random.key(1), x)
    assert set(params["params"]) == {"weight"}
    y = jax.jit(layer.apply)(params, x)
    # a linear layer is a 1x1 convolution of a field with no spatial axes: use the conv loop on (B, 1, C, I)
    w = np.asarray(params["params"]["weight"])[:, None]  # (I, 1, C, O)
    expected = slow_conv(alg, np.asarray(x)[:, None], w, None, stride=(1,), padding=(0,), dilation=(1,))[:, 0]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


# ---- Clifford convolutions ------------------------------------------------------------------------------

CONV_PREFIXES = ["conv1d", "conv2d", "conv3d", "conv2d_opts0", "conv2d_opts1", "rotconv2d"]


def _conv_layer(c, rotation=False):
    m = c["meta"]
    return CliffordConv(tuple(m["g"]), features=c["param/weight"].shape[1], kernel_size=tuple(m["kernel_size"]),
                        stride=tuple(m["stride"]), padding=tuple(m["padding"]), dilation=tuple(m["dilation"]),
                        groups=m["groups"], use_bias="param/bias" in c, rotation=rotation)


@pytest.mark.parametrize("prefix,case", [(p, k) for p in CONV_PREFIXES for k in _cases("conv", p)])
def test_conv_parity(prefix, case):
    c = _case("conv", prefix, case)
    rotation = prefix.startswith("rot")
    layer = _conv_layer(c, rotation)
    params = {"weight": conv_weight(c["param/weight"])}
    if "param/bias" in c:
        params["bias"] = c["param/bias"].T
    if rotation:
        params["scale"] = np.transpose(c["param/scale_param"], (2, 3, 1, 0))
    y, gx, gp = _run(layer, params, ours(c["x"]), ours(c["cot"]))
    np.testing.assert_allclose(ref(y), c["y"], **TOL)
    np.testing.assert_allclose(ref(gx), c["grad_x"], **TOL)
    np.testing.assert_allclose(conv_weight_back(np.asarray(gp["weight"])), c["grad/weight"], **TOL)
    if "param/bias" in c:
        np.testing.assert_allclose(gp["bias"].T, c["grad/bias"], **TOL)
    if rotation:
        np.testing.assert_allclose(np.transpose(gp["scale"], (3, 2, 0, 1)), c["grad/scale_param"], **TOL)


@pytest.mark.parametrize("prefix", ["conv1d", "conv2d", "conv3d", "conv2d_opts0", "conv2d_opts1"])
def test_slow_loop_agrees_with_reference(prefix):
    """The slow loop is itself checked against the reference where the reference is right."""
    for case in _cases("conv", prefix)[:3]:
        c = _case("conv", prefix, case)
        m = c["meta"]
        alg = CliffordAlgebra(tuple(m["g"]))
        b = c["param/bias"].T if "param/bias" in c else None
        y = slow_conv(alg, ours(c["x"]), conv_weight(c["param/weight"]), b, stride=m["stride"], padding=m["padding"],
                      dilation=m["dilation"])
        np.testing.assert_allclose(ref(y), c["y"], **TOL)


def _bilinear_grad_check(f_ours, f_slow, x, params, seed):
    """For a layer bilinear in (x, weight) (+ bias), check grads through random directions:
    <dL/dx, dx> = <f(dx, w) - f(0, w), cot> and <dL/dw, dw> = <f(x, dw) - f(x, 0), cot>.
    One compile (value and grads); everything else in numpy. Returns our output f(x, w)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x, np.float32)
    params = jax.tree.map(lambda a: np.asarray(a, np.float32), params)
    y_shape = np.shape(f_slow(params, x))
    cot = rng.standard_normal(y_shape).astype(np.float32)

    def loss(p, x):
        y = f_ours(p, x)
        return jnp.sum(y * cot), y

    (_, y), (gp, gx) = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))(params, x)
    dx = rng.standard_normal(x.shape)
    zero_w = jax.tree.map(np.zeros_like, params)
    dw = jax.tree.map(lambda a: rng.standard_normal(a.shape), params)
    lhs_x = float(np.sum(np.asarray(gx, np.float64) * dx))
    rhs_x = float(np.sum((f_slow(params, dx) - f_slow(params, np.zeros_like(dx))) * cot))
    lhs_w = float(sum(np.sum(np.asarray(a, np.float64) * b) for a, b in zip(jax.tree.leaves(gp), jax.tree.leaves(dw))))
    rhs_w = float(np.sum((f_slow(dw, x) - f_slow(zero_w, x)) * cot))
    np.testing.assert_allclose(lhs_x, rhs_x, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(lhs_w, rhs_w, rtol=1e-4, atol=1e-4)
    return np.asarray(y)


@pytest.mark.parametrize("prefix", ["conv1d_groups", "conv2d_groups", "conv3d_groups"])
def test_groups_match_slow_loop_not_reference(prefix):
    """groups > 1: the reference is wrong (it splits blades across groups). Ours equals the slow loop
    of geometric products, in which each group keeps all blades of its channels, forward and
    backward; the reference output (same weights) differs from it."""
    (case,) = _cases("conv", prefix)
    c = _case("conv", prefix, case)
    m = c["meta"]
    alg = CliffordAlgebra(tuple(m["g"]))
    layer = _conv_layer(c)
    params = {"weight": conv_weight(c["param/weight"]), "bias": c["param/bias"].T}
    x = ours(c["x"])
    kw = dict(stride=m["stride"], padding=m["padding"], dilation=m["dilation"], groups=m["groups"])
    expected = slow_conv(alg, x, params["weight"], params["bias"], **kw)
    y = _bilinear_grad_check(
        lambda p, x: layer.apply({"params": p}, x),
        lambda p, x: slow_conv(alg, x, p["weight"], p["bias"], **kw), x, params, 3)
    np.testing.assert_allclose(y, expected, **TOL)
    assert _max_err(ref(expected), c["y"]) > 1e-2, "the reference was expected to differ for groups > 1"


@pytest.mark.parametrize("g", [(1, 1), (-1, 0), (0, 1, -1)], ids=str)
def test_circular_padding_and_groups_match_slow_loop(g):
    """Circular padding (absent from the reference) with stride, dilation and groups: slow loop."""
    alg = CliffordAlgebra(g)
    nd = 2
    layer = CliffordConv(g, features=4, kernel_size=(3, 2), stride=(2, 1), padding=(2, 1), dilation=(2, 1), groups=2,
                         padding_mode="circular")
    x = np.random.default_rng(5).standard_normal((1, 7, 5, 4, alg.n_blades)).astype(np.float32)
    params = jax.jit(layer.init)(jax.random.key(6), x)["params"]
    kw = dict(stride=(2, 1), padding=(2, 1), dilation=(2, 1), groups=2, circular=True)
    y = _bilinear_grad_check(lambda p, x: layer.apply({"params": p}, x),
                             lambda p, x: slow_conv(alg, x, p["weight"], p["bias"], **kw), x, params, 7)
    expected = slow_conv(alg, x, params["weight"], params["bias"], **kw)
    assert y.shape == expected.shape and y.ndim == nd + 3
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("g", [(1, 1, 1, 1), (0, 1, 1, 1)], ids=str)
def test_conv_4d_algebra_matches_slow_loop(g):
    """Signatures the reference does not support (dimension 4, e.g. PGA) on a 1D field."""
    alg = CliffordAlgebra(g)
    layer = CliffordConv(g, features=2, kernel_size=(3,), padding=1)
    x = np.random.default_rng(8).standard_normal((2, 5, 2, 16)).astype(np.float32)
    params = jax.jit(layer.init)(jax.random.key(9), x)["params"]
    expected = slow_conv(alg, x, params["weight"], params["bias"], stride=(1,), padding=(1,), dilation=(1,))
    np.testing.assert_allclose(layer.apply({"params": params}, x), expected, rtol=1e-5, atol=1e-5)


# ---- Clifford Fourier layers ----------------------------------------------------------------------------

def spectral_weight(w):  # (I, O, C, *2m) -> (I, *2m, C, O)
    nd = w.ndim - 3
    return np.transpose(w, (0, *range(3, 3 + nd), 2, 1))


def spectral_weight_back(w):
    nd = w.ndim - 3
    return np.transpose(w, (0, nd + 2, nd + 1, *range(1, nd + 1)))


@pytest.mark.parametrize("case", _cases("spectral", "spectral2d"))
def test_spectral2d_parity(case):
    c = _case("spectral", "spectral2d", case)
    g, modes = tuple(c["meta"]["g"]), tuple(c["meta"]["modes"])
    layer = CliffordSpectralConv2d(g, features=c["param/weights"].shape[1], modes=modes)
    params = {"weight": spectral_weight(c["param/weights"])}
    y, gx, gp = _run(layer, params, ours(c["x"]), ours(c["cot"]))
    np.testing.assert_allclose(ref(y), c["y"], **TOL)
    np.testing.assert_allclose(ref(gx), c["grad_x"], **TOL)
    np.testing.assert_allclose(spectral_weight_back(np.asarray(gp["weight"])), c["grad/weights"], **TOL)
    if case == "gp_p":  # the explicit mode loop agrees with the reference too
        alg = CliffordAlgebra(g)
        np.testing.assert_allclose(ref(slow_spectral(alg, ours(c["x"]), params["weight"], modes)), c["y"], **TOL)


@pytest.mark.parametrize("case", _cases("spectral", "spectral3d"))
def test_spectral3d_matches_slow_loop_not_reference(case):
    """CliffordSpectralConv3d: the reference writes the (+kx, +ky, -kz) block into the (-kx, +ky, -kz)
    corner. Ours equals the explicit mode loop (forward and, through random directions, backward);
    the reference output equals the same loop with that bug emulated, and differs from ours."""
    c = _case("spectral", "spectral3d", case)
    g, modes = tuple(c["meta"]["g"]), tuple(c["meta"]["modes"])
    alg = CliffordAlgebra(g)
    layer = CliffordSpectralConv3d(g, features=c["param/weights"].shape[1], modes=modes)
    params = {"weight": spectral_weight(c["param/weights"])}
    x = ours(c["x"])
    y = _bilinear_grad_check(lambda p, x: layer.apply({"params": p}, x),
                             lambda p, x: slow_spectral(alg, x, p["weight"], modes), x, params, 11)
    np.testing.assert_allclose(y, slow_spectral(alg, x, params["weight"], modes), **TOL)
    np.testing.assert_allclose(ref(slow_spectral(alg, x, params["weight"], modes, reference_3d_bug=True)), c["y"],
                               **TOL)
    assert _max_err(ref(y), c["y"]) > 1e-3, "the reference was expected to differ (misplaced Fourier corner)"


# ---- normalisation ---------------------------------------------------------------------------------------

def test_batchnorm_parity_train_and_eval():
    for t in range(2):
        c = _case("norm", "batchnorm_train", str(t))
        g = tuple(c["meta"]["g"])
        I = 2 ** len(g)
        C = c["x"].shape[1]
        layer = CliffordBatchNorm(g, use_running_average=False, momentum=c["meta"]["momentum"],
                                  epsilon=c["meta"]["eps"])
        # the reference reads its bias (I, C) with a reshape, not a transpose, into (C, I): a mere
        # relabelling of the bias entries, so the map is a reshape too
        params = {"weight": np.transpose(c["param/weight"], (2, 0, 1)), "bias": c["param/bias"].reshape(C, I)}
        stats = {"mean": np.zeros((C, I), np.float32), "cov": np.broadcast_to(np.eye(I, dtype=np.float32), (C, I, I))}
        (y, new_vars), gx, gp = _run(layer, params, ours(c["x"]), ours(c["cot"]), {"batch_stats": stats},
                                     mutable=["batch_stats"])
        np.testing.assert_allclose(ref(y), c["y"], **TOL)
        np.testing.assert_allclose(ref(gx), c["grad_x"], **TOL)
        np.testing.assert_allclose(np.transpose(gp["weight"], (1, 2, 0)), c["grad/weight"], **TOL)
        np.testing.assert_allclose(gp["bias"].reshape(I, C), c["grad/bias"], **TOL)
        # running statistics after one training step
        np.testing.assert_allclose(new_vars["batch_stats"]["mean"].T, c["buffer/running_mean"], **TOL)
        np.testing.assert_allclose(np.transpose(new_vars["batch_stats"]["cov"], (1, 2, 0)), c["buffer/running_cov"],
                                   **TOL)
        # evaluation with those running statistics
        e = _case("norm", "batchnorm_eval", str(t))
        layer_eval = CliffordBatchNorm(g, use_running_average=True, epsilon=c["meta"]["eps"])
        y, gx, gp = _run(layer_eval, params, ours(e["x"]), ours(e["cot"]), {"batch_stats": new_vars["batch_stats"]})
        np.testing.assert_allclose(ref(y), e["y"], **TOL)
        np.testing.assert_allclose(ref(gx), e["grad_x"], **TOL)
        np.testing.assert_allclose(np.transpose(gp["weight"], (1, 2, 0)), e["grad/weight"], **TOL)


@pytest.mark.parametrize("case", _cases("norm", "groupnorm"))
def test_groupnorm_parity(case):
    """The reference's num_groups=G forms C/G blocks of G channels: ours with num_groups = C/G.

    The reference's bias is wrong: it repeats its bias (I, C/G) over the batch to (I, B*C/G) and reads
    it with a reshape into (B*C/G, I), so the bias a sample receives depends on its position in the
    batch. We check: reference output = ours without bias + that scrambled bias, gradients w.r.t. the
    input and the weight equal, and the reference's bias gradient equals the scrambled sum of ours."""
    c = _case("norm", "groupnorm", case)
    g = tuple(c["meta"]["g"])
    B, C, *S, I = c["x"].shape
    G_ref = c["meta"]["num_groups"]
    cg = C // G_ref  # the reference's number of statistics blocks = our num_groups
    layer = CliffordGroupNorm(g, num_groups=cg)
    params = {"weight": np.transpose(c["param/weight"], (2, 0, 1)), "bias": np.zeros((cg, I), np.float32)}
    y, gx, gp = _run(layer, params, ours(c["x"]), ours(c["cot"]))
    # the bias each (sample b, block j) receives in the reference: rows of repeat(bias, B).reshape(B*cg, I)
    scrambled = np.tile(c["param/bias"], (1, B)).reshape(B, cg, I)  # [b, j, i]
    y_ref = np.asarray(y).reshape(B, *S, cg, G_ref, I) + scrambled.reshape(B, *([1] * len(S)), cg, 1, I)
    np.testing.assert_allclose(ref(y_ref.reshape(np.shape(y))), c["y"], **TOL)
    np.testing.assert_allclose(ref(gx), c["grad_x"], **TOL)
    np.testing.assert_allclose(np.transpose(gp["weight"], (1, 2, 0)), c["grad/weight"], **TOL)
    # bias gradient: sum the cotangent per (b, j, i), then scatter back through the scramble
    cot = ours(c["cot"]).astype(np.float64).reshape(B, *S, cg, G_ref, I)
    per = cot.sum(axis=tuple(range(1, 1 + len(S))) + (len(S) + 2,))  # (B, cg, I)
    flat_index = np.arange(I * B * cg).reshape(I, B * cg) % (B * cg) % cg  # column of the original bias
    grad_ref = np.zeros((I, cg))
    np.add.at(grad_ref, (np.repeat(np.arange(I), B * cg), flat_index.ravel()), per.reshape(-1))
    np.testing.assert_allclose(grad_ref, c["grad/bias"], **TOL)
    # our own bias gradient is the plain per-group sum
    np.testing.assert_allclose(gp["bias"], per.sum(0), **TOL)
    if B > 1:
        assert np.abs(scrambled[0] - scrambled[1]).max() > 1e-3, "expected a batch-position-dependent bias"
