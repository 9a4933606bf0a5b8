"""StudentTMixture with nan_policy: missing entries refused, omitted or marginalized.

The reference is a brute-force EM written here (Liu & Rubin 1995; McLachlan &
Peel 2000, section 7.8): row by row and component by component, the observed
entries' marginal t density (scipy.stats.multivariate_t), the latent scale's
posterior ``tau | x_o ~ Gamma((nu + d_o)/2, (nu + delta_o)/2)``, the filled row
``x_hat`` and conditional covariance ``C``, and the CM-steps
``mu = sum r u x_hat / sum r u``,
``Sigma = sum r (u (x_hat - mu)(x_hat - mu)^T + C) / sum r`` and ν from the
root of ``-psi(v/2) + log(v/2) + 1 + sum r E[log tau - tau] / sum r = 0``.
"""

import numpy as np
import pytest
from scipy.special import logsumexp

from conftest import (covariance_from_scatter, random_model, t_dof_root, t_row_posterior,
                      with_missing)
from gmmx import StudentTMixture
from gmmx.sources import ArraySource

COVS = ["full", "tied", "diag", "spherical"]
pytestmark = pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")


def T(*args, **kwargs):
    kwargs.setdefault("n_threads", 1)
    return StudentTMixture(*args, **kwargs)


def _t_data(n=240, d=4, K=3, seed=0, nu=4.0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(K, d))
    labels = rng.integers(0, K, n)
    X = centers[labels] + rng.standard_t(nu, (n, d))
    return X


def _start(cov_type, K=3, d=4, seed=1):
    rng = np.random.default_rng(seed)
    weights, means, cov, full = random_model(rng, K, d, cov_type)
    prec = np.linalg.inv(cov) if cov_type in ("full", "tied") else 1.0 / cov
    dof = np.array([3.0, 6.0, 12.0])[:K]
    init = dict(weights_init=weights, means_init=means * 3, precisions_init=prec)
    return init, (weights, means * 3, np.array(full), dof)


def reference_t_em(X, weights, means, full, dof, cov_type, n_iter, reg, w=None,
                   fixed_dof=None):
    """Brute-force t EM with missing entries: every row, every component, explicitly."""
    n, d = X.shape
    K = len(weights)
    w = np.ones(n) if w is None else w
    for _ in range(n_iter):
        post = [[t_row_posterior(X[i], means[k], full[k], dof[k]) for k in range(K)]
                for i in range(n)]
        lp = np.array([[np.log(weights[k]) + post[i][k][0] for k in range(K)]
                       for i in range(n)])
        r = np.exp(lp - logsumexp(lp, axis=1, keepdims=True)) * w[:, None]
        u = np.array([[post[i][k][1] for k in range(K)] for i in range(n)])
        nr, nru = r.sum(axis=0), (r * u).sum(axis=0)
        new_means, E, new_dof = np.zeros((K, d)), np.zeros((K, d, d)), np.array(dof, float)
        for k in range(K):
            new_means[k] = sum(r[i, k] * u[i, k] * post[i][k][3] for i in range(n)) / nru[k]
            for i in range(n):
                dev = post[i][k][3] - new_means[k]
                E[k] += r[i, k] * (u[i, k] * np.outer(dev, dev) + post[i][k][4])
            E[k] /= nr[k]
            # E[log tau - tau | x_o] = log u + (psi((nu+d_o)/2) - log((nu+d_o)/2)) - u
            a = sum(r[i, k] * (np.log(u[i, k]) + post[i][k][2] - u[i, k])
                    for i in range(n)) / nr[k]
            new_dof[k] = t_dof_root(a) if fixed_dof is None else fixed_dof
        cov, full = covariance_from_scatter(E, nr, reg, cov_type)
        weights, means, dof = nr / nr.sum(), new_means, new_dof
    return weights, means, cov, np.array(full), dof


def _marginal_lp(X, weights, means, full, dof):
    return np.array([[np.log(weights[k]) + t_row_posterior(x, means[k], full[k], dof[k])[0]
                      for k in range(len(weights))] for x in X])


def _close(a, b, tol=1e-9):
    np.testing.assert_allclose(a, b, rtol=0, atol=tol * np.max(np.abs(b)))


@pytest.mark.parametrize("cov", COVS)
def test_equals_brute_force_t_em(cov):
    X = with_missing(_t_data(), 0.2, seed=0)
    init, (w0, m0, f0, nu0) = _start(cov)
    n_iter = 3
    model = T(3, covariance_type=cov, max_iter=n_iter, tol=0, nan_policy="marginalize",
              dof_init=5.0, **init)
    # dof_init is one number: start the reference there too
    model.fit(X)
    weights, means, scales, full, dof = reference_t_em(
        X, w0, m0, f0, np.full(3, 5.0), cov, n_iter, model.reg_covar)
    _close(model.weights_, weights)
    _close(model.means_, means)
    _close(model.scales_, scales)
    _close(model.degrees_of_freedom_, dof)
    # predict paths marginalize too (scipy's marginal t densities)
    lp = _marginal_lp(X, weights, means, full, dof)
    _close(model.score_samples(X), logsumexp(lp, axis=1))
    _close(model.predict_proba(X), np.exp(lp - logsumexp(lp, axis=1, keepdims=True)))
    n_par = model._n_parameters()
    _close(model.bic(X), -2 * logsumexp(lp, axis=1).sum() + n_par * np.log(X.shape[0]))


def test_weighted_fixed_dof_equals_brute_force():
    X = with_missing(_t_data(seed=3), 0.2, seed=3)
    w = np.random.default_rng(3).uniform(0.2, 3.0, X.shape[0])
    init, (w0, m0, f0, _) = _start("full", seed=2)
    model = T(3, max_iter=2, tol=0, nan_policy="marginalize", degrees_of_freedom=4.0,
              **init).fit(X, sample_weight=w)
    weights, means, scales, _, dof = reference_t_em(
        X, w0, m0, f0, np.full(3, 4.0), "full", 2, model.reg_covar, w=w, fixed_dof=4.0)
    _close(model.weights_, weights)
    _close(model.means_, means)
    _close(model.scales_, scales)


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_no_missing_values_same_bits_as_default(cov):
    X = _t_data(seed=5)
    a = T(3, covariance_type=cov, random_state=0, max_iter=8).fit(X)
    b = T(3, covariance_type=cov, random_state=0, max_iter=8, nan_policy="marginalize").fit(X)
    for name in ("weights_", "means_", "scales_", "degrees_of_freedom_"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.lower_bound_ == b.lower_bound_
    assert np.array_equal(a.score_samples(X), b.score_samples(X))


def test_chunk_source_equals_in_memory():
    X = with_missing(_t_data(n=300, seed=6), 0.2, seed=6)
    init, _ = _start("full", seed=6)
    a = T(3, max_iter=3, tol=0, nan_policy="marginalize", **init).fit(X)
    b = T(3, max_iter=3, tol=0, nan_policy="marginalize", **init).fit(
        ArraySource(X, chunk_size=50))  # 6 blocks
    for name in ("weights_", "means_", "scales_", "degrees_of_freedom_"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-10, atol=1e-12)


def test_omit_equals_fit_on_complete_rows():
    Xc = _t_data(seed=7)
    X = with_missing(Xc, 0.1, seed=7)
    keep = ~np.isnan(X).any(axis=1)
    init, _ = _start("diag", seed=7)
    with pytest.warns(UserWarning, match="dropped"):
        a = T(3, covariance_type="diag", max_iter=3, tol=0, nan_policy="omit", **init).fit(X)
    b = T(3, covariance_type="diag", max_iter=3, tol=0, **init).fit(X[keep])
    for name in ("weights_", "means_", "scales_", "degrees_of_freedom_"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-12)
    assert np.all(a.predict(X)[~keep] == -1)


def test_raise_names_row_and_option():
    X = _t_data()
    X[5, 1] = np.nan
    with pytest.raises(ValueError, match="nan_policy"):
        T(2).fit(X)


def test_row_with_nothing_observed_is_named():
    X = _t_data()
    X[7] = np.nan
    with pytest.raises(ValueError, match="row 7"):
        T(2, nan_policy="marginalize").fit(X)


def test_impute_and_sample_missing_are_the_t_conditionals():
    X = with_missing(_t_data(seed=8), 0.2, seed=8)
    model = T(3, max_iter=5, nan_policy="marginalize", random_state=0).fit(X)
    K, d = model.means_.shape
    full = model.scales_
    lp = _marginal_lp(X, model.weights_, model.means_, full, model.degrees_of_freedom_)
    resp = np.exp(lp - logsumexp(lp, axis=1, keepdims=True))
    expected = X.copy()
    for i in np.flatnonzero(np.isnan(X).any(axis=1)):
        fills = [t_row_posterior(X[i], model.means_[k], full[k], model.degrees_of_freedom_[k])[3]
                 for k in range(K)]
        expected[i] = resp[i] @ np.array(fills)
    _close(model.impute(X), expected)
    draws = model.sample_missing(X, n_draws=4000, random_state=0)
    nan = np.isnan(X)
    assert np.array_equal(draws[:, ~nan], np.broadcast_to(X[~nan], (4000, (~nan).sum())))
    row = int(np.flatnonzero(nan.sum(axis=1) == d - 1)[0])
    col = int(np.flatnonzero(nan[row])[0])
    # the t conditional has heavier tails than the Gaussian one: compare the mean only
    se = draws[:, row, col].std() / np.sqrt(4000)
    assert abs(draws[:, row, col].mean() - expected[row, col]) < 5 * se


def test_dask_and_partial_fit_marginalize():
    da = pytest.importorskip("dask.array")
    import dask

    X = with_missing(_t_data(n=300, seed=9), 0.2, seed=9)
    init, _ = _start("diag", seed=9)
    kw = dict(covariance_type="diag", max_iter=3, tol=0, nan_policy="marginalize", **init)
    ref = T(3, **kw).fit(X)
    with dask.config.set(scheduler="synchronous"):
        dsk = T(3, **kw).fit(da.from_array(X, chunks=(70, 4)))
    for name in ("weights_", "means_", "scales_", "degrees_of_freedom_"):
        np.testing.assert_allclose(getattr(dsk, name), getattr(ref, name), rtol=1e-10,
                                   atol=1e-12)
    online = T(3, **kw)
    online.partial_fit(X[:150])
    online.partial_fit(X[150:])
    assert np.all(np.isfinite(online.means_)) and np.all(np.isfinite(online.scales_))
