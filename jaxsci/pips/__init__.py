"""PIPS: transition paths by path-integral stochastic optimal control (Holdijk et al. 2023).

``policy``: the MLP policy in its two parameterisations (a force, or the gradient of a bias potential);
``pice``: controlled Langevin rollouts, the path-integral cross-entropy update with importance weights,
and the path metrics (hit fraction, maximum energy along the path, distance error, Kabsch RMSD).
"""

from jaxsci.pips.pice import (PICEConfig, Paths, System, hits, importance_weights, kabsch_rmsd, make_step,
                              pairwise_distances, path_metrics, rollout, terminal_cost)
from jaxsci.pips.policy import PolicyMLP, control, init

__all__ = ["PICEConfig", "Paths", "PolicyMLP", "System", "control", "hits", "importance_weights", "init",
           "kabsch_rmsd", "make_step", "pairwise_distances", "path_metrics", "rollout", "terminal_cost"]
