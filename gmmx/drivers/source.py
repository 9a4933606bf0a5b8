"""Out-of-core driver: one pass over a chunk source per EM iteration.

Each chunk goes through the one kernel and the chunk statistics are summed,
so the result equals the in-memory fit whatever the chunk size.
Initialisation uses one sampling pass (a bounded reservoir of at most
:data:`~gmmx.drivers.sampling.INIT_SAMPLE_ROWS` rows).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from .. import _progress
from .._validation import apply_nan_policy
from ..core import kernel
from ..sources import as_block, as_source
from ..sources.base import (
    ChunkValueError,
    _chunk_error,
    check_block_finite,
    chunk_label,
    iter_blocks,
    short_repr,
)
from .base import PassCheck, register_driver, stats_finite, warn_omitted
from .sampling import INIT_SAMPLE_ROWS, Reservoir

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import NDArray
    from ..core.stats import SufficientStats

__all__ = ["SourceDriver", "chunk_label", "chunk_statistics"]


class SourceDriver:
    """EM driver over a :class:`ChunkSource`: one pass per iteration.

    Every pass must yield the rows of the first (same count, same total
    weight; :class:`~gmmx.drivers.base.PassCheck`), and every failure of a
    chunk is a :class:`~gmmx.sources.ChunkError` naming the chunk and the
    absolute row.

    Parameters
    ----------
    X : source
        Anything :func:`gmmx.sources.as_source` accepts.
    options : DriverOptions
        ``chunk_size``, ``n_threads``, ``progress`` and ``max_passes``.
    """

    def __init__(self, X: Any, options: Any) -> None:
        self.source = as_source(X, chunk_size=options.chunk_size)
        self.n_threads = kernel.resolve_n_threads(options.n_threads)
        self._n_features = self.source.n_features
        self.n_rows = self.source.n_rows
        enabled = _progress.progress_enabled(options.progress)
        self.progress = _progress.PassProgress(enabled, options.max_passes, self.n_rows)
        self.pass_check = PassCheck(f"the source {short_repr(self.source)}")
        self._sample: tuple[int, tuple[NDArray[Any], NDArray[Any] | None]] | None = None
        self._float32 = None  # whether every block read so far was float32
        self.nan_policy = options.nan_policy
        self._dropped = 0  # rows dropped by nan_policy='omit' in the current pass
        self._warned = False

    @property
    def dtype(self) -> np.dtype[Any]:
        """float32 when every block read so far was float32, else float64."""
        return np.dtype(np.float32 if self._float32 else np.float64)

    def _saw(self, X):
        self._float32 = X.dtype == np.float32 and self._float32 is not False
        return X

    @property
    def n_features(self) -> int:
        """Columns of the source (read from its first block if not declared)."""
        if self._n_features is None:
            for _, _, X, _ in self.blocks():
                self._n_features = X.shape[1]
                break
            else:
                raise ValueError(f"the source {short_repr(self.source)} yielded no rows")
        return self._n_features

    def blocks(self, order: Any = None) -> Iterator[Any]:
        """Validated non-empty blocks ``(index, first_row, X, w)`` of one pass.

        ``order``: chunk indices to read with ``read_chunk`` (random-access
        sources; ``first_row`` is then the source's ``chunk_start``), else one
        sequential pass (:func:`gmmx.sources.base.iter_blocks`).  Errors are
        :class:`ChunkError` naming the chunk.
        """
        src = self.source
        if order is not None:
            for i in order:
                i = int(i)
                first_row = src.chunk_start(i)
                label = chunk_label(i, first_row)
                try:
                    item = src.read_chunk(i)
                except Exception as exc:
                    raise _chunk_error(
                        exc, f"{label}{short_repr(src)} could not be read: "
                        f"{type(exc).__name__}: {exc}", i, first_row) from exc
                try:
                    X, w = as_block(item, label, self._n_features)
                except ValueError as exc:
                    raise ChunkValueError(str(exc), i, first_row) from exc
                self._saw(X)
                if self._n_features is None:
                    self._n_features = X.shape[1]
                X, w = self._apply_nan_policy(X, w, i, first_row)
                yield i, first_row, X, w
            return
        for i, first_row, X, w in iter_blocks(src, self._n_features):
            self._saw(X)
            if self._n_features is None:
                self._n_features = X.shape[1]
            X, w = self._apply_nan_policy(X, w, i, first_row)
            if X.shape[0]:
                if self.nan_policy != "omit":  # else rows read != rows kept (end_pass checks)
                    self.pass_check.row_seen(first_row + X.shape[0])
                yield i, first_row, X, w

    def _apply_nan_policy(self, X, w, i, first_row):
        """The block after ``nan_policy`` (raise: left to the kernel's check, as before)."""
        if self.nan_policy == "raise":
            return X, w
        label = chunk_label(i, first_row)
        try:
            X, w, dropped = apply_nan_policy(X, w, self.nan_policy, "the chunk",
                                             first_row or 0, label)
        except ValueError as exc:
            raise ChunkValueError(str(exc), i, first_row) from exc
        self._dropped += dropped
        return X, w

    def _end_pass_note(self):
        """Warn once (after the first pass) how many rows ``nan_policy='omit'`` dropped."""
        if not self._warned:
            warn_omitted(self._dropped, f"the source {short_repr(self.source)}")
            self._warned = True
        self._dropped = 0

    def accumulate(self, params: Any) -> SufficientStats:
        """Sufficient statistics of one full pass over the source."""
        return self.accumulate_many([params])[0]

    def accumulate_many(self, params_list: Sequence[Any]) -> list[SufficientStats]:
        """Statistics under each of ``params_list`` from ONE pass over the source.

        Each chunk, once read, goes through the kernel once per parameter set.
        """
        totals: list[Any] = [None] * len(params_list)
        n = 0
        self.progress.start_pass()
        for i, first_row, X, w in self.blocks():
            for j, params in enumerate(params_list):
                st = chunk_statistics(X, w, params, self.n_threads, i, first_row)
                totals[j] = st if totals[j] is None else totals[j] + st
            n += X.shape[0]
            self.progress.rows(X.shape[0])
        if params_list and totals[0] is None:
            raise ValueError(f"the source {short_repr(self.source)} yielded no rows")
        self._end_pass_note()
        if totals:
            self.pass_check.end_pass(n, totals[0].weight_sum)
            self.progress.end_pass(totals[0].log_likelihood / totals[0].weight_sum)
        return totals

    def init_sample(self, random_state: Any,
                    capacity: int = INIT_SAMPLE_ROWS) -> tuple[NDArray[Any], NDArray[Any] | None]:
        """A bounded sample for initialisation, from one pass (see :class:`Reservoir`).

        The sample is drawn once and reused by further initialisations
        (``n_init > 1``), as an in-memory fit reuses its array.
        """
        cached = self._sample
        if cached is not None and cached[0] == capacity:
            return cached[1]
        res = Reservoir(capacity, random_state=random_state)
        self.progress.start_pass("init sample")
        n = 0
        for i, first_row, X, w in self.blocks():
            if self.nan_policy == "raise":
                check_block_finite(X, i, first_row)
            res.add(X, w, first_row)
            n += X.shape[0]
            self.progress.rows(X.shape[0])
        Xs, ws = res.result()
        if Xs is None:
            raise ValueError(f"the source {short_repr(self.source)} yielded no rows")
        self._end_pass_note()
        self.pass_check.end_pass(n)
        if self.n_rows is None:
            self.n_rows = res.n_seen
            self.progress.n_rows = res.n_seen
        self._sample = (capacity, (Xs, ws))
        return Xs, ws

    @property
    def cached_sample(self) -> tuple[NDArray[Any], NDArray[Any] | None] | None:
        """``(X, w)`` of the last :meth:`init_sample`, or None if none was drawn."""
        return None if self._sample is None else self._sample[1]

    def close(self) -> None:
        """Close the progress bars."""
        self.progress.close()


def chunk_statistics(X: NDArray[Any], w: NDArray[Any] | None, params: Any, n_threads: int | None,
                     index: int, first_row: int, label: str | None = None) -> SufficientStats:
    """Sufficient statistics of one chunk; its failures are :class:`ChunkValueError`.

    NaN or infinity in the chunk, or a value too large for float64
    arithmetic (found when the chunk's statistics overflow), is reported at
    its absolute row; a non-finite log-likelihood of finite rows (degenerate parameters) names
    the chunk, with ``row`` set to the absolute row where the failing rows start.

    Parameters
    ----------
    X, w : the chunk's rows and weights
    params : KernelParams
    n_threads : int
    index : int
        The chunk's index.
    first_row : int or None
        Its first row in the data (None: unknown).
    label : str, optional
        Message prefix; default :func:`chunk_label`.
    """
    label = chunk_label(index, first_row) if label is None else label
    try:
        stats = kernel.accumulate(X, w, params, n_threads, where=label)
    except kernel.NonFiniteChunkError as exc:
        if not getattr(params, "marginalizes_nan", False):
            check_block_finite(X, index, first_row, label)
        row = None if first_row is None or exc.row is None else first_row + exc.row
        raise ChunkValueError(str(exc), index, row) from exc
    if not stats_finite(stats):  # absurd values (e.g. a corrupted file) overflow the sums
        marginal = getattr(params, "marginalizes_nan", False)
        check_block_finite(np.nan_to_num(X, nan=0.0) if marginal else X, index, first_row,
                           label)
    return stats


def _from_input(X, sample_weight, options):
    if sample_weight is not None:
        raise ValueError(
            "sample_weight cannot be passed with a chunk source; yield "
            "(X, sample_weight) pairs from the source instead"
        )
    return SourceDriver(X, options)


register_driver("source", lambda X: True, _from_input)
