"""Sufficient statistics algebra and the M-step."""

import numpy as np
import pytest

from conftest import stats_about as _stats_about
from gmmx.core.covariance import get_covariance
from gmmx.core.mstep import m_step
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


def test_m_step_closed_form():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 2)) * [1.0, 3.0] + [10.0, -4.0]
    r = rng.dirichlet(np.ones(2), size=400)
    st = _stats_about(X, r, rng.normal(size=(2, 2)), "full")
    w, mu, cov, pc = m_step(st, 0.0)
    nk = r.sum(0)
    np.testing.assert_allclose(w, nk / nk.sum(), rtol=1e-12)
    for k in range(2):
        m = r[:, k] @ X / nk[k]
        np.testing.assert_allclose(mu[k], m, rtol=1e-12)
        C = (r[:, k, None] * (X - m)).T @ (X - m) / nk[k]
        np.testing.assert_allclose(cov[k], C, rtol=1e-10)
        np.testing.assert_allclose(pc[k] @ pc[k].T, np.linalg.inv(C), rtol=1e-9)
    assert np.allclose(np.tril(pc[0], -1), 0)  # upper triangular, as sklearn


def test_precision_helpers_round_trip():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(3, 4, 4))
    cov = A @ A.transpose(0, 2, 1) + np.eye(4)
    pc = get_covariance("full").precision_cholesky(cov)
    np.testing.assert_allclose(get_covariance("full").covariances_from_cholesky(pc), cov, rtol=1e-10)
    P = get_covariance("full").precisions_from_cholesky(pc)
    np.testing.assert_allclose(P, np.linalg.inv(cov), rtol=1e-9)
    pc2 = get_covariance("full").precision_cholesky_from_precisions(P)
    np.testing.assert_allclose(pc2, pc, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="ill-defined"):
        get_covariance("full").precision_cholesky(np.zeros((1, 2, 2)))


def test_arrays_round_trip():
    rng = np.random.default_rng(4)
    st = _stats_about(rng.normal(size=(50, 2)), rng.dirichlet(np.ones(2), 50),
                      rng.normal(size=(2, 2)), "diag")
    back = SufficientStats.from_arrays("diag", st.to_arrays())
    np.testing.assert_array_equal(back.Mk, st.Mk)
    assert back.n_samples == st.n_samples and back.weight_sum == st.weight_sum
