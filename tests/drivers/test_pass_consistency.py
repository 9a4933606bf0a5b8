"""Out-of-core, mini-batch and Dask drivers: every pass reads the rows of the
first, and every per-chunk failure is a ChunkError naming the chunk and the
absolute row."""

import numpy as np
import pytest

from gmmx import GaussianMixture as _GaussianMixture
from gmmx.drivers import PassCheck
from gmmx.sources import ArraySource, ChunkValueError, IterableSource
from gmmx.streaming import fit_minibatch

pytestmark = pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")


def GaussianMixture(*args, **kwargs):
    kwargs.setdefault("n_threads", 1)
    return _GaussianMixture(*args, **kwargs)


def _X(n=2000, d=2, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(-2, 1, (n // 2, d)), rng.normal(2, 1, (n - n // 2, d))])


class _Growing:
    """Blocks of 500 rows: ``rows`` rows per pass until pass ``change``, then ``after``."""

    def __init__(self, rows, after, change, weights=False):
        self.rows, self.after, self.change, self.weights = rows, after, change, weights
        self.passes = 0

    def __call__(self):
        self.passes += 1
        n = self.rows if self.passes < self.change else self.after
        X = _X(2000)
        for s in range(0, n, 500):
            block = X[s % 2000:s % 2000 + min(500, n - s)]
            if self.weights:
                w = np.ones(len(block)) * (1.0 if self.passes < self.change else 2.0)
                yield block, w
            else:
                yield block


@pytest.mark.parametrize("after", [1500, 3000])
def test_a_source_whose_row_count_changes_between_passes(after):
    """100k -> 150k rows mid-fit, in small: an error, not a silent fit on other data."""
    src = _Growing(2000, after, change=4)
    with pytest.raises(ValueError, match=r"yielded (more than )?[0-9,]+ rows on this pass "
                                         r"but 2,000 on the first"):
        GaussianMixture(2, random_state=0, max_iter=10, tol=0).fit(src)
    assert src.passes == 4  # caught on the first pass that differs


def test_a_source_whose_total_weight_changes_between_passes():
    src = _Growing(2000, 2000, change=4, weights=True)
    with pytest.raises(ValueError, match="total sample weight of 4000 on this pass but 2000"):
        GaussianMixture(2, random_state=0, max_iter=10, tol=0).fit(src)


def test_a_growing_source_is_stopped_mid_pass():
    """More rows than the first pass: raised at once, not after reading them all."""
    src = _Growing(2000, 10**9, change=3)
    with pytest.raises(ValueError, match="more than 2,000 rows"):
        GaussianMixture(2, random_state=0, max_iter=10, tol=0).fit(src)


def test_pass_check_alone():
    check = PassCheck("the data")
    check.end_pass(10, 10.0)
    check.end_pass(10, 10.0 * (1 + 1e-12))
    with pytest.raises(ValueError, match="the data yielded 11 rows on this pass but 10"):
        check.end_pass(11)


def test_nan_error_names_chunk_and_absolute_row():
    X = _X()
    bad = X.copy()
    bad[1234, 1] = np.nan
    # found during the initialisation pass
    with pytest.raises(ChunkValueError, match=r"chunk 2 \(starting at row 1000\): row 1234 "
                                              r"contains NaN") as info:
        GaussianMixture(2, random_state=0).fit(ArraySource(bad, chunk_size=500))
    assert (info.value.chunk_index, info.value.row) == (2, 1234)
    # found by the kernel during an EM pass (initial parameters given: no sampling pass)
    init = dict(means_init=[[-2, -2], [2, 2]], weights_init=[0.5, 0.5])
    with pytest.raises(ChunkValueError, match=r"chunk 4 \(starting at row 1000\): row 1234 "
                                              r"contains NaN") as info:
        GaussianMixture(2, precisions_init=np.array([np.eye(2)] * 2), **init).fit(
            ArraySource(bad, chunk_size=250))
    assert (info.value.chunk_index, info.value.row) == (4, 1234)


def test_width_and_weight_errors_are_chunk_value_errors():
    X = _X()
    with pytest.raises(ChunkValueError, match=r"chunk 2 \(starting at row 1000\): block has 3 "
                                              r"columns but 2") as info:
        GaussianMixture(2, random_state=0).fit([X[:500], X[500:1000], np.ones((10, 3))])
    assert (info.value.chunk_index, info.value.row) == (2, 1000)
    with pytest.raises(ChunkValueError, match=r"chunk 1 \(starting at row 500\).*non-negative"):
        GaussianMixture(2, random_state=0).fit([X[:500], (X[500:], -np.ones(1500))])


def test_minibatch_names_the_absolute_row_of_a_shuffled_chunk():
    X = _X()
    X[1717, 0] = np.inf
    with pytest.raises(ChunkValueError, match=r"chunk 3 \(starting at row 1500\): row 1717 "
                                              r"contains NaN or infinity") as info:
        fit_minibatch(GaussianMixture(2, random_state=0), ArraySource(X, chunk_size=500),
                      n_epochs=1, polish_iter=0)
    assert info.value.row == 1717


def test_minibatch_epochs_read_the_rows_of_the_first_pass():
    class Shrinking(ArraySource):
        passes = 0

        def chunks(self):
            Shrinking.passes += 1
            for i in range(self.n_chunks - (1 if Shrinking.passes > 1 else 0)):
                yield self.read_chunk(i)

    with pytest.raises(ValueError, match="rows on this pass but 2,000 on the first"):
        fit_minibatch(GaussianMixture(2, random_state=0), Shrinking(_X(), chunk_size=500),
                      n_epochs=2, polish_iter=0, shuffle=False)


def test_score_data_of_a_consistent_source_is_unaffected():
    X = _X()
    m = GaussianMixture(2, random_state=0).fit(X)
    np.testing.assert_allclose(m.score_data(IterableSource([X[:700], X[700:]])), m.score(X),
                               rtol=1e-12)


# ---------------------------------------------------------------- Dask


da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")


@pytest.fixture
def synchronous():
    with dask.config.set(scheduler="synchronous"):
        yield


def test_dask_block_failures_name_the_block(synchronous):
    X = _X()
    X[1500, 0] = np.nan
    init = dict(means_init=[[-2, -2], [2, 2]], weights_init=[0.5, 0.5],
                precisions_init=np.array([np.eye(2)] * 2))
    with pytest.raises(ChunkValueError, match=r"dask block 3 \(starting at row 1200\): row "
                                              r"1500 contains NaN") as info:
        GaussianMixture(2, **init).fit(da.from_array(X, chunks=(400, 2)))
    assert (info.value.chunk_index, info.value.row) == (3, 1500)
    with pytest.raises(ChunkValueError, match=r"dask block 3 \(starting at row 1200\): row 1500"):
        GaussianMixture(2, random_state=0).fit(da.from_array(X, chunks=(400, 2)))


def test_dask_block_failures_of_any_kind_name_the_block(synchronous, monkeypatch):
    from gmmx.core import kernel
    from gmmx.sources import ChunkMemoryError

    def no_room(*args, **kwargs):
        raise MemoryError("no room")

    monkeypatch.setattr(kernel, "accumulate", no_room)
    init = dict(means_init=[[-2, -2], [2, 2]], weights_init=[0.5, 0.5],
                precisions_init=np.array([np.eye(2)] * 2))
    with pytest.raises(ChunkMemoryError, match=r"dask block \d+ \(starting at row \d+\): "
                                               r"MemoryError: no room"):
        GaussianMixture(2, **init).fit(da.from_array(_X(), chunks=(500, 2)))


def test_dask_blocks_of_unknown_offset(synchronous):
    X = _X()
    X[1700, 0] = np.nan
    Xd = da.from_array(X, chunks=(500, 2))
    Xd = Xd[Xd[:, 1] > -np.inf]  # boolean indexing: unknown chunk sizes
    assert np.isnan(Xd.chunks[0][0])
    with pytest.raises(ChunkValueError, match=r"^dask block 3: row 200 of the chunk contains "
                                              r"NaN") as info:
        GaussianMixture(2, random_state=0).fit(Xd)
    assert info.value.chunk_index == 3 and info.value.row is None
