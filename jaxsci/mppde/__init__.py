"""MP-PDE: message-passing neural PDE solvers (Brandstetter, Worrall & Welling, ICLR 2022).

Graphs on 1D grids (:mod:`~jaxsci.mppde.graph`), the encoder-processor-decoder network with temporal
bundling (:class:`MPPDESolver`), the pushforward-trick loss, the jitted rollout and the paper's
accumulated-error metric (:mod:`~jaxsci.mppde.solver`). Data come from :mod:`jaxsci.pde.burgers`.
"""

from jaxsci.mppde.fno import FNO1d, SpectralConv1d
from jaxsci.mppde.graph import grid_graph, knn_graph, radius_graph, relative_positions
from jaxsci.mppde.model import GNNLayer, MPPDESolver, instance_norm, segment_mean
from jaxsci.mppde.plot import plot_rollout
from jaxsci.mppde.solver import (
    FAMILY_VARIABLES,
    Setup,
    accumulated_error,
    evaluate_rollout,
    init,
    predict,
    pushforward_loss,
    rollout,
)

__all__ = [
    "FAMILY_VARIABLES",
    "FNO1d",
    "SpectralConv1d",
    "plot_rollout",
    "GNNLayer",
    "MPPDESolver",
    "Setup",
    "accumulated_error",
    "evaluate_rollout",
    "grid_graph",
    "init",
    "instance_norm",
    "knn_graph",
    "predict",
    "pushforward_loss",
    "radius_graph",
    "relative_positions",
    "rollout",
    "segment_mean",
]
