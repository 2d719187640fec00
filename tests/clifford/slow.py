"""Slow, explicit references for the tests: loops of geometric products in float64 numpy.

These define what the Clifford layers must compute, independently of the kernel formulation:
``y[o] = sum_c x[c] w[o, c]`` with the geometric product of the algebra (weight on the right).
"""

from __future__ import annotations

import itertools

import numpy as np

from jaxsci.clifford import CliffordAlgebra


def gp(alg: CliffordAlgebra, a, b):
    """Geometric product of multivector arrays (..., I) x (..., I), written out blade by blade."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    out = np.zeros(np.broadcast_shapes(a.shape, b.shape))
    table = alg.cayley
    for i in range(alg.n_blades):
        for j in range(alg.n_blades):
            k = int(np.flatnonzero(table[i, j])[0]) if np.any(table[i, j]) else None
            if k is not None:
                out[..., k] += table[i, j, k] * a[..., i] * b[..., j]
    return out


def slow_conv(alg, x, w, b=None, *, stride, padding, dilation, groups=1, circular=False):
    """Clifford convolution by loops over kernel offsets, output channels and input channels.

    x: (B, *S, C, I); w: (I, *k, C/groups, O); b: (O, I) or None. Returns (B, *S_out, O, I).
    """
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    nd = x.ndim - 3
    ks = w.shape[1:1 + nd]
    C, I = x.shape[-2:]
    O = w.shape[-1]
    cg, og = C // groups, O // groups
    pad = [(0, 0)] + [(p, p) for p in padding] + [(0, 0), (0, 0)]
    xp = np.pad(x, pad, mode="wrap" if circular else "constant")
    out_shape = [(xp.shape[1 + d] - dilation[d] * (ks[d] - 1) - 1) // stride[d] + 1 for d in range(nd)]
    y = np.zeros((x.shape[0], *out_shape, O, I))
    for off in itertools.product(*(range(k) for k in ks)):
        sl = tuple(slice(off[d] * dilation[d], off[d] * dilation[d] + (out_shape[d] - 1) * stride[d] + 1, stride[d])
                   for d in range(nd))
        xs = xp[(slice(None), *sl)]  # (B, *out, C, I)
        for o in range(O):
            grp = o // og
            for cl in range(cg):
                c = grp * cg + cl
                y[..., o, :] += gp(alg, xs[..., c, :], w[(slice(None), *off, cl, o)])
    if b is not None:
        y = y + np.asarray(b, np.float64)
    return y


def _pairs(x):
    h = x.shape[-1] // 2
    return x[..., :h] + 1j * x[..., ::-1][..., :h]


def _unpairs(z):
    return np.concatenate([z.real, z.imag[..., ::-1]], axis=-1)


def slow_spectral(alg, x, w, modes, *, reference_3d_bug=False):
    """Clifford Fourier layer by an explicit loop over kept modes and channel pairs.

    x: (B, *S, C, I); w: (I, *2*modes, C, O). The dual pairs (a, I-1-a) are Fourier transformed
    (numpy ``fftn``); for every kept frequency (the lowest ``m`` non-negative and negative per axis)
    the mode multivector is multiplied by the weight multivector of that mode; the result is placed at
    the same frequency and transformed back.

    ``reference_3d_bug=True`` reproduces cliffordlayers 0.1.1's CliffordSpectralConv3d: the corner of
    frequencies (-kx, +ky, -kz) receives the product computed for (+kx, +ky, -kz).
    """
    x = np.asarray(x, np.float64)
    w = np.asarray(w, np.float64)
    nd = len(modes)
    S = x.shape[1:1 + nd]
    B, C, I, O = x.shape[0], x.shape[-2], x.shape[-1], w.shape[-1]
    spec = np.fft.fftn(_pairs(x), axes=tuple(range(1, nd + 1)))
    out = np.zeros((B, *S, O, I // 2), complex)
    grids = [list(range(m)) + list(range(-m, 0)) for m in modes]  # FFT order, index in the weight grid
    prods = {}
    for idx in itertools.product(*(range(2 * m) for m in modes)):
        freq = tuple(grids[d][idx[d]] for d in range(nd))
        v = _unpairs(spec[(slice(None), *freq)])  # (B, C, I)
        acc = np.zeros((B, O, I))
        for o in range(O):
            for c in range(C):
                acc[:, o] += gp(alg, v[:, c], w[(slice(None), *idx, c, o)])
        prods[idx] = acc
    for idx, acc in prods.items():
        freq = tuple(grids[d][idx[d]] for d in range(nd))
        src = idx
        if reference_3d_bug and freq[0] < 0 and freq[1] >= 0 and freq[2] < 0:
            src = (idx[0] - modes[0], idx[1], idx[2])
        out[(slice(None), *freq)] = _pairs(prods[src])
    return _unpairs(np.fft.ifftn(out, axes=tuple(range(1, nd + 1))))
