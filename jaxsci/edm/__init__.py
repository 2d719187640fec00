"""EDM: E(3)-equivariant diffusion for 3D molecule generation (Hoogeboom, Satorras, Vignac, Welling; ICML 2022).

- :mod:`jaxsci.edm.egnn`: the EGNN (dense masked, or an edge list of the real pairs) and EDM's noise predictor :class:`EGNNDynamics`.
- :mod:`jaxsci.edm.diffusion`: schedules, the training loss, the likelihood :func:`nll_per_molecule` (:func:`nll_estimate` averages draws), :func:`sample`.
- :mod:`jaxsci.edm.metrics`: atom / molecule stability from distance-inferred bonds; RDKit validity, uniqueness, novelty.
- :mod:`jaxsci.edm.predictor`: the invariant EGNN property predictor of the conditional evaluation.
- :mod:`jaxsci.edm.data`: QM9 offline (the ``qm9pack`` wheel) with EDM's split; XYZ / SDF readers.
"""

from jaxsci.edm.diffusion import (
    ancestral_sample,
    EDM,
    EDMConfig,
    GammaNetwork,
    gamma_table,
    init,
    kl_prior,
    log_p_num_atoms,
    loss,
    loss_per_molecule,
    nll_estimate,
    nll_per_molecule,
    node_mask_for,
    normalize,
    polynomial_schedule,
    sample,
    sample_num_atoms,
    sample_position_feature_noise,
)
from jaxsci.edm import data, metrics, predictor
from jaxsci.edm.egnn import EGNN, EGNNDynamics, remove_mean

__all__ = [
    "ancestral_sample",
    "EDM",
    "EDMConfig",
    "EGNN",
    "EGNNDynamics",
    "GammaNetwork",
    "gamma_table",
    "init",
    "kl_prior",
    "log_p_num_atoms",
    "loss",
    "loss_per_molecule",
    "nll_estimate",
    "nll_per_molecule",
    "node_mask_for",
    "normalize",
    "polynomial_schedule",
    "predictor",
    "data",
    "metrics",
    "remove_mean",
    "sample",
    "sample_num_atoms",
    "sample_position_feature_noise",
]
