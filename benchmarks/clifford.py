"""clifford: CliffordConv2d and CliffordSpectralConv2d, ours (jit) against ``cliffordlayers`` 0.1.1 (torch).

Cases: forward, and forward + backward (gradients w.r.t. the input and every parameter of
``sum(y * cotangent)``), at batch 8, 32 -> 32 channels, 128 x 128, signature (1, 1), 3 x 3 kernel with
padding 1, and 16 x 16 Fourier modes per corner (``quick``: batch 2, 4 channels, 16 x 16, 4 modes).
Both sides get the same input values, ours in ``(B, H, W, C, I)``, the reference in ``(B, C, H, W, I)``.
The reference rows are left out when ``torch`` and ``cliffordlayers`` cannot be imported.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.harness import Row, register, time_call, time_jitted, torch_device
from jaxsci.clifford import CliffordConv2d, CliffordSpectralConv2d


def _reference():
    try:
        import torch
        from cliffordlayers.nn.modules.cliffordconv import CliffordConv2d as RefConv
        from cliffordlayers.nn.modules.cliffordfourier import CliffordSpectralConv2d as RefSpectral
    except ImportError:
        return None
    return torch, RefConv, RefSpectral


def _ours(layer, x):
    params = layer.init(jax.random.key(0), x)["params"]
    fwd = jax.jit(lambda p, x: layer.apply({"params": p}, x))
    # the cotangent is an argument (a closed-over array would be constant-folded at compile time)
    bwd = jax.jit(jax.grad(lambda p, x, cot: jnp.sum(layer.apply({"params": p}, x) * cot), argnums=(0, 1)))
    return fwd, bwd, params


def _torch_fns(torch, layer, x_np, cot_np):
    dev = torch_device(torch)
    layer.to(dev)
    x = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x_np, -2, 1))).to(dev)
    cot = torch.from_numpy(np.ascontiguousarray(np.moveaxis(cot_np, -2, 1))).to(dev)

    def fwd():
        with torch.no_grad():
            return layer(x)

    def bwd():
        layer.zero_grad(set_to_none=True)
        xg = x.clone().requires_grad_(True)
        (layer(xg) * cot).sum().backward()
        return xg.grad

    return fwd, bwd


@register("clifford")
def bench(quick: bool) -> list[Row]:
    """Clifford conv and Fourier layers: ours jitted vs cliffordlayers (torch), forward and backward."""
    B, C, N, modes = (2, 4, 16, 4) if quick else (8, 32, 128, 16)
    g = (1, 1)
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((B, N, N, C, 4), dtype=np.float32)
    cot_np = rng.standard_normal((B, N, N, C, 4), dtype=np.float32)
    x, cot = jnp.asarray(x_np), jnp.asarray(cot_np)
    ref = _reference()
    repeats, ref_repeats = (3, 2) if quick else (10, 3)
    rows = []
    layers = {
        "CliffordConv2d": (CliffordConv2d(g, C, kernel_size=3, padding=1), f"k3 p1"),
        "CliffordSpectralConv2d": (CliffordSpectralConv2d(g, C, modes=(modes, modes)), f"modes {modes}x{modes}"),
    }
    for name, (layer, what) in layers.items():
        fwd, bwd, params = _ours(layer, x)
        t_fwd = time_jitted(fwd, params, x, repeats=repeats)
        t_bwd = time_jitted(bwd, params, x, cot, repeats=repeats)
        r_fwd = r_bwd = None
        if ref is not None:
            torch, RefConv, RefSpectral = ref
            torch.manual_seed(0)
            if name == "CliffordConv2d":
                ref_layer = RefConv(g, C, C, kernel_size=3, padding=1)
            else:
                ref_layer = RefSpectral(g, C, C, modes, modes)
            f, b = _torch_fns(torch, ref_layer, x_np, cot_np)
            r_fwd = time_call(f, repeats=ref_repeats).median_s
            r_bwd = time_call(b, repeats=ref_repeats).median_s
        case = f"{name} B{B} C{C} {N}x{N} {what}"
        label = "cliffordlayers 0.1.1" if ref is not None else ""
        if ref is None:
            notes = "reference not installed"
        elif torch_device(ref[0]) == "cuda":
            notes = "torch on the GPU"
        else:
            notes = f"torch threads {ref[0].get_num_threads()}"
        rows.append(Row("clifford", f"{case} fwd", t_fwd.median_s, r_fwd, label, t_fwd.compile_s, notes=notes))
        rows.append(Row("clifford", f"{case} fwd+bwd", t_bwd.median_s, r_bwd, label, t_bwd.compile_s, notes=notes))
    return rows
