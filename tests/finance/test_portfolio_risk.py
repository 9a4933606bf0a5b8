"""Portfolio VaR and ES of multivariate mixtures (value_at_risk / expected_shortfall with
portfolio weights), their plot, and the README's "Portfolio risk and scenarios" example."""

import re
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from gmmx import GaussianMixture
from gmmx.finance import (MultivariateMixture, UnivariateMixture, expected_shortfall,
                          value_at_risk)
from gmmx.finance._models import model_covariances

README = Path(__file__).resolve().parents[2] / "README.md"


def fitted(covariance_type="full", seed=0):
    rng = np.random.default_rng(seed)
    calm = rng.multivariate_normal([5e-4, 6e-4, 4e-4],
                                   1e-4 * np.array([[1, .8, .6], [.8, 2, .5], [.6, .5, 1.5]]), 900)
    stress = rng.multivariate_normal([-3e-3, -4e-3, -2e-3],
                                     1e-4 * np.array([[9, 8, 6], [8, 16, 6], [6, 6, 12]]), 100)
    return GaussianMixture(n_components=2, covariance_type=covariance_type, reg_covar=1e-10,
                           random_state=0).fit(np.vstack([calm, stress]))


GM = fitted()
W = np.array([0.2, 0.5, 0.3])


def portfolio_cdf(gm, w, x):
    """F(x) of w'x straight from the model's parameters with scipy.stats.norm."""
    cov = model_covariances(gm)
    sd = np.sqrt(np.einsum("i,kij,j->k", w, cov, w))
    return float(gm.weights_ @ stats.norm.cdf(x, gm.means_ @ w, sd))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("alpha", [0.05, 0.01, 1e-4])
def test_portfolio_var_solves_F_of_minus_var_equals_alpha(covariance_type, alpha):
    gm = GM if covariance_type == "full" else fitted(covariance_type)
    for w in (W, np.array([0.0, 1.0, 0.0]), np.array([1e6, -4e5, 2e5])):
        var = value_at_risk(gm, alpha, weights=w)
        assert var > 0
        assert abs(portfolio_cdf(gm, w, -var) - alpha) <= 1e-10 * alpha


def test_sign_convention_matches_the_univariate_value_at_risk():
    port = MultivariateMixture.from_model(GM).portfolio(W)
    var = value_at_risk(GM, [0.05, 0.01], weights=W)
    np.testing.assert_array_equal(var, value_at_risk(port, [0.05, 0.01]))
    np.testing.assert_allclose(var, -port.ppf([0.05, 0.01]), rtol=1e-15)
    assert isinstance(value_at_risk(GM, 0.01, weights=W), float)
    # A short book loses in the upper tail: the same as a long book of -w.
    np.testing.assert_allclose(value_at_risk(GM, 0.01, weights=W, position=-2.0),
                               2.0 * value_at_risk(GM, 0.01, weights=-W), rtol=1e-12)
    np.testing.assert_allclose(expected_shortfall(GM, 0.01, weights=W, position=-2.0),
                               2.0 * expected_shortfall(GM, 0.01, weights=-W), rtol=1e-12)
    # A MultivariateMixture and the fitted model give the same answer.
    mix = MultivariateMixture.from_model(GM)
    assert value_at_risk(mix, 0.01, weights=W) == value_at_risk(GM, 0.01, weights=W)


def test_portfolio_es_is_the_tail_mean_of_var_and_agrees_with_monte_carlo():
    alpha = 0.025
    es = expected_shortfall(GM, alpha, weights=W)
    # ES = (1 / alpha) * integral of VaR(u) for u in (0, alpha).
    port = MultivariateMixture.from_model(GM).portfolio(W)
    tail, _ = integrate.quad(lambda u: -port.ppf(u), 0, alpha, limit=200, epsrel=1e-12)
    np.testing.assert_allclose(es, tail / alpha, rtol=1e-8)
    # Monte Carlo on the joint distribution, independent of the portfolio formula:
    # the share of losses beyond the exact VaR is alpha, and their mean is the ES.
    var = value_at_risk(GM, alpha, weights=W)
    x = MultivariateMixture.from_model(GM).rvs(400_000, random_state=11)
    loss = -(x @ W)
    beyond = loss[loss >= var]
    assert abs(beyond.size / loss.size - alpha) < 4 * np.sqrt(alpha * (1 - alpha) / loss.size)
    assert abs(beyond.mean() - es) < 4 * beyond.std() / np.sqrt(beyond.size)


def test_one_feature_model_with_weights_scales_and_univariate_models_are_unchanged():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(0, 0.01, 900), rng.normal(-0.01, 0.03, 100)])[:, None]
    gm1 = GaussianMixture(n_components=2, reg_covar=1e-10, random_state=0).fit(x)
    base = UnivariateMixture.from_model(gm1)
    assert value_at_risk(gm1, 0.01) == base.value_at_risk(0.01)
    np.testing.assert_allclose(value_at_risk(gm1, 0.01, weights=[3.0]),
                               3.0 * value_at_risk(gm1, 0.01), rtol=1e-12)
    one = MultivariateMixture.from_model(gm1)
    assert value_at_risk(one, 0.01) == pytest.approx(base.value_at_risk(0.01), rel=1e-14)


@pytest.mark.parametrize("kwargs, match", [
    (dict(), r"3 features; pass portfolio weights=w"),
    (dict(weights=[0.5, 0.5]), r"one weight per feature \(3\), got shape \(2,\)"),
    (dict(weights=[0.5, np.nan, 0.5]), "NaN"),
    (dict(weights=W, log_returns=True, position=1e6), "log_returns=True cannot be combined"),
    (dict(weights=W, means=[0.0, 0.0]), "not both"),
])
def test_bad_portfolio_input_is_a_clear_value_error(kwargs, match):
    for f in (value_at_risk, expected_shortfall):
        with pytest.raises(ValueError, match=match):
            f(GM, 0.01, **kwargs)
        with pytest.raises(ValueError, match=match):
            f(MultivariateMixture.from_model(GM), 0.01, **kwargs)


def test_univariate_mixture_with_portfolio_weights_is_refused():
    uni = MultivariateMixture.from_model(GM).portfolio(W)
    with pytest.raises(ValueError, match="not both; weights= are portfolio weights only"):
        value_at_risk(uni, 0.01, weights=[1.0])


# -- the plot ---------------------------------------------------------------------

def test_plot_portfolio_risk_marks_var_and_es(tmp_path):
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    from gmmx.plotting import plot_portfolio_risk

    try:
        ax = plot_portfolio_risk(GM, W, alpha=0.01)
        var = value_at_risk(GM, 0.01, weights=W)
        es = expected_shortfall(GM, 0.01, weights=W)
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert set(lines) == {"loss density", f"VaR 99%: {var:.4g}", f"ES 99%: {es:.4g}"}
        assert lines[f"VaR 99%: {var:.4g}"].get_xdata()[0] == var
        assert lines[f"ES 99%: {es:.4g}"].get_xdata()[0] == es
        grid, dens = lines["loss density"].get_data()
        port = MultivariateMixture.from_model(GM).portfolio(W)
        np.testing.assert_allclose(dens, port.pdf(-grid), rtol=1e-12)  # loss = -w'x
        assert [c.get_label() for c in ax.collections] == ["worst 1% of outcomes"]
        assert "positive = loss" in ax.get_xlabel()
        assert [t.get_text() for t in ax.get_legend().get_texts()][1:] == [
            "worst 1% of outcomes", f"VaR 99%: {var:.4g}", f"ES 99%: {es:.4g}"]
        ax.figure.savefig(tmp_path / "risk.png", dpi=60)
        img = plt.imread(tmp_path / "risk.png")[..., :3]
        assert np.mean(np.any(img < 0.9, axis=-1)) > 0.02

        fig, axes = plt.subplots(1, 2)
        ax2 = plot_portfolio_risk(MultivariateMixture.from_model(GM), W, 0.05,
                                  position=-1e6, ax=axes[1])
        assert ax2 is axes[1] and "currency" in ax2.get_xlabel()
        var_short = value_at_risk(GM, 0.05, weights=W, position=-1e6)
        assert any(line.get_xdata()[0] == var_short for line in ax2.get_lines()[1:])
        with pytest.raises(ValueError, match="3 features; pass portfolio weights"):
            plot_portfolio_risk(GM)
        with pytest.raises(ValueError, match="one tail probability"):
            plot_portfolio_risk(GM, W, alpha=[0.05, 0.01])
    finally:
        plt.close("all")


# -- README -------------------------------------------------------------------------

def test_readme_portfolio_example_runs_and_its_numbers_are_true(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    if not README.exists():
        pytest.skip("README.md is not next to the tests")
    text = README.read_text(encoding="utf-8")
    section = text.split("## Portfolio risk and scenarios", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    ns = {}
    exec(compile(code, "README.md", "exec"), ns)
    assert (tmp_path / "portfolio_risk.png").stat().st_size > 0
    gm, w, book = ns["gm"], ns["w"], ns["book"]
    assert round(value_at_risk(gm, 0.01, weights=w), 4) == 0.0484
    np.testing.assert_allclose(expected_shortfall(gm, [0.05, 0.01], weights=w, position=1e6),
                               [37034, 63770], atol=1)
    assert (round(book.mean(), 4), round(book.value_at_risk(0.01), 4)) == (-0.0255, 0.0775)
    import matplotlib.pyplot as plt
    plt.close("all")
