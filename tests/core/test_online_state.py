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


def test_averaged_statistics_are_the_mean_of_the_running_ones():
    rng = np.random.default_rng(2)
    c = np.array([[0.5, -1.0], [2.0, 0.0]])
    batches = [_stats(rng, centers=c) for _ in range(6)]
    state, plain = OnlineEM(), OnlineEM()
    running = []
    for i, b in enumerate(batches):
        state.update(b, 0.6, average=i >= 3)
        running.append(plain.update(b, 0.6))
    np.testing.assert_allclose(state.stats.Mk, running[-1].Mk, rtol=1e-12)  # unchanged path
    mean = state.end_average()
    assert state.stats is mean and state.n_averaged == 0
    np.testing.assert_allclose(mean.nk, np.mean([s.nk for s in running[3:]], axis=0), rtol=1e-12)
    np.testing.assert_allclose(mean.Mk, np.mean([s.Mk for s in running[3:]], axis=0), rtol=1e-12)
    assert OnlineEM().end_average() is None
    # with as_totals, the mean is scaled by the weight seen, as update() scales
    state2 = OnlineEM()
    for b in batches:
        state2.update(b, 0.6, average=True)
    seen = sum(b.weight_sum for b in batches)
    np.testing.assert_allclose(state2.end_average(as_totals=True).nk,
                               state2.stats.nk * seen, rtol=1e-12)


def test_arrays_round_trip_with_extra_statistics():
    rng = np.random.default_rng(3)
    b = _stats(rng)
    b.extra["u"] = np.array([1.5, 2.5])
    state = OnlineEM()
    state.update(b, 0.7)
    state.update(_with_extra(rng, b.centers), 0.7)
    back = OnlineEM.from_arrays("full", state.to_arrays())
    assert back.n_updates == 2 and back.weight_seen == pytest.approx(state.weight_seen)
    for name in ("centers", "nk", "sk", "Mk"):
        np.testing.assert_array_equal(getattr(back.stats, name), getattr(state.stats, name))
    np.testing.assert_array_equal(back.stats.extra["u"], state.stats.extra["u"])
    with pytest.raises(ValueError, match="weight_seen must be a finite number >= 0"):
        OnlineEM.from_arrays("full", state.to_arrays() | {"online_weight_seen": np.array([-1.0])})
    empty = OnlineEM.from_arrays("full", OnlineEM().to_arrays())
    assert empty.stats is None and empty.n_updates == 0


def _with_extra(rng, centers):
    s = _stats(rng, centers=centers)
    s.extra["u"] = np.array([0.5, 4.0])
    return s
