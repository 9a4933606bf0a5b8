"""detect_regimes(method="hmm"): persistent regimes, expected durations, filtered probabilities."""

import numpy as np
import pytest

from gmmx.regimes import detect_regimes

pd = pytest.importorskip("pandas")

STAY = (0.99, 0.95)     # expected durations 100 and 20 days


def markov_switching(n=5000, seed=0):
    """Two-state Markov-switching daily returns: calm (0) and volatile (1)."""
    rng = np.random.default_rng(seed)
    state = np.empty(n, dtype=int)
    s = 0
    for t in range(n):
        if rng.random() > STAY[s]:
            s = 1 - s
        state[t] = s
    r = np.where(state == 0, 0.0005, -0.001) + np.where(state == 0, 0.007, 0.022) * \
        rng.standard_normal(n)
    return pd.Series(r, index=pd.bdate_range("2000-01-03", periods=n), name="SPX"), state


@pytest.fixture(scope="module")
def simulated():
    r, state = markov_switching()
    return r, state, detect_regimes(r, 2, method="hmm", n_init=2)


def test_hmm_regimes_recover_states_and_durations(simulated):
    r, state, res = simulated
    assert res.method == "hmm"
    assert np.mean(res.labels.to_numpy() == state) > 0.95
    np.testing.assert_allclose(res.expected_duration, [1 / (1 - p) for p in STAY], rtol=0.35)
    np.testing.assert_allclose(np.diag(res.transmat), STAY, atol=0.02)
    assert res.mean_duration[0] > 50 and res.mean_duration[1] > 10
    np.testing.assert_allclose(res.volatility[:, 0], np.sqrt(252) * np.array([0.007, 0.022]),
                               rtol=0.1)
    # weights are the long-run shares: the stationary distribution of transmat
    np.testing.assert_allclose(res.weights @ res.transmat, res.weights, atol=1e-12)
    np.testing.assert_allclose(res.weights.sum(), 1.0)


def test_hmm_table_and_probabilities(simulated):
    r, _, res = simulated
    table = res.table()
    assert list(table.columns) == ["weight", "mean", "ann_volatility", "mean_duration",
                                   "expected_duration"]
    np.testing.assert_allclose(table["expected_duration"],
                               1.0 / (1.0 - np.diag(res.transmat)))
    for probs in (res.probabilities, res.filtered_probabilities):
        assert probs.index.equals(r.index)
        assert list(probs.columns) == ["regime_0", "regime_1"]
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(res.labels, res.probabilities.to_numpy().argmax(axis=1))
    x = r.to_numpy()
    np.testing.assert_allclose(res.filter_proba(x), res.filtered_probabilities.to_numpy())
    np.testing.assert_allclose(res.predict_proba(x), res.probabilities.to_numpy())
    # causal: the first 1000 days' filtered probabilities ignore what came after
    np.testing.assert_allclose(res.filter_proba(x[:1000]), res.filter_proba(x)[:1000],
                               rtol=0, atol=1e-14)


def test_mixture_regimes_keep_their_table_and_imply_iid_durations(simulated):
    r, _, _ = simulated
    mix = detect_regimes(r, 2)
    assert mix.method == "mixture"
    assert "expected_duration" not in mix.table().columns
    np.testing.assert_allclose(mix.transmat, np.tile(mix.weights, (2, 1)))
    np.testing.assert_allclose(mix.expected_duration, 1.0 / (1.0 - mix.weights))
    pd.testing.assert_frame_equal(mix.filtered_probabilities, mix.probabilities)


def test_unknown_method_is_named():
    with pytest.raises(ValueError, match="method must be 'mixture' or 'hmm'"):
        detect_regimes(np.random.default_rng(0).normal(size=100), 2, method="markov")


def test_sp500_hmm_regimes_last_weeks_to_months():
    sp500 = pytest.importorskip("arch.data.sp500")
    from gmmx.finance import log_returns

    r = log_returns(sp500.load()["Adj Close"])
    hmm = detect_regimes(r, 2, method="hmm")
    mix = detect_regimes(r, 2)
    # trading days: two weeks to a year
    assert np.all(hmm.mean_duration >= 10) and np.all(hmm.mean_duration <= 252)
    assert np.all(hmm.expected_duration >= 10) and np.all(hmm.expected_duration <= 252)
    assert mix.mean_duration[1] < 3            # the i.i.d. mixture's turbulent regime flickers
    assert hmm.volatility[0, 0] < hmm.volatility[1, 0]
    autumn_2008 = hmm.labels.loc["2008-09-15":"2008-12-31"]
    assert (autumn_2008 == 1).mean() > 0.95


@pytest.mark.parametrize("which", ["smoothed", "filtered"])
def test_plot_regimes_draws_probabilities(simulated, which):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from gmmx.plotting import plot_regimes

    r, _, res = simulated
    prices = 100 * np.exp(r.cumsum())
    ax = plot_regimes(prices, res, probabilities=which, label_names=["calm", "volatile"])
    right = ax.right_ax
    assert right.get_ylim() == (0.0, 1.0)
    assert [t.get_text() for t in right.get_legend().get_texts()] == ["calm", "volatile"]
    assert len(right.collections) == 2
    plt.close(ax.figure)


def test_plot_regimes_probability_errors(simulated):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from gmmx.plotting import plot_regimes

    r, _, res = simulated
    with pytest.raises(ValueError, match="'smoothed', 'filtered'"):
        plot_regimes(r, res, probabilities="posterior")
    with pytest.raises(ValueError, match="needs the RegimeResult"):
        plot_regimes(r, res.labels, probabilities="filtered")
    with pytest.raises(ValueError, match="like the labels"):
        plot_regimes(r, res.labels, probabilities=np.ones((10, 2)))
    ax = plot_regimes(r, res.labels, probabilities=res.probabilities.to_numpy())
    assert hasattr(ax, "right_ax")
    plt.close("all")
