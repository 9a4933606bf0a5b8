"""Each figure renders headlessly to a non-blank PNG and draws what it claims."""

import sys

import numpy as np
import pytest

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from gmmx import GaussianMixture, plotting  # noqa: E402
from gmmx.finance import UnivariateMixture  # noqa: E402

DIST = UnivariateMixture([0.75, 0.25], [0.001, -0.002], stds=[0.008, 0.025])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def assert_not_blank(ax, path):
    ax.figure.savefig(path, dpi=60)
    img = mpimg.imread(path)[..., :3]
    assert img.shape[0] > 100 and img.shape[1] > 100
    # Pixels that differ from the (white) background: axes, curves, labels.
    inked = np.mean(np.any(img < 0.9, axis=-1))
    assert inked > 0.02, f"figure looks blank ({inked:.2%} inked)"
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 10  # more than one colour


def test_density_draws_histogram_mixture_and_each_component(tmp_path):
    x = DIST.rvs(3000, random_state=0)
    ax = plotting.plot_density(x, DIST, bins=40)
    assert len(ax.patches) == 40  # histogram bars
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["component 0: w=0.75", "component 1: w=0.25", "mixture"]
    # The drawn mixture curve is the pdf, and the components add up to it.
    grid, curve = ax.get_lines()[2].get_data()
    np.testing.assert_allclose(curve, DIST.pdf(grid), rtol=1e-12)
    parts = ax.get_lines()[0].get_ydata() + ax.get_lines()[1].get_ydata()
    np.testing.assert_allclose(parts, curve, rtol=1e-10)
    assert_not_blank(ax, tmp_path / "density.png")


def test_density_accepts_a_fitted_model_and_an_existing_axes(tmp_path):
    x = DIST.rvs(2000, random_state=1).reshape(-1, 1)
    gm = GaussianMixture(n_components=2, random_state=0).fit(x)
    fig, axes = plt.subplots(1, 2)
    ax = plotting.plot_density(None, gm, ax=axes[1], components=False)
    assert ax is axes[1] and len(ax.get_lines()) == 1
    assert_not_blank(ax, tmp_path / "density_model.png")


def test_qq_points_lie_on_the_diagonal_for_data_from_the_mixture(tmp_path):
    x = DIST.rvs(5000, random_state=2)
    ax = plotting.plot_qq(x, DIST, max_points=500)
    theo, emp = ax.get_lines()[0].get_data()
    assert 400 <= theo.size <= 500
    np.testing.assert_allclose(emp, np.sort(x)[np.searchsorted(np.sort(x), emp)])
    levels = DIST.cdf(theo)
    assert levels[0] == pytest.approx(0.5 / x.size)
    assert levels[-1] == pytest.approx(1 - 0.5 / x.size)
    inner = (levels > 0.05) & (levels < 0.95)  # the extremes are noisy by nature
    assert np.max(np.abs(emp[inner] - theo[inner])) < 0.1 * DIST.std()
    assert_not_blank(ax, tmp_path / "qq.png")


def test_information_criteria_fit_each_k_and_mark_the_minimum(tmp_path):
    rng = np.random.default_rng(3)
    X = np.r_[rng.normal(0, 1, 600), rng.normal(6, 1, 400)]
    ax = plotting.plot_information_criteria(X, range(1, 5), random_state=0)
    bic_line = ax.get_lines()[0]
    ks, bic = bic_line.get_data()
    assert list(ks) == [1, 2, 3, 4]
    expected = [GaussianMixture(n_components=k, random_state=0).fit(X[:, None]).bic(X[:, None])
                for k in range(1, 5)]
    np.testing.assert_allclose(bic, expected, rtol=1e-8)
    star = ax.get_lines()[1].get_data()
    assert star[0][0] == 2  # two clusters were simulated
    assert_not_blank(ax, tmp_path / "ic.png")


def test_information_criteria_from_precomputed_scores(tmp_path):
    ax = plotting.plot_information_criteria(scores={"bic": [5.0, 3.0, 4.0]}, n_components=[1, 2, 3],
                                            criteria=("bic",))
    assert ax.get_lines()[1].get_data()[0][0] == 2
    with pytest.raises(ValueError, match="one value per K"):
        plotting.plot_information_criteria(scores={"bic": [1.0]}, n_components=[1, 2],
                                           criteria=("bic",))
    with pytest.raises(ValueError, match="criteria"):
        plotting.plot_information_criteria(scores={}, criteria=("hqic",))


def test_regimes_shade_each_run(tmp_path):
    pd = pytest.importorskip("pandas")
    labels = np.array([0] * 30 + [1] * 10 + [0] * 20 + [2] * 5)
    prices = pd.Series(100 * np.exp(np.cumsum(np.full(labels.size + 1, 0.001))),
                       index=pd.bdate_range("2020-01-01", periods=labels.size + 1))
    ax = plotting.plot_regimes(prices, labels, label_names=["calm", "busy", "crisis"])
    spans = [p for p in ax.patches]
    assert len(spans) == 4  # one per run
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["calm", "busy", "crisis"]
    assert_not_blank(ax, tmp_path / "regimes.png")
    with pytest.raises(ValueError, match="more labels"):
        plotting.plot_regimes(np.arange(5.0), np.zeros(6, dtype=int))
    with pytest.raises(ValueError, match="one price or return series"):
        plotting.plot_regimes(np.ones((5, 2)), np.zeros(5, dtype=int))


def test_regimes_accept_a_regime_result(tmp_path):
    from gmmx.regimes import detect_regimes

    rng = np.random.default_rng(4)
    r = np.r_[rng.normal(0, 0.01, 300), rng.normal(0, 0.04, 100), rng.normal(0, 0.01, 300)]
    ax = plotting.plot_regimes(r, detect_regimes(r, 2))
    assert len(ax.patches) >= 3
    assert_not_blank(ax, tmp_path / "regimes_result.png")


@pytest.mark.parametrize("ctype", ["full", "diag", "spherical", "tied"])
def test_clusters_scatter_with_ellipses(tmp_path, ctype):
    rng = np.random.default_rng(5)
    X = np.vstack([rng.multivariate_normal([0, 0], [[1, 0.7], [0.7, 1]], 300),
                   rng.multivariate_normal([5, 4], [[1, -0.3], [-0.3, 0.5]], 200)])
    gm = GaussianMixture(n_components=2, covariance_type=ctype, random_state=0).fit(X)
    ax = plotting.plot_clusters(X, gm, n_std=(1.0, 2.0))
    assert len(ax.collections) == 2  # one scatter per component
    assert sum(len(c.get_offsets()) for c in ax.collections) == X.shape[0]
    # Two ellipses per component: each 1-sd ellipse is at Mahalanobis distance 1.
    from gmmx.finance import full_covariances

    covs = full_covariances(gm.covariances_, ctype, 2, 2)
    ellipses = [line for line in ax.get_lines() if len(line.get_xdata()) > 2]
    assert len(ellipses) == 4
    for k in range(2):
        pts = np.column_stack(ellipses[2 * k].get_data()) - gm.means_[k]
        d2 = np.einsum("ni,ij,nj->n", pts, np.linalg.inv(covs[k]), pts)
        np.testing.assert_allclose(d2, 1.0, rtol=1e-8)
    assert_not_blank(ax, tmp_path / f"clusters_{ctype}.png")


def test_plot_input_errors():
    X1 = np.zeros((10, 1))
    with pytest.raises(ValueError, match="d >= 2"):
        plotting.plot_clusters(X1, None)
    with pytest.raises(ValueError, match="one series"):
        plotting.plot_qq(np.zeros((10, 2)), DIST)


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install gmmx-em\[plot\]"):
        plotting.plot_density(None, DIST)


def test_plot_tail_comparison_draws_gaussian_and_t_densities():
    from gmmx import StudentTMixture
    from gmmx.finance import UnivariateTMixture

    x = np.random.default_rng(0).standard_t(3, 2000).reshape(-1, 1) * 0.01
    gm = GaussianMixture(2, random_state=0, n_threads=1).fit(x)
    tm = StudentTMixture(1, random_state=0, n_threads=1).fit(x)
    ax = plotting.plot_tail_comparison(x, {"Gaussian K=2": gm, "t K=1": tm})
    assert ax.get_yscale() == "log"
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == ["Gaussian K=2", "t K=1"]
    t_line = ax.get_lines()[1]
    np.testing.assert_allclose(t_line.get_ydata(),
                               UnivariateTMixture.from_model(tm).pdf(t_line.get_xdata()))
    ax2 = plotting.plot_tail_comparison(None, [tm])
    assert ax2.get_lines()[0].get_label() == "StudentTMixture K=1"
    with pytest.raises(ValueError, match="models is empty"):
        plotting.plot_tail_comparison(x, {})
