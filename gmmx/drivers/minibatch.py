"""Mini-batches for stepwise EM, cut from a source's read chunks.

A read chunk (~8 MiB, a million one-feature rows) is the unit of I/O, not of
the stepwise-EM update: an epoch of chunk-sized updates is a dozen steps,
far too few to converge.  The batches here are ``batch_size`` rows, sliced
from the chunks.  Tick data are time-ordered, so a chunk is one stretch of
time: chunks are read in random order when the source allows it, pooled
``window`` at a time, and every batch gathers short runs of rows from random
places in the pool, so it mixes several stretches of time.  Runs of rows
instead of single rows keep the mixing cheap: a full row permutation of a
pool of millions of rows costs more than the E-step of its rows.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from ..sources.base import check_block_finite, chunk_label

__all__ = ["minibatches"]

#: Longest run of consecutive rows a mixed batch takes from one place.
MAX_RUN_ROWS = 256

#: A mixed batch gathers at least this many runs (when it has that many rows).
MIN_RUNS_PER_BATCH = 32


def minibatches(driver: Any, rng: np.random.Generator, batch_size: int, window: int,
                shuffle: bool) -> Iterator[Any]:
    """One epoch of mini-batches ``(where, X, w)`` over ``driver``'s source.

    Parameters
    ----------
    driver : SourceDriver
    rng : numpy.random.Generator
    batch_size : int or None
        Rows per batch; None: every read chunk (or pool of ``window``
        chunks' rows, mixed) is one batch of a chunk's size.
    window : int
        Chunks pooled per mixing window (memory: a copy of that many chunks).
    shuffle : bool
        False: chunks in source order, rows in order, cut into consecutive
        batches.

    Yields
    ------
    where : str
        Names the batch in error messages (its chunks, and its first row
        when the batch is one run of rows).
    X : ndarray of shape (n_b, d)
    w : ndarray of shape (n_b,) or None
    """
    src = driver.source
    if shuffle and src.random_access:
        blocks = driver.blocks(order=rng.permutation(src.n_chunks))
    else:
        blocks = driver.blocks()
    sizes = None
    if not shuffle:
        window = 1
    elif src.random_access and src.n_chunks:
        # balanced windows: 20 chunks with window 8 -> 7, 7, 6
        sizes = [len(a) for a in np.array_split(np.arange(src.n_chunks),
                                                -(-src.n_chunks // window))]
    pool = []
    n_rows = 0
    for i, first_row, X, w in blocks:
        if window > 1:
            # copied while it is the chunk just read: a memory-mapped source
            # releases its pages when the next is read (gmmx.sources.pages)
            X, w = np.array(X), (None if w is None else np.array(w))
        if driver.nan_policy == "raise":  # else the driver's blocks applied it
            check_block_finite(X, i, first_row)
        n_rows += X.shape[0]
        pool.append((i, first_row, X, w))
        if len(pool) >= (sizes[0] if sizes else window):
            yield from (_mixed(pool, rng, batch_size) if shuffle else _in_order(pool[0], batch_size))
            pool = []
            if sizes and len(sizes) > 1:
                sizes.pop(0)
    if pool:
        yield from (_mixed(pool, rng, batch_size) if shuffle else _in_order(pool[0], batch_size))
    driver.pass_check.end_pass(n_rows)


def _in_order(block, batch_size):
    """Consecutive batches of one chunk's rows."""
    i, first_row, X, w = block
    step = X.shape[0] if batch_size is None else batch_size
    for a in range(0, X.shape[0], step):
        b = min(a + step, X.shape[0])
        row = None if first_row is None else first_row + a
        yield chunk_label(i, row), X[a:b], (None if w is None else w[a:b])


def _mixed(pool, rng, batch_size):
    """Batches of runs of rows drawn without replacement from random places in the pool."""
    names = ", ".join(str(b[0]) for b in pool[:10]) + (", ..." if len(pool) > 10 else "")
    where = f"mini-batch of chunks {names}: "
    n = sum(b[2].shape[0] for b in pool)
    d = pool[0][2].shape[1]
    weighted = any(b[3] is not None for b in pool)
    n_batches = len(pool) if batch_size is None else max(1, round(n / batch_size))
    run = max(1, min(MAX_RUN_ROWS, n // (n_batches * MIN_RUNS_PER_BATCH)))
    # the runs of each chunk: `full` runs of `run` rows, then a shorter one if any
    runs, owner, local = [], [], []
    for c, (_, _, X, w) in enumerate(pool):
        full = X.shape[0] // run
        runs.append((full, X[:full * run].reshape(full, run, d),
                     None if w is None else w[:full * run].reshape(full, run)))
        count = full + (X.shape[0] % run > 0)
        owner.append(np.full(count, c))
        local.append(np.arange(count))
    owner_all, local_all = np.concatenate(owner), np.concatenate(local)
    for ids in np.array_split(rng.permutation(owner_all.size), n_batches):
        Xs, ws = [], []
        for c in np.unique(owner_all[ids]):
            picked = local_all[ids][owner_all[ids] == c]
            full, runs_X, runs_w = runs[c]
            whole = picked[picked < full]
            _, _, X, w = pool[c]
            Xs.append(runs_X[whole].reshape(-1, d))
            if weighted:
                ws.append(np.ones(whole.size * run) if w is None else runs_w[whole].reshape(-1))
            if whole.size < picked.size:  # the chunk's short last run
                Xs.append(X[full * run:])
                if weighted:
                    ws.append(np.ones(X.shape[0] - full * run) if w is None else w[full * run:])
        yield (where, Xs[0] if len(Xs) == 1 else np.concatenate(Xs),
               None if not weighted else ws[0] if len(ws) == 1 else np.concatenate(ws))
