"""Plots a quant would put in a report: titles, axis labels, log tails, VaR/ES marks."""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
pd = pytest.importorskip("pandas")

from gmmx import GaussianMixture  # noqa: E402
from gmmx.finance import UnivariateMixture, expected_shortfall, value_at_risk  # noqa: E402
from gmmx.plotting import plot_density, plot_qq  # noqa: E402


@pytest.fixture(scope="module")
def returns():
    rng = np.random.default_rng(0)
    r = np.where(rng.random(4000) < 0.9, rng.normal(0, 0.01, 4000), rng.normal(0, 0.03, 4000))
    return pd.Series(r, name="SPX log return")


@pytest.fixture(scope="module")
def mix():
    return UnivariateMixture([0.9, 0.1], [0.0, 0.0], stds=[0.01, 0.03])


def test_density_is_labelled_from_the_series_name(returns, mix):
    ax = plot_density(returns, mix)
    assert ax.get_xlabel() == "SPX log return"
    assert ax.get_ylabel() == "density"
    assert ax.get_title() == "SPX log return: 2-component Gaussian mixture"
    assert ax.get_yscale() == "linear"
    ax = plot_density(returns.to_numpy(), mix, title="calm and wild", xlabel="r")
    assert (ax.get_title(), ax.get_xlabel()) == ("calm and wild", "r")


def test_density_linear_and_log_side_by_side(returns, mix):
    axes = plot_density(returns, mix, logy="both")
    assert len(axes) == 2 and axes[0].figure is axes[1].figure
    assert [a.get_yscale() for a in axes] == ["linear", "log"]
    assert axes[1].get_ylabel() == "density (log scale)" and "log scale" in axes[1].get_title()
    bottom, top = axes[1].get_ylim()
    assert 0 < bottom < top / 1e5  # the tails, decades below the peak, are on the plot


def test_var_and_es_are_marked_where_they_are(returns, mix):
    ax = plot_density(returns, mix, risk_alpha=[0.05, 0.01])
    lines = {line.get_label(): line for line in ax.get_lines()}
    for alpha in (0.05, 0.01):
        var, es = value_at_risk(mix, alpha), expected_shortfall(mix, alpha)
        pct = f"{100 * alpha:g}%"
        v = lines[f"{pct} VaR = {var:.4g}"]
        e = lines[f"{pct} ES = {es:.4g}"]
        assert v.get_xdata()[0] == pytest.approx(-var) and e.get_xdata()[0] == pytest.approx(-es)
        assert -es < -var < 0
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("VaR" in t for t in legend) and any("ES" in t for t in legend)


def test_name_from_a_fitted_dataframe_model():
    df = pd.DataFrame({"eurusd": np.random.default_rng(1).normal(0, 1e-3, 500)})
    gm = GaussianMixture(2, reg_covar=1e-12, random_state=0).fit(df)
    ax = plot_density(None, gm)
    assert ax.get_xlabel() == "eurusd"


def test_qq_has_labelled_axes_and_a_title(returns, mix):
    ax = plot_qq(returns, mix)
    assert ax.get_xlabel() == "quantile of the fitted 2-component mixture"
    assert ax.get_ylabel() == "sample quantile of SPX log return"
    assert ax.get_title() == "QQ plot: SPX log return against the fitted mixture"


def test_regimes_plot_has_title_axis_labels_and_table_numbers():
    from gmmx.plotting import plot_regimes
    from gmmx.regimes import detect_regimes

    rng = np.random.default_rng(5)
    r = np.concatenate([rng.normal(0, 0.01, 300), rng.normal(0, 0.04, 100), rng.normal(0, 0.01, 300)])
    idx = pd.date_range("2020-01-01", periods=r.size + 1, freq="B")
    prices = pd.Series(100 * np.exp(np.r_[0, np.cumsum(r)]), index=idx, name="SPX")
    reg = detect_regimes(pd.Series(r, index=idx[1:]), n_regimes=2)
    ax = plot_regimes(prices, reg)
    assert ax.get_title() == "SPX: 2 regimes (Gaussian mixture)"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("date", "SPX")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    vol0 = 100 * reg.volatility[0, 0]
    assert legend[0] == (f"regime 0: ann. vol {vol0:.1f}%, mean run "
                         f"{reg.mean_duration[0]:.1f} periods")
    plain = plot_regimes(np.asarray(prices), np.asarray(reg.labels))
    assert plain.get_xlabel() == "period" and plain.get_title() == "series: 2 regimes"
