"""Chunk sources (npy, parquet, csv, arrays, data frames, iterables, user
subclasses) read into out-of-core EM: each fit equals the in-memory one."""

from functools import partial

import numpy as np
import pytest

from conftest import GaussianMixture, assert_same_fit, two_clusters
from conftest import perturbed_init as _init
from gmmx.streaming import (
    ArraySource,
    ChunkError,
    ChunkSource,
    CSVSource,
    IterableSource,
    NpySource,
    ParquetSource,
    as_source,
)

pytestmark = pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")

COV_TYPES = ["full", "tied", "diag", "spherical"]

_data = partial(two_clusters, stretch=True)


@pytest.fixture(scope="module")
def X():
    return _data()


@pytest.mark.parametrize("cov", COV_TYPES)
@pytest.mark.parametrize("chunk_size", [7, 1000, 10**6])
def test_npy_path_equals_in_memory(tmp_path, X, cov, chunk_size):
    path = tmp_path / "x.npy"
    np.save(path, X)
    init = _init(X, cov=cov)
    ref = GaussianMixture(3, covariance_type=cov, max_iter=15, tol=0, **init).fit(X)
    m = GaussianMixture(3, covariance_type=cov, max_iter=15, tol=0, chunk_size=chunk_size,
                        **init).fit(str(path))
    assert_same_fit(m, ref)


def test_npy_source_float32_and_memmap(tmp_path, X):
    X32 = X.astype(np.float32)
    path = tmp_path / "x32.npy"
    np.save(path, X32)
    init = _init(X)
    ref = GaussianMixture(3, max_iter=10, tol=0, n_threads=2, **init).fit(X32)
    m = GaussianMixture(3, max_iter=10, tol=0, n_threads=2, **init).fit(NpySource(path, chunk_size=512))
    assert_same_fit(m, ref)
    mm = np.load(path, mmap_mode="r")
    m2 = GaussianMixture(3, max_iter=10, tol=0, **init).fit(ArraySource(mm, chunk_size=999))
    assert_same_fit(m2, ref)


def test_weighted_array_source_equals_weighted_fit(X):
    w = np.random.default_rng(1).uniform(0, 3, X.shape[0])
    init = _init(X)
    ref = GaussianMixture(3, max_iter=10, tol=0, **init).fit(X, sample_weight=w)
    src = as_source(X, chunk_size=256, sample_weight=w)
    m = GaussianMixture(3, max_iter=10, tol=0, **init).fit(src)
    assert_same_fit(m, ref)


def test_parquet_file_and_directory(tmp_path, X):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    w = np.random.default_rng(2).uniform(0.5, 2, X.shape[0])
    table = pa.table({"a": X[:, 0], "label": np.arange(len(X)).astype(str), "b": X[:, 1],
                      "c": X[:, 2].astype(np.float32), "w": w})
    pq.write_table(table, tmp_path / "one.parquet", row_group_size=700)
    init = _init(X[:, [2, 0]], K=2)
    Xsel = np.column_stack([X[:, 2].astype(np.float32).astype(np.float64), X[:, 0]])
    ref = GaussianMixture(2, max_iter=10, tol=0, **init).fit(Xsel, sample_weight=w)
    m = GaussianMixture(2, max_iter=10, tol=0, **init).fit(
        ParquetSource(tmp_path / "one.parquet", columns=["c", "a"], weight_column="w",
                      chunk_size=333))
    assert_same_fit(m, ref)
    # directory of several files, read in sorted order; _SUCCESS-style files skipped
    d = tmp_path / "dir"
    d.mkdir()
    for i, s in enumerate(np.array_split(np.arange(len(X)), 3)):
        pq.write_table(table.take(s), d / f"part-{i}.parquet", row_group_size=400)
    (d / "_SUCCESS").write_text("")
    src = as_source(str(d), columns=["c", "a"], weight_column="w", chunk_size=250)
    assert src.n_rows == len(X) and src.n_features == 2 and src.random_access
    m2 = GaussianMixture(2, max_iter=10, tol=0, **init).fit(src)
    assert_same_fit(m2, ref)


def test_parquet_column_errors(tmp_path, X):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"a": X[:, 0], "s": ["x"] * len(X)}), tmp_path / "t.parquet")
    with pytest.raises(ValueError, match=r"columns \['zz'\] are not in"):
        ParquetSource(tmp_path / "t.parquet", columns=["a", "zz"])
    with pytest.raises(ValueError, match="not numeric"):
        ParquetSource(tmp_path / "t.parquet", columns=["a", "s"])
    assert ParquetSource(tmp_path / "t.parquet").columns == ["a"]


def test_csv_equals_in_memory(tmp_path, X):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=["x", "y", "z"])
    df["name"] = "tick"
    path = tmp_path / "x.csv"
    df.to_csv(path, index=False)
    Xr = pd.read_csv(path)[["z", "x"]].to_numpy()
    init = _init(Xr, K=2)
    ref = GaussianMixture(2, max_iter=10, tol=0, **init).fit(Xr)
    m = GaussianMixture(2, max_iter=10, tol=0, chunk_size=400, **init).fit(
        as_source(path, columns=["z", "x"], chunk_size=400))
    assert_same_fit(m, ref)
    with pytest.raises(ValueError, match=r"chunk 0 .*non-numeric") as e:
        GaussianMixture(2).fit(CSVSource(path))
    assert isinstance(e.value, ChunkError)


def test_iterables_and_callables(X):
    init = _init(X)
    w = np.random.default_rng(3).uniform(0, 1, len(X))
    ref = GaussianMixture(3, max_iter=8, tol=0, **init).fit(X)
    refw = GaussianMixture(3, max_iter=8, tol=0, **init).fit(X, sample_weight=w)
    blocks = np.array_split(X, 5)
    assert_same_fit(GaussianMixture(3, max_iter=8, tol=0, **init).fit(blocks), ref)

    def gen():
        for s in range(0, len(X), 701):
            yield X[s:s + 701], w[s:s + 701]

    assert_same_fit(GaussianMixture(3, max_iter=8, tol=0, **init).fit(gen), refw)
    assert_same_fit(GaussianMixture(3, max_iter=8, tol=0, **init).fit(IterableSource(gen)), refw)
    with pytest.raises(ValueError, match="one-shot iterator"):
        GaussianMixture(3, **init).fit(gen())


class _MySource(ChunkSource):
    """A user-defined source following the documented protocol."""

    def __init__(self, X):
        self.X = X
        self.n_features = X.shape[1]

    def chunks(self):
        for s in range(0, len(self.X), 123):
            yield self.X[s:s + 123].astype(np.float32)


def test_user_source_subclass(X):
    init = _init(X)
    ref = GaussianMixture(3, max_iter=5, tol=0, **init).fit(X.astype(np.float32))
    assert_same_fit(GaussianMixture(3, max_iter=5, tol=0, **init).fit(_MySource(X)), ref)


def test_as_source_dispatch_and_errors(tmp_path, X):
    np.save(tmp_path / "a.npy", X)
    assert isinstance(as_source(tmp_path / "a.npy"), NpySource)
    assert isinstance(as_source(X), ArraySource)
    src = ArraySource(X)
    assert as_source(src) is src
    assert isinstance(as_source(lambda: iter([X])), IterableSource)
    (tmp_path / "a.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="cannot tell the format"):
        as_source(tmp_path / "a.bin")
    with pytest.raises(FileNotFoundError):
        as_source(tmp_path / "missing.npy")
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        as_source(X, chunk_size=0)
    with pytest.raises(ValueError, match="sample_weight cannot be passed with a chunk source"):
        GaussianMixture(2).fit(tmp_path / "a.npy", sample_weight=np.ones(len(X)))
    with pytest.raises(ValueError, match="yielded no rows"):
        GaussianMixture(2).fit([np.empty((0, 3))])


def test_as_source_dataframe(X):
    pd = pytest.importorskip("pandas")
    src = as_source(pd.DataFrame(X), chunk_size=1000)
    assert isinstance(src, ArraySource) and src.n_chunks == 3
    init = _init(X)
    ref = GaussianMixture(3, max_iter=3, tol=0, **init).fit(X)
    assert_same_fit(GaussianMixture(3, max_iter=3, tol=0, **init).fit(src), ref)


def test_weights_from_npy_and_csv_columns(tmp_path, X):
    pd = pytest.importorskip("pandas")
    w = np.random.default_rng(7).uniform(0.1, 3, len(X))
    init = _init(X)
    ref = GaussianMixture(3, max_iter=5, tol=0, **init).fit(X, sample_weight=w)
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "w.npy", w)
    src = NpySource(tmp_path / "x.npy", sample_weight=tmp_path / "w.npy", chunk_size=640)
    assert_same_fit(GaussianMixture(3, max_iter=5, tol=0, **init).fit(src), ref)
    df = pd.DataFrame(X, columns=["a", "b", "c"]).assign(w=w)
    df.to_csv(tmp_path / "x.csv", index=False, float_format="%.17g")
    src = CSVSource(tmp_path / "x.csv", weight_column="w", chunk_size=700)
    assert src.columns == ["a", "b", "c"]
    assert_same_fit(GaussianMixture(3, max_iter=5, tol=0, **init).fit(src), ref)


def test_default_chunk_size_reads_about_8_mib(tmp_path):
    from gmmx.streaming import ArraySource, NpySource

    path = tmp_path / "one.npy"
    np.save(path, np.zeros((10, 1), dtype=np.float32))
    assert NpySource(path).chunk_size == 8 * 2**20 // 4          # 2,097,152 float32 rows
    assert ArraySource(np.zeros((10, 8))).chunk_size == 131_072   # 8 MiB of float64 rows
    assert ArraySource(np.zeros((10, 500))).chunk_size == 65_536  # never below 65,536
    assert ArraySource(np.zeros((10, 1)), chunk_size=7).chunk_size == 7
    with pytest.raises(ValueError, match="chunk_size"):
        ArraySource(np.zeros((10, 1)), chunk_size=0)
