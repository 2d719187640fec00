"""Pure functions behind the Clifford layers: kernels from the Cayley table, convolution, spectral product.

Layout everywhere: multivector fields ``x (batch, *spatial, channels, blades)``; weights of a
Clifford layer are ``I`` real tensors stacked on a leading blade axis, ``w (I, ..., C, O)``.

A Clifford layer computes the geometric product of each input multivector with a weight
multivector on the **right**, summed over input channels (as ``cliffordlayers`` does):

    y[o] = sum_c x[c] w[o, c]        (x[c], w[o, c], y[o] multivectors)

With the Cayley table ``M``, ``(x w)_k = sum_{i,j} x_i w_j M[i, j, k]``; for each input blade i and
output blade k exactly one j = i xor k contributes, with sign ``s[i, k]`` (0 in degenerate metrics).
So the real kernel of the layer is a gather of the weights, ``K[i, k] = s[i, k] w[j(i, k)]``, and the
whole layer is ONE ordinary real linear map / convolution with ``C*I`` input and ``O*I`` output
features (feature index ``c*I + i``, channel-major), which XLA runs as a single op.
"""

from __future__ import annotations

import functools
import itertools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxsci.clifford.algebra import CliffordAlgebra


def clifford_kernel(algebra: CliffordAlgebra, weight):
    """Real kernel of the right geometric product by ``weight``.

    Args:
        algebra: the algebra (I blades).
        weight: ``(I, *lead, C, O)``: one real tensor per weight blade.

    Returns:
        ``K (*lead, C*I, O*I)`` with ``K[..., c*I + i, o*I + k] = s[i, k] weight[j(i, k), ..., c, o]``,
        so that ``y[..., o*I + k] = sum_{c, i} x[..., c*I + i] K[..., c*I + i, o*I + k]`` is
        ``y[o] = sum_c x[c] w[o, c]`` (geometric product, weight on the right).
    """
    I = algebra.n_blades
    if weight.shape[0] != I:
        raise ValueError(f"weight must have {I} blades on axis 0 for g={algebra.g}, got shape {weight.shape}")
    *lead, C, O = weight.shape[1:]
    sign = jnp.asarray(algebra.product_sign, weight.dtype).reshape((I, I) + (1,) * (weight.ndim - 1))
    k = weight[algebra.product_index] * sign  # (I_in, I_out, *lead, C, O)
    nl = len(lead)
    k = jnp.transpose(k, tuple(range(2, 2 + nl)) + (2 + nl, 0, 3 + nl, 1))  # (*lead, C, I_in, O, I_out)
    return k.reshape(*lead, C * I, O * I)


def rotation_kernel(weight, scale):
    """Kernel of the rotational 2D Clifford layer (``g = (-1, -1)``, quaternion-like blades).

    The scalar output is the scalar part of the product ``x w`` of the quaternion ``w``; the
    vector/bivector outputs (blades 1..3) rotate the input blades 1..3 by the unit quaternion
    ``w / sqrt(|w|^2 + 1e-4)`` (rotation matrix of ``q x q^*``), scaled by ``scale``.

    Args:
        weight: ``(4, *lead, C, O)``; scale: ``(*lead, C, O)``.

    Returns:
        ``K (*lead, C*4, O*4)`` in the layout of :func:`clifford_kernel`.
    """
    if weight.shape[0] != 4:
        raise ValueError(f"rotational kernel needs 4 weight blades, got shape {weight.shape}")
    if scale.shape != weight.shape[1:]:
        raise ValueError(f"scale must have shape {weight.shape[1:]}, got {scale.shape}")
    norm = jnp.sqrt(jnp.sum(weight * weight, axis=0) + 1e-4)
    a, b, c, d = weight / norm
    rot = [
        [1 - 2 * (c * c + d * d), 2 * (b * c - a * d), 2 * (b * d + a * c)],
        [2 * (b * c + a * d), 1 - 2 * (b * b + d * d), 2 * (c * d - a * b)],
        [2 * (b * d - a * c), 2 * (c * d + a * b), 1 - 2 * (b * b + c * c)],
    ]
    zero = jnp.zeros_like(scale)
    w0, w1, w2, w3 = weight
    # rows: output blade k; columns: input blade i
    rows = [[w0, -w1, -w2, -w3]] + [[zero] + [scale * r for r in rot[k]] for k in range(3)]
    k = jnp.stack([jnp.stack(r, 0) for r in rows], 0)  # (I_out, I_in, *lead, C, O)
    *lead, C, O = scale.shape
    nl = len(lead)
    k = jnp.transpose(k, tuple(range(2, 2 + nl)) + (2 + nl, 1, 3 + nl, 0))  # (*lead, C, I_in, O, I_out)
    return k.reshape(*lead, C * 4, O * 4)


def _tuple(v, n: int, name: str) -> tuple[int, ...]:
    t = (v,) * n if isinstance(v, (int, np.integer)) else tuple(v)
    if len(t) != n or not all(isinstance(e, (int, np.integer)) for e in t):
        raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {v!r}")
    return tuple(int(e) for e in t)


def clifford_conv(
    x,
    kernel,
    n_blades: int,
    *,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    padding_mode: str = "zeros",
):
    """N-d convolution of a multivector field with an assembled Clifford kernel.

    Args:
        x: ``(B, *spatial, C, I)``.
        kernel: ``(*kernel_size, C/groups*I, O*I)`` from :func:`clifford_kernel` (or
            :func:`rotation_kernel`) of weights ``(I, *kernel_size, C/groups, O)``.
        n_blades: I.
        stride, padding, dilation: ints or per-spatial-axis tuples (PyTorch meaning).
        groups: channels split into ``groups`` blocks; each block keeps all its blades together.
        padding_mode: ``"zeros"`` or ``"circular"`` (periodic).

    Returns:
        ``(B, *spatial_out, O, I)``.
    """
    nd = kernel.ndim - 2
    if x.ndim != nd + 3:
        raise ValueError(f"input must be (batch, *{nd} spatial, channels, blades), got shape {x.shape}")
    if x.shape[-1] != n_blades:
        raise ValueError(f"input has {x.shape[-1]} blades, the layer expects {n_blades}")
    C, I = x.shape[-2:]
    if C % groups or (kernel.shape[-1] // I) % groups:
        raise ValueError(f"channels in ({C}) and out ({kernel.shape[-1] // I}) must divide by groups={groups}")
    if kernel.shape[-2] != C // groups * I:
        raise ValueError(f"kernel expects {kernel.shape[-2] // I * groups} input channels, got {C}")
    stride, padding, dilation = (_tuple(v, nd, n) for v, n in ((stride, "stride"), (padding, "padding"),
                                                               (dilation, "dilation")))
    h = x.reshape(*x.shape[:-2], C * I)
    if padding_mode == "circular":
        h = jnp.pad(h, [(0, 0)] + [(p, p) for p in padding] + [(0, 0)], mode="wrap")
        pads = [(0, 0)] * nd
    elif padding_mode == "zeros":
        pads = [(p, p) for p in padding]
    else:
        raise ValueError(f"padding_mode must be 'zeros' or 'circular', got {padding_mode!r}")
    y = _conv(h, kernel.astype(h.dtype), stride, tuple(pads), dilation, groups)
    return y.reshape(*y.shape[:-1], kernel.shape[-1] // I, I)


def _lax_conv(h, k, stride, pads, dilation, groups):
    """Channels-last N-d convolution: ``h (B, *S, Cin)``, ``k (*ks, Cin/groups, Cout)``."""
    nd = k.ndim - 2
    dn = lax.ConvDimensionNumbers(
        lhs_spec=(0, nd + 1) + tuple(range(1, nd + 1)),
        rhs_spec=(nd + 1, nd) + tuple(range(nd)),
        out_spec=(0, nd + 1) + tuple(range(1, nd + 1)),
    )
    return lax.conv_general_dilated(h, k, window_strides=stride, padding=pads, rhs_dilation=dilation,
                                    dimension_numbers=dn, feature_group_count=groups)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def _conv(h, k, stride, pads, dilation, groups):
    """:func:`_lax_conv` whose kernel gradient is one GEMM per kernel offset.

    XLA's CPU backend computes the kernel gradient of a convolution several times slower than the
    forward pass; ``sum_(b, x) h[b, x*stride + off*dilation] ct[b, x]`` per offset ``off`` is a plain
    matrix product over the batch and output positions, which every backend runs at full speed. The
    input gradient stays XLA's own (transposed convolution).
    """
    return _lax_conv(h, k, stride, pads, dilation, groups)


def _conv_fwd(h, k, stride, pads, dilation, groups):
    return _lax_conv(h, k, stride, pads, dilation, groups), (h, k)


def _conv_bwd(stride, pads, dilation, groups, res, ct):
    h, k = res
    _, vjp_h = jax.vjp(lambda h: _lax_conv(h, k, stride, pads, dilation, groups), h)
    (gh,) = vjp_h(ct)
    nd = k.ndim - 2
    ks = k.shape[:nd]
    out = ct.shape[1:1 + nd]
    cin, cout = h.shape[-1], ct.shape[-1]
    hp = jnp.pad(h, [(0, 0)] + [tuple(p) for p in pads] + [(0, 0)])
    hp = hp.reshape(*hp.shape[:-1], groups, cin // groups)
    ctg = ct.reshape(*ct.shape[:-1], groups, cout // groups)
    grads = []
    for off in itertools.product(*(range(n) for n in ks)):
        start = [0] + [off[d] * dilation[d] for d in range(nd)] + [0, 0]
        limit = [hp.shape[0]] + [off[d] * dilation[d] + (out[d] - 1) * stride[d] + 1 for d in range(nd)] + \
            list(hp.shape[-2:])
        xs = lax.slice(hp, start, limit, [1] + list(stride) + [1, 1])  # (B, *out, G, Cin/G)
        grads.append(jnp.einsum("...gi,...go->igo", xs, ctg))
    gk = jnp.stack(grads).reshape(*ks, cin // groups, cout)
    return gh, gk.astype(k.dtype)


_conv.defvjp(_conv_fwd, _conv_bwd)


# ---- Clifford Fourier transform -------------------------------------------------------------------
#
# The Clifford Fourier transform of the paper pairs each blade with its dual (x_a + i x_{I-1-a}) and
# takes ordinary complex FFTs of these pairs. Packing two real fields into one complex FFT costs the
# same as two real FFTs (rfft), so rfft would save nothing here; and because the per-mode weights
# mix real and imaginary parts of different pairs, the product at frequency k is not tied to the one
# at -k (no Hermitian symmetry to exploit). What does save work is pruning: only the 2m lowest
# frequencies of each axis are kept, so each axis is transformed and cut before the next one is
# transformed (and, in the inverse, zero-padded only when its turn comes).

def _dual_pairs(x):
    """Complex fields of the dual pairs (blade a, blade I-1-a), a < I/2: ``x_a + i x_{I-1-a}``."""
    h = x.shape[-1] // 2
    return lax.complex(x[..., :h], x[..., ::-1][..., :h])


def _from_dual_pairs(z):
    """Inverse of :func:`_dual_pairs` on real/imaginary parts: blades (Re z_0..Re z_h-1, Im z_h-1..Im z_0)."""
    return jnp.concatenate([jnp.real(z), jnp.imag(z)[..., ::-1]], axis=-1)


def clifford_fourier_modes(x, modes: Sequence[int]):
    """Truncated Clifford Fourier transform of ``x (B, *spatial, C, I)`` (2D: I = 4, 3D: I = 8).

    The dual pairs ``x_a + i x_{I-1-a}`` (2D: (0,3), (1,2); 3D: (0,7), (1,6), (2,5), (3,4)) are
    Fourier transformed; the lowest ``modes[d]`` positive and negative frequencies of every spatial
    axis are kept (in FFT order: ``[0..m)`` then ``[-m..0)``), and the real and imaginary parts are
    laid out again as a real multivector. The transform is done axis by axis, each axis cut to its
    modes before the next is transformed (a pruned FFT).

    Returns:
        ``(B, *2*modes, C, I)`` real.
    """
    nd = len(modes)
    z = _dual_pairs(x)  # (B, *S, C, P)
    for ax in reversed(range(1, nd + 1)):
        m = modes[ax - 1]
        z = jnp.fft.fft(z, axis=ax)
        n = z.shape[ax]
        z = jnp.concatenate([lax.slice_in_dim(z, 0, m, axis=ax), lax.slice_in_dim(z, n - m, n, axis=ax)], axis=ax)
    return _from_dual_pairs(z)


def inverse_clifford_fourier_modes(v, shape: Sequence[int]):
    """Inverse of :func:`clifford_fourier_modes`: modes ``v (B, *2*modes, O, I)`` zero-padded to the
    spatial ``shape``, inverse transformed, and laid out as a real multivector ``(B, *shape, O, I)``."""
    nd = len(shape)
    z = _dual_pairs(v)
    for ax in range(1, nd + 1):
        m2 = z.shape[ax]
        m = m2 // 2
        n = shape[ax - 1]
        pad_shape = list(z.shape)
        pad_shape[ax] = n - m2
        z = jnp.concatenate([lax.slice_in_dim(z, 0, m, axis=ax), jnp.zeros(pad_shape, z.dtype),
                             lax.slice_in_dim(z, m, m2, axis=ax)], axis=ax)
        z = jnp.fft.ifft(z, axis=ax)
    return _from_dual_pairs(z)


def clifford_spectral_conv(x, kernel, modes: Sequence[int]):
    """Clifford Fourier layer: truncated Clifford FFT, per-mode Clifford product, inverse FFT.

    Args:
        x: ``(B, *spatial, C, I)`` (2D with I = 4 or 3D with I = 8).
        kernel: ``(*2*modes, C*I, O*I)`` from :func:`clifford_kernel` of weights ``(I, *2*modes, C, O)``.
        modes: kept frequencies per axis; requires ``2 * modes[d] <= spatial[d]``.

    Returns:
        ``(B, *spatial, O, I)``.
    """
    nd = len(modes)
    spatial = x.shape[1:1 + nd]
    C, I = x.shape[-2:]
    v = clifford_fourier_modes(x, modes)  # (B, *2m, C, I)
    v = v.reshape(*v.shape[:-2], C * I)
    letters = "pqr"[:nd]
    out = jnp.einsum(f"b{letters}n,{letters}nm->b{letters}m", v, kernel.astype(v.dtype))
    out = out.reshape(*out.shape[:-1], kernel.shape[-1] // I, I)
    return inverse_clifford_fourier_modes(out, spatial)
