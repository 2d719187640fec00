"""Accuracy with binomial confidence intervals, and the threshold from the crossing of accuracy curves."""

from __future__ import annotations

import math

import numpy as np


def accuracy_interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float, float]:
    """Accuracy ``correct / total`` and its Wilson score interval ``(acc, low, high)`` (z = 1.96: 95 %)."""
    if total <= 0 or not 0 <= correct <= total:
        raise ValueError(f"need 0 <= correct <= total and total > 0, got {correct}/{total}")
    acc = correct / total
    denom = 1 + z * z / total
    centre = (acc + z * z / (2 * total)) / denom
    half = z * math.sqrt(acc * (1 - acc) / total + z * z / (4 * total * total)) / denom
    return acc, centre - half, centre + half


def crossing(p, acc_small, acc_large) -> float | None:
    """The rate where two accuracy-vs-p curves (a smaller and a larger L, on the same grid ``p``)
    cross, by linear interpolation of their difference; None if they do not cross on the grid.
    Below threshold the larger code is more accurate, above it the smaller."""
    p = np.asarray(p, float)
    diff = np.asarray(acc_large, float) - np.asarray(acc_small, float)
    sign = np.sign(diff)
    for k in range(len(p) - 1):
        if sign[k] > 0 and sign[k + 1] <= 0:
            if diff[k] == diff[k + 1]:
                return float(p[k])
            return float(p[k] + (p[k + 1] - p[k]) * diff[k] / (diff[k] - diff[k + 1]))
    return None


def fit_threshold(p, L, acc, *, degree: int = 2, p_grid=None, mu_grid=None) -> dict:
    """Finite-size scaling fit of the accuracy ``acc = A + B x + C x^2 (+ ...)`` with
    ``x = (p - p_th) L^(1/nu)`` (as the END authors fit it). ``p, L, acc``: flat arrays of the points.
    Least squares over a grid of ``(p_th, 1/nu)`` with the polynomial solved exactly at each;
    returns ``{"p_th", "inv_nu", "coef", "rms"}``."""
    p, L, acc = (np.asarray(a, float).ravel() for a in (p, L, acc))
    if not (p.shape == L.shape == acc.shape) or p.size < degree + 3:
        raise ValueError("p, L and acc must be flat arrays of the same length, with more points than parameters")
    p_grid = np.linspace(p.min(), p.max(), 201) if p_grid is None else np.asarray(p_grid)
    mu_grid = np.linspace(0.3, 2.0, 69) if mu_grid is None else np.asarray(mu_grid)
    best = None
    for pth in p_grid:
        for mu in mu_grid:
            x = (p - pth) * L**mu
            V = np.vander(x, degree + 1, increasing=True)
            coef, *_ = np.linalg.lstsq(V, acc, rcond=None)
            rms = float(np.sqrt(np.mean((V @ coef - acc) ** 2)))
            if best is None or rms < best["rms"]:
                best = {"p_th": float(pth), "inv_nu": float(mu), "coef": coef, "rms": rms}
    return best
