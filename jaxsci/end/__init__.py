"""END: an equivariant neural decoder for the toric code (Egorov, Bondesan & Welling, ICML 2023).

* :mod:`~jaxsci.end.toric`: the code, depolarising / bit-flip noise (and measurement noise), syndromes,
  the 16 logical classes, and the translation symmetry of the optimal decoder.
* :class:`Decoder`: END (``head="end"``) and the non-equivariant CNN (``head="fc"``).
* :mod:`~jaxsci.end.baselines`: MWPM with pymatching, the exact ML decoder by enumeration (small L).
* :mod:`~jaxsci.end.metrics`: accuracy with binomial intervals, threshold from curve crossings.
* :mod:`~jaxsci.end.symmetry`: rotations, reflections and the primal-dual exchange (symmetries of the
  optimal decoder under depolarising noise), and test-time symmetrisation of a decoder over them.
"""

from jaxsci.end import baselines, symmetry, toric
from jaxsci.end.baselines import ml_decode, ml_posterior, mwpm_decode
from jaxsci.end.decode import decode, evaluate_accuracy, loss, make_loss
from jaxsci.end.metrics import accuracy_interval, crossing, fit_threshold
from jaxsci.end.model import HEADS, Decoder, Trunk
from jaxsci.end.symmetry import symmetrize
from jaxsci.end.toric import (
    NUM_CLASSES,
    logical_label,
    sample,
    sample_batch,
    sample_error,
    syndrome,
    translation_flip,
)

__all__ = [
    "Decoder",
    "HEADS",
    "NUM_CLASSES",
    "Trunk",
    "accuracy_interval",
    "baselines",
    "crossing",
    "decode",
    "evaluate_accuracy",
    "fit_threshold",
    "logical_label",
    "loss",
    "make_loss",
    "ml_decode",
    "ml_posterior",
    "mwpm_decode",
    "sample",
    "sample_batch",
    "sample_error",
    "symmetrize",
    "symmetry",
    "syndrome",
    "toric",
    "translation_flip",
]
