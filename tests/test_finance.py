"""gmmx.finance against closed forms, brute force, quadrature and Monte Carlo."""

import numpy as np
import pytest
from scipy import integrate, stats

from gmmx import GaussianMixture
from gmmx.finance import (
    UnivariateMixture,
    expected_shortfall,
    fit_gm2,
    full_covariances,
    gm2_from_moments,
    log_returns,
    mixture_mean_covariance,
    mixture_moments,
    structured_gm2,
    value_at_risk,
)

# A skewed, fat-tailed daily-return-like mixture and a badly separated one.
RET = UnivariateMixture([0.7, 0.25, 0.05], [0.0008, -0.001, -0.01], stds=[0.007, 0.015, 0.04])
FAR = UnivariateMixture([0.3, 0.3, 0.4], [-1e4, 0.0, 1e4], stds=[1.0, 1e-3, 5.0])


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
# models and parameter handling
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


def test_unfitted_or_foreign_objects_are_refused():
    with pytest.raises(ValueError, match="fitted"):
        mixture_moments(GaussianMixture(n_components=2))


@pytest.mark.parametrize("kwargs, match", [
    (dict(weights=[-0.1, 1.1], means=[0, 1], stds=[1, 1]), "non-negative"),
    (dict(weights=[0.5, 0.4], means=[0, 1], stds=[1, 1]), "sum to 1"),
    (dict(weights=[0.5, 0.5], means=[0, 1, 2], stds=[1, 1]), "same length"),
    (dict(weights=[0.5, 0.5], means=[0, 1], stds=[1, 0]), "positive"),
    (dict(weights=[0.5, 0.5], means=[0, 1], variances=[1, -1]), "positive"),
    (dict(weights=[0.5, 0.5], means=[0, np.nan], stds=[1, 1]), "NaN"),
    (dict(weights=[0.5, 0.5], means=[0, 1]), "exactly one"),
])
def test_bad_parameters_get_a_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mixture_moments(**kwargs)


def test_full_covariances_expands_each_type():
    K, d = 2, 3
    diag = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(full_covariances(diag, "diag", K, d)[1], np.diag(diag[1]))
    sph = np.array([0.5, 2.0])
    np.testing.assert_array_equal(full_covariances(sph, "spherical", K, d)[1], 2.0 * np.eye(3))
    tied = np.array([[2.0, 0.3, 0], [0.3, 1.0, 0], [0, 0, 1.0]])
    out = full_covariances(tied, "tied", K, d)
    assert out.shape == (2, 3, 3) and np.all(out == tied)
    with pytest.raises(ValueError, match="shape"):
        full_covariances(diag, "full", K, d)
    with pytest.raises(ValueError, match="covariance_type"):
        full_covariances(diag, "banana", K, d)


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


# --------------------------------------------------------------------------
# VaR and ES
# --------------------------------------------------------------------------

@pytest.mark.parametrize("alpha", [0.05, 0.01, 1e-4])
def test_var_is_the_alpha_quantile_with_a_loss_sign(alpha):
    var = value_at_risk(RET, alpha)
    assert var > 0
    assert RET.cdf(-var) == pytest.approx(alpha, rel=1e-10)


def test_var_and_es_of_a_normal_have_their_closed_forms():
    mu, s, alpha = 0.001, 0.02, 0.01
    d = UnivariateMixture([1.0], [mu], stds=[s])
    z = stats.norm.ppf(alpha)
    assert value_at_risk(d, alpha) == pytest.approx(-(mu + s * z), rel=1e-12)
    assert expected_shortfall(d, alpha) == pytest.approx(-mu + s * stats.norm.pdf(z) / alpha,
                                                         rel=1e-12)


@pytest.mark.parametrize("alpha", [0.05, 0.01, 1e-3])
def test_es_matches_numerical_integration(alpha):
    q = RET.ppf(alpha)
    tail = integrate.quad(lambda x: x * RET.pdf(x), -2.0, q, points=[-0.01], limit=500,
                          epsabs=0, epsrel=1e-11)[0]
    es = expected_shortfall(RET, alpha)
    assert es == pytest.approx(-tail / alpha, rel=1e-8)
    assert es > value_at_risk(RET, alpha)


def test_var_and_es_match_monte_carlo():
    alpha = 0.01
    x = RET.rvs(2_000_000, random_state=21)
    q = np.quantile(x, alpha)
    tail = x[x <= q]
    assert value_at_risk(RET, alpha) == pytest.approx(-q, rel=0.01)
    es_se = tail.std() / np.sqrt(tail.size)
    assert expected_shortfall(RET, alpha) == pytest.approx(-tail.mean(), abs=4 * es_se)


def test_short_position_risk_comes_from_the_upper_tail():
    alpha, v = 0.01, 1e6
    q_up = RET.isf(alpha)
    assert value_at_risk(RET, alpha, position=-v) == pytest.approx(v * q_up, rel=1e-12)
    tail = integrate.quad(lambda x: x * RET.pdf(x), q_up, 2.0, limit=500, epsabs=0,
                          epsrel=1e-11)[0]
    assert expected_shortfall(RET, alpha, position=-v) == pytest.approx(v * tail / alpha, rel=1e-8)
    # A long position scales the return-unit numbers.
    assert value_at_risk(RET, alpha, position=v) == pytest.approx(v * value_at_risk(RET, alpha))
    assert expected_shortfall(RET, alpha, position=v) == pytest.approx(
        v * expected_shortfall(RET, alpha))


def test_log_return_position_losses_match_integration():
    # Annual horizon so that exp(R) differs visibly from 1 + R.
    d = UnivariateMixture([0.9, 0.1], [0.05, -0.2], stds=[0.15, 0.4])
    alpha, v = 0.01, 100.0
    q, q_up = d.ppf(alpha), d.isf(alpha)
    assert value_at_risk(d, alpha, position=v, log_returns=True) == pytest.approx(
        v * (1 - np.exp(q)), rel=1e-12)
    assert value_at_risk(d, alpha, position=-v, log_returns=True) == pytest.approx(
        v * (np.exp(q_up) - 1), rel=1e-12)
    lo = integrate.quad(lambda x: (1 - np.exp(x)) * d.pdf(x), -10, q, epsabs=0, epsrel=1e-11)[0]
    hi = integrate.quad(lambda x: (np.exp(x) - 1) * d.pdf(x), q_up, 10, epsabs=0, epsrel=1e-11)[0]
    assert expected_shortfall(d, alpha, position=v, log_returns=True) == pytest.approx(
        v * lo / alpha, rel=1e-8)
    assert expected_shortfall(d, alpha, position=-v, log_returns=True) == pytest.approx(
        v * hi / alpha, rel=1e-8)


def test_risk_is_vectorised_over_levels():
    alphas = np.array([[0.05, 0.01], [1e-3, 1e-6]])
    for f in (value_at_risk, expected_shortfall):
        for kw in ({}, {"position": -1e6}, {"position": 1e6, "log_returns": True}):
            out = f(RET, alphas, **kw)
            assert out.shape == (2, 2)
            expected = [[f(RET, a, **kw) for a in row] for row in alphas]
            np.testing.assert_allclose(out, expected, rtol=1e-14)
    assert isinstance(value_at_risk(RET, 0.01), float)
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        value_at_risk(RET, [0.01, 0.0])


def test_risk_from_raw_parameters_and_methods_agree():
    kw = dict(weights=RET.weights, means=RET.means, stds=RET.stds)
    assert value_at_risk(alpha=0.02, **kw) == pytest.approx(RET.value_at_risk(0.02))
    assert expected_shortfall(alpha=0.02, **kw) == pytest.approx(RET.expected_shortfall(0.02))
    with pytest.raises(ValueError, match="not both"):
        value_at_risk(RET, 0.02, weights=RET.weights)


@pytest.mark.parametrize("alpha, match", [(0.0, r"\(0, 1\)"), (1.0, r"\(0, 1\)"),
                                          (-0.05, r"\(0, 1\)"), (0.99, "alpha=0.01")])
def test_bad_alpha_is_explained(alpha, match):
    with pytest.raises(ValueError, match=match):
        value_at_risk(RET, alpha)
    with pytest.raises(ValueError, match=match):
        expected_shortfall(RET, alpha)


# --------------------------------------------------------------------------
# structured GM(2)
# --------------------------------------------------------------------------

def test_structured_gm2_reproduces_the_published_worked_numbers():
    g = structured_gm2(sigma=0.20, kurtosis=4.05, a=0.8979, b=2.0)
    assert g.p == pytest.approx(0.9544, abs=5e-5)
    assert g.q == pytest.approx(0.0456, abs=5e-5)
    assert g.sigma1 == pytest.approx(0.17958) and g.sigma2 == pytest.approx(0.40)
    one, two = g.split(100_000)
    assert round(one, -1) == 95_440 and round(two, -1) == 4_560
    # Proposition 2 fixes the fourth moment at kappa sigma^4 ...
    d = g.distribution()
    fourth = 3 * (g.p * g.sigma1 ** 4 + g.q * g.sigma2 ** 4)
    assert fourth == pytest.approx(4.05 * 0.2 ** 4, rel=1e-12)
    assert d.mean() == 0.0 and d.skewness() == 0.0
    # ... and the variance is (p a^2 + q b^2) sigma^2, not sigma^2.
    assert d.var() == pytest.approx((g.p * g.a ** 2 + g.q * g.b ** 2) * 0.04, rel=1e-12)


def test_structured_gm2_kurtosis_raises_the_volatile_weight():
    assert structured_gm2(0.2, 5.0, 0.8979, 2.0).q > structured_gm2(0.2, 4.05, 0.8979, 2.0).q


@pytest.mark.parametrize("args, match", [
    ((0.2, 60.0, 0.9, 2.0), "no valid weight"),
    ((0.2, 1.0, 0.9, 2.0), "no valid weight"),
    ((0.2, 4.05, 1.2, 2.0), "0 < a < 1"),
    ((0.2, 4.05, 0.9, 0.8), "b > 1"),
    ((-0.2, 4.05, 0.9, 2.0), "sigma"),
])
def test_structured_gm2_errors(args, match):
    with pytest.raises(ValueError, match=match):
        structured_gm2(*args)


@pytest.mark.parametrize("given", [dict(a=0.8979), dict(a=0.5), dict(b=1.3), dict(b=2.0)])
def test_gm2_from_moments_matches_volatility_and_kurtosis_exactly(given):
    g = gm2_from_moments(0.2, 4.05, **given)
    m = g.distribution().moments()
    assert m.std == pytest.approx(0.2, rel=1e-12)
    assert m.kurtosis == pytest.approx(4.05, rel=1e-12)
    assert 0 < g.p < 1 and 0 < g.a < 1 < g.b
    for name, value in given.items():
        assert getattr(g, name) == pytest.approx(value)


def test_gm2_from_moments_errors():
    with pytest.raises(ValueError, match="excess kurtosis"):
        gm2_from_moments(0.2, 1.05, a=0.9)
    with pytest.raises(ValueError, match="exactly one"):
        gm2_from_moments(0.2, 4.05)
    with pytest.raises(ValueError, match="exceed sqrt"):
        gm2_from_moments(0.2, 4.05, b=1.1)


def test_fit_gm2_by_moments_matches_the_sample_moments():
    true = UnivariateMixture([0.85, 0.15], [0.0003, 0.0003], stds=[0.008, 0.022])
    x = true.rvs(200_000, random_state=4)
    d = fit_gm2(x)
    c = x - x.mean()
    m = d.moments()
    assert m.mean == pytest.approx(x.mean(), rel=1e-12)
    assert m.variance == pytest.approx(np.mean(c ** 2), rel=1e-10)
    assert m.kurtosis == pytest.approx(np.mean(c ** 4) / np.mean(c ** 2) ** 2, rel=1e-10)
    sixth = 15 * d.weights @ d.stds ** 6
    assert sixth == pytest.approx(np.mean(c ** 6), rel=1e-8)
    # And, with this much data, close to the truth.
    np.testing.assert_allclose(d.weights, true.weights, atol=0.05)
    np.testing.assert_allclose(d.stds, true.stds, rtol=0.1)
    fixed = fit_gm2(x, a=0.7)
    assert fixed.stds[0] / np.sqrt(np.mean(c ** 2)) == pytest.approx(0.7)
    assert fixed.kurtosis() == pytest.approx(m.kurtosis, rel=1e-10)


def test_fit_gm2_by_em_recovers_the_components():
    true = UnivariateMixture([0.8, 0.2], [0.001, -0.004], stds=[0.01, 0.03])
    d = fit_gm2(true.rvs(30_000, random_state=8), method="em")
    k = np.argsort(d.stds)
    np.testing.assert_allclose(d.weights[k], true.weights, atol=0.03)
    np.testing.assert_allclose(d.stds[k], true.stds, rtol=0.06)
    np.testing.assert_allclose(d.means[k], true.means, atol=0.002)


def test_fit_gm2_errors():
    with pytest.raises(ValueError, match="method"):
        fit_gm2(np.arange(10.0), method="bayes")
    with pytest.raises(ValueError, match="not above 3"):
        fit_gm2(np.random.default_rng(0).uniform(size=1000))
    with pytest.raises(ValueError, match="at least 4"):
        fit_gm2([0.1, np.nan, 0.2])


# --------------------------------------------------------------------------
# log returns
# --------------------------------------------------------------------------

def test_log_returns_of_arrays():
    p = np.array([100.0, 110.0, 99.0, 120.0])
    np.testing.assert_allclose(log_returns(p), np.log(p[1:] / p[:-1]))
    np.testing.assert_allclose(log_returns(p, periods=2), np.log(p[2:] / p[:-2]))
    panel = np.column_stack([p, 2 * p[::-1]])
    np.testing.assert_allclose(log_returns(panel), np.log(panel[1:] / panel[:-1]))


def test_log_returns_keep_the_pandas_index_and_names():
    pd = pytest.importorskip("pandas")
    idx = pd.date_range("2024-01-01", periods=4, freq="D")
    s = pd.Series([100.0, 110.0, 99.0, 120.0], index=idx, name="SPX")
    r = log_returns(s)
    assert isinstance(r, pd.Series) and r.name == "SPX"
    assert list(r.index) == list(idx[1:])
    np.testing.assert_allclose(r.to_numpy(), np.diff(np.log(s.to_numpy())))
    df = pd.DataFrame({"a": [1, 2, 4], "b": [10.0, 5.0, 5.0]}, index=idx[:3])
    rd = log_returns(df)
    assert isinstance(rd, pd.DataFrame) and list(rd.columns) == ["a", "b"]
    np.testing.assert_allclose(rd.to_numpy(), np.log([[2, 0.5], [2, 1]]))
    assert list(rd.index) == list(idx[1:3])


def test_log_returns_errors():
    with pytest.raises(ValueError, match="positive"):
        log_returns([100.0, -1.0, 3.0])
    with pytest.raises(ValueError, match="more than 1"):
        log_returns([100.0])
    with pytest.raises(ValueError, match="periods"):
        log_returns([1.0, 2.0, 3.0], periods=0)


def test_importing_finance_regimes_and_plotting_needs_only_numpy_and_scipy(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    import gmmx

    # Run outside the source tree, on the gmmx this test imports.
    env = dict(os.environ, PYTHONPATH=str(Path(gmmx.__file__).resolve().parents[1]))
    code = ("import sys, gmmx.finance, gmmx.regimes, gmmx.plotting; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'matplotlib'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path, env=env)
    assert out.stdout.strip() == "[]"
