"""nan_policy: missing entries refused, omitted or marginalized (EM with latent gaps).

References: the textbook EM of a multivariate normal with missing data (Little
& Rubin, 2002, section 11.2) for K = 1, and a brute-force EM written here (per
row conditional Gaussians, no grouping by pattern, scipy's densities) for K > 1.
"""

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp

from conftest import (GaussianMixture, blobs, brute_force_marginal_log_densities,
                      covariance_from_scatter, random_model, with_missing)

COVS = ["full", "tied", "diag", "spherical"]
pytestmark = pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")


def _precisions(cov_type, cov):
    if cov_type in ("full", "tied"):
        return np.linalg.inv(cov)
    return 1.0 / cov


def _start(cov_type, K=3, d=4, seed=1):
    rng = np.random.default_rng(seed)
    weights, means, cov, full = random_model(rng, K, d, cov_type)
    init = dict(weights_init=weights, means_init=means * 3,
                precisions_init=_precisions(cov_type, cov))
    return init, (weights, means * 3, np.array(full))


def _data(n=400, d=4, K=3, seed=0, frac=0.2):
    X = blobs(n, d, K, seed=seed)[0]
    return X, with_missing(X, frac, seed=seed)


def _conditional(x, mean, S):
    """Filled row and conditional covariance (zero outside the missing block)."""
    o, m = ~np.isnan(x), np.isnan(x)
    xhat, C = x.copy(), np.zeros((x.size, x.size))
    if m.any():
        B = S[np.ix_(m, o)] @ np.linalg.inv(S[np.ix_(o, o)])
        xhat[m] = mean[m] + B @ (x[o] - mean[o])
        C[np.ix_(m, m)] = S[np.ix_(m, m)] - B @ S[np.ix_(o, m)]
    return xhat, C


def reference_em(X, weights, means, full, cov_type, n_iter, reg, w=None):
    """Brute-force EM with missing entries: every row, every component, explicitly."""
    n, d = X.shape
    w = np.ones(n) if w is None else w
    K = len(weights)
    for _ in range(n_iter):
        lp = brute_force_marginal_log_densities(X, weights, means, full)
        r = np.exp(lp - logsumexp(lp, axis=1, keepdims=True)) * w[:, None]
        nk = r.sum(axis=0)
        new_means, E = np.zeros((K, d)), np.zeros((K, d, d))
        filled = [[_conditional(X[i], means[k], full[k]) for i in range(n)] for k in range(K)]
        for k in range(K):
            new_means[k] = sum(r[i, k] * filled[k][i][0] for i in range(n)) / nk[k]
            for i in range(n):
                dev = filled[k][i][0] - new_means[k]
                E[k] += r[i, k] * (np.outer(dev, dev) + filled[k][i][1])
            E[k] /= nk[k]
        cov, full = covariance_from_scatter(E, nk, reg, cov_type)
        weights, means = nk / nk.sum(), new_means
    return weights, means, cov, np.array(full)


def _close(a, b, tol=1e-9):
    np.testing.assert_allclose(a, b, rtol=0, atol=tol * np.max(np.abs(b)))


# ------------------------------------------------------------------ no NaN: same bits
@pytest.mark.parametrize("cov", COVS)
def test_no_missing_values_same_bits_as_default(cov):
    X = blobs(500, 3, 3, seed=2)[0]
    a = GaussianMixture(3, covariance_type=cov, random_state=0, max_iter=15).fit(X)
    b = GaussianMixture(3, covariance_type=cov, random_state=0, max_iter=15,
                        nan_policy="marginalize").fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.lower_bound_ == b.lower_bound_
    assert np.array_equal(a.score_samples(X), b.score_samples(X))
    assert np.array_equal(a.predict_proba(X), b.predict_proba(X))


# ------------------------------------------------------------------ references
def test_single_component_equals_textbook_em():
    """K = 1: Little & Rubin's EM for a multivariate normal (sufficient statistics
    T1 = sum x_hat, T2 = sum (x_hat x_hat^T + C), mu = T1/n, S = T2/n - mu mu^T)."""
    rng = np.random.default_rng(3)
    A = rng.normal(size=(4, 4))
    X = with_missing(rng.normal(size=(300, 4)) @ A + 2.0, 0.2, seed=3)
    n, d = X.shape
    mu, S = np.zeros(d), np.eye(d)
    n_iter = 6
    for _ in range(n_iter):
        T1, T2 = np.zeros(d), np.zeros((d, d))
        for x in X:
            xhat, C = _conditional(x, mu, S)
            T1 += xhat
            T2 += np.outer(xhat, xhat) + C
        mu = T1 / n
        S = T2 / n - np.outer(mu, mu)
    gm = GaussianMixture(1, reg_covar=0.0, max_iter=n_iter, tol=0, nan_policy="marginalize",
                         means_init=np.zeros((1, d)), precisions_init=np.eye(d)[None]).fit(X)
    _close(gm.means_[0], mu)
    _close(gm.covariances_[0], S)


@pytest.mark.parametrize("cov", COVS)
def test_equals_brute_force_em(cov):
    _, X = _data()
    init, (w0, m0, f0) = _start(cov)
    n_iter = 4
    gm = GaussianMixture(3, covariance_type=cov, max_iter=n_iter, tol=0,
                         nan_policy="marginalize", **init).fit(X)
    weights, means, covs, full = reference_em(X, w0, m0, f0, cov, n_iter, gm.reg_covar)
    _close(gm.weights_, weights)
    _close(gm.means_, means)
    _close(gm.covariances_, covs)
    # predict paths marginalize too
    lp = brute_force_marginal_log_densities(X, weights, means, full)
    _close(gm.score_samples(X), logsumexp(lp, axis=1))
    _close(gm.predict_proba(X), np.exp(lp - logsumexp(lp, axis=1, keepdims=True)))
    n_par = gm._n_parameters()
    _close(gm.bic(X), -2 * logsumexp(lp, axis=1).sum() + n_par * np.log(X.shape[0]))
    _close(gm.aic(X), -2 * logsumexp(lp, axis=1).sum() + 2 * n_par)
    resp = np.exp(lp - logsumexp(lp, axis=1, keepdims=True))
    entropy = -np.sum(resp * np.log(np.where(resp > 0, resp, 1.0)))
    _close(gm.icl(X), gm.bic(X) + 2 * entropy)


def test_weighted_fit_equals_brute_force():
    _, X = _data(seed=4)
    w = np.random.default_rng(4).uniform(0.2, 3.0, X.shape[0])
    init, (w0, m0, f0) = _start("full")
    gm = GaussianMixture(3, max_iter=3, tol=0, nan_policy="marginalize", **init).fit(
        X, sample_weight=w)
    weights, means, covs, _ = reference_em(X, w0, m0, f0, "full", 3, gm.reg_covar, w=w)
    _close(gm.weights_, weights)
    _close(gm.means_, means)
    _close(gm.covariances_, covs)


def test_prior_and_regularisation_apply_unchanged():
    """A MAP fit on expected complete-data statistics: the same M-step as complete data."""
    from gmmx import ConjugatePrior
    from gmmx.core.missing import MissingEStep

    _, X = _data(seed=5)
    init, _ = _start("full")
    kw = dict(max_iter=1, tol=0, prior=ConjugatePrior(), covariance_shrinkage=0.1, **init)
    gm = GaussianMixture(3, nan_policy="marginalize", **kw).fit(X)
    ref = GaussianMixture(3, **kw)
    params = ref._initial_params(None, None)
    stats = MissingEStep(ref._kernel_params(params)).accumulate(X, None)
    new = ref._m_step(stats, params)
    _close(gm.means_, new[1])
    _close(gm.covariances_, new[2])


def test_partial_fit_one_batch_is_one_em_iteration():
    _, X = _data(seed=6)
    init, _ = _start("diag")
    a = GaussianMixture(3, covariance_type="diag", max_iter=1, tol=0,
                        nan_policy="marginalize", **init).fit(X)
    b = GaussianMixture(3, covariance_type="diag", nan_policy="marginalize",
                        **init).partial_fit(X)
    _close(b.means_, a.means_, 1e-12)
    _close(b.covariances_, a.covariances_, 1e-12)


def test_default_initialisation_runs_and_recovers_clusters():
    X, Xm = _data(n=1500, seed=7, frac=0.3)
    a = GaussianMixture(3, random_state=0, nan_policy="marginalize").fit(Xm)
    b = GaussianMixture(3, random_state=0).fit(X)
    order = lambda g: np.argsort(g.means_[:, 0])  # noqa: E731
    np.testing.assert_allclose(a.means_[order(a)], b.means_[order(b)], atol=0.25)


# ------------------------------------------------------------------ imputation
def test_impute_is_the_conditional_mean():
    _, X = _data(seed=8)
    init, _ = _start("full")
    gm = GaussianMixture(3, max_iter=3, tol=0, nan_policy="marginalize", **init).fit(X)
    full = gm.covariances_
    lp = brute_force_marginal_log_densities(X, gm.weights_, gm.means_, full)
    r = np.exp(lp - logsumexp(lp, axis=1, keepdims=True))
    want = np.array([sum(r[i, k] * _conditional(X[i], gm.means_[k], full[k])[0]
                         for k in range(3)) for i in range(X.shape[0])])
    got = gm.impute(X)
    _close(got, want)
    observed = ~np.isnan(X)
    assert np.array_equal(got[observed], X[observed])


def test_sample_missing_keeps_observed_and_matches_conditional_moments():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(3000, 3)) @ np.array([[1, 0.8, 0.3], [0, 0.6, 0.2], [0, 0, 0.5]])
    gm = GaussianMixture(1, random_state=0).fit(X)
    row = np.array([[0.5, np.nan, np.nan]])
    draws = gm.sample_missing(row, n_draws=20000, random_state=0)
    assert draws.shape == (20000, 1, 3)
    assert np.all(draws[:, 0, 0] == 0.5)
    want_mean = gm.impute(row)[0]
    S = gm.covariances_[0]
    C = S[1:, 1:] - np.outer(S[1:, 0], S[0, 1:]) / S[0, 0]
    np.testing.assert_allclose(draws[:, 0, 1:].mean(axis=0), want_mean[1:], atol=0.03)
    np.testing.assert_allclose(np.cov(draws[:, 0, 1:].T), C, atol=0.03)


# ------------------------------------------------------------------ omit
def test_omit_equals_fit_on_complete_rows():
    _, X = _data(seed=10)
    init, _ = _start("full")
    keep = ~np.isnan(X).any(axis=1)
    with pytest.warns(UserWarning, match=f"dropped {int((~keep).sum())} row"):
        a = GaussianMixture(3, max_iter=5, tol=0, nan_policy="omit", **init).fit(X)
    b = GaussianMixture(3, max_iter=5, tol=0, **init).fit(X[keep])
    assert np.array_equal(a.means_, b.means_)
    labels = a.predict(X)
    assert np.all(labels[~keep] == -1)
    assert np.array_equal(labels[keep], b.predict(X[keep]))
    assert np.all(np.isnan(a.score_samples(X)[~keep]))
    assert a.score(X) == pytest.approx(b.score(X[keep]), rel=1e-12)
    assert a.bic(X) == pytest.approx(b.bic(X[keep]), rel=1e-12)


# ------------------------------------------------------------------ masked arrays
def test_masked_arrays_are_refused_under_raise_at_every_entry_point():
    X, Xm = _data(seed=11)
    masked = np.ma.masked_array(X, mask=np.isnan(Xm))
    first = int(np.flatnonzero(np.isnan(Xm).any(axis=1))[0])
    match = f"row {first}.*nan_policy"
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2).fit(masked)
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2).partial_fit(masked)
    with pytest.raises(ValueError, match="nan_policy"):
        GaussianMixture(2).fit([masked[:200], masked[200:]])  # a chunk source
    gm = GaussianMixture(2, random_state=0).fit(X)
    for method in (gm.predict, gm.predict_proba, gm.score_samples, gm.score, gm.bic,
                   gm.aic, gm.icl):
        with pytest.raises(ValueError, match=match):
            method(masked)
    with pytest.raises(ValueError, match="masked"):
        GaussianMixture(2).fit(X, sample_weight=np.ma.masked_array(np.ones(400),
                                                                   mask=np.arange(400) == 3))


def test_masked_entries_are_missing_values_not_numbers():
    X, Xm = _data(seed=12)
    masked = np.ma.masked_array(X * 0 + 1e6, mask=np.isnan(Xm))  # masked values: nonsense
    masked[~np.isnan(Xm)] = X[~np.isnan(Xm)]
    init, _ = _start("full")
    kw = dict(max_iter=3, tol=0, **init)
    a = GaussianMixture(3, nan_policy="marginalize", **kw).fit(masked)
    b = GaussianMixture(3, nan_policy="marginalize", **kw).fit(Xm)
    assert np.array_equal(a.means_, b.means_)
    assert np.array_equal(a.score_samples(masked), b.score_samples(Xm))
    assert np.array_equal(a.impute(masked), b.impute(Xm))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        c = GaussianMixture(3, nan_policy="omit", **kw).fit(masked)
        d = GaussianMixture(3, **kw).fit(X[~np.isnan(Xm).any(axis=1)])
    assert np.array_equal(c.means_, d.means_)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("policy", ["raise", "omit", "marginalize"])
def test_infinity_is_always_an_error(policy):
    X = blobs(100, 3, 2)[0]
    X[17, 2] = np.inf
    with pytest.raises(ValueError, match="row 17"):
        GaussianMixture(2, nan_policy=policy).fit(X)
    gm = GaussianMixture(2, random_state=0, nan_policy=policy).fit(blobs(100, 3, 2)[0])
    for method in (gm.predict, gm.score_samples, gm.score):
        with pytest.raises(ValueError, match="row 17"):
            method(X)


def test_nan_under_raise_names_row_and_option():
    X = blobs(100, 3, 2)[0]
    X[23, 1] = np.nan
    with pytest.raises(ValueError, match="row 23.*nan_policy='omit'.*'marginalize'"):
        GaussianMixture(2).fit(X)


def test_row_with_nothing_observed():
    X = blobs(100, 3, 2)[0]
    X[5, 0] = np.nan
    X[42] = np.nan
    with pytest.raises(ValueError, match="row 42 has no observed value"):
        GaussianMixture(2, nan_policy="marginalize").fit(X)
    with pytest.warns(UserWarning, match="dropped 2 row"):
        GaussianMixture(2, nan_policy="omit").fit(X)
    gm = GaussianMixture(2, random_state=0, nan_policy="marginalize").fit(X[:40])
    with pytest.raises(ValueError, match="row 42 has no observed value"):
        gm.predict(X)


def test_bad_nan_policy():
    with pytest.raises(ValueError, match="nan_policy must be one of"):
        GaussianMixture(2, nan_policy="propagate").fit(blobs(50, 2, 2)[0])


def test_save_load_keeps_policy(tmp_path):
    import gmmx

    _, X = _data(seed=13)
    gm = GaussianMixture(2, random_state=0, nan_policy="marginalize").fit(X)
    gm.save(tmp_path / "m.npz")
    back = gmmx.load(tmp_path / "m.npz")
    assert back.nan_policy == "marginalize"
    assert np.array_equal(back.score_samples(X), gm.score_samples(X))


def test_sklearn_tags_allow_nan():
    pytest.importorskip("sklearn")
    assert GaussianMixture(nan_policy="marginalize").__sklearn_tags__().input_tags.allow_nan
    assert not GaussianMixture().__sklearn_tags__().input_tags.allow_nan


class _OwnEStep:
    """A family's own BlockEStep that knows nothing of NaN."""

    def __init__(self, kp):
        self.kp = kp

    def accumulate(self, X, sample_weight, n_threads, chunk_rows, where):
        from gmmx.core import kernel
        return kernel.accumulate(X, sample_weight, self.kp, n_threads, chunk_rows, where)

    def log_prob_norm(self, X, n_threads):
        from gmmx.core import kernel
        return kernel.log_prob_norm(X, self.kp, n_threads)

    def responsibilities(self, X, n_threads):
        from gmmx.core import kernel
        return kernel.responsibilities(X, self.kp, n_threads)


def test_family_with_its_own_estep_gets_omit_but_not_marginalize():
    from gmmx import GaussianMixture as Base

    class OwnFamily(Base):
        def _kernel_params(self, params):
            return _OwnEStep(super()._kernel_params(params))

    _, X = _data(seed=14)
    with pytest.raises(ValueError, match="OwnFamily does not support nan_policy='marginalize'"):
        OwnFamily(2, random_state=0, nan_policy="marginalize").fit(X)
    with pytest.warns(UserWarning, match="dropped"):
        fitted = OwnFamily(2, random_state=0, nan_policy="omit").fit(X)
    keep = ~np.isnan(X).any(axis=1)
    ref = Base(2, random_state=0).fit(X[keep])
    np.testing.assert_allclose(fitted.means_, ref.means_, rtol=1e-12)


@pytest.mark.parametrize("cov", ["diag", "tied"])
def test_sample_missing_averages_to_impute(cov):
    _, X = _data(seed=15)
    gm = GaussianMixture(3, covariance_type=cov, random_state=0, nan_policy="marginalize").fit(X)
    rows = X[:20]
    draws = gm.sample_missing(rows, n_draws=4000, random_state=1)
    observed = ~np.isnan(rows)
    assert np.all(draws[:, observed] == rows[observed])
    assert not np.isnan(draws).any()
    spread = np.sqrt(np.max(gm.covariances_)) if cov == "diag" else np.sqrt(
        np.max(np.diag(gm.covariances_)))
    np.testing.assert_allclose(draws.mean(axis=0), gm.impute(rows), atol=0.15 * spread)
