"""SufficientStats algebra: recentring, adding blocks, array round trip."""

import numpy as np
import pytest

from conftest import stats_about as _stats_about
from gmmx.core.stats import SufficientStats


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_recentring_equals_direct_statistics(covariance_type):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3)) + 5
    r = rng.dirichlet(np.ones(2), size=500)
    a = _stats_about(X, r, rng.normal(size=(2, 3)), covariance_type)
    c = rng.normal(size=(2, 3)) + 5
    direct = _stats_about(X, r, c, covariance_type)
    moved = a.recentred(c)
    np.testing.assert_allclose(moved.sk, direct.sk, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(moved.Mk, direct.Mk, rtol=1e-10)


def test_adding_blocks_equals_the_union():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(600, 2))
    r = rng.dirichlet(np.ones(3), size=600)
    c1, c2 = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    a = _stats_about(X[:250], r[:250], c1, "full")
    b = _stats_about(X[250:], r[250:], c2, "full")
    whole = _stats_about(X, r, c1, "full")
    s = a + b
    np.testing.assert_array_equal(s.centers, c1)
    np.testing.assert_allclose(s.nk, whole.nk)
    np.testing.assert_allclose(s.sk, whole.sk, atol=1e-10)
    np.testing.assert_allclose(s.Mk, whole.Mk, rtol=1e-12)
    assert s.n_samples == 600
    with pytest.raises(ValueError, match="covariance_type"):
        a + SufficientStats.zeros("diag", c1)


def test_arrays_round_trip():
    rng = np.random.default_rng(4)
    st = _stats_about(rng.normal(size=(50, 2)), rng.dirichlet(np.ones(2), 50),
                      rng.normal(size=(2, 2)), "diag")
    back = SufficientStats.from_arrays("diag", st.to_arrays())
    np.testing.assert_array_equal(back.Mk, st.Mk)
    assert back.n_samples == st.n_samples and back.weight_sum == st.weight_sum


def test_extra_statistics_add_scale_recentre_and_round_trip():
    rng = np.random.default_rng(3)
    a = SufficientStats.zeros("diag", rng.normal(size=(2, 3)))
    b = SufficientStats.zeros("diag", rng.normal(size=(2, 3)))
    a.nk[:] = [1.0, 2.0]
    b.nk[:] = [3.0, 4.0]
    a.extra["t"] = np.array([1.0, -2.0])
    b.extra["t"] = np.array([0.5, 0.25])
    total = a + b
    np.testing.assert_array_equal(total.extra["t"], [1.5, -1.75])
    np.testing.assert_array_equal(total.scaled(2.0).extra["t"], [3.0, -3.5])
    np.testing.assert_array_equal(a.recentred(b.centers).extra["t"], a.extra["t"])
    copy = a.copy()
    copy.extra["t"][0] = 99.0
    assert a.extra["t"][0] == 1.0
    back = SufficientStats.from_arrays("diag", a.to_arrays("p_"), "p_")
    np.testing.assert_array_equal(back.extra["t"], a.extra["t"])
    with pytest.raises(ValueError, match="extra fields"):
        a + SufficientStats.zeros("diag", b.centers)
