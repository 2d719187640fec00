"""end: syndromes decoded per second, END (jit) against MWPM (pymatching) on the same syndromes.

Cases, depolarising noise at p = 0.15 (``quick``: L 4, batch 256, the first two variants):

* L = 4, 6, 8, a batch of 16384 syndromes, END with the ``small`` preset's trunk (channels 32-64-64,
  3x3 kernels) in float32 and in bfloat16;
* at L = 6 also a batch of 1024 (latency-bound regime) and a narrow trunk (16-32-32, a quarter of the
  multiply-adds), to see how far batching, precision and size close the gap to matching.

XLA fuses each layer's convolution, activation and norm and the equivariant pooling into one program;
the weights are random (speed does not depend on them). pymatching decodes the plaquette and vertex
syndromes of the batch with ``decode_batch``. Ratio = pymatching seconds / END seconds: above 1 means
END is faster.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.harness import Row, register, time_call, time_jitted
from jaxsci import end
from jaxsci.end import baselines, toric

SMALL = (32, 64, 64)
NARROW = (16, 32, 32)


def _case(L, batch, channels, dtype, repeats, ref_cache):
    s, _ = toric.sample_batch(jax.random.key(L), L, 0.15, batch)
    if (L, batch) not in ref_cache:
        ref_cache[(L, batch)] = time_call(baselines.mwpm_decode, np.asarray(s), repeats=repeats).median_s
    t_ref = ref_cache[(L, batch)]
    model = end.Decoder(channels=channels, kernel_sizes=(3,) * len(channels), dtype=dtype)
    params = model.init(jax.random.key(0), s[:1])["params"]
    fn = jax.jit(lambda p, s: end.decode(model, p, s))
    t = time_jitted(fn, params, s, repeats=repeats)
    name = "float32" if dtype is None else "bfloat16"
    width = "-".join(map(str, channels))
    return Row("end", f"END {name} {width} L{L} batch {batch}", t.median_s, t_ref, "pymatching (MWPM)", t.compile_s,
               notes=f"END {batch / t.median_s:,.0f}/s, MWPM {batch / t_ref:,.0f}/s")


@register("end")
def bench(quick: bool) -> list[Row]:
    """END decoder (jit, float32 / bfloat16, two widths) vs pymatching MWPM: seconds per batch of syndromes."""
    cache: dict = {}
    if quick:
        return [_case(4, 256, SMALL, dtype, 3, cache) for dtype in (None, jnp.bfloat16)]
    rows = []
    for L in (4, 6, 8):
        for dtype in (None, jnp.bfloat16):
            rows.append(_case(L, 16384, SMALL, dtype, 10, cache))
    rows.append(_case(6, 1024, SMALL, None, 20, cache))
    rows.append(_case(6, 16384, NARROW, None, 10, cache))
    return rows
