"""Transforms of chunk sources: rows with missing values dropped, log returns of
a price column, streamed moments (moved from the gmmx command)."""

from __future__ import annotations

import numpy as np

from .base import ChunkSource


class _Tally:
    """What a filtering source dropped on its first pass (None until it ends)."""

    def __init__(self):
        self.dropped = None
        self.passes = 0


class _FiniteRowsSource(ChunkSource):
    """``src``'s chunks without the rows holding a missing or non-finite value.

    The streamed counterpart of :func:`_finite_rows`: chunk ``i`` is chunk
    ``i`` of ``src`` (possibly empty), so errors name the file's chunks.
    """

    def __init__(self, src, tally):
        self.src, self.tally = src, tally
        self.n_features = src.n_features

    def chunks(self):
        self.tally.passes += 1
        first = self.tally.passes == 1
        dropped = 0
        for item in self.src.chunks():
            X, w = item if isinstance(item, tuple) else (item, None)
            X = np.asarray(X, dtype=np.float64)
            X = X.reshape(X.shape[0], -1)
            ok = np.isfinite(X).all(axis=1)
            if not ok.all():
                dropped += int((~ok).sum())
                X = X[ok]
                w = None if w is None else np.asarray(w)[ok]
            yield X if w is None else (X, w)
        if first:
            self.tally.dropped = dropped

    def __repr__(self):
        return f"{self.src!r} (rows with missing values dropped)"


def _log_returns_source(src, tally):
    """Chunks of log returns of the first column of ``src``'s chunks.

    The last log price of each chunk carries over, so the returns equal those
    of the whole series; missing prices are skipped (counted in ``tally``).
    """
    from . import as_source

    def blocks():
        tally.passes += 1
        first = tally.passes == 1
        prev = None
        dropped = 0
        for item in src.chunks():
            block = np.asarray(item[0] if isinstance(item, tuple) else item, dtype=np.float64)
            p = block.reshape(block.shape[0], -1)[:, 0]
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
        if first:
            tally.dropped = dropped

    return as_source(blocks)


def _stream_moments(src):
    """Rows and per-column variances of a source in one pass (shifted sums)."""
    from .base import iter_blocks

    n, shift, s1, s2 = 0, None, None, None
    for _, _, X, _ in iter_blocks(src):
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
        raise ValueError("the file has no rows with finite values")
    mean = s1 / n
    return n, np.maximum(s2 / n - mean * mean, 0.0)
