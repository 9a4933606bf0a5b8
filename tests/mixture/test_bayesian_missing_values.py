"""BayesianGaussianMixture with nan_policy: missing entries refused, omitted or marginalized.

The reference is a brute-force mean-field VB written here for the family
``q(z, x_m) q(pi, mu, Lambda)``: row by row and component by component, in
precision form (``Lambda_bar = E[Lambda_k] = nu_k W_k``),

* ``log rho_ik = E[log pi_k] + E[log|Lambda_k|]/2 - d/(2 beta_k) - d_o/2 log 2 pi
  - log|Lambda_bar_mm|/2 - (x_o - m_o)' (Lambda_bar / Lambda_bar_mm) (x_o - m_o) / 2``
  (the Gaussian integral of ``exp E[log p(x, z = k | theta)]`` over ``x_m``),
* ``q(x_m | z = k) = N(m_m - Lambda_bar_mm^-1 Lambda_bar_mo (x_o - m_o), Lambda_bar_mm^-1)``,

and the conjugate update of scikit-learn's ``BayesianGaussianMixture``
(its ``_estimate_weights/_means/_precisions``) on the expected statistics;
the lower bound is scikit-learn's plus the entropy of ``q(x_m | z)``.
"""

import warnings

import numpy as np
import pytest
from scipy.special import digamma, logsumexp

from conftest import blobs, with_missing
from gmmx import BayesianGaussianMixture

sklearn = pytest.importorskip("sklearn")
from sklearn.mixture import BayesianGaussianMixture as SKBayesian  # noqa: E402

COVS = ["full", "tied", "diag", "spherical"]
pytestmark = pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")
EPS = np.finfo(np.float64).eps


def _precisions(sk, K, d):
    pc = np.asarray(sk.precisions_cholesky_, dtype=np.float64)
    if sk.covariance_type == "full":
        return np.einsum("kij,klj->kil", pc, pc)
    if sk.covariance_type == "tied":
        return np.broadcast_to(pc @ pc.T, (K, d, d))
    if sk.covariance_type == "diag":
        return np.array([np.diag(p * p) for p in pc])
    return np.array([np.eye(d) * p * p for p in pc])


def _vb_estep(X, sk):
    """Brute-force responsibilities, filled rows, q(x_m) covariances and entropies."""
    n, d = X.shape
    K = sk.means_.shape[0]
    P = _precisions(sk, K, d)
    nu = np.broadcast_to(np.asarray(sk.degrees_of_freedom_, dtype=np.float64), (K,))
    beta = sk.mean_precision_
    log_pi = sk._estimate_log_weights()
    logp = np.empty((n, K))
    fills = np.empty((K, n, d))
    covs = np.zeros((K, n, d, d))
    H = np.zeros((n, K))
    for k in range(K):
        W = P[k] / nu[k]
        e_log_det = (d * np.log(2.0) + sum(digamma(0.5 * (nu[k] - j)) for j in range(d))
                     + np.linalg.slogdet(W)[1])
        for i in range(n):
            o, m = ~np.isnan(X[i]), np.isnan(X[i])
            dev = X[i, o] - sk.means_[k, o]
            quad = dev @ P[k][np.ix_(o, o)] @ dev
            fills[k, i] = X[i]
            log_mm = 0.0
            if m.any():
                Pmm, Pmo = P[k][np.ix_(m, m)], P[k][np.ix_(m, o)]
                Pmm_inv = np.linalg.inv(Pmm)
                quad -= dev @ Pmo.T @ Pmm_inv @ Pmo @ dev
                fills[k, i, m] = sk.means_[k, m] - Pmm_inv @ Pmo @ dev
                covs[k, i][np.ix_(m, m)] = Pmm_inv
                log_mm = np.linalg.slogdet(Pmm)[1]
                H[i, k] = 0.5 * m.sum() * (1.0 + np.log(2 * np.pi)) - 0.5 * log_mm
            logp[i, k] = (log_pi[k] + 0.5 * e_log_det - 0.5 * d / beta[k]
                          - 0.5 * o.sum() * np.log(2 * np.pi) - 0.5 * log_mm - 0.5 * quad)
    log_resp = logp - logsumexp(logp, axis=1, keepdims=True)
    return log_resp, fills, covs, H, logsumexp(logp, axis=1)


def _vb_mstep(sk, resp, fills, covs, reg):
    """scikit-learn's conjugate update on the expected statistics."""
    K, n, d = fills.shape
    nk = resp.sum(axis=0) + 10 * EPS
    xk = np.einsum("nk,knd->kd", resp, fills) / nk[:, None]
    S = np.empty((K, d, d))
    for k in range(K):
        dev = fills[k] - xk[k]
        S[k] = (np.einsum("n,ni,nj->ij", resp[:, k], dev, dev)
                + np.einsum("n,nij->ij", resp[:, k], covs[k])) / nk[k]
    t = sk.covariance_type
    if t == "full":
        cov = S + reg * np.eye(d)
    elif t == "tied":
        cov = np.einsum("k,kij->ij", nk, S) / nk.sum() + reg * np.eye(d)
    elif t == "diag":
        cov = np.diagonal(S, axis1=1, axis2=2) + reg
    else:
        cov = np.diagonal(S, axis1=1, axis2=2).mean(axis=1) + reg
    sk._estimate_weights(nk)
    sk._estimate_means(nk, xk)
    sk._estimate_precisions(nk, xk, cov)


def _reference(model, X, n_iter):
    """``(sk with the parameters after n_iter iterations from model's, last lower bound)``."""
    K = model.n_components
    sk = SKBayesian(n_components=K, covariance_type=model.covariance_type,
                    weight_concentration_prior_type=model.weight_concentration_prior_type,
                    reg_covar=model.reg_covar)
    for name in ("weight_concentration_prior_", "mean_precision_prior_", "mean_prior_",
                 "degrees_of_freedom_prior_", "covariance_prior_"):
        setattr(sk, name, getattr(model, name))
    sk._set_parameters(model._get_parameters() if model.weight_concentration_prior_type
                       != "dirichlet_process" else
                       (tuple(model.weight_concentration_),) + tuple(model._get_parameters())[1:])
    lbs = []
    for _ in range(n_iter):
        log_resp, fills, covs, H, _ = _vb_estep(X, sk)
        resp = np.exp(log_resp)
        _vb_mstep(sk, resp, fills, covs, model.reg_covar)
        lb = float(np.squeeze(sk._compute_lower_bound(log_resp, None)))
        lbs.append(lb + float(np.sum(resp * H)))
    return sk, lbs


def _fit(X, cov, n_iter, warm_from=None, **kw):
    kw = dict(dict(n_components=3, covariance_type=cov, tol=0, max_iter=n_iter,
                   random_state=0, nan_policy="marginalize", n_threads=1), **kw)
    model = BayesianGaussianMixture(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    return model


def _close(a, b, tol=1e-9):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    np.testing.assert_allclose(a, b, rtol=0, atol=tol * np.max(np.abs(b)))


@pytest.mark.parametrize("prior_type", ["dirichlet_process", "dirichlet_distribution"])
@pytest.mark.parametrize("cov", COVS)
def test_equals_brute_force_vb(cov, prior_type):
    X = with_missing(blobs(200, 4, 3, seed=1)[0], 0.2, seed=1)
    model = _fit(X, cov, 1, weight_concentration_prior_type=prior_type)
    sk, lbs = _reference(model, X, 3)
    model.set_params(warm_start=True, max_iter=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    for name in ("mean_precision_", "means_", "degrees_of_freedom_", "covariances_",
                 "precisions_cholesky_"):
        _close(getattr(model, name), getattr(sk, name))
    _close(np.vstack(model.weight_concentration_) if prior_type == "dirichlet_process"
           else model.weight_concentration_,
           np.vstack(sk.weight_concentration_) if prior_type == "dirichlet_process"
           else sk.weight_concentration_)
    _close(model.lower_bounds_[-3:], lbs)
    # predict paths: the variational posteriors given the observed entries
    log_resp, _, _, _, norm = _vb_estep(X, sk)
    _close(model.predict_proba(X), np.exp(log_resp))
    _close(model.score_samples(X), norm)


@pytest.mark.parametrize("cov", COVS)
def test_lower_bound_increases_every_iteration(cov):
    X = with_missing(blobs(300, 3, 3, seed=2)[0], 0.3, seed=2)
    model = _fit(X, cov, 40, reg_covar=0.0)
    lbs = np.asarray(model.lower_bounds_)
    assert np.all(np.diff(lbs) >= -1e-9 * np.abs(lbs[1:])), np.diff(lbs)


def test_no_missing_values_same_bits_as_default():
    X = blobs(300, 3, 3, seed=3)[0]
    a = _fit(X, "full", 10, nan_policy="raise")
    b = _fit(X, "full", 10)
    for name in ("means_", "covariances_", "precisions_cholesky_", "mean_precision_"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.lower_bounds_ == b.lower_bounds_


def test_omit_equals_fit_on_complete_rows_and_raise_names_option():
    Xc = blobs(300, 3, 3, seed=4)[0]
    X = with_missing(Xc, 0.1, seed=4)
    keep = ~np.isnan(X).any(axis=1)
    a = _fit(X, "diag", 5, nan_policy="omit")
    with pytest.warns(UserWarning, match="dropped"):
        BayesianGaussianMixture(n_components=3, nan_policy="omit", max_iter=200).fit(X)
    b = _fit(X[keep], "diag", 5, nan_policy="raise")
    for name in ("means_", "covariances_", "mean_precision_"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-12)
    with pytest.raises(ValueError, match="nan_policy"):
        _fit(X, "diag", 5, nan_policy="raise")


def test_partial_fit_applies_nan_policy():
    X = with_missing(blobs(400, 3, 3, seed=5)[0], 0.1, seed=5)
    model = BayesianGaussianMixture(n_components=3, nan_policy="marginalize", random_state=0,
                                    max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.partial_fit(X[:200])
        model.partial_fit(X[200:])
    assert np.all(np.isfinite(model.means_))
    with pytest.raises(ValueError, match="nan_policy"):
        BayesianGaussianMixture(n_components=3).partial_fit(X)


def test_chunk_source_and_dask_equal_in_memory():
    da = pytest.importorskip("dask.array")
    import copy

    import dask

    from gmmx.sources import ArraySource

    X = with_missing(blobs(300, 3, 3, seed=6)[0], 0.2, seed=6)
    # the same start for every source (warm starts); the prior's data defaults per pass
    start = _fit(X, "full", 1)
    start.set_params(warm_start=True, max_iter=4)
    fits = []
    for data in (X, ArraySource(X, chunk_size=64), da.from_array(X, chunks=(70, 3))):
        model = copy.deepcopy(start)
        with dask.config.set(scheduler="synchronous"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits.append(model.fit(data))
    ref = fits[0]
    for other in fits[1:]:
        for name in ("means_", "covariances_", "mean_precision_", "degrees_of_freedom_"):
            np.testing.assert_allclose(getattr(other, name), getattr(ref, name), rtol=1e-10,
                                       atol=1e-12)
        np.testing.assert_allclose(other.lower_bounds_, ref.lower_bounds_, rtol=1e-10)


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_prior_defaults_from_the_observed_entries(cov):
    X = with_missing(blobs(300, 3, 3, seed=7)[0], 0.2, seed=7)
    w = np.random.default_rng(7).uniform(0.5, 2.0, X.shape[0])
    model = BayesianGaussianMixture(n_components=2, covariance_type=cov, max_iter=1,
                                    nan_policy="marginalize")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, sample_weight=w)
    o = ~np.isnan(X)
    mean = np.array([np.average(X[o[:, j], j], weights=w[o[:, j]]) for j in range(3)])
    var = np.array([np.sum(w[o[:, j]] * (X[o[:, j], j] - mean[j]) ** 2) / (w[o[:, j]].sum() - 1)
                    for j in range(3)])
    filled = np.where(o, X, mean)
    c = np.cov(filled.T, aweights=w)
    corr = c / np.sqrt(np.outer(np.diag(c), np.diag(c)))
    np.testing.assert_allclose(model.mean_prior_, mean, rtol=1e-12)
    want = corr * np.sqrt(np.outer(var, var)) if cov == "full" else var
    np.testing.assert_allclose(model.covariance_prior_, want, rtol=1e-10)
    # the same from a chunk source of several blocks
    from gmmx.sources import ArraySource

    chunked = BayesianGaussianMixture(n_components=2, covariance_type=cov, max_iter=1,
                                      nan_policy="marginalize")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chunked.fit(ArraySource(X, chunk_size=64))
    unweighted = BayesianGaussianMixture(n_components=2, covariance_type=cov, max_iter=1,
                                         nan_policy="marginalize")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unweighted.fit(X)
    np.testing.assert_allclose(chunked.mean_prior_, unweighted.mean_prior_, rtol=1e-12)
    np.testing.assert_allclose(chunked.covariance_prior_, unweighted.covariance_prior_,
                               rtol=1e-12)
