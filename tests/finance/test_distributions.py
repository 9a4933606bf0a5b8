"""gmmx.finance.distributions against closed forms, brute force, quadrature and Monte Carlo."""

import numpy as np
import pytest
from finance_helpers import FAR, RET
from scipy import integrate, stats

from gmmx import GaussianMixture
from gmmx.finance import (
    UnivariateMixture,
    full_covariances,
    mixture_mean_covariance,
    mixture_moments,
    value_at_risk,
)


def brute_pdf(d, x):
    return sum(w * stats.norm.pdf(x, m, s) for w, m, s in zip(d.weights, d.means, d.stds))


def brute_cdf(d, x):
    return sum(w * stats.norm.cdf(x, m, s) for w, m, s in zip(d.weights, d.means, d.stds))


def quad_moment(d, fun):
    lo, hi = d.means.min() - 40 * d.stds.max(), d.means.max() + 40 * d.stds.max()
    pts = sorted(d.means)
    return integrate.quad(lambda x: fun(x) * brute_pdf(d, x), lo, hi, points=pts, limit=500,
                          epsabs=0, epsrel=1e-12)[0]


# --------------------------------------------------------------------------
# densities and distribution functions
# --------------------------------------------------------------------------

def test_pdf_cdf_sf_match_brute_force_sums():
    x = np.linspace(-0.15, 0.1, 301)
    np.testing.assert_allclose(RET.pdf(x), brute_pdf(RET, x), rtol=1e-12)
    np.testing.assert_allclose(RET.logpdf(x), np.log(brute_pdf(RET, x)), rtol=1e-12)
    np.testing.assert_allclose(RET.cdf(x), brute_cdf(RET, x), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(RET.sf(x), 1 - brute_cdf(RET, x), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(RET.logcdf(x), np.log(brute_cdf(RET, x)), rtol=1e-10)


def test_pdf_integrates_to_one_and_to_the_cdf():
    total = integrate.quad(RET.pdf, -1, 1, points=[-0.01, 0.0], limit=200)[0]
    assert total == pytest.approx(1.0, abs=1e-10)
    for x in (-0.05, -0.01, 0.0, 0.02):
        part = integrate.quad(RET.pdf, -1, x, points=[-0.01], limit=200)[0]
        assert RET.cdf(x) == pytest.approx(part, abs=1e-10)


def test_log_tails_stay_finite_where_the_plain_cdf_underflows():
    one = UnivariateMixture([1.0], [0.0], stds=[1.0])
    x = np.array([-40.0, -30.0, 30.0, 40.0])
    np.testing.assert_allclose(one.logcdf(x), stats.norm.logcdf(x), rtol=1e-12)
    np.testing.assert_allclose(one.logsf(x), stats.norm.logsf(x), rtol=1e-12)
    assert RET.cdf(-10.0) == 0.0 and np.isfinite(RET.logcdf(-10.0))


def test_functions_keep_the_input_shape():
    x = np.zeros((3, 4))
    for f in (RET.pdf, RET.logpdf, RET.cdf, RET.sf, RET.logcdf, RET.logsf):
        assert f(x).shape == (3, 4)
    assert RET.ppf(np.full((2, 5), 0.3)).shape == (2, 5)
    assert np.ndim(RET.ppf(0.3)) == 0


# --------------------------------------------------------------------------
# ppf
# --------------------------------------------------------------------------

LEVELS = np.r_[1e-300, 1e-200, 1e-100, 1e-30, 1e-12, 1e-6, np.linspace(0.001, 0.999, 999),
               1 - 1e-6, 1 - 1e-12, 1 - 2 ** -52]


@pytest.mark.parametrize("dist", [RET, FAR], ids=["returns", "separated"])
def test_ppf_meets_every_level_to_1e10_in_probability(dist):
    x = dist.ppf(LEVELS)
    assert np.all(np.isfinite(x))
    assert np.all(np.diff(x) >= 0)
    assert np.max(np.abs(dist.cdf(x) - LEVELS)) <= 1e-10
    # Relative accuracy in the tails, where 1e-10 absolute would say nothing.
    low = LEVELS < 0.5
    rel_low = np.abs(np.expm1(dist.logcdf(x[low]) - np.log(LEVELS[low])))
    rel_high = np.abs(np.expm1(dist.logsf(x[~low]) - np.log1p(-LEVELS[~low])))
    assert rel_low.max() <= 1e-10 and rel_high.max() <= 1e-10


def test_ppf_on_random_mixtures_is_exact_to_float_resolution():
    rng = np.random.default_rng(2024)
    q = np.r_[10.0 ** -rng.uniform(1, 300, 60), rng.uniform(0, 1, 120),
              1 - 10.0 ** -rng.uniform(1, 15, 60)]
    low = q < 0.5
    for _ in range(40):
        k = rng.integers(1, 7)
        means = rng.normal(0, 10.0 ** rng.uniform(-3, 2), k)
        d = UnivariateMixture(rng.dirichlet(np.ones(k)), means, stds=10.0 ** rng.uniform(-3, 1, k))
        x = d.ppf(q)
        assert np.all(np.diff(x[np.argsort(q)]) >= 0)
        assert np.max(np.abs(d.cdf(x) - q)) <= 1e-10
        err = np.where(low, d.logcdf(x) - np.log(q), d.logsf(x) - np.log1p(-q))
        # Never worse than 1e-12 relative, or than one step to the adjacent double.
        slope = np.exp(d.logpdf(x) - np.where(low, d.logcdf(x), d.logsf(x)))
        assert np.all(np.abs(err) <= np.maximum(1e-12, 1.01 * slope * np.spacing(np.abs(x))))


def test_ppf_on_a_flat_stretch_of_the_cdf():
    # Between two far-apart components F is flat at 0.5 for ~180 units.
    d = UnivariateMixture([0.5, 0.5], [-100.0, 100.0], stds=[1.0, 1.0])
    q = np.array([0.5 - 1e-9, 0.5, 0.5 + 1e-9, 0.25, 0.75])
    x = d.ppf(q)
    np.testing.assert_allclose(d.cdf(x), q, rtol=0, atol=1e-12)
    assert x[0] < -90 and x[2] > 90 and -100 < x[1] < 100


def test_ppf_of_one_component_is_the_normal_quantile():
    d = UnivariateMixture([1.0], [0.3], stds=[2.0])
    q = np.array([1e-300, 1e-10, 0.025, 0.5, 0.975, 1 - 1e-10])
    np.testing.assert_allclose(d.ppf(q), stats.norm.ppf(q, 0.3, 2.0), rtol=1e-12)


def test_ppf_endpoints_and_bad_levels():
    assert RET.ppf(0.0) == -np.inf and RET.ppf(1.0) == np.inf
    for bad in (-0.1, 1.1, np.nan):
        with pytest.raises(ValueError, match="levels"):
            RET.ppf([0.5, bad])


def test_isf_is_accurate_in_the_right_tail():
    q = np.array([1e-300, 1e-50, 1e-8, 0.3])
    x = RET.isf(q)
    np.testing.assert_allclose(np.exp(RET.logsf(x)), q, rtol=1e-10)


def test_ppf_is_not_the_weighted_sum_of_component_quantiles():
    alpha = 0.01
    z = stats.norm.ppf(alpha)
    wrong = float(RET.weights @ (RET.means + RET.stds * z))
    assert abs(RET.cdf(wrong) - alpha) > 1e-3
    assert RET.cdf(RET.ppf(alpha)) == pytest.approx(alpha, abs=1e-12)


def test_zero_weight_components_are_ignored():
    d = UnivariateMixture([0.0, 1.0], [50.0, 0.0], stds=[1.0, 1.0])
    np.testing.assert_allclose(d.ppf([0.01, 0.99]), stats.norm.ppf([0.01, 0.99]), rtol=1e-12)
    assert d.kurtosis() == pytest.approx(3.0)


# --------------------------------------------------------------------------
# moments
# --------------------------------------------------------------------------

def test_moments_match_numerical_integration():
    m = RET.moments()
    mean = quad_moment(RET, lambda x: x)
    var = quad_moment(RET, lambda x: (x - mean) ** 2)
    m3 = quad_moment(RET, lambda x: (x - mean) ** 3)
    m4 = quad_moment(RET, lambda x: (x - mean) ** 4)
    assert m.mean == pytest.approx(mean, rel=1e-9)
    assert m.variance == pytest.approx(var, rel=1e-9)
    assert m.std == pytest.approx(np.sqrt(var), rel=1e-9)
    assert m.skewness == pytest.approx(m3 / var ** 1.5, rel=1e-7)
    assert m.kurtosis == pytest.approx(m4 / var ** 2, rel=1e-7)
    assert m.excess_kurtosis == pytest.approx(m.kurtosis - 3.0)


def test_moments_of_a_normal_and_by_raw_parameters():
    m = mixture_moments(weights=[0.4, 0.6], means=[1.0, 1.0], stds=[2.0, 2.0])
    assert (m.mean, m.variance, m.skewness, m.kurtosis, m.excess_kurtosis) == pytest.approx(
        (1.0, 4.0, 0.0, 3.0, 0.0), abs=1e-12)
    same = mixture_moments(weights=RET.weights, means=RET.means, variances=RET.variances)
    assert same == pytest.approx(RET.moments(), rel=1e-12)


def test_moments_agree_with_a_large_sample():
    x = RET.rvs(400_000, random_state=7)
    assert x.shape == (400_000,)
    assert x.mean() == pytest.approx(RET.mean(), abs=4 * RET.std() / np.sqrt(x.size))
    assert x.var() == pytest.approx(RET.var(), rel=0.02)
    assert stats.skew(x) == pytest.approx(RET.skewness(), abs=0.1)
    assert stats.kurtosis(x, fisher=False) == pytest.approx(RET.kurtosis(), rel=0.1)


def test_samples_follow_the_cdf_and_are_reproducible():
    x = RET.rvs(20_000, random_state=3)
    assert stats.kstest(x, RET.cdf).pvalue > 1e-3
    np.testing.assert_array_equal(x, RET.rvs(20_000, random_state=3))
    assert RET.rvs((4, 3), random_state=0).shape == (4, 3)


# --------------------------------------------------------------------------
# fitted models and multivariate moments
# --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def data_1d():
    return RET.rvs(6000, random_state=11).reshape(-1, 1)


@pytest.mark.parametrize("ctype", ["full", "tied", "diag", "spherical"])
def test_from_model_reads_every_covariance_type(data_1d, ctype):
    gm = GaussianMixture(n_components=2, covariance_type=ctype, random_state=0).fit(data_1d)
    d = UnivariateMixture.from_model(gm)
    np.testing.assert_allclose(d.weights, gm.weights_)
    np.testing.assert_allclose(d.means, gm.means_[:, 0])
    full = full_covariances(gm.covariances_, ctype, 2, 1)
    np.testing.assert_allclose(d.variances, full[:, 0, 0])
    # The density is the model's own.
    np.testing.assert_allclose(d.logpdf(data_1d[:50, 0]), gm.score_samples(data_1d[:50]),
                               rtol=1e-8)
    assert value_at_risk(gm, 0.01) == pytest.approx(-d.ppf(0.01))
    assert mixture_moments(gm) == pytest.approx(d.moments())


def test_multivariate_model_is_refused_by_univariate_functions():
    X = np.random.default_rng(0).normal(size=(300, 2))
    gm = GaussianMixture(n_components=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="2 features"):
        UnivariateMixture.from_model(gm)
    with pytest.raises(ValueError, match="mixture_mean_covariance"):
        value_at_risk(gm, 0.05)


@pytest.mark.parametrize("ctype", ["full", "tied", "diag", "spherical"])
def test_mixture_mean_covariance_matches_brute_force(ctype):
    rng = np.random.default_rng(1)
    X = np.vstack([rng.multivariate_normal([0, 0, 1], np.diag([1, 2, 3]), 400),
                   rng.multivariate_normal([3, -1, 0], [[1, .5, 0], [.5, 1, 0], [0, 0, .5]], 300)])
    gm = GaussianMixture(n_components=2, covariance_type=ctype, random_state=0).fit(X)
    mean, cov = mixture_mean_covariance(gm)
    full = full_covariances(gm.covariances_, ctype, 2, 3)
    # E[x x^T] - mean mean^T, summed component by component.
    second = sum(w * (c + np.outer(m, m)) for w, m, c in zip(gm.weights_, gm.means_, full))
    np.testing.assert_allclose(mean, gm.weights_ @ gm.means_, rtol=1e-12)
    np.testing.assert_allclose(cov, second - np.outer(mean, mean), rtol=1e-10, atol=1e-12)
    same = mixture_mean_covariance(weights=gm.weights_, means=gm.means_,
                                   covariances=gm.covariances_, covariance_type=ctype)
    np.testing.assert_allclose(same[1], cov)


def test_mixture_mean_covariance_agrees_with_a_sample():
    w, mu = np.array([0.3, 0.7]), np.array([[1.0, -1.0], [-0.5, 2.0]])
    covs = np.array([[[1.0, 0.8], [0.8, 2.0]], [[0.5, -0.2], [-0.2, 0.3]]])
    rng = np.random.default_rng(5)
    k = rng.choice(2, 200_000, p=w)
    chol = np.linalg.cholesky(covs)[k]
    x = mu[k] + np.einsum("nij,nj->ni", chol, rng.standard_normal((k.size, 2)))
    mean, cov = mixture_mean_covariance(weights=w, means=mu, covariances=covs)
    np.testing.assert_allclose(mean, x.mean(axis=0), atol=0.02)
    np.testing.assert_allclose(cov, np.cov(x.T), atol=0.03)


def test_univariate_variance_equals_the_1x1_covariance():
    mean, cov = mixture_mean_covariance(weights=RET.weights, means=RET.means[:, None],
                                        covariances=RET.variances, covariance_type="spherical")
    assert mean[0] == pytest.approx(RET.mean()) and cov[0, 0] == pytest.approx(RET.var())
