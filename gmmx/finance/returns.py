"""Returns from prices.

:func:`log_returns` turns price levels (an array, a pandas Series or a
DataFrame with one column per asset) into log returns over a chosen horizon,
the input that the mixtures, risk measures and regimes of :mod:`gmmx.finance`
are fitted to; pandas input keeps its index and column names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import ArrayLike

__all__ = ["log_returns"]


def _looks_like_level(mean: Any, std: Any) -> Any:
    """Whether a series of this mean and standard deviation looks like a price level.

    Returns have ``|mean|`` far below their standard deviation, even annual
    ones; a level (a price, an index) has a mean far above it.  The rule:
    ``|mean| > 2 std`` (elementwise).
    """
    return np.abs(np.asarray(mean, dtype=np.float64)) > 2.0 * np.asarray(std, dtype=np.float64)


# Returns Any: an ndarray, or a Series / DataFrame like the input (pandas is
# optional and untyped, so overloads on its classes could not be told apart).
def log_returns(prices: ArrayLike, periods: int = 1) -> Any:
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

        labelled: Any = prices  # a Series or DataFrame
        index = labelled.index[periods:]
        if values.ndim == 1:
            return pd.Series(r, index=index, name=getattr(labelled, "name", None))
        return pd.DataFrame(r, index=index, columns=labelled.columns)
    return r
