"""Student-t mixture distributions and their exact VaR / ES (scipy.stats, quad, Monte Carlo)."""

import numpy as np
import pytest
from scipy import integrate, stats

from gmmx import StudentTMixture
from gmmx.finance import (MultivariateMixture, MultivariateTMixture, UnivariateTMixture,
                          expected_shortfall, value_at_risk)
from gmmx.finance.regimes import detect_regimes

ALPHAS = [1e-6, 1e-3, 0.01, 0.05, 0.25, 0.5]


@pytest.fixture
def dist():
    return UnivariateTMixture([0.7, 0.25, 0.05], [0.0006, -0.001, -0.004],
                              [0.008, 0.018, 0.04], [6.0, 3.5, 2.5])


@pytest.mark.parametrize("alpha", ALPHAS)
def test_var_solves_the_mixture_cdf(dist, alpha):
    var = dist.value_at_risk(alpha)
    assert abs(dist.cdf(-var) / alpha - 1.0) <= 1e-10
    short = dist.value_at_risk(alpha, position=-1.0)
    assert abs(dist.sf(short) / alpha - 1.0) <= 1e-10


def test_cdf_pdf_are_scipy_mixtures(dist):
    x = np.linspace(-0.2, 0.2, 41)
    want_cdf = sum(w * stats.t.cdf(x, nu, m, s) for w, m, s, nu in
                   zip(dist.weights, dist.locs, dist.scales, dist.dof))
    want_pdf = sum(w * stats.t.pdf(x, nu, m, s) for w, m, s, nu in
                   zip(dist.weights, dist.locs, dist.scales, dist.dof))
    np.testing.assert_allclose(dist.cdf(x), want_cdf, rtol=1e-12)
    np.testing.assert_allclose(dist.sf(x), 1 - want_cdf, rtol=1e-10)
    np.testing.assert_allclose(dist.pdf(x), want_pdf, rtol=1e-12)
    np.testing.assert_allclose(dist.ppf(dist.cdf(x)), x, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("alpha", [1e-4, 0.01, 0.05, 0.2])
def test_es_equals_the_numerical_tail_integral(dist, alpha):
    q = -dist.value_at_risk(alpha)
    lower = integrate.quad(lambda x: x * dist.pdf(x), -np.inf, q, epsabs=0, epsrel=1e-13,
                           limit=500)[0]
    assert dist.expected_shortfall(alpha) == pytest.approx(-lower / alpha, rel=1e-8)
    qs = dist.isf(alpha)
    upper = integrate.quad(lambda x: x * dist.pdf(x), qs, np.inf, epsabs=0, epsrel=1e-13,
                           limit=500)[0]
    assert dist.expected_shortfall(alpha, position=-2.0) == pytest.approx(2 * upper / alpha,
                                                                         rel=1e-8)


@pytest.mark.parametrize("alpha", [1e-4, 0.01, 0.05, 0.2])
def test_log_return_es_equals_the_tail_integral_of_exp(dist, alpha):
    """Long: V (1 - E[exp(R) | R <= q]) by quad over the mixture density."""
    q = -dist.value_at_risk(alpha)
    tail = integrate.quad(lambda x: np.exp(x) * dist.pdf(x), -np.inf, q, epsabs=0,
                          epsrel=1e-13, limit=500)[0]
    es = dist.expected_shortfall(alpha, position=1e6, log_returns=True)
    assert es == pytest.approx(1e6 * (1.0 - tail / alpha), rel=1e-8)
    assert np.isinf(dist.expected_shortfall(alpha, position=-1e6, log_returns=True))
    arr = dist.expected_shortfall([alpha, 0.3], position=1e6, log_returns=True)
    assert arr.shape == (2,) and arr[0] == pytest.approx(es, rel=1e-12)


def test_log_return_es_tends_to_the_gaussian_one_as_nu_grows():
    locs, scales = np.array([0.0005, -0.002]), np.array([0.01, 0.03])
    t = UnivariateTMixture([0.8, 0.2], locs, scales, [1e8, 1e8])
    got = expected_shortfall(t, 0.01, position=1e6, log_returns=True)
    want = expected_shortfall(weights=[0.8, 0.2], means=locs, stds=scales, alpha=0.01,
                              position=1e6, log_returns=True)
    assert got == pytest.approx(want, rel=1e-6)


def test_one_component_is_scipy_t():
    d = UnivariateTMixture([1.0], [0.001], [0.01], [4.0])
    assert d.value_at_risk(0.01) == pytest.approx(-stats.t.ppf(0.01, 4, 0.001, 0.01), rel=1e-12)
    assert d.var() == pytest.approx(stats.t.var(4.5 - 0.5, 0.001, 0.01), rel=1e-12)
    assert d.skewness() == pytest.approx(0.0, abs=1e-12)
    assert np.isinf(d.kurtosis())  # nu = 4: no fourth moment


def test_moments_equal_numerical_integrals():
    d = UnivariateTMixture([0.6, 0.4], [0.01, -0.02], [0.01, 0.03], [7.0, 9.0])
    m = integrate.quad(lambda x: x * d.pdf(x), -np.inf, np.inf, epsrel=1e-12)[0]
    v = integrate.quad(lambda x: (x - m) ** 2 * d.pdf(x), -np.inf, np.inf, epsrel=1e-12)[0]
    k = integrate.quad(lambda x: (x - m) ** 4 * d.pdf(x), -np.inf, np.inf, epsrel=1e-12)[0]
    s3 = integrate.quad(lambda x: (x - m) ** 3 * d.pdf(x), -np.inf, np.inf, epsrel=1e-12)[0]
    assert d.mean() == pytest.approx(m, rel=1e-9)
    assert d.var() == pytest.approx(v, rel=1e-8)
    assert d.kurtosis() == pytest.approx(k / v ** 2, rel=1e-6)
    assert d.skewness() == pytest.approx(s3 / v ** 1.5, rel=1e-6)
    heavy = UnivariateTMixture([0.5, 0.5], [0, 0], [1, 1], [1.5, 5])
    assert np.isinf(heavy.var()) and np.isfinite(heavy.mean())
    assert np.isinf(UnivariateTMixture([1.0], [0.0], [1.0], [0.8]).expected_shortfall(0.01))


def two_asset():
    scales = np.array([[[1.0, 0.3], [0.3, 0.8]], [[4.0, 2.5], [2.5, 3.0]]]) * 1e-4
    return MultivariateTMixture([0.75, 0.25], [[0.0005, 0.0003], [-0.002, -0.001]], scales,
                                [5.0, 3.0], feature_names=["a", "b"])


def test_portfolio_of_one_component_is_the_projected_t():
    mv = MultivariateTMixture([1.0], [[0.001, 0.002]], [[[2e-4, 5e-5], [5e-5, 1e-4]]], [4.0])
    w = np.array([0.3, 0.7])
    p = mv.portfolio(w)
    s = np.sqrt(w @ mv.covariances[0] @ w)
    assert p.value_at_risk(0.01) == pytest.approx(-stats.t.ppf(0.01, 4, w @ mv.means[0], s),
                                                  rel=1e-12)


def test_portfolio_var_agrees_with_monte_carlo_and_differs_from_gaussian():
    mv = two_asset()
    w = {"a": 0.6, "b": 0.4}
    exact = value_at_risk(mv, 0.01, weights=w)
    draws = mv.rvs(2_000_000, random_state=0) @ np.array([0.6, 0.4])
    mc = -np.quantile(draws, 0.01)
    assert exact == pytest.approx(mc, rel=0.01)
    # the Gaussian mixture with the same component covariances: clearly not the t answer
    cov = (mv.dof / (mv.dof - 2))[:, None, None] * mv.covariances
    gauss = value_at_risk(MultivariateMixture(mv.weights, mv.means, cov), 0.01,
                          weights=[0.6, 0.4])
    assert abs(gauss / exact - 1) > 0.03
    es = expected_shortfall(mv, 0.01, weights=w)
    assert es == pytest.approx(-draws[draws <= -mc].mean(), rel=0.02)


def test_portfolio_risk_of_a_fitted_t_mixture_agrees_with_4m_draws_of_it():
    # the check: a StudentTMixture fitted to two assets; its exact
    # portfolio VaR / ES against 4 million draws of the fitted model
    X = two_asset().rvs(20_000, random_state=1)
    m = StudentTMixture(2, random_state=0, n_threads=1).fit(X)
    w = np.array([0.6, 0.4])
    exact = value_at_risk(m, 0.01, weights=w)
    draws, _ = m.sample(4_000_000)
    pnl = draws @ w
    mc = -np.quantile(pnl, 0.01)
    assert exact == pytest.approx(mc, rel=0.01)
    es = expected_shortfall(m, 0.01, weights=w)
    assert es == pytest.approx(-pnl[pnl <= -mc].mean(), rel=0.01)


def test_fitted_models_are_measured_as_t_mixtures():
    rng = np.random.default_rng(0)
    x = np.concatenate([0.01 * rng.standard_t(4, 1500), 0.03 * rng.standard_t(4, 500)])
    m = StudentTMixture(2, random_state=0, n_threads=1).fit(x.reshape(-1, 1))
    d = UnivariateTMixture(m.weights_, m.means_[:, 0], np.sqrt(m.scales_[:, 0, 0]),
                           m.degrees_of_freedom_)
    assert value_at_risk(m, 0.01) == d.value_at_risk(0.01)
    assert expected_shortfall(m, 0.01) == d.expected_shortfall(0.01)
    assert UnivariateTMixture.from_model(m).value_at_risk(0.01) == d.value_at_risk(0.01)
    X = np.column_stack([x, 0.5 * x + 0.01 * rng.standard_t(4, x.size)])
    m2 = StudentTMixture(2, covariance_type="diag", random_state=0, n_threads=1).fit(X)
    port = MultivariateTMixture.from_model(m2).portfolio([0.5, 0.5])
    assert value_at_risk(m2, 0.01, weights=[0.5, 0.5]) == port.value_at_risk(0.01)
    with pytest.raises(ValueError, match="portfolio weights"):
        value_at_risk(m2, 0.01)


def test_detect_regimes_with_t_emissions():
    rng = np.random.default_rng(1)
    x = np.concatenate([0.01 * rng.standard_t(5, 800), 0.03 * rng.standard_t(5, 400)])
    for method in ("mixture", "hmm"):
        r = detect_regimes(x, 2, method=method, emissions="student_t", n_init=1)
        assert r.volatility[0, 0] < r.volatility[1, 0]
        assert hasattr(r.model, "degrees_of_freedom_")
    with pytest.raises(ValueError, match="emissions must be"):
        detect_regimes(x, 2, emissions="laplace")


def test_bad_input():
    with pytest.raises(ValueError, match="degrees of freedom"):
        UnivariateTMixture([1.0], [0.0], [1.0], [0.0])
    with pytest.raises(ValueError, match="scales must be positive"):
        UnivariateTMixture([1.0], [0.0], [-1.0], [3.0])
    with pytest.raises(ValueError, match="alpha"):
        UnivariateTMixture([1.0], [0.0], [0.01], [3.0]).value_at_risk(0.9)
    with pytest.raises(ValueError, match="every feature"):
        two_asset().conditional(["a", "b"], [0.0, 0.0])
    with pytest.raises(ValueError, match="NaN or inf"):
        two_asset().conditional("a", np.nan)


def test_gaussian_mixture_helpers_refuse_t_models():
    from gmmx.finance import UnivariateMixture
    x = np.random.default_rng(2).standard_t(4, (300, 1))
    m = StudentTMixture(1, n_threads=1).fit(x)
    with pytest.raises(ValueError, match="Student-t mixture, not a Gaussian one"):
        UnivariateMixture.from_model(m)


def _grid_conditional(mv, a, value, grid):
    """Brute force: the joint t-mixture density on a line x[a] = value, normalised."""
    b = 1 - a
    pts = np.empty((grid.size, 2))
    pts[:, a], pts[:, b] = value, grid
    dens = sum(w * stats.multivariate_t(mv.means[k], mv.covariances[k], df=mv.dof[k]).pdf(pts)
               for k, w in enumerate(mv.weights))
    return dens / integrate.trapezoid(dens, grid)


@pytest.mark.parametrize("value", [-0.03, 0.0, 0.02])
def test_conditional_equals_brute_force_conditioning(value):
    mv = two_asset()
    cond = mv.conditional("a", value)
    assert isinstance(cond, UnivariateTMixture)
    np.testing.assert_allclose(cond.dof, mv.dof + 1)
    grid = np.linspace(-1.0, 1.0, 400_001)
    np.testing.assert_allclose(cond.pdf(grid), _grid_conditional(mv, 0, value, grid),
                               rtol=1e-6, atol=1e-6)
    # component weights: pi_k times the marginal t density of the observed value
    marg = np.array([w * stats.t.pdf(value, nu, m[0], np.sqrt(S[0, 0]))
                     for w, m, S, nu in zip(mv.weights, mv.means, mv.covariances, mv.dof)])
    np.testing.assert_allclose(cond.weights, marg / marg.sum(), rtol=1e-12)


def test_conditional_of_three_features_equals_the_normalised_joint_on_a_grid():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(2, 3, 3))
    scales = A @ np.swapaxes(A, 1, 2) + np.eye(3)
    mv = MultivariateTMixture([0.6, 0.4], [[0.0, 1.0, -1.0], [1.0, 0.0, 0.5]], scales,
                              [6.0, 9.0], feature_names=["x", "y", "z"])
    cond = mv.conditional("y", 0.4)
    assert isinstance(cond, MultivariateTMixture) and list(cond.feature_names) == ["x", "z"]
    # the conditional of each component, by scipy's t density on a 2-D grid of (x, z)
    g = np.linspace(-25, 25, 1001)
    xx, zz = np.meshgrid(g, g, indexing="ij")
    pts = np.stack([xx.ravel(), np.full(xx.size, 0.4), zz.ravel()], axis=1)
    dens = sum(w * stats.multivariate_t(mv.means[k], mv.covariances[k], df=mv.dof[k]).pdf(pts)
               for k, w in enumerate(mv.weights)).reshape(xx.shape)
    mass = integrate.trapezoid(integrate.trapezoid(dens, g, axis=1), g)
    got = cond.pdf(np.stack([xx.ravel(), zz.ravel()], axis=1)).reshape(xx.shape)
    np.testing.assert_allclose(got, dens / mass, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(cond.dof, mv.dof + 1)
