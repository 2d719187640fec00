"""Clifford neural layers (Brandstetter et al., "Clifford Neural Layers for PDE Modeling", ICLR 2023).

Layout: multivector fields are ``(batch, *spatial, channels, blades)`` (channels-last, blades
innermost), blades in the shortlex order of :class:`CliffordAlgebra` (2D: 1, e1, e2, e12; 3D: 1, e1,
e2, e3, e12, e13, e23, e123). ``to_reference_layout`` / ``from_reference_layout`` convert to and from
``cliffordlayers``' ``(batch, channels, *spatial, blades)``.

- Algebra: :class:`CliffordAlgebra` (Cayley table, geometric product, involutions, norms, versors).
- Layers (Flax linen): :class:`CliffordLinear`, :class:`CliffordConv1d` / ``2d`` / ``3d`` (any metric,
  stride, padding zeros/circular, dilation, groups; ``rotation=True`` for the rotational 2D kernel),
  :class:`CliffordSpectralConv2d` / ``3d``, :class:`CliffordBatchNorm`, :class:`CliffordGroupNorm`.
- Surrogates (:mod:`jaxsci.clifford.models`): 2D (Navier-Stokes smoke, shallow water) :class:`ResNet`,
  :class:`FNO2d` baselines and :class:`CResNet`, :class:`CResNetRot`, :class:`CFNO`; ``(B, H, W,
  time_history, 4) -> (B, H, W, 1, 4)``; 3D (Maxwell, ``F = E + I H``) :class:`ResNet3d`, :class:`FNO3d`,
  :class:`CResNet3d`, :class:`CFNO3d`; ``(B, X, Y, Z, time_history, 8) -> (B, X, Y, Z, 1, 8)``;
  :func:`make_model`, :func:`count_params`.
- Pure functions: :mod:`jaxsci.clifford.functional`.
"""

import jax.numpy as jnp

from jaxsci.clifford.algebra import CliffordAlgebra, as_algebra, blade_product, pga3d
from jaxsci.clifford.functional import (
    clifford_conv,
    clifford_fourier_modes,
    clifford_kernel,
    clifford_spectral_conv,
    inverse_clifford_fourier_modes,
    rotation_kernel,
)
from jaxsci.clifford.layers import (
    CliffordConv,
    CliffordConv1d,
    CliffordConv2d,
    CliffordConv3d,
    CliffordLinear,
    CliffordSpectralConv2d,
    CliffordSpectralConv3d,
)
from jaxsci.clifford.models import (
    CFNO,
    CFNO3d,
    FNO2d,
    FNO3d,
    CResNet,
    CResNet3d,
    CResNetRot,
    ResNet,
    ResNet3d,
    count_params,
    make_model,
)
from jaxsci.clifford.norm import CliffordBatchNorm, CliffordGroupNorm, whitening_matrix


def to_reference_layout(x):
    """``(B, *spatial, C, I) -> (B, C, *spatial, I)`` (the layout of ``cliffordlayers``)."""
    return jnp.moveaxis(x, -2, 1)


def from_reference_layout(x):
    """``(B, C, *spatial, I) -> (B, *spatial, C, I)``."""
    return jnp.moveaxis(x, 1, -2)


__all__ = [
    "CFNO",
    "CFNO3d",
    "CResNet",
    "CResNet3d",
    "CResNetRot",
    "FNO2d",
    "FNO3d",
    "ResNet",
    "ResNet3d",
    "count_params",
    "make_model",
    "CliffordAlgebra",
    "CliffordBatchNorm",
    "CliffordConv",
    "CliffordConv1d",
    "CliffordConv2d",
    "CliffordConv3d",
    "CliffordGroupNorm",
    "CliffordLinear",
    "CliffordSpectralConv2d",
    "CliffordSpectralConv3d",
    "as_algebra",
    "blade_product",
    "clifford_conv",
    "clifford_fourier_modes",
    "clifford_kernel",
    "clifford_spectral_conv",
    "from_reference_layout",
    "inverse_clifford_fourier_modes",
    "pga3d",
    "rotation_kernel",
    "to_reference_layout",
    "whitening_matrix",
]
