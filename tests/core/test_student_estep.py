"""The t mixture's one-pass native E-step (StudentTEStep on _estep.t_estep) against scipy.stats."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

from conftest import scatter_in_use
from gmmx.core.covariance import get_covariance
from gmmx.core.student import StudentTEStep, StudentTParams
from gmmx.finance import full_covariances

COV_TYPES = ["full", "tied", "diag", "spherical"]


def setup(covariance_type, n=2500, K=3, d=4, seed=0, zero_weight=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_t(4, (n, d)) * 2.0
    means = rng.normal(size=(K, d))
    A = rng.normal(size=(K, d, d))
    full = A @ np.swapaxes(A, 1, 2) / d + np.eye(d)
    scales = {"full": full, "tied": full[0], "diag": np.diagonal(full, axis1=1, axis2=2).copy(),
              "spherical": np.diagonal(full, axis1=1, axis2=2).mean(axis=1)}[covariance_type]
    dof = np.array([2.5, 7.0, 40.0])[:K]
    weights = rng.dirichlet(np.ones(K))
    if zero_weight:
        weights[1] = 0.0
        weights /= weights.sum()
    cov = get_covariance(covariance_type)
    params = StudentTParams(weights, means, scales, cov.precision_cholesky(scales), dof)
    return X, params, StudentTEStep.from_params(params, covariance_type)


def reference(X, params, covariance_type, w):
    """Responsibilities, u and the statistics by scipy.stats.multivariate_t and numpy."""
    K, d = params.means.shape
    S = full_covariances(params.scales, covariance_type, K, d)
    with np.errstate(divide="ignore"):
        logw = np.log(params.weights)
    joint = np.column_stack([
        stats.multivariate_t(params.means[k], S[k], df=params.dof[k]).logpdf(X)
        for k in range(K)]) + logw
    norm = logsumexp(joint, axis=1)
    r = np.exp(joint - norm[:, None])
    delta = np.column_stack([np.einsum("ij,jk,ik->i", X - params.means[k], np.linalg.inv(S[k]),
                                       X - params.means[k]) for k in range(K)])
    u = (params.dof + d) / (params.dof + delta)
    wr = w[:, None] * r
    wru = wr * u
    nk = wru.sum(axis=0)
    mu = wru.T @ X / np.where(nk > 0, nk, 1.0)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(r > 0, wr * np.log(r), 0.0).sum(axis=0)
    M = np.stack([(wru[:, k, None] * (X - params.means[k])).T @ (X - params.means[k])
                  for k in range(K)])
    return dict(norm=norm, r=r, nk=nk, mu=mu, M=M, resp=wr.sum(axis=0),
                lumu=(wr * (np.log(u) - u)).sum(axis=0), entropy=ent, ll=float(w @ norm))


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("zero_weight", [False, True])
def test_one_pass_estep_equals_scipy(covariance_type, weighted, zero_weight):
    X, params, estep = setup(covariance_type, zero_weight=zero_weight)
    w = np.random.default_rng(1).uniform(0, 3, X.shape[0]) if weighted else None
    ref = reference(X, params, covariance_type, np.ones(X.shape[0]) if w is None else w)
    st = estep.accumulate(X, w, 2, 0, "")
    np.testing.assert_allclose(st.nk, ref["nk"], rtol=1e-10)
    live = st.nk > 0
    np.testing.assert_allclose((st.centers + st.sk / np.where(live, st.nk, 1.0)[:, None])[live],
                               ref["mu"][live], rtol=1e-9, atol=1e-12)
    M = st.recentred(params.means).Mk
    want = ref["M"] if M.ndim == 3 else np.diagonal(ref["M"], axis1=1, axis2=2)
    np.testing.assert_allclose(scatter_in_use(M, covariance_type),
                               scatter_in_use(want, covariance_type), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(st.extra["resp"], ref["resp"], rtol=1e-10)
    np.testing.assert_allclose(st.extra["log_u_minus_u"], ref["lumu"], rtol=1e-10)
    np.testing.assert_allclose(st.extra["entropy"], ref["entropy"], rtol=1e-8, atol=1e-10)
    assert st.log_likelihood == pytest.approx(ref["ll"], rel=1e-12)
    np.testing.assert_allclose(estep.log_prob_norm(X, 2), ref["norm"], rtol=1e-12)
    np.testing.assert_allclose(estep.responsibilities(X, 2), ref["r"], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_results_identical_for_any_thread_count_and_close_for_any_chunk(covariance_type):
    X, params, estep = setup(covariance_type, n=20_001)
    w = np.random.default_rng(2).uniform(0, 2, X.shape[0])
    for chunk_rows in (7, 0):
        one = estep.accumulate(X, w, 1, chunk_rows, "")
        for threads in (2, 3):
            other = estep.accumulate(X, w, threads, chunk_rows, "")
            for a, b in ((one.nk, other.nk), (one.sk, other.sk), (one.Mk, other.Mk)):
                np.testing.assert_array_equal(a, b)
            for key in one.extra:
                np.testing.assert_array_equal(one.extra[key], other.extra[key])
            assert one.log_likelihood == other.log_likelihood
            np.testing.assert_array_equal(estep.responsibilities(X, 1),
                                          estep.responsibilities(X, threads))
    small = estep.accumulate(X, w, 2, 7, "")
    np.testing.assert_allclose(small.nk, one.nk, rtol=1e-12)
    np.testing.assert_allclose(small.Mk, one.Mk, rtol=1e-10)
    np.testing.assert_allclose(small.extra["log_u_minus_u"], one.extra["log_u_minus_u"],
                               rtol=1e-11)


def test_float32_rows_equal_their_float64_values():
    X, params, estep = setup("full")
    X32 = X.astype(np.float32)
    a = estep.accumulate(X32, None, 2, 0, "")
    b = estep.accumulate(X32.astype(np.float64), None, 2, 0, "")
    np.testing.assert_allclose(a.nk, b.nk, rtol=1e-12)
    np.testing.assert_allclose(a.extra["log_u_minus_u"], b.extra["log_u_minus_u"], rtol=1e-12)


def test_bad_rows_are_named_and_no_rows_give_zeros():
    from gmmx.core.kernel import NonFiniteChunkError
    X, params, estep = setup("full", n=100)
    X[37, 2] = np.nan
    with pytest.raises(NonFiniteChunkError, match="row 37"):
        estep.accumulate(X, None, 2, 0, "")
    with pytest.raises(NonFiniteChunkError, match="row 37"):
        estep.log_prob_norm(X, 1)
    X[37, 2] = 1e300
    with pytest.raises(NonFiniteChunkError, match="row 37"):
        estep.accumulate(X, None, 1, 0, "")
    st = estep.accumulate(X[:0], None, 2, 0, "")
    assert st.weight_sum == 0 and np.all(st.extra["resp"] == 0) and st.extra["entropy"].shape == (3,)
