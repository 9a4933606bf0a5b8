"""Mini-batches cut from read chunks: every row once per epoch, batches mixing chunks."""

import numpy as np
import pytest

from gmmx.drivers import DriverOptions, SourceDriver
from gmmx.drivers.minibatch import minibatches
from gmmx.streaming import ChunkValueError


def _epoch(X, w=None, chunk=1000, batch=256, window=4, shuffle=True, seed=0, blocks=False):
    data = [X[i:i + chunk] for i in range(0, X.shape[0], chunk)] if blocks else X
    if blocks and w is not None:
        data = [(X[i:i + chunk], w[i:i + chunk]) for i in range(0, X.shape[0], chunk)]
    elif w is not None:
        from gmmx.streaming import ArraySource
        data = ArraySource(X, w, chunk_size=chunk)
    driver = SourceDriver(data, DriverOptions(chunk_size=chunk))
    return list(minibatches(driver, np.random.default_rng(seed), batch, window, shuffle))


@pytest.mark.parametrize("blocks", [False, True])  # random access, or one sequential pass
def test_every_row_once_in_batches_of_the_requested_size(blocks):
    X = np.arange(10_500, dtype=np.float64).reshape(-1, 1)
    out = _epoch(X, blocks=blocks)
    rows = np.concatenate([b[1] for b in out]).ravel()
    np.testing.assert_array_equal(np.sort(rows), X.ravel())
    sizes = np.array([b[1].shape[0] for b in out])
    assert sizes.sum() == X.shape[0] and abs(np.median(sizes) - 256) <= 16
    # a batch gathers rows from several chunks of its pool of 4 chunks
    spans = [len(np.unique(b[1].ravel() // 1000)) for b in out]
    assert min(spans[:-1]) >= 3


def test_weights_follow_their_rows():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(5000, 2))
    w = rng.uniform(0.5, 2.0, 5000)
    for blocks in (False, True):
        for _, Xb, wb in _epoch(X, w, chunk=700, batch=300, blocks=blocks):
            idx = [int(np.flatnonzero((X == row).all(axis=1))[0]) for row in Xb[:20]]
            np.testing.assert_array_equal(wb[:20], w[idx])


def test_unshuffled_batches_are_consecutive_rows():
    X = np.arange(2500, dtype=np.float64).reshape(-1, 1)
    out = _epoch(X, chunk=1000, batch=300, shuffle=False)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in out]).ravel(), X.ravel())
    assert [b[1].shape[0] for b in out] == [300, 300, 300, 100] * 2 + [300, 200]
    assert out[1][0] == "chunk 0 (starting at row 300): "


def test_whole_chunks_without_batch_size():
    X = np.arange(4000, dtype=np.float64).reshape(-1, 1)
    out = _epoch(X, chunk=1000, batch=None, window=2)
    sizes = [b[1].shape[0] for b in out]  # a pool of 2 chunks mixed into 2 batches
    assert len(sizes) == 4 and sum(sizes) == 4000 and all(abs(s - 1000) <= 50 for s in sizes)


def test_non_finite_row_names_its_chunk():
    X = np.zeros((3000, 1))
    X[2100] = np.nan
    with pytest.raises(ChunkValueError, match="row 2100 contains NaN"):
        _epoch(X)
