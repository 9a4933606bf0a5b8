"""Mini-batches for stepwise EM: chunks in shuffled order, rows mixed across chunks."""

from __future__ import annotations

import numpy as np

from ..sources.base import check_block_finite

__all__ = ["mixed_blocks"]


def mixed_blocks(driver, rng, window, shuffle):
    """Mini-batches whose rows come from ``window`` chunks.

    Tick data are time-ordered, so one chunk is one stretch of time.  Chunks
    are read in random order when the source allows it (and ``shuffle``),
    pooled ``window`` at a time, their rows permuted and split into as many
    batches as chunks were pooled.

    Parameters
    ----------
    driver : SourceDriver
    rng : numpy.random.Generator
    window : int
        Chunks pooled per mixing window.
    shuffle : bool
        False: chunks in source order, one batch each.

    Yields
    ------
    index, first_row, X, w
        ``first_row`` is None for a mixed batch.
    """
    src = driver.source
    if shuffle and src.random_access:
        blocks = driver.blocks(order=rng.permutation(src.n_chunks))
    else:
        blocks = driver.blocks()
    buf = []

    def flush():
        if len(buf) == 1 or not shuffle:
            for i, first_row, X, w in buf:
                yield i, first_row, X, w
            return
        Xs = np.concatenate([b[2] for b in buf])
        ws = None
        if any(b[3] is not None for b in buf):
            ws = np.concatenate([b[3] if b[3] is not None else np.ones(b[2].shape[0]) for b in buf])
        perm = rng.permutation(Xs.shape[0])
        for idx in np.array_split(perm, len(buf)):
            yield buf[0][0], None, np.ascontiguousarray(Xs[idx]), (None if ws is None else ws[idx])

    if shuffle and src.random_access and src.n_chunks:
        # balanced windows: 20 chunks with window 8 -> 7, 7, 6
        n_windows = -(-src.n_chunks // window)
        sizes = [len(a) for a in np.array_split(np.arange(src.n_chunks), n_windows)]
    else:
        sizes = None
    n_rows = 0
    for i, first_row, X, w in blocks:
        if driver.nan_policy == "raise":  # else the driver's blocks applied it
            check_block_finite(X, i, first_row)
        n_rows += X.shape[0]
        buf.append((i, first_row, X, w))
        if len(buf) >= (sizes[0] if sizes else window):
            yield from flush()
            buf = []
            if sizes and len(sizes) > 1:
                sizes.pop(0)
    if buf:
        yield from flush()
    driver.pass_check.end_pass(n_rows)
