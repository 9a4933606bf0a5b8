"""A Parquet pass read ahead in a background thread: the same blocks as reading
in the consumer's thread, fits bit-identical to the in-memory fit with the same
chunking, memory bounded by a few batches whatever the file size, clear errors
from files that go bad mid-directory, and a reader thread that always ends."""

import threading
import time
import tracemalloc

import numpy as np
import pytest

from conftest import GaussianMixture, init_params
from gmmx.sources import ArraySource, ChunkValueError, ParquetSource

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

pytestmark = pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")

READER = "gmmx-parquet-reader"


def _readers_gone(timeout=5.0):
    end = time.monotonic() + timeout
    while any(t.name == READER for t in threading.enumerate()):
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def _rows(n, d, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 4, (3, d))
    return (centers[rng.integers(0, 3, n)] + rng.standard_normal((n, d))).astype(dtype)


def _table(X, w=None):
    cols = {f"x{j}": X[:, j] for j in range(X.shape[1])}
    if w is not None:
        cols["w"] = w
    return pa.table(cols)


@pytest.fixture(scope="module")
def parquet_dir(tmp_path_factory):
    """Three files, row groups not aligned with the batches: (dir, X, w)."""
    d = tmp_path_factory.mktemp("pq")
    X = _rows(5000, 3, seed=1)
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(X))
    for i, s in enumerate(np.array_split(np.arange(len(X)), 3)):
        pq.write_table(_table(X[s], w[s]), d / f"part-{i}.parquet", row_group_size=700)
    return d, X, w


def _blocks(src):
    return [(X.copy(), w.copy()) for X, w in src.chunks()]


def test_blocks_are_the_same_with_and_without_read_ahead(parquet_dir):
    d, X, w = parquet_dir
    ref = _blocks(ParquetSource(d, weight_column="w", chunk_size=333, read_ahead=0))
    for depth in (1, 2, 5):
        got = _blocks(ParquetSource(d, weight_column="w", chunk_size=333, read_ahead=depth))
        assert len(got) == len(ref)
        for (Xa, wa), (Xb, wb) in zip(got, ref):
            assert Xa.dtype == Xb.dtype and Xa.flags.c_contiguous
            np.testing.assert_array_equal(Xa, Xb)
            np.testing.assert_array_equal(wa, wb)
    # batches of chunk_size rows, across row groups but not across files
    sizes = [len(b) for b, _ in ref]
    expected = []
    for part in np.array_split(np.arange(len(X)), 3):
        expected += [333] * (len(part) // 333) + ([len(part) % 333] if len(part) % 333 else [])
    assert sizes == expected
    np.testing.assert_array_equal(np.concatenate([b for b, _ in ref]), X)
    np.testing.assert_array_equal(np.concatenate([v for _, v in ref]), w)
    assert _readers_gone()


@pytest.mark.parametrize("cov", ["full", "diag"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_is_bit_identical_to_the_in_memory_fit_with_the_same_chunking(tmp_path, cov, dtype):
    X = _rows(6000, 4, seed=3, dtype=dtype)
    pq.write_table(_table(X), tmp_path / "x.parquet", row_group_size=1000)
    init = init_params(X.astype(np.float64), 3, cov)
    kw = dict(covariance_type=cov, max_iter=8, tol=0, n_threads=2, **init)
    ref = GaussianMixture(3, **kw).fit(ArraySource(X, chunk_size=750))
    m = GaussianMixture(3, **kw).fit(ParquetSource(tmp_path / "x.parquet", chunk_size=750))
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_array_equal(getattr(m, name), getattr(ref, name), err_msg=name)
    assert m.lower_bound_ == ref.lower_bound_ and m.n_iter_ == ref.n_iter_
    assert m.means_.dtype == dtype
    assert _readers_gone()


@pytest.mark.parametrize("depth", [0, 2])
@pytest.mark.parametrize("row_group", [20_000, 200_000])  # 200_000: one row group
def test_memory_stays_near_a_few_batches_of_a_much_larger_file(tmp_path, depth, row_group):
    n, d, chunk = 200_000, 8, 5000  # 40 batches of 320 kB
    pq.write_table(_table(_rows(n, d, seed=4)), tmp_path / "big.parquet",
                   row_group_size=row_group, use_dictionary=False)
    batch_bytes = chunk * d * 8
    src = ParquetSource(tmp_path / "big.parquet", chunk_size=chunk, read_ahead=depth)
    pool = pa.proxy_memory_pool(pa.default_memory_pool())  # its own statistics
    old_pool = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    tracemalloc.start()
    try:
        rows = 0
        for X in src.chunks():
            time.sleep(0.002)  # a slow consumer: the reader gets as far ahead as it may
            rows += len(X)
            del X
        _, numpy_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        pa.set_memory_pool(old_pool)
    assert rows == n
    # at most read_ahead queued + one being built + one held by the consumer
    assert numpy_peak < (depth + 3) * batch_bytes + (1 << 20)
    assert pool.max_memory() < 8 * batch_bytes  # Arrow's decoded batches
    assert n * d * 8 > 5 * (numpy_peak + pool.max_memory())
    assert _readers_gone()


def _broken_dir(tmp_path, how):
    """part-0 fine (1000 rows); part-1 broken in the way ``how`` says."""
    X = _rows(2000, 2, seed=5)
    pq.write_table(_table(X[:1000]), tmp_path / "part-0.parquet", row_group_size=300)
    second = tmp_path / "part-1.parquet"
    pq.write_table(_table(X[1000:]), second, row_group_size=300)
    src = ParquetSource(tmp_path, chunk_size=400)  # sees the good schema and sizes
    if how == "truncated":
        raw = second.read_bytes()
        second.write_bytes(raw[: len(raw) // 2])
    elif how == "missing column":
        pq.write_table(pa.table({"x0": X[1000:, 0]}), second, row_group_size=300)
    elif how == "not numeric":
        pq.write_table(pa.table({"x0": X[1000:, 0], "x1": ["1.5"] * 1000}), second,
                       row_group_size=300)
    return src


@pytest.mark.parametrize("depth", [0, 2])
@pytest.mark.parametrize("how, message", [
    ("truncated", r"part-1.parquet' could not be opened: .*magic bytes"),
    ("missing column", r"part-1.parquet' lacks columns \['x1'\]"),
    ("not numeric", r"columns \['x1'\] of Parquet file '.*part-1.parquet' are not numeric"),
])
def test_a_file_that_breaks_mid_directory_is_a_clear_chunk_error(tmp_path, depth, how, message):
    src = _broken_dir(tmp_path, how)
    src.read_ahead = depth
    seen = []
    with pytest.raises(ChunkValueError, match=r"chunk 3 \(starting at row 1000\): .*" + message) as info:
        for _ in _iter_validated(src, seen):
            pass
    assert info.value.chunk_index == 3 and info.value.row == 1000
    assert seen == [400, 400, 200]  # the rows of the good file came first
    with pytest.raises(ChunkValueError, match=message):
        GaussianMixture(2, random_state=0).fit(src)
    assert _readers_gone()


def _iter_validated(src, seen):
    from gmmx.sources.base import iter_blocks

    for _, _, X, _ in iter_blocks(src):
        seen.append(len(X))
        yield X


def test_stopping_early_or_failing_in_the_consumer_ends_the_reader(parquet_dir):
    d, X, _ = parquet_dir
    src = ParquetSource(d, columns=["x0", "x1", "x2"], chunk_size=100)
    it = src.chunks()
    first = next(it)
    np.testing.assert_array_equal(first, X[:100])
    it.close()
    assert _readers_gone(timeout=0.5)
    with pytest.raises(KeyboardInterrupt):
        for i, _ in enumerate(src.chunks()):
            if i == 2:
                raise KeyboardInterrupt  # Ctrl-C while the kernel runs
    assert _readers_gone()


def test_an_interrupted_fit_leaves_no_reader(parquet_dir):
    d, X, _ = parquet_dir

    def interrupt(n_iter, lower_bound):
        raise KeyboardInterrupt

    init = init_params(X, 2, "diag")
    with pytest.raises(KeyboardInterrupt):
        GaussianMixture(2, covariance_type="diag", callback=interrupt, **init).fit(
            ParquetSource(d, weight_column="w", chunk_size=100))
    assert _readers_gone()


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_read_ahead_must_be_a_non_negative_integer(parquet_dir, bad):
    with pytest.raises(ValueError, match="read_ahead must be a non-negative integer"):
        ParquetSource(parquet_dir[0], read_ahead=bad)


def test_a_pass_of_one_batch_is_read_without_a_thread(tmp_path, monkeypatch):
    import gmmx.sources.parquet as parquet_module

    X = _rows(500, 2, seed=6)
    pq.write_table(_table(X), tmp_path / "small.parquet")
    calls = []
    real = parquet_module.read_ahead
    monkeypatch.setattr(parquet_module, "read_ahead",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    np.testing.assert_array_equal(ParquetSource(tmp_path / "small.parquet").read_all()[0], X)
    assert calls == []  # nothing to overlap
    ParquetSource(tmp_path / "small.parquet", chunk_size=100).read_all()
    assert calls == [1]
