"""Hostile files and blocks for the chunk sources: strict CSV field counts, the
head caps, Parquet page checksums, and ChunkError for every per-chunk failure."""

import gzip
import pickle
import warnings

import numpy as np
import pytest

from gmmx.sources import (
    ChunkError,
    ChunkOSError,
    ChunkValueError,
    CSVSource,
    IterableSource,
    ParquetSource,
    as_source,
    list_columns,
)
from gmmx.sources.base import iter_blocks

pd = pytest.importorskip("pandas")


# ---------------------------------------------------------------- CSV field counts


@pytest.mark.parametrize("text, line", [
    ("a,b\n1,2\n3,4\n99,99,99\n5,6\n", 4),      # a middle row
    ("a,b\n1,2\n3,4\n5,6\n7,8\n9,9,9\n", 6),    # in a later chunk
    ("a,b\n1,2\n3,4\n9,9,9\n7,8\n", 4),         # first row of a later chunk
])
def test_csv_row_with_an_extra_field_is_an_error_naming_its_line(tmp_path, text, line):
    path = tmp_path / "x.csv"
    path.write_text(text)
    with pytest.raises(ChunkValueError, match=rf"Expected 2 fields in line {line}, saw 3"):
        as_source(path, chunk_size=2).read_all()


@pytest.mark.parametrize("text", ["a,b\n99,99,99\n3,4\n", "a,b\n1,2,3\n4,5,6\n"])
def test_csv_first_row_wider_than_the_header_is_an_error(tmp_path, text):
    """pandas alone would make the first column an index and shift every value."""
    path = tmp_path / "x.csv"
    path.write_text(text)
    with pytest.raises(ChunkValueError, match="more fields than its header"):
        as_source(path, chunk_size=2).read_all()
    with pytest.raises(ValueError, match="more fields than its header"):
        list_columns(path)


def test_csv_trailing_delimiters_and_short_rows(tmp_path):
    path = tmp_path / "trail.csv"
    path.write_text("a,b\n1,2,\n4,5,\n")  # an empty extra field on every row: no data lost
    np.testing.assert_array_equal(as_source(path).read_all()[0], [[1, 2], [4, 5]])
    path = tmp_path / "short.csv"
    path.write_text("a,b\n1,2\n3\n5,6\n")  # a missing field is a missing value
    X = as_source(path).read_all()[0]
    np.testing.assert_array_equal(X[[0, 2]], [[1, 2], [5, 6]])
    assert X[1, 0] == 3 and np.isnan(X[1, 1])


def test_csv_selected_columns_still_check_every_field(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6,7\n")
    with pytest.raises(ChunkValueError, match="Expected 3 fields in line 3, saw 4"):
        as_source(path, columns=["b"]).read_all()
    path.write_text("a,b,c\n1,2,3\n4,5,6\n")
    np.testing.assert_array_equal(as_source(path, columns=["c", "a"]).read_all()[0],
                                  [[3, 1], [6, 4]])


# ---------------------------------------------------------------- CSV head caps


def test_csv_header_wider_than_max_columns_is_refused_before_pandas(tmp_path, monkeypatch):
    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"c{i}" for i in range(CSVSource.MAX_COLUMNS + 1)) + "\n")

    def no_pandas(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("pandas parsed the file")

    monkeypatch.setattr(pd, "read_csv", no_pandas)
    for call in (lambda: list_columns(path), lambda: CSVSource(path)):
        with pytest.raises(ValueError, match=rf"line 1 of CSV file .* has "
                                             rf"{CSVSource.MAX_COLUMNS + 1} fields"):
            call()


def test_csv_data_line_wider_than_max_columns_and_compressed_heads(tmp_path):
    path = tmp_path / "line.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write("a\n" + ",".join(["1.5"] * (CSVSource.MAX_COLUMNS + 5)) + "\n")
    with pytest.raises(ValueError, match=r"line 2 of CSV file .* has 10005 fields"):
        CSVSource(path)


def test_csv_first_line_longer_than_the_head(tmp_path, monkeypatch):
    monkeypatch.setattr(CSVSource, "HEAD_BYTES", 1000)
    path = tmp_path / "long.csv"
    path.write_text("a" * 5000 + "\n1\n")
    with pytest.raises(ValueError, match="first line of CSV file .* is longer than 1000 bytes"):
        CSVSource(path)
    # the partial line counts: more fields than the cap within the head
    monkeypatch.setattr(CSVSource, "MAX_COLUMNS", 100)
    path.write_text(",".join(["x"] * 2000) + "\n")
    with pytest.raises(ValueError, match="line 1 of CSV file .* has at least 501 fields"):
        CSVSource(path)


def test_nul_bytes_are_not_a_csv_file(tmp_path):
    path = tmp_path / "zeros.csv"
    path.write_bytes(b"\0" * (1 << 20))
    with pytest.raises(ValueError) as info:
        list_columns(path)
    assert "contains NUL characters" in str(info.value) and len(str(info.value)) < 300
    # UTF-16 text has NUL bytes too, and is read with the right encoding
    path = tmp_path / "u16.csv"
    path.write_bytes("a,b\n1,2\n3,4\n".encode("utf-16"))
    with pytest.raises(ValueError, match="encoding='utf-16'"):
        CSVSource(path)
    np.testing.assert_array_equal(CSVSource(path, encoding="utf-16").read_all()[0],
                                  [[1, 2], [3, 4]])


@pytest.mark.parametrize("garbage, what", [
    (b"\x89PNG\x00\x1a\xff\xfe,\x01\x02", "is not utf-8 text"),   # binary, with NULs
    (b"\x89PNG\x1a\xff\xfe,\x01\x02", "is not utf-8 text"),       # binary, no NUL
    (b"1.5\x00\x002,3", "contain non-numeric values"),             # NULs in a number
])
def test_csv_binary_bytes_far_down_are_a_chunk_error(tmp_path, garbage, what):
    """Binary bytes at row 700 of a text file: a ChunkValueError with the chunk and the
    row, from a pass (read_all, or a fit), not a ValueError without them."""
    from gmmx import GaussianMixture

    rng = np.random.default_rng(0)
    lines = [b"a,b"] + [b"%.6f,%.6f" % tuple(r) for r in rng.normal(size=(1000, 2))]
    lines[1 + 700] = garbage
    path = tmp_path / "binary.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    src = CSVSource(path, chunk_size=100)
    for run in (src.read_all, lambda: GaussianMixture(2, random_state=0).fit(src)):
        with pytest.raises(ChunkValueError, match=what) as info:
            run()
        assert info.value.chunk_index == 7 and info.value.row == 700
        assert str(info.value).startswith("chunk 7 (starting at row 700): ")
        assert "row 700" in str(info.value)[30:]


def test_unknown_column_messages_stay_short(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(",".join("c" * 300 + str(i) for i in range(2000)) + "\n1" + ",1" * 1999 + "\n")
    with pytest.raises(ValueError) as info:
        CSVSource(path, columns=["nope"])
    assert len(str(info.value)) < 2000 and "..." in str(info.value)


# ---------------------------------------------------------------- Parquet


pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def _corrupted_parquet(path, row_group=2, checksums=True, top_byte=None):
    """A 4-row-group file whose row group ``row_group`` has a flipped exponent bit
    (or its value 100's top byte set to ``top_byte``)."""
    rng = np.random.default_rng(0)
    table = pa.table({"x": rng.normal(size=2000), "y": rng.normal(size=2000)})
    pq.write_table(table, path, row_group_size=500, compression="NONE", use_dictionary=False,
                   write_page_checksum=checksums)
    col = pq.ParquetFile(path).metadata.row_group(row_group).column(0)
    header = col.total_compressed_size - 500 * 8  # page header before the values
    raw = bytearray(path.read_bytes())
    at = col.data_page_offset + header + 8 * 100 + 7
    raw[at] = raw[at] ^ 0x01 if top_byte is None else top_byte  # value 100: x 2**16, finite
    path.write_bytes(bytes(raw))
    return table


def test_parquet_page_checksums_are_verified(tmp_path):
    path = tmp_path / "bad.parquet"
    _corrupted_parquet(path)
    src = ParquetSource(path, chunk_size=300)
    with pytest.raises(ChunkOSError, match=r"row group 2 \(rows 1000 to 1499 of the file\) "
                                           r"could not be read .*CRC") as info:
        src.read_all()
    assert "bad.parquet" in str(info.value) and info.value.chunk_index == 3
    with pytest.raises(OSError, match=r"row group 2 could not be read .*CRC"):
        src.read_chunk(2)
    np.testing.assert_array_equal(src.read_chunk(1)[:, 0] * 0, np.zeros(500))


def test_parquet_without_checksums_reads_the_flipped_value(tmp_path):
    """The reason checksums matter: without them the corruption is silent."""
    path = tmp_path / "nock.parquet"
    table = _corrupted_parquet(path, checksums=False)
    X = ParquetSource(path).read_all()[0]
    x = table.column("x").to_numpy()
    assert X[1100, 0] != x[1100] and np.isfinite(X[1100, 0])
    np.testing.assert_array_equal(np.delete(X[:, 0], 1100), np.delete(x, 1100))


@pytest.mark.parametrize("start", ["sampled", "given"])
def test_fit_of_a_corrupted_page_names_the_chunk_with_the_absurd_value(tmp_path, start):
    """A corrupted uncompressed page read as a finite but absurd number (~1e230) is a
    ChunkValueError naming its chunk and row, whether the start samples the file (the
    sampling pass) or is given (the first E-step pass), not a failed M-step."""
    from gmmx import GaussianMixture

    path = tmp_path / "absurd.parquet"
    _corrupted_parquet(path, checksums=False, top_byte=0x6F)
    src = ParquetSource(path, chunk_size=300)
    assert abs(src.read_all()[0][1100, 0]) > 1e200
    init = {} if start == "sampled" else dict(
        weights_init=[0.5, 0.5], means_init=[[-1.0, 0.0], [1.0, 0.0]],
        precisions_init=np.tile(np.eye(2), (2, 1, 1)))
    with pytest.raises(ChunkValueError, match=r"row 1100 column 0 holds -?\d\.\d+e\+2\d\d, a "
                                              "value too large for float64") as info:
        GaussianMixture(2, random_state=0, **init).fit(src)
    assert info.value.chunk_index == 3 and info.value.row == 1100
    assert str(info.value).startswith("chunk 3 (starting at row 900)")


def test_parquet_undecodable_page_names_file_and_row_group(tmp_path):
    path = tmp_path / "hdr.parquet"
    rng = np.random.default_rng(0)
    pq.write_table(pa.table({"x": rng.normal(size=2000)}), path, row_group_size=500,
                   compression="NONE")
    off = pq.ParquetFile(path).metadata.row_group(3).column(0).data_page_offset
    raw = bytearray(path.read_bytes())
    raw[off:off + 6] = b"\xff" * 6
    path.write_bytes(bytes(raw))
    with pytest.raises(ChunkError, match=r"row group 3 \(rows 1500 to 1999 of the file\)"):
        ParquetSource(path, chunk_size=10_000).read_all()


# ---------------------------------------------------------------- ChunkError


def test_read_all_block_errors_are_chunk_value_errors():
    src = IterableSource([np.zeros((4, 2)), np.zeros((3, 2)), np.zeros((3, 3))])
    with pytest.raises(ChunkValueError, match=r"chunk 2 \(starting at row 7\)") as info:
        src.read_all()
    assert info.value.chunk_index == 2 and info.value.row == 7
    with pytest.raises(ChunkValueError, match="non-negative") as info:
        IterableSource([np.zeros((2, 1)), (np.zeros((2, 1)), [1.0, -1.0])]).read_all()
    assert info.value.chunk_index == 1 and info.value.row == 2


def test_iter_blocks_wraps_source_errors():
    def gen():
        yield np.zeros((5, 1))
        raise OSError("disk gone")

    with pytest.raises(ChunkOSError, match=r"chunk 1 \(starting at row 5\).*disk gone") as info:
        list(iter_blocks(IterableSource(gen)))
    assert isinstance(info.value.__cause__, OSError) and info.value.row == 5


@pytest.mark.parametrize("cls", [ChunkError, ChunkValueError, ChunkOSError])
def test_chunk_errors_keep_their_attributes_across_processes(cls):
    e = pickle.loads(pickle.dumps(cls("chunk 3: bad", 3, 1234)))
    assert type(e) is cls and str(e) == "chunk 3: bad"
    assert e.chunk_index == 3 and e.row == 1234


def test_no_parser_warning_leaks(tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(as_source(path).read_all()[0], [[1, 2], [3, 4]])


@pytest.mark.parametrize("text, found", [
    ("a,b\n1,2\n3,4\n", None),
    ("a,b\n1,2,\n4,5,\n", None),                 # one trailing separator is not a field
    ('a,b\n"1,5",2\n3,"4,5"\n', None),           # quoted separators are not fields
    ("a,b\n1,2\n3,4\n9,9,9\n7,8\n", (4, 3)),
    ('a,b\n"1,5",2,7\n', (2, 3)),
])
def test_field_count_scan_of_pandas2_reads(tmp_path, text, found):
    """The scan that stands in for pandas < 3's missing check at chunk starts."""
    import gzip

    from gmmx.sources.csv import _first_long_line

    path = tmp_path / "x.csv"
    path.write_text(text)
    assert _first_long_line(path, {}, 2) == found
    zipped = tmp_path / "x.csv.gz"
    zipped.write_bytes(gzip.compress(text.encode()))
    assert _first_long_line(zipped, {}, 2) == found


@pytest.mark.filterwarnings("ignore:The 'float_precision' argument is deprecated")
def test_pandas2_csv_path_by_version(tmp_path, monkeypatch):
    """The branches for pandas < 3, run on the installed pandas by faking its version:
    exact float parsing is asked for, and a row with extra fields at the start of a
    later chunk (which pandas 2's C parser lets through) is found by the field-count
    scan, once per file version."""
    import pandas as pd

    from gmmx.sources import csv as csv_module

    monkeypatch.setattr(pd, "__version__", "2.3.3")
    assert csv_module._pandas_before_3(pd)
    calls = {"read_csv": [], "scan": 0}
    real_read_csv, real_scan = pd.read_csv, csv_module._first_long_line

    def read_csv(*args, **kwargs):
        calls["read_csv"].append(kwargs)
        return real_read_csv(*args, **kwargs)

    def scan(*args, **kwargs):
        calls["scan"] += 1
        return real_scan(*args, **kwargs)

    monkeypatch.setattr(pd, "read_csv", read_csv)
    monkeypatch.setattr(csv_module, "_first_long_line", scan)
    values = np.random.default_rng(0).normal(size=(40, 2)) * 1e-3
    path = tmp_path / "exact.csv"
    # a quoted header: pandas reads the file (plain numeric files are parsed by NumPy)
    path.write_text('"a","b"\n' + "".join(f"{float(x)!r},{float(y)!r}\n" for x, y in values))
    src = CSVSource(path, chunk_size=16)
    np.testing.assert_array_equal(src.read_all()[0], values)  # bit for bit
    assert calls["read_csv"][-1]["float_precision"] == "round_trip"
    src.read_all()
    assert calls["scan"] == 1  # the file did not change: scanned once
    lines = path.read_text().splitlines()
    lines[1 + 16] += ",9"  # the first row of the second chunk
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ChunkError, match=r"Expected 2 fields in line 18, saw 3"):
        CSVSource(path, chunk_size=16).read_all()
    assert calls["scan"] == 2
    # the python engine and multi-character separators are not the C parser: no scan
    assert not csv_module._pandas2_misses_extra_fields(pd, {"engine": "python"})
    assert csv_module._pandas2_options(pd, {"engine": "python"}) == {}
