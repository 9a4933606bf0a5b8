"""A source's ``cache_dir`` copy: the later passes yield the very blocks the first
decoded, fits are bit-identical with and without it, the copy follows the file
(rewritten when it changes), is deleted when it is no longer wanted, and never
makes a pass fail: no room, a failed write or odd blocks give a CacheWarning
and the passes decode the file as before."""

import gc
import os
import pickle
from collections import namedtuple

import numpy as np
import pytest

from conftest import GaussianMixture
from gmmx import CacheWarning
from gmmx.sources import CSVSource, ParquetSource, as_source, spill
from gmmx.sources.spill import SpillCache, check_cache_dir

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

pytestmark = pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")


def _rows(n, d, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 4, (3, d))
    return (centers[rng.integers(0, 3, n)] + rng.standard_normal((n, d))).astype(dtype)


def _write_parquet(path, X, w=None, row_group=1000):
    cols = {f"x{j}": X[:, j] for j in range(X.shape[1])}
    if w is not None:
        cols["w"] = w
    pq.write_table(pa.table(cols), path, row_group_size=row_group)
    return path


@pytest.fixture
def cache_dir(tmp_path):
    d = tmp_path / "cache"
    d.mkdir()
    return str(d)


@pytest.fixture
def parquet_file(tmp_path):
    X = _rows(5000, 3)
    return _write_parquet(str(tmp_path / "rows.parquet"), X), X


def _blocks(src):
    return [b if isinstance(b, tuple) else (b, None) for b in src.chunks()]


def _same_blocks(a, b):
    assert len(a) == len(b)
    for (xa, wa), (xb, wb) in zip(a, b):
        assert xa.dtype == xb.dtype and xa.shape == xb.shape
        np.testing.assert_array_equal(xa, xb)
        assert (wa is None) == (wb is None)
        if wa is not None:
            np.testing.assert_array_equal(wa, wb)


def _files(directory):
    return sorted(os.listdir(directory))


# --- the copy gives the same passes -----------------------------------------

def test_later_passes_read_the_copy_and_yield_the_same_blocks(parquet_file, cache_dir):
    path, X = parquet_file
    src = ParquetSource(path, chunk_size=700, cache_dir=cache_dir)
    assert not src.cached and _files(cache_dir) == []
    first = _blocks(src)
    assert src.cached
    (name,) = _files(cache_dir)
    assert os.path.getsize(os.path.join(cache_dir, name)) == X.nbytes
    second = _blocks(src)
    _same_blocks(first, second)
    assert all(isinstance(x, np.memmap) for x, _ in second)  # mapped, not decoded
    _same_blocks(second, _blocks(ParquetSource(path, chunk_size=700)))
    np.testing.assert_array_equal(np.concatenate([x for x, _ in second]), X)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_fit_is_bit_identical_with_and_without_the_copy(parquet_file, cache_dir,
                                                        covariance_type):
    path, _ = parquet_file
    fits = []
    for kwargs in ({}, {"cache_dir": cache_dir}):
        src = ParquetSource(path, chunk_size=700, **kwargs)
        fits.append(GaussianMixture(3, covariance_type=covariance_type, max_iter=8, tol=0,
                                    random_state=0).fit(src))
        assert src.cached == bool(kwargs)
    a, b = fits
    np.testing.assert_array_equal(a.means_, b.means_)
    np.testing.assert_array_equal(a.covariances_, b.covariances_)
    np.testing.assert_array_equal(a.weights_, b.weights_)
    assert a.lower_bound_ == b.lower_bound_


def test_weights_are_kept_in_the_copy(tmp_path, cache_dir):
    X = _rows(3000, 2, dtype=np.float64)
    w = np.random.default_rng(1).uniform(0.5, 2.0, 3000)
    path = _write_parquet(str(tmp_path / "w.parquet"), X, w)
    src = ParquetSource(path, weight_column="w", chunk_size=1000, cache_dir=cache_dir)
    first = _blocks(src)
    second = _blocks(src)
    _same_blocks(first, second)
    assert isinstance(second[0][1], np.memmap)
    np.testing.assert_array_equal(np.concatenate([b for _, b in second]), w)
    assert len(_files(cache_dir)) == 2  # rows and weights


def test_random_access_reads_the_copy(parquet_file, cache_dir):
    path, X = parquet_file
    src = ParquetSource(path, chunk_size=700, cache_dir=cache_dir)
    before = [src.read_chunk(i) for i in range(src.n_chunks)]  # decoded: no copy yet
    assert not any(isinstance(b, np.memmap) for b in before)
    list(src.chunks())
    for i in range(src.n_chunks):
        block = src.read_chunk(i)
        assert isinstance(block, np.memmap)
        np.testing.assert_array_equal(block, before[i])
        np.testing.assert_array_equal(block, X[src.chunk_start(i):src.chunk_start(i + 1)])


def test_csv_copy_gives_the_same_fit(tmp_path, cache_dir):
    X = _rows(2000, 2, dtype=np.float64)
    path = str(tmp_path / "rows.csv")
    np.savetxt(path, X, delimiter=",", header="a,b", comments="", fmt="%.17g")
    src = CSVSource(path, chunk_size=300, cache_dir=cache_dir)
    first = _blocks(src)
    assert src.cached
    second = _blocks(src)
    _same_blocks(first, second)
    assert isinstance(second[0][0], np.memmap)
    a = GaussianMixture(2, max_iter=5, tol=0, random_state=0).fit(src)
    b = GaussianMixture(2, max_iter=5, tol=0, random_state=0).fit(CSVSource(path, chunk_size=300))
    np.testing.assert_array_equal(a.means_, b.means_)
    np.testing.assert_array_equal(a.covariances_, b.covariances_)


# --- the copy follows the file ----------------------------------------------

def test_a_changed_file_is_decoded_again_and_recopied(parquet_file, cache_dir):
    path, X = parquet_file
    src = ParquetSource(path, chunk_size=700, cache_dir=cache_dir)
    list(src.chunks())
    (old,) = _files(cache_dir)
    Y = X + np.float32(100.0)
    _write_parquet(path, Y)  # same size, new content
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = _blocks(src)
    assert not any(isinstance(x, np.memmap) for x, _ in third)  # decoded afresh
    np.testing.assert_array_equal(np.concatenate([x for x, _ in third]), Y)
    assert src.cached and old not in _files(cache_dir) and len(_files(cache_dir)) == 1
    np.testing.assert_array_equal(np.concatenate([x for x, _ in _blocks(src)]), Y)


def test_a_file_changed_during_the_first_pass_is_not_copied(parquet_file, cache_dir):
    path, X = parquet_file
    src = ParquetSource(path, chunk_size=700, cache_dir=cache_dir, read_ahead=0)
    it = src.chunks()
    next(it)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    list(it)
    assert not src.cached and _files(cache_dir) == []


# --- the copy goes away -----------------------------------------------------

def test_clear_cache_and_garbage_collection_delete_the_copy(parquet_file, cache_dir):
    path, _ = parquet_file
    src = ParquetSource(path, chunk_size=700, cache_dir=cache_dir)
    list(src.chunks())
    src.clear_cache()
    assert not src.cached and _files(cache_dir) == []
    list(src.chunks())
    assert len(_files(cache_dir)) == 1
    del src
    gc.collect()
    assert _files(cache_dir) == []


def test_a_pass_stopped_early_leaves_no_file(parquet_file, cache_dir):
    path, _ = parquet_file
    src = ParquetSource(path, chunk_size=700, cache_dir=cache_dir)
    it = src.chunks()
    next(it)
    assert len(_files(cache_dir)) == 1  # being written
    it.close()
    assert not src.cached and _files(cache_dir) == []
    list(src.chunks())  # the next full pass writes it
    assert src.cached


def test_a_failing_pass_leaves_no_file_and_raises_the_source_error(tmp_path, cache_dir):
    path = str(tmp_path / "bad.csv")
    with open(path, "w") as f:
        f.write("a,b\n" + "".join(f"{i},{i}\n" for i in range(50)) + "oops,1\n")
    src = CSVSource(path, chunk_size=10, cache_dir=cache_dir)
    with pytest.raises(ValueError, match="non-numeric"):
        list(src.chunks())
    assert not src.cached and _files(cache_dir) == []


def test_while_one_pass_writes_another_only_decodes(parquet_file, cache_dir):
    path, X = parquet_file
    src = ParquetSource(path, chunk_size=700, cache_dir=cache_dir)
    outer = src.chunks()
    first = next(outer)
    inner = list(src.chunks())  # the outer pass is writing: this one decodes
    assert len(_files(cache_dir)) == 1
    np.testing.assert_array_equal(np.concatenate(inner), X)
    rest = list(outer)
    assert src.cached
    np.testing.assert_array_equal(np.concatenate([first, *rest]), X)


def test_an_unpickled_source_starts_without_a_copy(parquet_file, cache_dir):
    path, X = parquet_file
    src = ParquetSource(path, chunk_size=700, cache_dir=cache_dir)
    list(src.chunks())
    clone = pickle.loads(pickle.dumps(src))
    assert src.cached and not clone.cached
    np.testing.assert_array_equal(np.concatenate(list(clone.chunks())), X)
    assert clone.cached and len(_files(cache_dir)) == 2  # one copy each


# --- never a failure ----------------------------------------------------------

_Usage = namedtuple("_Usage", "total used free")


def test_no_room_warns_and_decodes_every_pass(parquet_file, cache_dir, monkeypatch):
    path, X = parquet_file
    monkeypatch.setattr(spill.shutil, "disk_usage",
                        lambda p: _Usage(100 << 30, (100 << 30) - (512 << 20), 512 << 20))
    src = ParquetSource(path, chunk_size=700, cache_dir=cache_dir)
    with pytest.warns(CacheWarning, match=r"0\.5 GiB free .* every pass decodes the file"):
        blocks = _blocks(src)
    assert not src.cached and _files(cache_dir) == []
    np.testing.assert_array_equal(np.concatenate([x for x, _ in blocks]), X)


def test_the_copy_leaves_the_reserve_free(tmp_path, cache_dir, monkeypatch):
    # 1 GiB of a large disk must stay free: 1 GiB + 100 KiB free is enough for
    # 60 KB of rows, 1 GiB - 1 byte is not.
    X = _rows(5000, 3)
    path = _write_parquet(str(tmp_path / "r.parquet"), X)
    for free, copied in (((1 << 30) + (100 << 10), True), ((1 << 30) - 1, False)):
        monkeypatch.setattr(spill.shutil, "disk_usage",
                            lambda p, free=free: _Usage(1 << 40, (1 << 40) - free, free))
        src = ParquetSource(path, cache_dir=cache_dir)
        if copied:
            list(src.chunks())
        else:
            with pytest.warns(CacheWarning, match="GiB free"):
                list(src.chunks())
        assert src.cached == copied
        src.clear_cache()


def test_a_failed_write_warns_removes_the_part_and_the_pass_goes_on(parquet_file, cache_dir,
                                                                    monkeypatch):
    path, X = parquet_file
    calls = []

    def failing(self, X, w):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return original(self, X, w)

    original = spill._Writer.append
    monkeypatch.setattr(spill._Writer, "append", failing)
    src = ParquetSource(path, chunk_size=700, cache_dir=cache_dir)
    with pytest.warns(CacheWarning, match="No space left on device"):
        blocks = _blocks(src)
    np.testing.assert_array_equal(np.concatenate([x for x, _ in blocks]), X)
    assert not src.cached and _files(cache_dir) == []
    monkeypatch.setattr(spill._Writer, "append", original)
    list(src.chunks())  # a transient failure: the next pass tries again
    assert src.cached


def test_blocks_of_different_types_are_not_copied(cache_dir):
    parts = [np.ones((4, 2), np.float32), np.ones((4, 2), np.float64), np.zeros((3, 2))]
    cache = SpillCache(cache_dir, [cache_dir], "test source")
    with pytest.warns(CacheWarning, match="blocks differ in type or width"):
        got = list(cache.pass_blocks(lambda: iter(parts)))
    assert [b.dtype for b in got] == [np.float32, np.float64, np.float64]
    assert not cache.ready and _files(cache_dir) == []
    assert "differ" in cache.disabled_reason
    list(cache.pass_blocks(lambda: iter(parts)))  # no second warning, no copy
    assert not cache.ready


def test_an_empty_pass_gives_an_empty_copy(cache_dir, tmp_path):
    cache = SpillCache(cache_dir, [str(tmp_path)], "test source")
    assert list(cache.pass_blocks(lambda: iter([]))) == []
    assert cache.ready and list(cache.pass_blocks(lambda: iter([np.ones((2, 2))]))) == []


# --- arguments ----------------------------------------------------------------

def test_cache_dir_must_be_a_writable_directory(parquet_file, tmp_path):
    path, _ = parquet_file
    with pytest.raises(ValueError, match="is not a directory; create it first"):
        ParquetSource(path, cache_dir=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="is not a directory"):
        ParquetSource(path, cache_dir=path)
    with pytest.raises(ValueError, match="must be a directory path or None"):
        ParquetSource(path, cache_dir=True)
    assert check_cache_dir(None) is None
    assert check_cache_dir(tmp_path) == str(tmp_path)


def test_cache_dir_must_be_writable(parquet_file, tmp_path, monkeypatch):
    """A directory this process cannot write to is refused. Root writes anywhere but on
    a read-only filesystem, where access(W_OK) fails for every user: that is simulated
    here, so the test runs as root (CI) too; as another user the mode 0o500 suffices."""
    path, _ = parquet_file
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    real_access = os.access

    def read_only_filesystem(p, mode, *args, **kwargs):
        if os.fspath(p) == str(ro) and mode & os.W_OK:
            return False  # EROFS
        return real_access(p, mode, *args, **kwargs)

    monkeypatch.setattr(spill.os, "access", read_only_filesystem)
    try:
        with pytest.raises(ValueError, match="is not writable"):
            ParquetSource(path, cache_dir=str(ro))
        ro.chmod(0o700)
        assert ParquetSource(path, cache_dir=str(tmp_path)).cache_dir == str(tmp_path)
    finally:
        ro.chmod(0o700)


def test_as_source_passes_cache_dir_to_the_formats_that_decode(parquet_file, tmp_path, cache_dir):
    path, X = parquet_file
    src = as_source(path, chunk_size=700, cache_dir=cache_dir)
    assert isinstance(src, ParquetSource) and src.cache_dir == cache_dir
    csv = str(tmp_path / "r.csv")
    np.savetxt(csv, X[:10], delimiter=",", header="a,b,c", comments="")
    assert as_source(csv, cache_dir=cache_dir, sep=",").cache_dir == cache_dir
    npy = str(tmp_path / "r.npy")
    np.save(npy, X)
    with pytest.raises(ValueError, match="does not apply to npy files"):
        as_source(npy, cache_dir=cache_dir)
    with pytest.raises(ValueError, match="cache_dir applies only to Parquet and CSV file paths"):
        as_source(X, cache_dir=cache_dir)
    with pytest.raises(ValueError, match=r"ParquetSource\(\.\.\., cache_dir=\.\.\.\)"):
        as_source(ParquetSource(path), cache_dir=cache_dir)


def test_reserve_is_the_smaller_of_a_gib_and_five_percent(monkeypatch, tmp_path):
    for total, reserve in ((1 << 40, 1 << 30), (10 << 30, (10 << 30) // 20)):
        monkeypatch.setattr(spill.shutil, "disk_usage",
                            lambda p, total=total: _Usage(total, 0, total))
        assert spill._reserve(str(tmp_path)) == reserve


def test_the_copy_is_reserved_up_front_and_a_full_disk_fails_before_writing(
        parquet_file, cache_dir, monkeypatch):
    path, X = parquet_file
    reserved = []
    real = os.posix_fallocate

    def spy(fd, offset, length):
        reserved.append(length)
        return real(fd, offset, length)

    monkeypatch.setattr(spill.os, "posix_fallocate", spy)
    src = ParquetSource(path, chunk_size=700, cache_dir=cache_dir)
    list(src.chunks())
    assert reserved == [X.nbytes]  # float32 columns: 4 bytes a value
    (name,) = _files(cache_dir)
    assert os.path.getsize(os.path.join(cache_dir, name)) == X.nbytes

    def full(fd, offset, length):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spill.os, "posix_fallocate", full)
    first, src = src, ParquetSource(path, chunk_size=700, cache_dir=cache_dir)
    with pytest.warns(CacheWarning, match="No space left on device"):
        blocks = _blocks(src)
    np.testing.assert_array_equal(np.concatenate([x for x, _ in blocks]), X)
    assert not src.cached and src._cache.disabled_reason is None  # tried again next pass
    assert _files(cache_dir) == [name]  # only the first source's copy
    assert first.cached


def test_a_reservation_larger_than_the_rows_is_trimmed(tmp_path, cache_dir):
    X = _rows(1000, 2, dtype=np.float64)
    w = np.ones(1000)
    path = _write_parquet(str(tmp_path / "w.parquet"), X, w)
    src = ParquetSource(path, weight_column="w", cache_dir=cache_dir)
    list(src.chunks())
    sizes = sorted(os.path.getsize(os.path.join(cache_dir, f)) for f in _files(cache_dir))
    assert sizes == [w.nbytes, X.nbytes]


def _disk(monkeypatch, cache_dir, free):
    """A disk with ``free`` bytes free before the copy: its files take from that."""
    def usage(p):
        left = free - sum(os.path.getsize(os.path.join(cache_dir, f)) for f in _files(cache_dir))
        return _Usage(1 << 40, (1 << 40) - left, left)

    monkeypatch.setattr(spill.shutil, "disk_usage", usage)
    monkeypatch.setattr(spill, "_RECHECK_BYTES", 1)  # check before every block


def test_space_reserved_up_front_is_not_counted_twice(parquet_file, cache_dir, monkeypatch):
    # Just enough room: the copy's reservation takes the free space down to the
    # reserve, and the checks made while writing must not count it again.
    path, X = parquet_file
    _disk(monkeypatch, cache_dir, (1 << 30) + X.nbytes + 1000)
    src = ParquetSource(path, chunk_size=700, cache_dir=cache_dir)
    list(src.chunks())
    assert src.cached


def test_rows_beyond_the_reservation_are_checked_again(parquet_file, cache_dir, monkeypatch):
    # A reservation from a wrong estimate (a quarter of the rows) does not
    # stop the checks: the rows beyond it find the disk full.
    path, X = parquet_file
    _disk(monkeypatch, cache_dir, (1 << 30) + X.nbytes // 4 + 1000)
    src = ParquetSource(path, chunk_size=700, cache_dir=cache_dir)
    src._cache.expected_bytes = X.nbytes // 4
    with pytest.warns(CacheWarning, match="GiB free"):
        blocks = _blocks(src)
    np.testing.assert_array_equal(np.concatenate([x for x, _ in blocks]), X)
    assert not src.cached and _files(cache_dir) == []
