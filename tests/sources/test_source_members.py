"""Public members of the sources used by the gmmx command: column listing,
read_all, column selection of .npy files, read options from a file name."""

import numpy as np
import pytest

from gmmx.sources import (
    ArraySource,
    ChunkSource,
    ColumnInfo,
    CSVSource,
    IterableSource,
    NpySource,
    ParquetSource,
    as_source,
    list_columns,
    register_format,
    unregister_format,
)


def _X(n=50, d=3, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


# ------------------------------------------------------------- list_columns


def test_npy_list_columns(tmp_path):
    np.save(tmp_path / "a.npy", _X().astype(np.float32))
    np.save(tmp_path / "b.npy", np.arange(5))
    np.save(tmp_path / "c.npy", np.zeros((2, 2, 2)))
    cols = NpySource.list_columns(tmp_path / "a.npy")
    assert cols == [ColumnInfo("x0", True, "float32"), ColumnInfo("x1", True, "float32"),
                    ColumnInfo("x2", True, "float32")]
    assert list_columns(tmp_path / "a.npy") == cols
    assert [c.name for c in list_columns(tmp_path / "b.npy")] == ["x0"]
    with pytest.raises(ValueError, match=r"shape \(2, 2, 2\); expected a 1-D or 2-D"):
        list_columns(tmp_path / "c.npy")
    with pytest.raises(FileNotFoundError):
        list_columns(tmp_path / "missing.npy")
    with pytest.raises(ValueError, match="unexpected keyword arguments for a npy source"):
        list_columns(tmp_path / "a.npy", sep=",")


def test_parquet_list_columns(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({"t": ["a", "b"], "x": [1.0, 2.0], "n": pa.array([1, 2], pa.int32()),
                      "flag": [True, False]})
    pq.write_table(table, tmp_path / "a.parquet")
    cols = ParquetSource.list_columns(tmp_path / "a.parquet")
    assert [(c.name, c.numeric) for c in cols] == [("t", False), ("x", True), ("n", True),
                                                   ("flag", True)]
    assert cols[2].dtype == "int32"
    d = tmp_path / "dir"
    d.mkdir()
    pq.write_table(table, d / "part-0.parquet")
    assert list_columns(d) == cols
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(ValueError, match="is not a readable Parquet file"):
        list_columns(tmp_path / "bad.parquet")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="contains no Parquet files"):
        list_columns(empty)


def test_csv_list_columns(tmp_path):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"time": ["t0", "t1"], "price": [1.5, 2.5], "n": [1, 2]})
    df.to_csv(tmp_path / "a.csv", index=False)
    cols = CSVSource.list_columns(tmp_path / "a.csv")
    assert [(c.name, c.numeric) for c in cols] == [("time", False), ("price", True), ("n", True)]
    assert list_columns(tmp_path / "a.csv") == cols
    df.to_csv(tmp_path / "a.tsv", sep="\t", index=False)
    assert len(list_columns(tmp_path / "a.tsv")) == 1  # commas by default ...
    assert list_columns(tmp_path / "a.tsv", sep="\t") == cols  # ... options as for read_csv
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match="CSV file .*empty.csv' is empty"):
        list_columns(tmp_path / "empty.csv")
    with pytest.raises(FileNotFoundError):
        CSVSource.list_columns(tmp_path / "missing.csv")


def test_csv_list_columns_sniffs_the_first_rows(tmp_path):
    pd = pytest.importorskip("pandas")
    values = [str(v) for v in range(CSVSource.SNIFF_ROWS + 10)]
    values[-1] = "oops"  # beyond the sniffed rows
    pd.DataFrame({"a": values}).to_csv(tmp_path / "late.csv", index=False)
    assert list_columns(tmp_path / "late.csv")[0].numeric
    with pytest.raises(ValueError, match="non-numeric"):
        CSVSource(tmp_path / "late.csv", columns=["a"]).read_all()


def test_list_columns_of_a_format_without_it(tmp_path):
    def factory(path, **kwargs):
        return IterableSource([np.zeros((2, 2))])

    register_format("opaque", ".opaque", factory)
    try:
        (tmp_path / "a.opaque").write_text("")
        with pytest.raises(ValueError, match="the opaque format cannot list the columns"):
            list_columns(tmp_path / "a.opaque")
        register_format("opaque", ".opaque", factory, replace=True,
                        list_columns=lambda path: [ColumnInfo("only", True, "float64")])
        assert list_columns(tmp_path / "a.opaque") == [("only", True, "float64")]
    finally:
        unregister_format("opaque")
    with pytest.raises(ValueError, match="list_columns of format 'x' must be callable"):
        register_format("x", ".x", factory, list_columns="nope")


# ----------------------------------------------------------------- read_all


def test_read_all_array_and_weights():
    X, w = _X(1000), np.linspace(0, 1, 1000)
    src = ArraySource(X, sample_weight=w, chunk_size=128)
    Xa, wa = src.read_all()
    np.testing.assert_array_equal(Xa, X)
    np.testing.assert_array_equal(wa, w)
    assert Xa is not X and not np.shares_memory(Xa, X) and Xa.flags.c_contiguous
    Xa, wa = ArraySource(X).read_all()
    assert wa is None and not np.shares_memory(Xa, X)


def test_read_all_one_block_is_a_copy():
    X = _X()
    Xa, _ = IterableSource([X]).read_all()
    np.testing.assert_array_equal(Xa, X)
    assert not np.shares_memory(Xa, X)


def test_read_all_dtype():
    X32 = _X().astype(np.float32)
    Xa, _ = ArraySource(X32, chunk_size=7).read_all()
    assert Xa.dtype == np.float32
    Xa, _ = ArraySource(X32, chunk_size=7).read_all(dtype=np.float64)
    assert Xa.dtype == np.float64 and np.array_equal(Xa, X32.astype(np.float64))
    Xa, _ = IterableSource([X32, _X(seed=1)]).read_all()
    assert Xa.dtype == np.float64  # float32 only if every block is
    Xa, _ = ArraySource(np.arange(6).reshape(3, 2), chunk_size=2).read_all(np.float32)
    assert Xa.dtype == np.float32
    with pytest.raises(ValueError, match="dtype must be None, float32 or float64"):
        ArraySource(X32).read_all(dtype=np.int64)


def test_read_all_mixed_weights_nan_and_1d_blocks():
    blocks = [(np.array([[1.0], [np.nan]]), np.array([2.0, 3.0])), np.array([4.0, 5.0, 6.0])]
    X, w = IterableSource(blocks).read_all()
    np.testing.assert_array_equal(X, [[1.0], [np.nan], [4.0], [5.0], [6.0]])
    np.testing.assert_array_equal(w, [2.0, 3.0, 1.0, 1.0, 1.0])


def test_read_all_validates_blocks():
    src = IterableSource([np.zeros((4, 2)), np.zeros((3, 3))])
    with pytest.raises(ValueError, match=r"chunk 1 \(starting at row 4\): block has 3 columns but 2"):
        src.read_all()
    with pytest.raises(ValueError, match=r"chunk 0 .*sample_weight must be finite"):
        IterableSource([(np.zeros((2, 1)), [-1.0, 1.0])]).read_all()


def test_read_all_empty():
    X, w = IterableSource([]).read_all()
    assert X.shape == (0, 0) and w is None
    X, _ = ArraySource(np.empty((0, 3))).read_all(np.float64)
    assert X.shape == (0, 3)


class _Declared(ChunkSource):
    """A source whose declared n_rows may be wrong."""

    def __init__(self, blocks, n_rows):
        self.blocks, self.n_rows, self.n_features = blocks, n_rows, blocks[0].shape[1]

    def chunks(self):
        return iter(self.blocks)


@pytest.mark.parametrize("declared", [5, 10, 12, 40])
def test_read_all_in_place_fill_survives_a_wrong_n_rows(declared):
    blocks = [_X(4, 2, seed=s) for s in range(3)]
    X, _ = _Declared(blocks, declared).read_all(dtype=np.float64)
    np.testing.assert_array_equal(X, np.concatenate(blocks))
    assert X.flags.owndata and X.flags.c_contiguous


def test_read_all_source_errors_propagate(tmp_path):
    class Broken(ChunkSource):
        def chunks(self):
            yield np.zeros((2, 2))
            raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        Broken().read_all()


def test_read_all_files(tmp_path):
    pd = pytest.importorskip("pandas")
    X = _X(300)
    np.save(tmp_path / "a.npy", X)
    np.testing.assert_array_equal(as_source(tmp_path / "a.npy", chunk_size=64).read_all()[0], X)
    pd.DataFrame(X, columns=list("abc")).assign(w=2.0).to_csv(tmp_path / "a.csv", index=False)
    Xc, wc = as_source(tmp_path / "a.csv", columns=["c", "a"], weight_column="w",
                       chunk_size=64).read_all()
    np.testing.assert_allclose(Xc, X[:, [2, 0]], rtol=1e-15)
    assert np.all(wc == 2.0)


# ------------------------------------------------------ .npy column selection


def test_npy_columns_by_index_and_name(tmp_path):
    X = _X(200, 4)
    np.save(tmp_path / "a.npy", X)
    src = NpySource(tmp_path / "a.npy", columns=[3, 1], chunk_size=64)
    assert src.columns == [3, 1] and src.n_features == 2 and src.n_rows == 200
    assert src.random_access and src.n_chunks == 4
    np.testing.assert_array_equal(src.read_all()[0], X[:, [3, 1]])
    np.testing.assert_array_equal(src.read_chunk(1), X[64:128, [3, 1]])
    assert "columns=[3, 1]" in repr(src)
    by_name = NpySource(tmp_path / "a.npy", columns=["x3", "x1"], chunk_size=64)
    np.testing.assert_array_equal(by_name.read_all()[0], X[:, [3, 1]])
    one = NpySource(tmp_path / "a.npy", columns=2)
    assert one.columns == [2] and one.read_all()[0].shape == (200, 1)
    every = NpySource(tmp_path / "a.npy", columns=range(4))
    assert every.columns == [0, 1, 2, 3] and "columns=" not in repr(every)


def test_npy_columns_with_weights_and_1d(tmp_path):
    X, w = _X(100, 3), np.linspace(1, 2, 100)
    np.save(tmp_path / "a.npy", X)
    np.save(tmp_path / "w.npy", w)
    Xs, ws = NpySource(tmp_path / "a.npy", sample_weight=tmp_path / "w.npy", chunk_size=30,
                       columns=[2]).read_all()
    np.testing.assert_array_equal(Xs, X[:, [2]])
    np.testing.assert_array_equal(ws, w)
    np.save(tmp_path / "v.npy", X[:, 0])
    Xs, _ = NpySource(tmp_path / "v.npy", columns=["x0"]).read_all()
    np.testing.assert_array_equal(Xs, X[:, [0]])


@pytest.mark.parametrize("bad", [[3], [-1], ["x9"], ["a"], [True], [1.0], []])
def test_npy_column_errors(tmp_path, bad):
    np.save(tmp_path / "a.npy", _X(10, 3))
    with pytest.raises(ValueError, match="column|columns is empty"):
        NpySource(tmp_path / "a.npy", columns=bad)


@pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")
def test_npy_columns_fit_equals_in_memory(tmp_path):
    from gmmx import GaussianMixture

    X = np.concatenate([_X(600, 3, seed=1), _X(600, 3, seed=2) + 5])
    np.save(tmp_path / "a.npy", X)
    kw = dict(n_components=2, random_state=0, n_threads=1, max_iter=20, tol=0)
    ref = GaussianMixture(**kw).fit(X[:, [2, 0]])
    m = GaussianMixture(chunk_size=100, **kw).fit(
        NpySource(tmp_path / "a.npy", columns=[2, 0], chunk_size=100))
    np.testing.assert_allclose(m.means_, ref.means_, rtol=1e-10)


# ----------------------------------------------------- read options from name


@pytest.mark.parametrize("name, options", [
    ("a.csv", {}),
    ("a.CSV.gz", {}),
    ("a.tsv", {"sep": "\t"}),
    ("dir/a.tsv.zst", {"sep": "\t"}),
    ("a.txt", {"sep": r"[,\s]+", "engine": "python"}),
    ("a.txt.bz2", {"sep": r"[,\s]+", "engine": "python"}),
])
def test_default_read_options(name, options):
    assert CSVSource.default_read_options(name) == options


def test_txt_with_default_options(tmp_path):
    pytest.importorskip("pandas")
    (tmp_path / "a.txt").write_text("a b,c\n1 2,3\n4  5 6\n")
    opts = CSVSource.default_read_options(tmp_path / "a.txt")
    assert [c.name for c in list_columns(tmp_path / "a.txt", **opts)] == ["a", "b", "c"]
    X, _ = as_source(tmp_path / "a.txt", columns=["c", "a"], chunk_size=1, **opts).read_all()
    np.testing.assert_array_equal(X, [[3, 1], [6, 4]])
