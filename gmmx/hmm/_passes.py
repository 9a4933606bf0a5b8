"""One Baum-Welch pass over sequences, wherever they live.

In memory (``X`` with ``lengths``), in a chunk source (each chunk is one
sequence, e.g. one trading day) or in a dask collection (each block is one
sequence).  Every pass returns :class:`~gmmx.hmm._forward_backward.HMMStats`
under the given parameters, reading the data once; the out-of-core and Dask
passes reuse the mixture drivers (:class:`~gmmx.drivers.SourceDriver`,
:class:`~gmmx.drivers.DaskDriver`) for reading, validation, the
initialisation sample and progress bars.
"""

from __future__ import annotations

import numpy as np

from .. import _progress
from .._validation import as_float_array, check_finite, check_sample_weight, missing_rows
from ..core import kernel
from ..drivers import DaskDriver, DriverOptions, SourceDriver
from ..drivers.array import is_in_memory
from ..drivers.dask import SPLIT_EVERY, is_dask_collection
from ..drivers.source import chunk_label
from ..sources import as_block
from ._forward_backward import (BATCH_ROWS, batches, emission_kernel_params, sequence_bounds,
                                sequence_stats)

__all__ = ["make_pass"]


class ArrayPass:
    """Sequences of an in-memory array, batched by whole sequences, parallel over them."""

    def __init__(self, X, bounds, sample_weight, n_threads, progress):
        self.X = X
        self.bounds = bounds
        self.sample_weight = sample_weight
        self.n_threads = n_threads
        self.n_features = X.shape[1]
        self.n_values = X.size
        self.progress = progress

    def init_sample(self, random_state):
        """All rows (and weights)."""
        return self.X, self.sample_weight

    def accumulate(self, params):
        """Statistics of all sequences under ``params``."""
        kp = emission_kernel_params(params)
        total = None
        self.progress.start_pass()
        for lo, hi in batches(self.bounds):
            r0, r1 = self.bounds[lo], self.bounds[hi]
            w = None if self.sample_weight is None else self.sample_weight[r0:r1]
            st = sequence_stats(self.X[r0:r1], w, self.bounds[lo:hi + 1] - r0, params, kp,
                                self.n_threads)
            total = st if total is None else total + st
            self.progress.rows(r1 - r0)
        self.progress.end_pass(total.log_prob / max(self.X.shape[0], 1))
        return total

    def close(self):
        self.progress.close()


class SourcePass:
    """Out-of-core: one pass over a chunk source per iteration, one sequence per chunk."""

    def __init__(self, X, options):
        self.driver = SourceDriver(X, options)
        self.n_threads = self.driver.n_threads

    @property
    def n_features(self):
        return self.driver.n_features

    def init_sample(self, random_state):
        """A bounded sample of rows (all of them for small sources)."""
        return self.driver.init_sample(random_state)

    def accumulate(self, params):
        """Statistics of every chunk (sequence) under ``params``.

        Short chunks (e.g. one trading day each) are gathered into batches of
        about ``BATCH_ROWS`` rows, so that each kernel call covers many
        sequences, in parallel.
        """
        kp = emission_kernel_params(params)
        progress = self.driver.progress
        total, batch, rows = None, [], 0
        progress.start_pass()

        def flush():
            st = _batch_stats(batch, params, kp, self.n_threads)
            batch.clear()
            return st if total is None else total + st

        for i, first_row, X, w in self.driver.blocks():
            if params.nan_policy == "raise":  # else the driver's blocks applied it
                check_finite(X, chunk_label(i, first_row).rstrip(": "))
            batch.append((i, X, w))
            rows += X.shape[0]
            progress.rows(X.shape[0])
            if sum(b[1].shape[0] for b in batch) >= BATCH_ROWS:
                total = flush()
        if batch:
            total = flush()
        if total is None:
            raise ValueError(f"the source {self.driver.source!r} yielded no rows")
        progress.end_pass(total.log_prob / rows)
        return total

    def close(self):
        self.driver.close()


def _batch_stats(batch, params, kp, n_threads):
    """Statistics of chunks ``[(index, X, w), ...]``, one sequence each, in one kernel call."""
    first, last = batch[0][0], batch[-1][0]
    where = f"chunk {first}: " if first == last else f"chunks {first}-{last}: "
    if len(batch) == 1:
        X, w = batch[0][1], batch[0][2]
    else:
        X = np.concatenate([b[1] for b in batch])
        w = None
        if any(b[2] is not None for b in batch):
            w = np.concatenate([np.ones(b[1].shape[0]) if b[2] is None else b[2] for b in batch])
    bounds = np.zeros(len(batch) + 1, dtype=np.intp)
    np.cumsum([b[1].shape[0] for b in batch], out=bounds[1:])
    return sequence_stats(X, w, bounds, params, kp, n_threads, where)


def _dask_block_stats(X, w, params, n_threads, index, n_features):
    """Statistics of one dask block, one sequence (runs on a worker)."""
    where = f"dask block {index}: "
    X, w = as_block(X if w is None else (X, w), where, n_features)
    if X.shape[0] == 0:
        return None
    if params.nan_policy == "raise":
        check_finite(X, f"dask block {index}")
    else:
        missing_rows(X, params.nan_policy, f"dask block {index}")
    bounds = np.array([0, X.shape[0]], dtype=np.intp)
    return sequence_stats(X, w, bounds, params, emission_kernel_params(params),
                          kernel.resolve_n_threads(n_threads), where)


def _merge(*parts):
    total = None
    for p in parts:
        if p is not None:
            total = p if total is None else total + p
    return total


def _reduce(delayed, parts):
    """Tree reduction of per-block statistics with the dask driver's fan-in."""
    while len(parts) > 1:
        parts = [delayed(_merge, pure=True)(*parts[i:i + SPLIT_EVERY])
                 for i in range(0, len(parts), SPLIT_EVERY)]
    return parts[0]


class DaskPass:
    """Dask: each block of rows is one sequence; statistics are tree-reduced on the cluster."""

    def __init__(self, X, sample_weight, options):
        self.driver = DaskDriver(X, sample_weight, options)
        self.n_features = self.driver.n_features
        self.n_threads = self.driver.n_threads

    def init_sample(self, random_state):
        """Per-block reservoirs merged on the cluster."""
        return self.driver.init_sample(random_state)

    def accumulate(self, params):
        """Statistics of all blocks; one ``compute`` per iteration."""
        drv = self.driver
        delayed = drv.dask.delayed
        p = delayed(params, pure=True, traverse=False)
        weights = drv.weight_blocks or [None] * len(drv.blocks)
        parts = [delayed(_dask_block_stats, pure=True)(b, w, p, self.n_threads, i, self.n_features)
                 for i, (b, w) in enumerate(zip(drv.blocks, weights))]
        (total,) = drv.dask.compute(_reduce(delayed, parts))
        if total is None:
            raise ValueError("the dask collection has no rows")
        drv.progress.end_pass(total.log_prob / max(total.emission.n_samples, 1))
        return total

    def close(self):
        self.driver.close()


def make_pass(X, lengths, sample_weight, n_components, n_threads, chunk_size, progress,
              max_passes, nan_policy="raise"):
    """The pass for the data: in-memory array, dask collection or chunk source.

    Raises
    ------
    ValueError
        For ``lengths`` with a chunk source or dask collection (their chunks
        or blocks are the sequences), ``sample_weight`` with a chunk source,
        or invalid data.
    """
    options = DriverOptions(n_threads=n_threads, n_components=n_components,
                            chunk_size=chunk_size, progress=progress, max_passes=max_passes,
                            nan_policy=nan_policy)
    if is_dask_collection(X) or not is_in_memory(X):
        if lengths is not None:
            raise ValueError(
                "lengths cannot be given with a chunk source or dask collection: each chunk "
                "(block) is one sequence; rechunk the data so that sequences are chunks"
            )
        if is_dask_collection(X):
            return DaskPass(X, sample_weight, options)
        if sample_weight is not None:
            raise ValueError(
                "sample_weight cannot be passed with a chunk source; yield "
                "(X, sample_weight) pairs from the source instead"
            )
        return SourcePass(X, options)
    X = as_float_array(X, ensure_min_samples=1, nan_policy=nan_policy)
    bounds = sequence_bounds(lengths, X.shape[0])
    w = check_sample_weight(sample_weight, X.shape[0])
    work = X.shape[0] * n_components * (X.shape[1] + 1)
    bar = _progress.PassProgress(_progress.progress_enabled(progress), max_passes, X.shape[0],
                                 desc="Baum-Welch")
    return ArrayPass(X, bounds, w, kernel.resolve_n_threads(n_threads, work), bar)
