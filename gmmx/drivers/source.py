"""Out-of-core driver: one pass over a chunk source per EM iteration.

Each chunk goes through the one kernel and the chunk statistics are summed,
so the result equals the in-memory fit whatever the chunk size.
Initialisation uses one sampling pass (a bounded reservoir of at most
:data:`~gmmx.drivers.sampling.INIT_SAMPLE_ROWS` rows).
"""

from __future__ import annotations

import numpy as np

from .. import _progress
from .._validation import check_finite
from ..core import kernel
from ..sources import as_block, as_source
from ..sources.base import _chunk_error
from .base import register_driver
from .sampling import INIT_SAMPLE_ROWS, Reservoir

__all__ = ["SourceDriver", "chunk_label"]


class SourceDriver:
    """EM driver over a :class:`ChunkSource`: one pass per iteration.

    Parameters
    ----------
    X : source
        Anything :func:`gmmx.sources.as_source` accepts.
    options : DriverOptions
        ``chunk_size``, ``n_threads``, ``progress`` and ``max_passes``.
    """

    def __init__(self, X, options):
        self.source = as_source(X, chunk_size=options.chunk_size)
        self.n_threads = kernel.resolve_n_threads(options.n_threads)
        self._n_features = self.source.n_features
        self.n_rows = self.source.n_rows
        enabled = _progress.progress_enabled(options.progress)
        self.progress = _progress.PassProgress(enabled, options.max_passes, self.n_rows)
        self._sample = None
        self._float32 = None  # whether every block read so far was float32

    @property
    def dtype(self):
        """float32 when every block read so far was float32, else float64."""
        return np.dtype(np.float32 if self._float32 else np.float64)

    def _saw(self, X):
        self._float32 = X.dtype == np.float32 and self._float32 is not False
        return X

    @property
    def n_features(self):
        """Columns of the source (read from its first block if not declared)."""
        if self._n_features is None:
            for _, _, X, _ in self.blocks():
                self._n_features = X.shape[1]
                break
            else:
                raise ValueError(f"the source {self.source!r} yielded no rows")
        return self._n_features

    def blocks(self, order=None):
        """Validated blocks ``(index, first_row, X, w)`` of one pass.

        ``order``: chunk indices to read with ``read_chunk`` (random-access
        sources), else one sequential pass.  Errors raised by the source are
        re-raised as :class:`ChunkError` naming the chunk.
        """
        src = self.source
        if order is not None:
            for i in order:
                i = int(i)
                try:
                    item = src.read_chunk(i)
                except Exception as exc:
                    raise _chunk_error(
                        exc, f"chunk {i} of {src!r} could not be read: {type(exc).__name__}: {exc}", i
                    ) from exc
                X, w = as_block(item, f"chunk {i}: ", self._n_features)
                self._saw(X)
                if self._n_features is None:
                    self._n_features = X.shape[1]
                yield i, None, X, w
            return
        i = 0
        first_row = 0
        try:
            it = iter(src.chunks())
        except Exception as exc:
            raise _chunk_error(
                exc, f"the source {src!r} could not be opened: {type(exc).__name__}: {exc}", 0
            ) from exc
        try:
            while True:
                try:
                    item = next(it)
                except StopIteration:
                    return
                except Exception as exc:
                    raise _chunk_error(
                        exc, f"chunk {i} (starting at row {first_row}) of {src!r} could not "
                        f"be read: {type(exc).__name__}: {exc}", i
                    ) from exc
                X, w = as_block(item, f"chunk {i} (starting at row {first_row}): ", self._n_features)
                self._saw(X)
                if self._n_features is None:
                    self._n_features = X.shape[1]
                if X.shape[0]:
                    yield i, first_row, X, w
                first_row += X.shape[0]
                i += 1
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    def accumulate(self, params):
        """Sufficient statistics of one full pass over the source."""
        return self.accumulate_many([params])[0]

    def accumulate_many(self, params_list):
        """Statistics under each of ``params_list`` from ONE pass over the source.

        Each chunk, once read, goes through the kernel once per parameter set.
        """
        totals = [None] * len(params_list)
        self.progress.start_pass()
        for i, first_row, X, w in self.blocks():
            where = chunk_label(i, first_row)
            for j, params in enumerate(params_list):
                st = kernel.accumulate(X, w, params, self.n_threads, where=where)
                totals[j] = st if totals[j] is None else totals[j] + st
            self.progress.rows(X.shape[0])
        if params_list and totals[0] is None:
            raise ValueError(f"the source {self.source!r} yielded no rows")
        if totals:
            self.progress.end_pass(totals[0].log_likelihood / totals[0].weight_sum)
        return totals

    def init_sample(self, random_state, capacity=INIT_SAMPLE_ROWS):
        """A bounded sample for initialisation, from one pass (see :class:`Reservoir`).

        The sample is drawn once and reused by further initialisations
        (``n_init > 1``), as an in-memory fit reuses its array.
        """
        cached = self._sample
        if cached is not None and cached[0] == capacity:
            return cached[1]
        res = Reservoir(capacity, random_state=random_state)
        self.progress.start_pass("init sample")
        for i, first_row, X, w in self.blocks():
            check_finite(X, f"chunk {i} (starting at row {first_row})")
            res.add(X, w, first_row)
            self.progress.rows(X.shape[0])
        Xs, ws = res.result()
        if Xs is None:
            raise ValueError(f"the source {self.source!r} yielded no rows")
        if self.n_rows is None:
            self.n_rows = res.n_seen
            self.progress.n_rows = res.n_seen
        self._sample = (capacity, (Xs, ws))
        return Xs, ws

    @property
    def cached_sample(self):
        """``(X, w)`` of the last :meth:`init_sample`, or None if none was drawn."""
        return None if self._sample is None else self._sample[1]

    def close(self):
        """Close the progress bars."""
        self.progress.close()


def chunk_label(i, first_row):
    """Prefix naming a chunk in error messages."""
    if first_row is None:
        return f"chunk {i}: "
    return f"chunk {i} (starting at row {first_row}): "


def _from_input(X, sample_weight, options):
    if sample_weight is not None:
        raise ValueError(
            "sample_weight cannot be passed with a chunk source; yield "
            "(X, sample_weight) pairs from the source instead"
        )
    return SourceDriver(X, options)


register_driver("source", lambda X: True, _from_input)
