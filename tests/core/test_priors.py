"""The conjugate prior, its MAP M-step and the other regularisations of the M-step."""

import numpy as np
import pytest

from conftest import MCLUST_MODELS, mclust_reference, reference_data
from gmmx import ConjugatePrior
from gmmx.core.covariance import COVARIANCE_TYPES, get_covariance
from gmmx.core.init import stats_from_labels
from gmmx.core.mstep import Regularisation, m_step
from gmmx.core.priors import log_dirichlet, moments_from_data, moments_from_stats


def _one_component_stats(X, w, cov):
    return stats_from_labels(X, w, np.zeros(X.shape[0], dtype=int), 1, cov)


def _closed_form_k1(X, w, cov, kappa, mu0, nu, scale):
    """MAP of one Gaussian (Fraley & Raftery 2007), written with x-bar and W."""
    w = np.ones(X.shape[0]) if w is None else w
    n, d = w.sum(), X.shape[1]
    xbar = w @ X / n
    D = X - xbar
    W = (D * w[:, None]).T @ D
    e = xbar - mu0
    B = W + kappa * n / (kappa + n) * np.outer(e, e)
    mean = (n * xbar + kappa * mu0) / (n + kappa)
    if cov in ("full", "tied"):  # full: nu + n + d + 2; tied: nu + n + d + 1 + K
        return mean, (scale + B) / (nu + n + d + 2)
    if cov == "diag":
        return mean, (scale + np.diag(B)) / (nu + n + 3)
    return mean, (scale + np.trace(B)) / (nu + n * d + 2 + d)


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_k1_map_matches_the_closed_form(cov, weighted, rng):
    X = reference_data("iris")
    w = rng.uniform(0.5, 2.0, X.shape[0]) if weighted else None
    d = X.shape[1]
    mu0, nu = np.array([5.0, 3.0, 4.0, 1.0]), 7.5
    scale = np.diag([0.5, 0.2, 1.5, 0.3]) if cov in ("full", "tied") else (
        np.array([0.5, 0.2, 1.5, 0.3]) if cov == "diag" else 0.4)
    prior = ConjugatePrior(shrinkage=0.3, mean=mu0, dof=nu, scale=scale)
    st = _one_component_stats(X, w, cov)
    resolved = prior.resolve(1, cov, moments_from_stats(st))
    params = m_step(st, Regularisation(prior=resolved))
    mean, sigma = _closed_form_k1(X, w, cov, 0.3, mu0, nu, scale)
    np.testing.assert_allclose(params.means[0], mean, rtol=1e-10)
    got = params.covariances if cov == "tied" else params.covariances[0]
    np.testing.assert_allclose(got, sigma, rtol=1e-10)
    assert d == 4


@pytest.mark.parametrize("data", ["faithful", "iris"])
@pytest.mark.parametrize("model", MCLUST_MODELS)
def test_default_prior_is_mclusts_default_prior(data, model):
    # mclust: defaultPrior(X, G = 3, modelName = model)
    ref = mclust_reference()[data]["default_prior"][model]
    X = reference_data(data)
    cov = MCLUST_MODELS[model]
    full = get_covariance(cov).is_matrix
    p = ConjugatePrior().resolve(3, cov, moments_from_data(X, full=full))
    assert p.shrinkage == ref["shrinkage"] and p.dof == ref["dof"]
    np.testing.assert_allclose(p.mean, ref["mean"], rtol=1e-12)
    np.testing.assert_allclose(np.ravel(p.scale), np.ravel(ref["scale"]), rtol=1e-12)


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_moments_from_stats_equal_the_data_moments(cov, rng):
    X = rng.normal(size=(300, 3)) * [1.0, 10.0, 0.1] + 50.0
    w = rng.uniform(0, 2, 300)
    labels = rng.integers(0, 3, 300)
    st = stats_from_labels(X, w, labels, 3, cov)
    got = moments_from_stats(st)
    want = moments_from_data(X, w, full=get_covariance(cov).is_matrix)
    assert got.weight == pytest.approx(want.weight, rel=1e-14)
    np.testing.assert_allclose(got.mean, want.mean, rtol=1e-13)
    np.testing.assert_allclose(got.scatter, want.scatter, rtol=1e-11, atol=1e-9)


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_an_empty_component_gets_the_prior_values(cov):
    X = reference_data("iris")
    labels = np.zeros(X.shape[0], dtype=int)  # component 1 receives nothing
    st = stats_from_labels(X, None, labels, 2, cov)
    prior = ConjugatePrior().resolve(2, cov, moments_from_data(X))
    params = m_step(st, Regularisation(prior=prior))
    np.testing.assert_allclose(params.means[1], prior.mean)
    assert np.all(np.isfinite(params.covariances))


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_map_m_step_maximises_the_expected_log_posterior(cov, rng):
    # The MAP M-step maximises Q + log prior: perturbing its result lowers it.
    from gmmx.core.criteria import complete_log_likelihood
    X = reference_data("faithful")
    resp = rng.dirichlet(np.ones(3), size=X.shape[0])
    from gmmx.core.init import stats_from_resp
    st = stats_from_resp(X, None, resp, cov)
    prior = ConjugatePrior().resolve(3, cov, moments_from_stats(st))
    best = m_step(st, Regularisation(prior=prior, weight_concentration=2.0))
    ct = get_covariance(cov)

    def objective(p):
        return (complete_log_likelihood(st, p.weights, p.means, p.precisions_cholesky, cov)
                + prior.log_density(p.means, p.precisions_cholesky)
                + log_dirichlet(p.weights, 2.0))

    top = objective(best)
    for scale in (0.98, 1.02):
        cv = best.covariances * scale
        other = best._replace(covariances=cv, precisions_cholesky=ct.precision_cholesky(cv))
        assert objective(other) < top
    moved = best._replace(means=best.means + 0.01)
    assert objective(moved) < top
    w = best.weights * np.array([1.01, 1.0, 1.0])
    assert objective(best._replace(weights=w / w.sum())) < top


def test_dirichlet_weights_and_no_prior_is_maximum_likelihood():
    X = reference_data("iris")
    labels = np.repeat([0, 1, 2], [100, 50, 0])
    st = stats_from_labels(X, None, labels, 3, "diag")
    p = m_step(st, Regularisation(weight_concentration=3.0))
    np.testing.assert_allclose(p.weights, np.array([102.0, 52.0, 2.0]) / 156.0)
    ml = m_step(st, 0.0)
    np.testing.assert_allclose(m_step(st, Regularisation()).covariances, ml.covariances)


@pytest.mark.parametrize("cov", ["full", "tied", "diag"])
def test_shrinkage_moves_toward_the_average_variance(cov):
    X = reference_data("iris")
    st = stats_from_labels(X, None, np.repeat([0, 1, 2], 50), 3, cov)
    ml = m_step(st, Regularisation(reg_covar=1e-3)).covariances
    sh = m_step(st, Regularisation(reg_covar=1e-3, covariance_shrinkage=0.25)).covariances
    if cov == "diag":
        want = 0.75 * ml + 0.25 * ml.mean(axis=1, keepdims=True)
    else:
        mats = ml[None] if cov == "tied" else ml
        want = np.stack([0.75 * S + 0.25 * np.trace(S) / 4 * np.eye(4) for S in mats])
        want = want[0] if cov == "tied" else want
    np.testing.assert_allclose(sh, want, rtol=1e-12)


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_eigenvalue_floor(cov):
    X = reference_data("iris")
    st = stats_from_labels(X, None, np.repeat([0, 1, 2], 50), 3, cov)
    floor = 0.05
    cov_ = m_step(st, Regularisation(min_eigenvalue=floor)).covariances
    full = get_covariance(cov).to_full(cov_, 3, 4)
    assert np.linalg.eigvalsh(full).min() >= floor * (1 - 1e-12)
    ml = get_covariance(cov).to_full(m_step(st, 0.0).covariances, 3, 4)
    # eigenvalues above the floor are untouched
    big = np.linalg.eigvalsh(ml)
    got = np.linalg.eigvalsh(full)
    np.testing.assert_allclose(got[big > floor], big[big > floor], rtol=1e-10)


@pytest.mark.parametrize("kwargs, match", [
    (dict(shrinkage=-0.1), "prior.shrinkage"),
    (dict(shrinkage=float("nan")), "prior.shrinkage"),
    (dict(mean=[0.0, 1.0, 2.0]), r"prior.mean must have shape \(2,\)"),
    (dict(shrinkage=0.0, mean=[0.0, 1.0]), "prior.mean is given but prior.shrinkage is 0"),
    (dict(dof=0.5), "prior.dof"),
    (dict(scale=np.eye(3)), "prior.scale must have one of the shapes"),
    (dict(scale=[[1.0, 2.0], [2.0, 1.0]]), "prior.scale must be positive definite"),
    (dict(scale=-1.0), "prior.scale must be strictly positive"),
])
def test_bad_priors_name_the_hyperparameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConjugatePrior(**kwargs).check(2, "full")


def test_prior_equality_repr_and_archive_round_trip():
    p = ConjugatePrior(shrinkage=0.1, mean=[1.0, 2.0], dof=5, scale=np.eye(2))
    assert p == ConjugatePrior(shrinkage=0.1, mean=np.array([1.0, 2.0]), dof=5, scale=np.eye(2))
    assert p != ConjugatePrior()
    assert repr(ConjugatePrior()) == "ConjugatePrior()"
    meta, arrays = p.to_archive()
    assert ConjugatePrior.from_archive(meta, arrays) == p
    with pytest.raises(ValueError, match="scale array is missing"):
        ConjugatePrior.from_archive(meta, {"mean": arrays["mean"]})


@pytest.mark.parametrize("shrinkage", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_tied_map_at_k3_maximises_the_log_posterior(shrinkage, weighted, rng):
    """The tied MAP M-step at K = 3 (iris, its species as a hard assignment) is the
    maximiser of the log-posterior written with scipy.stats (normal likelihood, normal
    priors on the means given Sigma, inverse-Wishart prior on Sigma), found by BFGS."""
    from scipy import optimize, stats

    X = reference_data("iris")[:, :3]
    n, d, K = X.shape[0], X.shape[1], 3
    labels = np.repeat([0, 1, 2], 50)
    w = rng.uniform(0.5, 2.0, n) if weighted else np.ones(n)
    mu0, nu, scale = np.array([5.0, 3.0, 4.0]), 6.5, np.diag([0.5, 0.2, 1.5])
    prior = ConjugatePrior(shrinkage=shrinkage, mean=mu0 if shrinkage else None, dof=nu,
                           scale=scale)
    st = stats_from_labels(X, w if weighted else None, labels, K, "tied")
    params = m_step(st, Regularisation(prior=prior.resolve(K, "tied", moments_from_stats(st))))

    tril = np.tril_indices(d)

    def unpack(theta):
        means = theta[:K * d].reshape(K, d)
        L = np.zeros((d, d))
        L[tril] = theta[K * d:]
        L[np.diag_indices(d)] = np.exp(np.diag(L))
        return means, L @ L.T

    def neg_log_posterior(theta):
        means, sigma = unpack(theta)
        lp = sum(w[labels == k] @ stats.multivariate_normal.logpdf(X[labels == k], means[k],
                                                                   sigma)
                 for k in range(K))
        if shrinkage > 0:
            lp += sum(stats.multivariate_normal.logpdf(means[k], mu0, sigma / shrinkage)
                      for k in range(K))
        lp += stats.invwishart.logpdf(sigma, df=nu, scale=scale)
        return -lp

    start_means = np.array([w[labels == k] @ X[labels == k] / w[labels == k].sum()
                            for k in range(K)])
    L0 = np.linalg.cholesky(np.cov(X.T))
    L0[np.diag_indices(d)] = np.log(np.diag(L0))
    res = optimize.minimize(neg_log_posterior, np.r_[start_means.ravel(), L0[tril]],
                            method="BFGS", options={"gtol": 1e-9, "maxiter": 5000})
    means, sigma = unpack(res.x)
    np.testing.assert_allclose(params.means, means, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(params.covariances, sigma, rtol=1e-5, atol=1e-7)
    assert neg_log_posterior(res.x) <= res.fun + 1e-9
