"""Degenerate data that tick data produce: constant, duplicated, discrete and tiny-scale rows.

With ``reg_covar > 0`` every covariance is at least ``reg_covar * I``, an
emptied component's included, so such data fit (as in scikit-learn).
"""


import numpy as np
import pytest

from conftest import blobs, expected_warnings
from gmmx import GaussianMixture
from gmmx.core.init import kmeans, kmeans_plusplus
from gmmx.core.mstep import m_step
from gmmx.core.stats import SufficientStats

COV_TYPES = ["full", "tied", "diag", "spherical"]


def _fit(X, *args, **kw):
    with expected_warnings():  # convergence and reg_covar warnings
        return GaussianMixture(*args, **kw).fit(X)


def _min_variance(gm):
    """Smallest eigenvalue of any component covariance."""
    cov = np.asarray(gm.covariances_)
    if gm.covariance_type in ("full", "tied"):
        return float(np.linalg.eigvalsh(cov).min())
    return float(cov.min())


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_constant_data_fit_with_every_covariance_at_least_reg_covar(covariance_type):
    gm = _fit(np.ones((100, 2)), 2, covariance_type=covariance_type, random_state=0)
    assert _min_variance(gm) == pytest.approx(1e-6, rel=1e-9)
    np.testing.assert_allclose(gm.means_, 1.0)
    assert np.all(np.isfinite(gm.score_samples(np.ones((3, 2)))))


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_two_identical_points_two_components(covariance_type):
    gm = _fit(np.ones((2, 2)), 2, covariance_type=covariance_type, random_state=0)
    assert _min_variance(gm) >= 1e-6 * (1 - 1e-9)
    assert gm.predict(np.ones((1, 2))).shape == (1,)


def test_three_value_return_grid_fits_as_in_sklearn():
    rng = np.random.default_rng(0)
    r = rng.choice([-1e-4, 0.0, 1e-4], size=(3000, 1))
    gm = _fit(r, 4, reg_covar=1e-12, random_state=0)
    assert np.all(np.isfinite(gm.means_)) and np.all(gm.covariances_ >= 1e-12)
    # one component per value, with variance reg_covar: the score is that of
    # three point masses of variance 1e-12 weighted by the values' frequencies
    values = np.array([[-1e-4], [0.0], [1e-4]])
    assert len(set(gm.predict(values))) == 3
    freq = np.array([np.mean(r == v) for v in values.ravel()])
    expected = freq @ np.log(freq) - 0.5 * np.log(2 * np.pi * 1e-12)
    assert gm.score(r) == pytest.approx(expected, rel=1e-6)


def test_emptied_component_gets_pooled_spread_plus_reg_covar():
    # Component 1 receives no weight and there are no previous covariances:
    # its covariance is the pooled within-component spread plus reg_covar
    # (it used to be the spread alone, 0 for constant data).
    X = np.ones((20, 2))
    st = SufficientStats.zeros("full", np.zeros((2, 2)))
    st.nk[:] = [20.0, 0.0]
    st.centers[0] = 1.0
    st.weight_sum, st.n_samples = 20.0, 20
    params = m_step(st, 1e-6)
    np.testing.assert_allclose(params.covariances[1], 1e-6 * np.eye(2))
    np.testing.assert_allclose(params.covariances[0], 1e-6 * np.eye(2))
    for cov_type in ("diag", "spherical"):
        st = SufficientStats.zeros(cov_type, np.zeros((2, 2)))
        st.nk[:] = [20.0, 0.0]
        st.weight_sum, st.n_samples = 20.0, 20
        np.testing.assert_allclose(m_step(st, 1e-6).covariances[1], 1e-6)


@pytest.mark.parametrize("scale", [1e-200, 1e-170, 1e120])
def test_kmeans_is_scale_invariant_far_from_unit_scale(scale):
    X, _, _ = blobs(600, 2, 3, seed=4)
    ref_centers, ref_labels = kmeans(X, None, 3, np.random.RandomState(0))
    centers, labels = kmeans(X * scale, None, 3, np.random.RandomState(0))
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_allclose(centers, ref_centers * scale, rtol=1e-12)
    _, idx = kmeans_plusplus(X * scale, None, 3, np.random.RandomState(1))
    _, ref_idx = kmeans_plusplus(X, None, 3, np.random.RandomState(1))
    np.testing.assert_array_equal(idx, ref_idx)


def test_data_at_the_1e_minus_200_scale_fit():
    X, _, _ = blobs(500, 2, 2, seed=5)
    for reg_covar in (1e-6, 1e-300):
        gm = _fit(X * 1e-200, 2, reg_covar=reg_covar, random_state=0)
        assert np.all(np.isfinite(gm.means_)) and _min_variance(gm) >= reg_covar * (1 - 1e-9)
    # k-means found the two blobs: the initial means are the blobs' means
    gm = _fit(X * 1e-200, 2, reg_covar=1e-300, random_state=0, max_iter=0)
    ref = _fit(X, 2, reg_covar=1e-300, random_state=0, max_iter=0)
    np.testing.assert_allclose(gm.means_, ref.means_ * 1e-200, rtol=1e-10)
