"""The OnlineEM recursion over running sufficient statistics."""

import numpy as np
import pytest

from gmmx import SufficientStats
from gmmx.streaming import OnlineEM


def _stats(rng, K=2, d=2, centers=None):
    centers = rng.normal(size=(K, d)) if centers is None else centers
    M = rng.normal(size=(K, d, d))
    return SufficientStats(
        "full", centers, rng.uniform(1, 5, K), rng.normal(size=(K, d)),
        M @ np.swapaxes(M, 1, 2), float(rng.normal()), float(rng.uniform(5, 10)), 10,
    )


@pytest.mark.parametrize("kappa", [0.6, 0.8, 1.0])
def test_recursion_closed_form(kappa):
    # S_b = (1 - eta_b) S_{b-1} + eta_b s_b / W_b with eta_b = b ** -kappa, eta_1 = 1,
    # i.e. S_B = sum_b c_b s_b / W_b with c_b = eta_b prod_{j > b} (1 - eta_j).
    rng = np.random.default_rng(0)
    c = np.array([[0.5, -1.0], [2.0, 0.0]])
    batches = [_stats(rng, centers=c) for _ in range(5)]
    state = OnlineEM()
    for b in batches:
        state.update(b, kappa)
    eta = np.arange(1, 6) ** -kappa
    coef = [eta[b] * np.prod(1 - eta[b + 1:]) for b in range(5)]
    expect_n = sum(cb * s.nk / s.weight_sum for cb, s in zip(coef, batches))
    expect_M = sum(cb * s.Mk / s.weight_sum for cb, s in zip(coef, batches))
    np.testing.assert_allclose(state.stats.nk, expect_n, rtol=1e-12)
    np.testing.assert_allclose(state.stats.Mk, expect_M, rtol=1e-12)
    assert state.n_updates == 5
    if kappa == 1.0:  # the running average of the per-weight statistics
        np.testing.assert_allclose(coef, np.full(5, 0.2), rtol=1e-12)


def test_running_stats_recentred_to_current_means():
    rng = np.random.default_rng(1)
    s1 = _stats(rng, centers=np.zeros((2, 2)))
    s2 = _stats(rng, centers=np.array([[1.0, 1.0], [-2.0, 0.5]]))
    state = OnlineEM()
    state.update(s1, 0.6)
    state.update(s2, 0.6)
    np.testing.assert_array_equal(state.stats.centers, s2.centers)
    # recentring back gives the plain combination about the first centres
    eta = 2 ** -0.6
    direct = s1.scaled((1 - eta) / s1.weight_sum) + s2.scaled(eta / s2.weight_sum)
    back = state.stats.recentred(s1.centers)
    np.testing.assert_allclose(back.sk, direct.sk, atol=1e-12)
    np.testing.assert_allclose(back.Mk, direct.Mk, atol=1e-12)
