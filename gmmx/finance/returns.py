"""Returns from prices.

:func:`log_returns` turns price levels (an array, a pandas Series or a
DataFrame with one column per asset) into log returns over a chosen horizon,
the input that the mixtures, risk measures and regimes of :mod:`gmmx.finance`
are fitted to; pandas input keeps its index and column names.
"""

from __future__ import annotations

import numpy as np

__all__ = ["log_returns"]


def log_returns(prices, periods=1):
    """Log returns ``log(P_t / P_{t-periods})`` from a price series.

    Parameters
    ----------
    prices : array_like, pandas.Series or pandas.DataFrame
        Positive prices along axis 0 (one column per asset for 2-D input).
    periods : int
        Return horizon in rows.

    Returns
    -------
    ndarray, Series or DataFrame
        ``periods`` rows shorter than ``prices``; pandas input keeps its index
        (the first ``periods`` labels are dropped) and column names.
    """
    periods = int(periods)
    if periods < 1:
        raise ValueError(f"periods must be a positive integer, got {periods}")
    values = np.asarray(prices, dtype=np.float64)
    if values.ndim not in (1, 2):
        raise ValueError(f"prices must be 1-D or 2-D, got shape {values.shape}")
    if values.shape[0] <= periods:
        raise ValueError(f"need more than {periods} prices, got {values.shape[0]}")
    finite = values[np.isfinite(values)]
    if np.any(finite <= 0):
        raise ValueError("prices must be positive to take logs; pass price levels, not returns")
    logp = np.log(values)
    r = logp[periods:] - logp[:-periods]
    if hasattr(prices, "index") and hasattr(prices, "iloc"):
        import pandas as pd

        index = prices.index[periods:]
        if values.ndim == 1:
            return pd.Series(r, index=index, name=getattr(prices, "name", None))
        return pd.DataFrame(r, index=index, columns=prices.columns)
    return r
