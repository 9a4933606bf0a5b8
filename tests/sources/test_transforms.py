"""gmmx.sources transforms against whole-array computations (numpy, scipy.stats)."""

import numpy as np
import pytest
from scipy import stats

from gmmx.sources import (ArraySource, FiniteRows, IterableSource, LogReturns, as_source,
                          stream_moments)


def _blocks(X, size):
    return [X[i:i + size] for i in range(0, X.shape[0], size)]


def test_log_returns_across_chunks_equal_the_whole_series(rng):
    p = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 1000)))
    p[[0, 17, 18, 500, 999]] = np.nan  # missing prices: returns span the gaps
    src = LogReturns(ArraySource(np.c_[np.zeros_like(p), p], chunk_size=37), column=1)
    got, _ = src.read_all()
    ok = np.isfinite(p)
    np.testing.assert_allclose(got[:, 0], np.diff(np.log(p[ok])), rtol=0, atol=1e-15)
    assert src.n_dropped == 5 and src.n_features == 1


def test_log_returns_refuse_non_positive_prices():
    src = LogReturns(as_source(_blocks(np.array([[1.0], [2.0], [-1.0]]), 2)))
    with pytest.raises(ValueError, match="prices must be positive"):
        src.read_all()
    with pytest.raises(ValueError, match="column 3 is out of range"):
        LogReturns(ArraySource(np.ones((4, 2))), column=3)


def test_finite_rows_keep_chunks_and_weights(rng):
    X = rng.normal(size=(200, 3))
    X[[3, 50, 51, 199], [0, 1, 2, 0]] = [np.nan, np.inf, -np.inf, np.nan]
    w = rng.uniform(1, 2, 200)
    src = FiniteRows(ArraySource(X, w, chunk_size=50))
    chunks = list(src.chunks())
    assert len(chunks) == 4 and [c[0].shape[0] for c in chunks] == [49, 48, 50, 49]
    ok = np.isfinite(X).all(axis=1)
    got, gw = src.read_all()
    np.testing.assert_array_equal(got, X[ok])
    np.testing.assert_array_equal(gw, w[ok])
    assert src.n_dropped == 4


def test_n_dropped_is_none_until_a_pass_ends():
    src = FiniteRows(IterableSource(lambda: iter([np.array([[np.nan], [1.0]]),
                                                  np.array([[2.0]])])))
    it = src.chunks()
    next(it)
    assert src.n_dropped is None
    list(it)
    assert src.n_dropped == 1


def test_stream_moments_equal_numpy_on_price_levels(rng):
    X = 1e6 + rng.normal(size=(1000, 2)) * [1e-3, 5.0]  # levels: naive sums lose digits
    n, mean, var = stream_moments(as_source(_blocks(X, 64)))
    assert n == 1000
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-15)
    np.testing.assert_allclose(var, X.var(axis=0), rtol=1e-9)
    np.testing.assert_allclose(var, stats.describe(X).variance * 999 / 1000, rtol=1e-9)


def test_stream_moments_of_an_empty_source():
    with pytest.raises(ValueError, match="has no rows"):
        stream_moments(FiniteRows(ArraySource(np.full((5, 2), np.nan))))
