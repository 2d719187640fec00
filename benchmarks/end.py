"""end: syndromes decoded per second, END (jit) against MWPM (pymatching) on the same syndromes.

Cases: L = 4, 6, 8 under depolarising noise at p = 0.15; a batch of 16384 syndromes (``quick``: L 4,
256); END with the ``small`` preset's trunk (channels 32-64-64, 3x3 kernels) in float32 and in bfloat16
(XLA fuses the convolutions, norms and the equivariant pooling into one program; the weights are
random: speed does not depend on them). pymatching decodes the plaquette and vertex syndromes of the
batch with ``decode_batch``. Ratio = pymatching seconds / END seconds: above 1 means END is faster.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.harness import Row, register, time_call, time_jitted
from jaxsci import end
from jaxsci.end import baselines, toric


@register("end")
def bench(quick: bool) -> list[Row]:
    """END decoder (jit, float32 / bfloat16) vs pymatching MWPM: seconds per batch of syndromes."""
    Ls, batch = ((4,), 256) if quick else ((4, 6, 8), 16384)
    repeats = 3 if quick else 10
    rows = []
    for L in Ls:
        s, _ = toric.sample_batch(jax.random.key(L), L, 0.15, batch)
        s_np = np.asarray(s)
        t_ref = time_call(baselines.mwpm_decode, s_np, repeats=repeats).median_s
        for dtype in (None, jnp.bfloat16):
            model = end.Decoder(channels=(32, 64, 64), kernel_sizes=(3, 3, 3), dtype=dtype)
            params = model.init(jax.random.key(0), s[:1])["params"]
            fn = jax.jit(lambda p, s, model=model: end.decode(model, p, s))
            t = time_jitted(fn, params, s, repeats=repeats)
            name = "float32" if dtype is None else "bfloat16"
            rows.append(Row("end", f"END {name} L{L} batch {batch}", t.median_s, t_ref, "pymatching 2 (MWPM)", t.compile_s,
                            notes=f"END {batch / t.median_s:,.0f}/s, MWPM {batch / t_ref:,.0f}/s"))
    return rows
