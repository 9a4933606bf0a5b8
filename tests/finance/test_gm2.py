"""gmmx.finance.gm2: the structured GM(2) and two-component fits."""

import numpy as np
import pytest

from gmmx.finance import UnivariateMixture, fit_gm2, gm2_from_moments, structured_gm2


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
