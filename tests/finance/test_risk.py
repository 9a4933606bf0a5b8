"""gmmx.finance.risk: VaR and ES against closed forms, quadrature and Monte Carlo."""

import numpy as np
import pytest
from finance_helpers import RET
from scipy import integrate, stats

from gmmx.finance import UnivariateMixture, expected_shortfall, value_at_risk


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


def test_alpha_one_half_is_the_largest_tail_accepted():
    """alpha = 0.5 (the median) is accepted and agrees with the closed form of a normal
    (VaR = -mu, ES = -mu + sigma * pdf(0) / 0.5); just above it is refused."""
    mu, s = 0.001, 0.02
    d = UnivariateMixture([1.0], [mu], stds=[s])
    assert value_at_risk(d, 0.5) == pytest.approx(-mu, rel=1e-12)
    assert expected_shortfall(d, 0.5) == pytest.approx(-mu + s * stats.norm.pdf(0) / 0.5,
                                                       rel=1e-12)
    assert RET.cdf(-value_at_risk(RET, 0.5)) == pytest.approx(0.5, rel=1e-12)
    q = RET.ppf(0.5)
    tail = integrate.quad(lambda x: x * RET.pdf(x), -2.0, q, points=[-0.01], limit=500,
                          epsabs=0, epsrel=1e-11)[0]
    assert expected_shortfall(RET, 0.5) == pytest.approx(-tail / 0.5, rel=1e-8)
    np.testing.assert_allclose(value_at_risk(RET, [0.01, 0.5]),
                               [value_at_risk(RET, 0.01), value_at_risk(RET, 0.5)])
    with pytest.raises(ValueError, match="alpha=0.499999"):
        value_at_risk(RET, np.nextafter(0.5, 1.0) + 1e-6)
