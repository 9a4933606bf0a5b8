"""MAP fits: GaussianMixture(prior=ConjugatePrior(), weight_concentration, ...)."""


import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from conftest import MCLUST_MODELS, expected_warnings, mclust_reference, reference_data
from gmmx import ConjugatePrior, GaussianMixture, load
from gmmx.core.covariance import COVARIANCE_TYPES, get_covariance


def _fit(model, *args, **kwargs):
    with expected_warnings():
        return model.fit(*args, **kwargs)


def _numpy_map_em(X, w, weights, means, covs, cov, n_iter, kappa=0.01, alpha=1.0):
    """Plain numpy MAP EM with mclust's formulas (x-bar, W) and priorControl() defaults."""
    n, d = X.shape
    K = means.shape[0]
    W_total = w.sum()
    mu0 = w @ X / W_total
    D0 = X - mu0
    var = (D0 * w[:, None]).T @ D0 / (W_total - 1)
    fac = (1.0 / K) ** (2.0 / d)
    nu = d + 2.0
    scale = fac * var if cov in ("full", "tied") else fac * np.mean(np.diag(var))
    ct = get_covariance(cov)
    for _ in range(n_iter):
        full = ct.to_full(covs, K, d)
        lp = np.log(weights) + np.column_stack(
            [multivariate_normal(means[k], full[k]).logpdf(X) for k in range(K)])
        r = np.exp(lp - logsumexp(lp, axis=1)[:, None]) * w[:, None]
        nk = r.sum(0)
        xbar = r.T @ X / nk[:, None]
        B = []
        for k in range(K):
            Dk = X - xbar[k]
            e = xbar[k] - mu0
            B.append((Dk * r[:, k, None]).T @ Dk + kappa * nk[k] / (kappa + nk[k]) * np.outer(e, e))
        B = np.array(B)
        means = (nk[:, None] * xbar + kappa * mu0) / (nk + kappa)[:, None]
        if cov == "full":
            covs = (scale + B) / (nu + nk + d + 2)[:, None, None]
        elif cov == "tied":
            covs = (scale + B.sum(0)) / (nu + W_total + d + 1 + K)
        elif cov == "diag":
            covs = (scale + np.diagonal(B, axis1=1, axis2=2)) / (nu + nk + 3)[:, None]
        else:
            covs = (scale + np.trace(B, axis1=1, axis2=2)) / (nu + nk * d + 2 + d)
        weights = (nk + alpha - 1) / (W_total + K * (alpha - 1))
    return weights, means, covs


def _start(X, cov, K=3):
    rng = np.random.default_rng(7)
    d = X.shape[1]
    means = X[rng.choice(X.shape[0], K, replace=False)]
    v = X.var(axis=0)
    covs = {"full": np.array([np.diag(v)] * K), "tied": np.diag(v),
            "diag": np.array([v] * K), "spherical": np.full(K, v.mean())}[cov]
    prec = get_covariance(cov).precisions_from_cholesky(
        get_covariance(cov).precision_cholesky(covs))
    return np.full(K, 1.0 / K), means, covs, prec, d


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_map_em_matches_plain_numpy_from_the_same_start(cov, rng):
    X = reference_data("iris")
    w = rng.uniform(0.5, 2.0, X.shape[0])
    weights, means, covs, prec, _ = _start(X, cov)
    m = _fit(GaussianMixture(3, covariance_type=cov, prior=ConjugatePrior(), reg_covar=0,
                             weight_concentration=1.5, weights_init=weights, means_init=means,
                             precisions_init=prec, max_iter=15, tol=0), X, sample_weight=w)
    ref = _numpy_map_em(X, w, weights, means, covs, cov, 15, alpha=1.5)
    np.testing.assert_allclose(m.weights_, ref[0], rtol=1e-8)
    np.testing.assert_allclose(m.means_, ref[1], rtol=1e-8)
    np.testing.assert_allclose(m.covariances_, ref[2], rtol=1e-8)


@pytest.mark.parametrize("data", ["faithful", "iris"])
@pytest.mark.parametrize("model", MCLUST_MODELS)
def test_map_fit_is_mclusts(data, model):
    # mclust: me(X, model, z = unmap(hclass(hc(X, "VVV", use = "SVD"), G)),
    #         prior = priorControl()) at its fixed point (tests/data/mclust_reference.R)
    X = reference_data(data)
    cov = MCLUST_MODELS[model]
    d = X.shape[1]
    for G in (1, 3):
        ref = mclust_reference()[data]["map"][f"{model}_{G}"]
        if ref["loglik"] is None:  # mclust: a component vanishes (faithful VVI, G = 3)
            G = 2
            ref = mclust_reference()[data]["map"][f"{model}_{G}"]
        # run to the fixed point: the log-posterior is flat long before the parameters are
        m = _fit(GaussianMixture(G, covariance_type=cov, prior=ConjugatePrior(), reg_covar=0,
                                 init_params="hierarchical", tol=0,
                                 max_iter=3 if G == 1 else 1000), X)
        rtol = 1e-10 if G == 1 else 1e-7
        assert m.score_samples(X).sum() == pytest.approx(ref["loglik"], rel=rtol)
        np.testing.assert_allclose(m.weights_, np.ravel(ref["pro"]), rtol=rtol, atol=1e-9)
        np.testing.assert_allclose(m.means_, np.reshape(ref["mean"], (G, d)), rtol=rtol)
        full = get_covariance(cov).to_full(m.covariances_, G, d)
        np.testing.assert_allclose(full, np.reshape(ref["sigma"], (G, d, d)).transpose(0, 2, 1),
                                   rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_partial_fit_out_of_core_and_dask_give_the_same_map_fit(cov, rng):
    X = reference_data("iris")
    w = rng.integers(1, 4, X.shape[0]).astype(float)
    kw = dict(n_components=3, covariance_type=cov, prior=ConjugatePrior(), reg_covar=0,
              weight_concentration=2.0, init_params="hierarchical")
    ref = _fit(GaussianMixture(max_iter=1, **kw), X, sample_weight=w)
    online = GaussianMixture(**kw).partial_fit(X, sample_weight=w)
    chunks = [(X[i:i + 40], w[i:i + 40]) for i in range(0, X.shape[0], 40)]
    streamed = _fit(GaussianMixture(max_iter=1, **kw), chunks)
    fits = [online, streamed]
    da = pytest.importorskip("dask.array")
    fits.append(_fit(GaussianMixture(max_iter=1, **kw), da.from_array(X, chunks=(40, 4)),
                     sample_weight=da.from_array(w, chunks=40)))
    for m in fits:
        for name in ("weights_", "means_", "covariances_"):
            np.testing.assert_allclose(getattr(m, name), getattr(ref, name), rtol=1e-10,
                                       atol=1e-13, err_msg=name)
        assert m.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-12)
    # and a full fit over chunks equals the in-memory one
    full = _fit(GaussianMixture(tol=1e-10, max_iter=200, **kw), X, sample_weight=w)
    full_chunks = _fit(GaussianMixture(tol=1e-10, max_iter=200, **kw), chunks)
    np.testing.assert_allclose(full_chunks.means_, full.means_, rtol=1e-10)
    np.testing.assert_allclose(full_chunks.covariances_, full.covariances_, rtol=1e-9)


def test_lower_bound_is_the_log_posterior_and_increases():
    X = reference_data("faithful")
    m = _fit(GaussianMixture(3, prior=ConjugatePrior(), weight_concentration=2.0, reg_covar=0,
                             init_params="hierarchical", tol=0, max_iter=30), X)
    lbs = np.array(m.lower_bounds_)
    assert np.all(np.diff(lbs) > -1e-12)  # EM for the MAP objective is monotone
    ml = _fit(GaussianMixture(3, reg_covar=0, init_params="hierarchical", max_iter=30, tol=0), X)
    assert m.lower_bound_ != pytest.approx(ml.lower_bound_, rel=1e-3)
    # bic/aic/icl/score stay likelihood-based
    assert m.bic(X) == pytest.approx(-2 * m.score_samples(X).sum()
                                     + m._n_parameters() * np.log(X.shape[0]))


def test_online_map_counts_all_the_data_seen(rng):
    X = reference_data("iris")
    m = GaussianMixture(3, prior=ConjugatePrior(), reg_covar=0, random_state=0)
    for part in np.array_split(rng.permutation(X.shape[0]), 5):
        m.partial_fit(X[part])
    assert m._online_state.weight_seen == X.shape[0]
    assert np.all(np.isfinite(m.covariances_)) and m.prior_.dof == 6.0


def test_save_load_keeps_the_prior_and_partial_fit_resumes(tmp_path):
    X = reference_data("iris")
    prior = ConjugatePrior(shrinkage=0.05, mean=X.mean(0) + 0.1, scale=np.eye(4) * 0.2, dof=9)
    m = GaussianMixture(2, prior=prior, weight_concentration=3.0, covariance_shrinkage=0.1,
                        min_eigenvalue=1e-3, random_state=0)
    m.partial_fit(X[:75])
    m.save(tmp_path / "m.npz")
    back = load(tmp_path / "m.npz")
    assert back.prior == prior and back.prior_.dof == 9
    assert (back.weight_concentration, back.covariance_shrinkage, back.min_eigenvalue) == \
        (3.0, 0.1, 1e-3)
    np.testing.assert_array_equal(back.prior_.scale, m.prior_.scale)
    m.partial_fit(X[75:])
    back.partial_fit(X[75:])
    np.testing.assert_allclose(back.covariances_, m.covariances_, rtol=1e-13)


def test_clone_and_params():
    from sklearn.base import clone
    m = GaussianMixture(2, prior=ConjugatePrior(mean=[0.0, 1.0]), covariance_shrinkage=0.2)
    c = clone(m)
    assert c.prior == m.prior and c.prior is not m.prior and c.covariance_shrinkage == 0.2
    c.set_params(weight_concentration=2.0, min_eigenvalue=0.1)
    assert c.get_params()["weight_concentration"] == 2.0


@pytest.mark.parametrize("kwargs, match", [
    (dict(prior=ConjugatePrior(mean=[0.0, 0.0, 0.0])), r"prior.mean must have shape \(2,\)"),
    (dict(prior=ConjugatePrior(shrinkage=-1.0)), "prior.shrinkage"),
    (dict(prior={"shrinkage": 0.01}), "prior must be a gmmx.ConjugatePrior"),
    (dict(weight_concentration=0.5), "weight_concentration must be a finite number >= 1"),
    (dict(min_eigenvalue=-1e-3), "min_eigenvalue must be >= 0"),
    (dict(covariance_shrinkage=-0.1), r"covariance_shrinkage must be a number in \[0, 1\]"),
    (dict(covariance_shrinkage=1.5), r"covariance_shrinkage must be a number in \[0, 1\]"),
])
def test_bad_regularisation_is_a_clear_error(kwargs, match):
    X = reference_data("faithful")
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2, **kwargs).fit(X)


def test_regularisations_keep_parameters_finite_on_collapsing_data():
    # discrete prices: many identical returns; a component can collapse onto one value
    X = np.r_[np.zeros(500), np.full(3, 1e-4), np.random.default_rng(0).normal(0, 1e-4, 200)]
    for kw in (dict(prior=ConjugatePrior()), dict(min_eigenvalue=1e-12),
               dict(weight_concentration=2.0, reg_covar=1e-14)):
        m = _fit(GaussianMixture(3, reg_covar=kw.pop("reg_covar", 0.0), random_state=0, **kw),
                 X[:, None])
        assert np.all(np.isfinite(m.covariances_)) and np.all(m.covariances_ > 0)
