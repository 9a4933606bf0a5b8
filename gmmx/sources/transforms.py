"""Transforms of chunk sources, applied chunk by chunk on every pass.

* :class:`FiniteRows`: the rows of a source without missing or non-finite
  values (``n_dropped`` counts them);
* :class:`LogReturns`: the log returns of a price column, continuous across
  chunks (the last price of a chunk carries over);
* :func:`stream_moments`: rows, means and variances of a source in one pass.

Streaming log returns from a price file::

    src = LogReturns(as_source("prices.csv", columns=["close"]))
    n, mean, var = stream_moments(src)
    GaussianMixture(2, reg_covar=1e-6 * var.min()).fit(src)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Optional, Union

import numpy as np

from .base import ChunkSource, iter_blocks

__all__ = ["FiniteRows", "LogReturns", "stream_moments"]

Block = Union[np.ndarray, tuple]


def _split(item: Any) -> tuple[np.ndarray, Any]:
    X, w = item if isinstance(item, tuple) else (item, None)
    X = np.asarray(X, dtype=np.float64)
    return X.reshape(X.shape[0], -1), w


class FiniteRows(ChunkSource):
    """The chunks of ``source`` without the rows holding a missing or non-finite value.

    Chunk ``i`` is chunk ``i`` of ``source`` with those rows removed (possibly
    empty), so errors name the file's chunks; weights follow their rows.

    Parameters
    ----------
    source : ChunkSource

    Attributes
    ----------
    n_dropped : int or None
        Rows dropped by the first full pass (None until one has ended).
    """

    def __init__(self, source: ChunkSource) -> None:
        self.source = source
        self.n_features = source.n_features
        self.n_dropped: Optional[int] = None

    def chunks(self) -> Iterator[Block]:
        """A fresh iterator over the filtered blocks of one pass.

        Yields
        ------
        ndarray of shape (n_i, d), or a pair (X_i, sample_weight_i)
        """
        dropped = 0
        for item in self.source.chunks():
            X, w = _split(item)
            ok = np.isfinite(X).all(axis=1)
            if not ok.all():
                dropped += int((~ok).sum())
                X = X[ok]
                w = None if w is None else np.asarray(w)[ok]
            yield X if w is None else (X, w)
        if self.n_dropped is None:
            self.n_dropped = dropped

    def __repr__(self) -> str:
        return f"{self.source!r} (rows with missing values dropped)"


class LogReturns(ChunkSource):
    """Log returns ``log(P_t / P_t-1)`` of one price column of ``source``, chunk by chunk.

    The last price of each chunk carries over to the next, so the returns are
    those of the whole series; missing (non-finite) prices are skipped (the
    return after a gap spans it) and counted.  Weights of ``source`` are
    ignored (a return belongs to two rows).

    Parameters
    ----------
    source : ChunkSource
    column : int, default=0
        The price column.

    Attributes
    ----------
    n_dropped : int or None
        Missing prices skipped by the first full pass (None until one has ended).

    Raises
    ------
    ValueError
        While iterating, at a price that is not positive.
    """

    def __init__(self, source: ChunkSource, column: int = 0) -> None:
        self.source = source
        self.n_features = 1
        self.column = int(column)
        if source.n_features is not None and not 0 <= self.column < source.n_features:
            raise ValueError(f"column {column} is out of range for a source of "
                             f"{source.n_features} columns")
        self.n_dropped: Optional[int] = None

    def chunks(self) -> Iterator[np.ndarray]:
        """A fresh iterator over blocks ``(n_i, 1)`` of log returns (a pass).

        Yields
        ------
        ndarray of shape (n_i, 1)
        """
        prev = None
        dropped = 0
        for item in self.source.chunks():
            p = _split(item)[0][:, self.column]
            ok = np.isfinite(p)
            dropped += int(p.size - ok.sum())
            p = p[ok]
            if np.any(p <= 0):
                raise ValueError("prices must be positive to take log returns; is the "
                                 "column already a return series? (drop --returns)")
            lp = np.log(p)
            if prev is not None:
                lp = np.concatenate(([prev], lp))
            if lp.size:
                prev = lp[-1]
            r = np.diff(lp)
            if r.size:
                yield r[:, None]
        if self.n_dropped is None:
            self.n_dropped = dropped

    def __repr__(self) -> str:
        return f"LogReturns({self.source!r}, column={self.column})"


def stream_moments(source: ChunkSource) -> tuple[int, np.ndarray, np.ndarray]:
    """Rows, per-column means and (population) variances of a source, in one pass.

    Sums are shifted by the first row, so price levels keep their digits.
    Weights are ignored (every row counts once).

    Parameters
    ----------
    source : ChunkSource

    Returns
    -------
    n_rows : int
    mean : ndarray of shape (d,)
    var : ndarray of shape (d,)

    Raises
    ------
    ValueError
        If the source has no rows.
    """
    n = 0
    shift: Any = None
    s1: Any = None
    s2: Any = None
    for _, _, X, _ in iter_blocks(source):
        X = X.astype(np.float64, copy=False)
        if X.shape[0] == 0:
            continue
        if shift is None:
            shift = X[0].copy()  # shifted sums: no cancellation on price levels
            s1 = np.zeros(X.shape[1])
            s2 = np.zeros(X.shape[1])
        D = X - shift
        s1 += D.sum(axis=0)
        s2 += np.einsum("ij,ij->j", D, D)
        n += X.shape[0]
    if n == 0:
        raise ValueError("the source has no rows (none with finite values?)")
    mean = s1 / n
    return n, shift + mean, np.maximum(s2 / n - mean * mean, 0.0)
