import numpy as np
import pytest

from jaxsci.end import metrics


def test_wilson_interval():
    acc, lo, hi = metrics.accuracy_interval(900, 1000)
    assert acc == 0.9 and lo < 0.9 < hi
    assert abs((hi - lo) / 2 - 1.96 * np.sqrt(0.09 / 1000)) < 1e-3
    acc, lo, hi = metrics.accuracy_interval(10, 10)
    assert hi <= 1.0 + 1e-12 and lo < 1.0
    with pytest.raises(ValueError):
        metrics.accuracy_interval(11, 10)


def test_threshold_recovered_from_synthetic_curves():
    p_th, inv_nu = 0.17, 1.0
    p = np.linspace(0.10, 0.22, 13)
    Ls = [4, 6, 8]
    curve = lambda L: 0.6 - 1.5 * (p - p_th) * L**inv_nu - 0.5 * ((p - p_th) * L**inv_nu) ** 2
    P, LL = np.meshgrid(p, Ls)
    acc = np.stack([curve(L) for L in Ls])
    fit = metrics.fit_threshold(P, LL, acc, p_grid=np.linspace(0.15, 0.19, 41), mu_grid=np.linspace(0.5, 1.5, 21))
    assert abs(fit["p_th"] - p_th) < 1.5e-3 and abs(fit["inv_nu"] - inv_nu) < 0.06
    assert abs(metrics.crossing(p, curve(4), curve(6)) - p_th) < 2e-3
    assert metrics.crossing(p, curve(4), curve(4) - 1.0) is None
