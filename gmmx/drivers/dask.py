"""Dask driver: EM over the blocks of a dask array or DataFrame.

Every EM iteration sends the (small) kernel parameters to the workers, runs
the one E-step kernel on each block where it lives
(:func:`gmmx.core.kernel.accumulate`), and tree-reduces the per-block
:class:`~gmmx.SufficientStats` (as dask's ``moment_chunk`` /
``moment_combine``): only statistics, never rows, come back to the client.
The result equals the in-memory fit up to round-off.

Each EM iteration is one ``compute`` of the blocks' graph: ``persist()`` the
collection first if it fits in the cluster's memory, otherwise every
iteration re-reads it from its source (which is the out-of-core behaviour).

dask (and distributed, for a cluster) are optional dependencies, imported
only here; :func:`gmmx.drivers.make_driver` dispatches dask inputs to this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .. import _progress
from .._validation import apply_nan_policy
from ..core import kernel
from ..sources import ChunkError, as_block
from ..sources.base import ChunkValueError, _chunk_error, check_block_finite
from .base import PassCheck, register_driver, stats_finite, warn_omitted
from .sampling import INIT_SAMPLE_ROWS, Reservoir

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import NDArray
    from ..core.stats import SufficientStats

__all__ = ["DaskDriver"]

#: Fan-in of the statistics tree reduction.
SPLIT_EVERY = 8


def _import_dask():
    try:
        import dask
        import dask.array as da
    except ImportError:  # pragma: no cover - optional dependency
        raise ImportError(
            "fitting dask collections needs dask: pip install 'gmmx-em[dask]'"
        ) from None
    return dask, da


def _as_dask_array(X, name):
    """A 2-D dask array (DataFrame -> to_dask_array, Series -> one column)."""
    _, da = _import_dask()
    if hasattr(X, "to_dask_array"):
        if getattr(X, "ndim", 2) == 2:
            kinds = [dt.kind for dt in X.dtypes]
            bad = [c for c, k in zip(X.columns, kinds) if k not in "fiub"]
            if bad:
                raise ValueError(
                    f"{name} has non-numeric columns {list(bad)}; select numeric columns first"
                )
        X = X.to_dask_array()
    if not isinstance(X, da.Array):
        raise ValueError(f"{name} must be a dask array, DataFrame or Series, got {type(X).__name__}")
    if X.ndim == 1:
        X = X.reshape((-1, 1)) if not np.isnan(X.shape[0]) else X.map_blocks(
            lambda b: b.reshape(-1, 1), new_axis=1, chunks=(X.chunks[0], (1,)))
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows, features), got {X.ndim} dimensions")
    if X.dtype.kind not in "fiub":
        raise ValueError(f"{name} has dtype {X.dtype}; pass a numeric array")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def _weight_blocks(sample_weight, X):
    """Delayed weight blocks aligned with the row blocks of ``X``."""
    _, da = _import_dask()
    n_blocks = len(X.chunks[0])
    if hasattr(sample_weight, "to_dask_array"):
        sample_weight = sample_weight.to_dask_array()
    if not isinstance(sample_weight, da.Array):
        if any(np.isnan(c) for c in X.chunks[0]):
            raise ValueError(
                "sample_weight for a dask collection with unknown chunk sizes must be a "
                "dask array or Series partitioned like X (or call X.compute_chunk_sizes())"
            )
        w = np.asarray(sample_weight, dtype=np.float64)
        if w.shape != (sum(X.chunks[0]),):
            raise ValueError(f"sample_weight must have shape ({sum(X.chunks[0])},), got {w.shape}")
        sample_weight = da.from_array(w, chunks=(X.chunks[0],))
    if sample_weight.ndim != 1:
        raise ValueError("sample_weight must be 1-D")
    known = not any(np.isnan(c) for c in X.chunks[0] + sample_weight.chunks[0])
    if known:
        if sum(sample_weight.chunks[0]) != sum(X.chunks[0]):
            raise ValueError(
                f"sample_weight has {sum(sample_weight.chunks[0])} entries but X has "
                f"{sum(X.chunks[0])} rows"
            )
        if sample_weight.chunks[0] != X.chunks[0]:
            sample_weight = sample_weight.rechunk((X.chunks[0],))
    if len(sample_weight.chunks[0]) != n_blocks:
        raise ValueError(
            f"sample_weight has {len(sample_weight.chunks[0])} blocks but X has {n_blocks}; "
            "partition them alike"
        )
    return list(sample_weight.to_delayed().ravel())


def _block_label(index, first_row):
    if first_row is None:
        return f"dask block {index}: "
    return f"dask block {index} (starting at row {first_row}): "


def _named_block_failure(exc, index, first_row):
    """Any failure of a block task as a :class:`ChunkError` naming the block."""
    label = _block_label(index, first_row)
    if isinstance(exc, kernel.NonFiniteChunkError):
        row = None if first_row is None or exc.row is None else first_row + exc.row
        return ChunkValueError(str(exc), index, row)
    return _chunk_error(exc, f"{label}{type(exc).__name__}: {exc}", index, first_row)


def _checked_block(X, w, index, first_row, n_features, nan_policy="raise"):
    """The validated block ``(X, w, n_dropped)`` after ``nan_policy`` (raise: left to the
    kernel's check)."""
    label = _block_label(index, first_row)
    try:
        X, w = as_block(X if w is None else (X, w), label, n_features)
        if nan_policy == "raise":
            return X, w, 0
        return apply_nan_policy(X, w, nan_policy, "the block", first_row or 0, label)
    except ValueError as exc:
        raise ChunkValueError(str(exc), index, first_row) from exc


def _block_stats(X, w, params_list, n_threads, index, n_features, first_row=None,
                 nan_policy="raise"):
    """Statistics of one block under each parameter set, plus the rows ``nan_policy``
    dropped (runs on a worker); failures name the block."""
    try:
        X, w, dropped = _checked_block(X, w, index, first_row, n_features, nan_policy)
        if X.shape[0] == 0:
            return None if not dropped else [None] * len(params_list) + [dropped]
        n_threads = kernel.resolve_n_threads(n_threads)
        try:
            out = [kernel.accumulate(X, w, params, n_threads,
                                     where=_block_label(index, first_row))
                   for params in params_list]
        except kernel.NonFiniteChunkError:
            if nan_policy == "raise":
                check_block_finite(X, index, first_row, _block_label(index, first_row))
            raise
        if not all(stats_finite(s) for s in out):  # absurd values overflow the sums
            check_block_finite(X if nan_policy == "raise" else np.nan_to_num(X, nan=0.0),
                               index, first_row, _block_label(index, first_row))
        return out + [dropped]
    except ChunkError:
        raise
    except Exception as exc:
        raise _named_block_failure(exc, index, first_row) from exc


def _add(a, b):
    return b if a is None else a if b is None else a + b


def _merge_stats(*parts):
    total = None
    for p in parts:
        if p is not None:
            total = list(p) if total is None else [_add(a, b) for a, b in zip(total, p)]
    return total


def _block_reservoir(X, w, capacity, seed, index, n_features, first_row=None,
                     nan_policy="raise"):
    try:
        X, w, _ = _checked_block(X, w, index, first_row, n_features, nan_policy)
        if nan_policy == "raise":
            check_block_finite(X, index, first_row, _block_label(index, first_row))
        res = Reservoir(capacity, seed=seed)
        res.add(X, w, start=int(index) << 40)
        return res
    except ChunkError:
        raise
    except Exception as exc:
        raise _named_block_failure(exc, index, first_row) from exc


def _merge_reservoirs(*parts):
    first = None
    for p in parts:
        if p is None:
            continue
        first = p if first is None else first.merge(p)
    return first


def _tree(parts, combine, split_every=SPLIT_EVERY):
    from dask import delayed

    parts = list(parts)
    while len(parts) > 1:
        parts = [delayed(combine, pure=True)(*parts[i:i + split_every])
                 for i in range(0, len(parts), split_every)]
    return parts[0]


class DaskDriver:
    """EM driver over a dask array / DataFrame (see module docstring).

    Parameters
    ----------
    X : dask.array.Array, dask DataFrame or Series
    sample_weight : dask array / Series partitioned like ``X``, ndarray, or None
    options : DriverOptions
        ``n_threads`` sets the kernel's threads per block task (None: 1, as
        dask already runs one task per worker thread).
    """

    def __init__(self, X: Any, sample_weight: Any, options: Any) -> None:
        self.dask, _ = _import_dask()
        X = _as_dask_array(X, "X")
        self.n_features = int(X.shape[1])
        self.dtype = np.dtype(np.float32 if X.dtype == np.float32 else np.float64)
        if self.n_features == 0:
            raise ValueError("X has 0 features; pass at least one column")
        self.blocks = list(X.to_delayed().ravel())
        self.weight_blocks = None
        if sample_weight is not None:
            self.weight_blocks = _weight_blocks(sample_weight, X)
        self.n_threads = 1 if options.n_threads is None else options.n_threads
        n_rows = X.shape[0]
        self.n_rows = None if np.isnan(n_rows) else int(n_rows)
        sizes = X.chunks[0]
        self.block_starts: list[int | None] = [None] * len(sizes)
        if not any(np.isnan(c) for c in sizes):
            self.block_starts = [int(v) for v in np.concatenate(([0], np.cumsum(sizes)[:-1]))]
        self.pass_check = PassCheck("the dask collection")
        self.nan_policy = options.nan_policy
        self._warned = False
        enabled = _progress.progress_enabled(options.progress)
        self.progress = _progress.PassProgress(enabled, None, None, desc="EM (dask)")

    def _wblock(self, i):
        return None if self.weight_blocks is None else self.weight_blocks[i]

    def accumulate(self, params: Any) -> SufficientStats:
        """Statistics of all blocks, reduced on the cluster; one ``compute``."""
        return self.accumulate_many([params])[0]

    def accumulate_many(self, params_list: Sequence[Any]) -> list[SufficientStats]:
        """Statistics under each of ``params_list``: ONE ``compute`` (each block read once)."""
        delayed = self.dask.delayed
        p = delayed(list(params_list), pure=True, traverse=False)
        parts = [
            delayed(_block_stats, pure=True)(b, self._wblock(i), p, self.n_threads, i,
                                             self.n_features, self.block_starts[i],
                                             self.nan_policy)
            for i, b in enumerate(self.blocks)
        ]
        (total,) = self.dask.compute(_tree(parts, _merge_stats))
        if total is not None:
            *total, dropped = total
            if not self._warned:
                warn_omitted(dropped, "the dask collection")
                self._warned = True
        if total is None or total[0] is None:
            raise ValueError("the dask collection has no rows")
        self.pass_check.end_pass(total[0].n_samples, total[0].weight_sum)
        self.progress.end_pass(total[0].log_likelihood / total[0].weight_sum)
        return total

    def init_sample(self, random_state: Any,
                    capacity: int = INIT_SAMPLE_ROWS) -> tuple[NDArray[Any], NDArray[Any] | None]:
        """A bounded sample for initialisation: per-block reservoirs merged in a tree."""
        delayed = self.dask.delayed
        seeds: Any = np.random.SeedSequence(int(random_state.randint(np.iinfo(np.int32).max)))
        seeds = [int(s.generate_state(1)[0]) for s in seeds.spawn(len(self.blocks))]
        parts = [
            delayed(_block_reservoir, pure=True)(b, self._wblock(i), capacity, seeds[i], i,
                                                 self.n_features, self.block_starts[i],
                                                 self.nan_policy)
            for i, b in enumerate(self.blocks)
        ]
        (res,) = self.dask.compute(_tree(parts, _merge_reservoirs))
        Xs, ws = (None, None) if res is None else res.result()
        if Xs is None or Xs.shape[0] == 0:
            raise ValueError("the dask collection has no rows")
        return Xs, ws

    def close(self) -> None:
        """Close the progress bar."""
        self.progress.close()


def is_dask_collection(X: object) -> bool:
    """True for dask arrays, DataFrames and Series (without importing dask)."""
    return (type(X).__module__ or "").startswith("dask")


register_driver("dask", is_dask_collection, DaskDriver)
