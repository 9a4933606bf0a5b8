"""Regime detection and asset clustering on simulated data with known answers."""

import numpy as np
import pytest
from scipy import stats

from gmmx.regimes import asset_features, cluster_assets, detect_regimes, regime_durations

pd = pytest.importorskip("pandas")

CALM, WILD = (0.0005, 0.008), (-0.001, 0.025)


def markov_returns(n=4000, stay=(0.99, 0.95), seed=0):
    """Two-state Markov-switching daily returns; state 0 calm, state 1 volatile."""
    rng = np.random.default_rng(seed)
    state = np.empty(n, dtype=int)
    s = 0
    for t in range(n):
        if rng.random() > stay[s]:
            s = 1 - s
        state[t] = s
    mu = np.where(state == 0, CALM[0], WILD[0])
    sd = np.where(state == 0, CALM[1], WILD[1])
    return mu + sd * rng.standard_normal(n), state


@pytest.fixture(scope="module")
def series():
    r, state = markov_returns()
    idx = pd.bdate_range("2005-01-03", periods=r.size)
    return pd.Series(r, index=idx, name="SPX"), state


@pytest.fixture(scope="module")
def fitted(series):
    return detect_regimes(series[0], 2)


def brute_durations(labels, k):
    runs = {j: [] for j in range(k)}
    current, length = labels[0], 1
    for lab in labels[1:]:
        if lab == current:
            length += 1
        else:
            runs[current].append(length)
            current, length = lab, 1
    runs[current].append(length)
    return np.array([np.mean(runs[j]) if runs[j] else np.nan for j in range(k)])


def test_regime_durations_match_a_loop():
    rng = np.random.default_rng(1)
    for _ in range(20):
        lab = np.repeat(rng.integers(0, 3, 30), rng.integers(1, 6, 30))
        np.testing.assert_allclose(regime_durations(lab, 4), brute_durations(lab, 4))
    assert np.isnan(regime_durations([0, 0, 2], 3)[1])
    np.testing.assert_array_equal(regime_durations([1, 1, 0, 1, 1, 1, 0]), [1.0, 2.5])


def test_regimes_recover_the_simulated_states(series, fitted):
    r, state = series
    labels = fitted.labels.to_numpy()
    assert np.mean(labels == state) > 0.85
    # Regime 0 is the calm one, whatever order EM found the components in.
    assert fitted.volatility[0, 0] < fitted.volatility[1, 0]
    np.testing.assert_allclose(fitted.volatility[:, 0], np.sqrt(252) * np.array([CALM[1], WILD[1]]),
                               rtol=0.15)
    assert fitted.weights[0] == pytest.approx(np.mean(state == 0), abs=0.08)


def test_regime_outputs_keep_the_index_and_are_consistent(series, fitted):
    r, _ = series
    assert fitted.probabilities.index.equals(r.index)
    assert fitted.labels.index.equals(r.index)
    assert list(fitted.probabilities.columns) == ["regime_0", "regime_1"]
    np.testing.assert_allclose(fitted.probabilities.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(fitted.labels, fitted.probabilities.to_numpy().argmax(axis=1))
    # Reordered parameters are the model's, permuted by `order`.
    np.testing.assert_allclose(fitted.weights, fitted.model.weights_[fitted.order])
    np.testing.assert_allclose(fitted.predict_proba(r.to_numpy()), fitted.probabilities.to_numpy())
    np.testing.assert_array_equal(fitted.predict(r.to_numpy()), fitted.labels.to_numpy())


def test_regime_table(fitted):
    table = fitted.table()
    assert list(table.columns) == ["weight", "mean", "ann_volatility", "mean_duration"]
    assert table.index.name == "regime" and len(table) == 2
    np.testing.assert_allclose(table["weight"].sum(), 1.0)
    np.testing.assert_allclose(table["mean_duration"], brute_durations(fitted.labels.to_numpy(), 2))
    var = np.array([fitted.covariances[k, 0, 0] for k in range(2)])
    np.testing.assert_allclose(table["ann_volatility"], np.sqrt(252 * var))
    # The calm regime lasts longer than the volatile one, as simulated.
    assert table["mean_duration"][0] > table["mean_duration"][1]


def test_transition_matrix_counts_label_changes(fitted):
    lab = fitted.labels.to_numpy()
    counts = np.zeros((2, 2))
    for a, b in zip(lab[:-1], lab[1:]):
        counts[a, b] += 1
    np.testing.assert_allclose(fitted.transition_matrix, counts / counts.sum(axis=1, keepdims=True))


def test_labels_are_stable_across_fits(series, fitted):
    r, _ = series
    for seed in (1, 2, 3):
        other = detect_regimes(r.to_numpy(), 2, random_state=seed, n_init=1,
                               init_params="random_from_data")
        assert np.mean(other.labels == fitted.labels.to_numpy()) > 0.99
        np.testing.assert_allclose(other.volatility, fitted.volatility, rtol=1e-2)


@pytest.mark.parametrize("ctype", ["full", "tied", "diag", "spherical"])
def test_regimes_of_a_two_asset_panel(ctype):
    r, state = markov_returns(3000, seed=5)
    rng = np.random.default_rng(6)
    other = 0.5 * r + np.where(state == 0, 0.005, 0.02) * rng.standard_normal(r.size)
    df = pd.DataFrame({"SPX": r, "NDX": other}, index=pd.bdate_range("2010-01-01", periods=r.size))
    res = detect_regimes(df, 2, covariance_type=ctype)
    assert res.means.shape == (2, 2) and res.volatility.shape == (2, 2)
    table = res.table()
    wanted = {"mean_SPX", "mean_NDX", "ann_volatility_SPX", "ann_volatility_NDX"}
    assert wanted <= set(table.columns)
    if ctype != "tied":  # tied regimes share one covariance; they differ by mean only
        assert np.trace(res.covariances[0]) < np.trace(res.covariances[1])
        assert np.mean(res.labels.to_numpy() == state) > 0.85


def test_numpy_input_gives_numpy_output():
    r, _ = markov_returns(1000, seed=2)
    res = detect_regimes(r, 2)
    assert isinstance(res.labels, np.ndarray) and res.probabilities.shape == (1000, 2)
    assert res.names == ["returns"]


@pytest.mark.parametrize("bad, kwargs, match", [
    (np.r_[np.zeros(10), np.nan], {}, "NaN"),
    (np.arange(3.0), {}, "at least 4"),
    (np.random.default_rng(0).normal(size=100), {"n_regimes": 0}, "at least 1"),
    (np.random.default_rng(0).normal(size=100), {"periods_per_year": 0}, "periods_per_year"),
    (np.zeros((3, 4, 2)), {}, "1-D or 2-D"),
])
def test_regime_input_errors(bad, kwargs, match):
    with pytest.raises(ValueError, match=match):
        detect_regimes(bad, **kwargs)


# --------------------------------------------------------------------------
# asset clustering
# --------------------------------------------------------------------------

def two_sector_panel(seed=0, T=750):
    """Five calm assets on one factor and four volatile ones on another."""
    rng = np.random.default_rng(seed)
    f = rng.standard_normal((T, 2))
    calm = 0.01 * (f[:, [0]] + 0.5 * rng.standard_normal((T, 5)))
    wild = 0.03 * (f[:, [1]] + 0.5 * rng.standard_normal((T, 4)))
    cols = [f"calm{i}" for i in range(5)] + [f"wild{i}" for i in range(4)]
    return pd.DataFrame(np.hstack([calm, wild]), columns=cols)


def test_asset_features_match_numpy_and_scipy():
    df = two_sector_panel()
    x = df.to_numpy()
    feats = asset_features(df, ("mean", "volatility", "skew", "kurtosis", "market_corr", "corr"))
    assert list(feats.index) == list(df.columns)
    np.testing.assert_allclose(feats["mean"], 252 * x.mean(axis=0))
    np.testing.assert_allclose(feats["volatility"], np.sqrt(252) * x.std(axis=0))
    np.testing.assert_allclose(feats["skew"], stats.skew(x, axis=0))
    np.testing.assert_allclose(feats["excess_kurtosis"], stats.kurtosis(x, axis=0))
    market = x.mean(axis=1)
    np.testing.assert_allclose(feats["market_corr"],
                               [stats.pearsonr(x[:, j], market)[0] for j in range(x.shape[1])])
    corr = feats[[f"corr_{c}" for c in df.columns]].to_numpy()
    np.testing.assert_allclose(corr, np.corrcoef(x.T))
    plain = asset_features(x, ("mean", "volatility"))
    assert isinstance(plain, np.ndarray) and plain.shape == (9, 2)


def test_cluster_assets_finds_the_two_sectors_with_stable_labels():
    df = two_sector_panel()
    res = cluster_assets(df, 2)
    expected = [0] * 5 + [1] * 4  # label 0 = the calm cluster
    assert list(res.labels) == expected
    assert list(res.labels.index) == list(df.columns)
    np.testing.assert_allclose(res.probabilities.sum(axis=1), 1.0)
    for seed in (1, 2):
        again = cluster_assets(df[df.columns[::-1]], 2, random_state=seed)
        assert list(again.labels[df.columns]) == expected


def test_cluster_assets_errors():
    df = two_sector_panel()
    with pytest.raises(ValueError, match="n_clusters"):
        cluster_assets(df, 10)
    with pytest.raises(ValueError, match="unknown features"):
        cluster_assets(df, 2, features=("beta",))
    with pytest.raises(ValueError, match="at least 2 assets"):
        cluster_assets(df[["calm0"]], 1)


@pytest.mark.parametrize("method", ["mixture", "hmm"])
def test_a_price_level_warns_once_returns_do_not(series, method):
    import warnings

    r = series[0].to_numpy()
    prices = pd.Series(100.0 * np.exp(np.cumsum(r[:400])), name="SPX")
    with pytest.warns(UserWarning, match="SPX look\\(s\\) like a price level") as caught:
        detect_regimes(prices, 2, method=method, n_init=1)
    assert sum("price level" in str(w.message) for w in caught) == 1
    assert caught[0].filename == __file__  # the user's line
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        detect_regimes(r[:400], 2, method=method, n_init=1)
