"""Bounded row samples in one pass, for initialisation from data of any size."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import NDArray

import numpy as np

__all__ = ["FilledInitSample", "INIT_SAMPLE_ROWS", "Reservoir", "fill_for_init"]

#: Rows kept for initialisation from a source (reservoir sample).
INIT_SAMPLE_ROWS = 200_000

_KEY_BLOCK = 1 << 18


class Reservoir:
    """Bounded sample of rows in one pass (also mergeable, for Dask).

    All rows are kept while they fit in ``capacity``, so a small source gives
    exactly its rows (and the same initialisation as an in-memory fit).
    Beyond that it is Efraimidis-Spirakis weighted sampling without
    replacement (keys ``log(u) / w``; uniform without weights).  Random keys
    are drawn only once the capacity is exceeded.

    Parameters
    ----------
    capacity : int
    seed : int or None
        Seed of the key generator (drawn from ``random_state`` if None).
    random_state : numpy RandomState, optional
    """

    def __init__(self, capacity: int = INIT_SAMPLE_ROWS, seed: Any = None,
                 random_state: Any = None) -> None:
        self.capacity = int(capacity)
        self._seed = seed
        self._random_state = random_state
        self._rng = None
        self.X: Any = None
        self.w = None  # None until a weighted block is seen
        self.order = np.empty(0, dtype=np.int64)
        self.keys: Any = None
        self.weighted = False
        self.n_seen = 0

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_random_state"] = None
        return state

    @property
    def size(self) -> int:
        return 0 if self.X is None else self.X.shape[0]

    def _gen(self):
        if self._rng is None:
            seed = self._seed
            if seed is None:
                rs = self._random_state if self._random_state is not None else np.random.mtrand._rand
                seed = int(rs.randint(np.iinfo(np.int32).max))
            self._rng = np.random.default_rng(seed)
        return self._rng

    def _make_keys(self, w, n):
        u = self._gen().random(n)
        with np.errstate(divide="ignore"):
            logu = np.log(u)
            return logu if w is None else logu / w

    def _ensure_keys(self):
        if self.keys is None:
            self.keys = self._make_keys(self.w, self.size)

    def _append(self, X, w, order, keys):
        if w is not None and not self.weighted:
            self.weighted = True
            if self.X is not None:
                self.w = np.ones(self.size)
        if self.weighted and w is None:
            w = np.ones(X.shape[0])
        if self.X is None:
            self.X, self.w, self.order = X, (w if self.weighted else None), order
            self.keys = keys
            return
        self.X = np.concatenate([self.X, X])
        if self.weighted:
            self.w = np.concatenate([self.w, w])
        self.order = np.concatenate([self.order, order])
        if keys is not None:
            self.keys = np.concatenate([self.keys, keys])

    def _truncate(self):
        if self.size > self.capacity:
            keep = np.argpartition(-self.keys, self.capacity - 1)[: self.capacity]
            keep.sort()
            self.X = self.X[keep]
            self.order = self.order[keep]
            self.keys = self.keys[keep]
            if self.w is not None:
                self.w = self.w[keep]

    def add(self, X: NDArray[Any], w: NDArray[Any] | None = None, start: int = 0) -> None:
        """Offer the rows of block ``X`` (global row index ``start + i``)."""
        n = X.shape[0]
        if n == 0:
            return
        if n > _KEY_BLOCK and (self.keys is not None or self.size + n > self.capacity):
            # draw keys a slice at a time: bounded scratch memory for big chunks
            for s in range(0, n, _KEY_BLOCK):
                self.add(X[s:s + _KEY_BLOCK], None if w is None else w[s:s + _KEY_BLOCK], start + s)
            return
        self.n_seen += n
        order = start + np.arange(n, dtype=np.int64)
        if self.keys is None and self.size + n <= self.capacity:
            self._append(np.array(X), None if w is None else np.array(w, dtype=np.float64), order, None)
            return
        self._ensure_keys()
        keys = self._make_keys(w, n)
        if self.size >= self.capacity:
            sel = np.flatnonzero(keys > self.keys.min())
            X, order, keys = X[sel], order[sel], keys[sel]
            w = None if w is None else w[sel]
        self._append(np.array(X), None if w is None else np.array(w, dtype=np.float64), order, keys)
        self._truncate()

    def merge(self, other: Reservoir | None) -> Reservoir:
        """Combine with another reservoir (``self`` is updated and returned)."""
        if other is None or other.size == 0:
            return self
        self.n_seen += other.n_seen
        if self.keys is None and other.keys is None and self.size + other.size <= self.capacity:
            self._append(other.X, other.w, other.order, None)
            return self
        self._ensure_keys()
        other._ensure_keys()
        self._append(other.X, other.w, other.order, other.keys)
        self._truncate()
        return self

    def result(self) -> tuple[NDArray[Any] | None, NDArray[Any] | None]:
        """``(X_sample, w_sample)`` in source order; weights are None once
        rows were sampled (the sampling already accounts for them)."""
        if self.X is None:
            return None, None
        idx = np.argsort(self.order, kind="stable")
        X, w = self.X[idx], (None if self.w is None else self.w[idx])
        if self.keys is not None:
            keep = np.isfinite(self.keys[idx])
            return np.ascontiguousarray(X[keep]), None
        return np.ascontiguousarray(X), w


def fill_for_init(X: NDArray[Any]) -> NDArray[Any]:
    """``X`` with each NaN replaced by its column's mean over the observed entries.

    For the initialisation of a model fitted with ``nan_policy='marginalize'``
    only (k-means needs complete rows; EM then integrates the gaps out).

    Raises
    ------
    ValueError
        If a column has no observed entry.
    """
    nan = np.isnan(X)
    if not nan.any():
        return X
    counts = (~nan).sum(axis=0)
    if np.any(counts == 0):
        col = int(np.flatnonzero(counts == 0)[0])
        raise ValueError(
            f"column {col} has no observed value in the rows used for initialisation: "
            "a feature that is never observed cannot be fitted; drop the column"
        )
    means = np.nansum(X, axis=0, dtype=np.float64) / counts
    out = np.array(X, copy=True)
    rows, cols = np.nonzero(nan)
    out[rows, cols] = means[cols].astype(out.dtype)
    return out


class FilledInitSample:
    """A driver whose :meth:`init_sample` comes with its NaN filled (:func:`fill_for_init`).

    Everything else is the wrapped driver's.

    Parameters
    ----------
    driver : Driver
    """

    def __init__(self, driver: Any) -> None:
        self._driver = driver

    def __getattr__(self, name):
        return getattr(self._driver, name)

    def init_sample(self, random_state: Any) -> tuple[NDArray[Any], NDArray[Any] | None]:
        """The wrapped driver's sample, NaN filled by column means."""
        X, w = self._driver.init_sample(random_state)
        return fill_for_init(X), w
