"""Plots of MP-PDE rollouts beside the ground truth."""

from __future__ import annotations

import numpy as np

from jaxsci.core.log import pyplot, save_figure


def plot_rollout(true, pred, path, *, x=None, t=None, title: str = "") -> str:
    """Save true ``u``, predicted ``u`` and their difference as space-time images.

    Args:
      true, pred: ``(T, nx)`` arrays over the same time steps. x: ``(nx,)`` positions; t: ``(T,)`` times.
      path: the PNG to write.
    """
    plt = pyplot()

    true, pred = np.asarray(true), np.asarray(pred)
    if true.shape != pred.shape or true.ndim != 2:
        raise ValueError(f"true and pred must be equal (T, nx) arrays, got {true.shape} and {pred.shape}")
    x = np.arange(true.shape[1]) if x is None else np.asarray(x)
    t = np.arange(true.shape[0]) if t is None else np.asarray(t)
    extent = (x[0], x[-1], t[-1], t[0])
    lim = np.abs(true).max()
    fig, axes = plt.subplots(1, 3, figsize=(12, 4), sharey=True)
    for ax, img, name, cmap, vlim in (
        (axes[0], true, "ground truth", "RdBu_r", lim),
        (axes[1], pred, "prediction", "RdBu_r", lim),
        (axes[2], pred - true, "prediction - truth", "PuOr_r", np.abs(pred - true).max() or 1.0),
    ):
        im = ax.imshow(img, aspect="auto", extent=extent, cmap=cmap, vmin=-vlim, vmax=vlim)
        ax.set_title(name)
        ax.set_xlabel("x")
        fig.colorbar(im, ax=ax)
    axes[0].set_ylabel("t")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)
