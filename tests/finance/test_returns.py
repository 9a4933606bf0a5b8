"""gmmx.finance.returns: log returns from prices."""

import numpy as np
import pytest

from gmmx.finance import log_returns


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
