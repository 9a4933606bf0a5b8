"""The file-format registry behind gmmx.sources.as_source."""

import os

import numpy as np
import pytest

from gmmx.sources import (
    ArraySource,
    ChunkSource,
    CSVSource,
    NpySource,
    ParquetSource,
    as_source,
    find_format,
    formats,
    get_format,
    register_format,
    unregister_format,
)


class _TextRows(ChunkSource):
    """A toy format: one whitespace-separated row per line."""

    def __init__(self, path, chunk_size=None):
        self.path = os.fspath(path)
        self.chunk_size = chunk_size or 2

    def chunks(self):
        rows = np.loadtxt(self.path, ndmin=2)
        for s in range(0, rows.shape[0], self.chunk_size):
            yield rows[s:s + self.chunk_size]


def _toy_factory(path, columns=None, chunk_size=None, weight_column=None, sample_weight=None):
    if columns is not None:
        raise ValueError("the rows format has no named columns")
    return _TextRows(path, chunk_size)


@pytest.fixture
def rows_format():
    fmt = register_format("rows", (".rows", "ROWS.GZ"), _toy_factory)
    yield fmt
    unregister_format("rows")


def test_builtin_formats():
    names = [f.name for f in formats()]
    assert names[:3] == ["parquet", "npy", "csv"]
    assert get_format("parquet").accepts_directory
    assert get_format("csv").read_options and not get_format("npy").read_options
    assert ".npy" in get_format("npy").suffixes


def test_custom_format_is_picked_by_as_source(tmp_path, rows_format):
    path = tmp_path / "data.rows"
    X = np.arange(10.0).reshape(5, 2)
    np.savetxt(path, X)
    assert find_format(path) is rows_format
    assert find_format(str(tmp_path / "x.ROWS.gz")) is rows_format  # case-insensitive
    assert rows_format.suffixes == (".rows", ".rows.gz")
    src = as_source(path, chunk_size=3)
    assert isinstance(src, _TextRows) and src.chunk_size == 3
    np.testing.assert_array_equal(np.concatenate(list(src.chunks())), X)
    # the generic check: reader options only for read_options=True formats
    with pytest.raises(ValueError, match=r"unexpected keyword arguments for a rows source: \['sep'\]"):
        as_source(path, sep=";")
    with pytest.raises(ValueError, match="no named columns"):
        as_source(path, columns=["a"])


def test_custom_format_fits(tmp_path, rows_format):
    from gmmx import GaussianMixture

    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (200, 2)), rng.normal(8, 1, (200, 2))])
    np.savetxt(tmp_path / "blobs.rows", X)
    m = GaussianMixture(2, random_state=0, n_threads=1).fit(tmp_path / "blobs.rows")
    assert np.allclose(np.sort(m.means_[:, 0]), [0, 8], atol=0.5)


def test_unregistered_format_is_unknown(tmp_path):
    register_format("rows", ".rows", _toy_factory)
    unregister_format("rows")
    (tmp_path / "a.rows").write_text("1 2\n")
    assert find_format(tmp_path / "a.rows") is None
    with pytest.raises(ValueError, match="cannot tell the format"):
        as_source(tmp_path / "a.rows")
    with pytest.raises(KeyError, match="no format named 'rows'"):
        unregister_format("rows")
    with pytest.raises(KeyError):
        get_format("rows")


def test_longest_suffix_wins(tmp_path):
    register_format("gzipped", ".gz", _toy_factory)
    try:
        assert find_format("a.csv.gz").name == "csv"
        assert find_format("a.bin.gz").name == "gzipped"
    finally:
        unregister_format("gzipped")


def test_registration_errors(rows_format):
    with pytest.raises(ValueError, match="already registered"):
        register_format("rows", ".other", _toy_factory)
    with pytest.raises(ValueError, match=r"suffixes \['.npy'\] are already registered by the 'npy'"):
        register_format("mine", (".npy",), _toy_factory)
    with pytest.raises(ValueError, match="must be callable"):
        register_format("mine", ".mine", None)
    with pytest.raises(ValueError, match="non-empty"):
        register_format("mine", ("",), _toy_factory)
    with pytest.raises(ValueError, match="non-empty"):
        register_format("", ".mine", _toy_factory)
    # replace=True swaps the entry registered under that name
    new = register_format("rows", ".rows", _toy_factory, replace=True)
    assert get_format("rows") is new and new.suffixes == (".rows",)
    assert "mine" not in [f.name for f in formats()]


def test_directories(tmp_path):
    d = tmp_path / "table.npy"  # a directory: its name's suffix is not a directory format
    d.mkdir()
    assert find_format(d).name == "parquet"
    register_format("zdir", ".zdir", _toy_factory, accepts_directory=True)
    try:
        z = tmp_path / "store.zdir"
        z.mkdir()
        assert find_format(z).name == "zdir"
        assert find_format(tmp_path).name == "parquet"  # the first directory format
    finally:
        unregister_format("zdir")


def test_builtin_dispatch_and_messages(tmp_path):
    X = np.ones((20, 2))
    np.save(tmp_path / "a.npy", X)
    assert isinstance(as_source(tmp_path / "a.npy"), NpySource)
    assert isinstance(as_source(X), ArraySource)
    with pytest.raises(ValueError, match=r"^unexpected keyword arguments for a npy source: \['sep'\]$"):
        as_source(tmp_path / "a.npy", sep=",")
    with pytest.raises(ValueError, match="^columns / weight_column apply to Parquet and CSV sources, not .npy$"):
        as_source(tmp_path / "a.npy", columns=["a"])
    with pytest.raises(ValueError, match="^columns / weight_column / read options apply only to file paths$"):
        as_source(X, columns=["a"])
    with pytest.raises(FileNotFoundError, match="no such file or directory"):
        as_source(tmp_path / "missing.bin")
    (tmp_path / "a.bin").write_text("")
    with pytest.raises(ValueError, match=r"cannot tell the format of .*a\.bin' from its name; use a "
                                         r"\.npy, \.parquet/\.pq \(or a directory of them\) or "
                                         r"\.csv/\.tsv/\.txt file, or build NpySource / "
                                         r"ParquetSource / CSVSource explicitly"):
        as_source(tmp_path / "a.bin")


def test_builtin_file_formats_need_weight_column(tmp_path):
    pd = pytest.importorskip("pandas")
    pd.DataFrame({"a": [1.0, 2.0]}).to_csv(tmp_path / "a.csv", index=False)
    assert isinstance(as_source(tmp_path / "a.csv"), CSVSource)
    with pytest.raises(ValueError, match="^pass weight_column=... for Parquet/CSV sources, not sample_weight$"):
        as_source(tmp_path / "a.csv", sample_weight=np.ones(2))
    pytest.importorskip("pyarrow")
    pd.DataFrame({"a": [1.0, 2.0]}).to_parquet(tmp_path / "a.parquet")
    assert isinstance(as_source(tmp_path / "a.parquet"), ParquetSource)
    with pytest.raises(ValueError, match=r"^unexpected keyword arguments for a parquet source"):
        as_source(tmp_path / "a.parquet", sep=",", sample_weight=np.ones(2))
    with pytest.raises(ValueError, match="^pass weight_column=... for Parquet/CSV sources"):
        as_source(tmp_path / "a.parquet", sample_weight=np.ones(2))
