"""Format details of the file sources: suffixes, column types, messages."""

import numpy as np
import pytest

from gmmx.sources import CSVSource, ParquetSource, as_source, find_format


@pytest.mark.parametrize("name", ["a.csv", "a.tsv", "a.txt", "a.csv.gz", "a.tsv.xz", "a.txt.bz2",
                                  "a.TSV.ZST", "a.txt.zip", "a.csv.zip"])
def test_every_compressed_text_suffix_is_csv(name):
    assert find_format(name).name == "csv"


def test_compressed_tsv_is_read(tmp_path):
    pd = pytest.importorskip("pandas")
    X = np.arange(12.0).reshape(6, 2)
    path = tmp_path / "x.tsv.gz"
    pd.DataFrame(X, columns=["a", "b"]).to_csv(path, sep="\t", index=False)
    src = as_source(path, sep="\t", chunk_size=4)
    assert isinstance(src, CSVSource)
    np.testing.assert_array_equal(np.concatenate(list(src.chunks())), X)


def test_parquet_decimal_columns_are_numeric(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    import decimal

    price = pa.array([decimal.Decimal("1.50"), None, decimal.Decimal("2.25")], pa.decimal128(10, 2))
    pq.write_table(pa.table({"price": price, "n": [1, 2, 3], "s": ["a", "b", "c"]}),
                   tmp_path / "d.parquet")
    src = ParquetSource(tmp_path / "d.parquet")
    assert src.columns == ["price", "n"]
    (X,) = list(src.chunks())
    np.testing.assert_array_equal(X, [[1.5, 1.0], [np.nan, 2.0], [2.25, 3.0]])


def test_csv_non_numeric_message_shows_a_value(tmp_path):
    pd = pytest.importorskip("pandas")
    path = tmp_path / "bad.csv"
    pd.DataFrame({"a": ["1.0", "2.0", "oops", None], "b": [1.0, 2.0, 3.0, 4.0]}).to_csv(
        path, index=False)
    with pytest.raises(ValueError, match=r"CSV columns \['a'\] contain non-numeric values "
                                         r"\(e\.g\. 'oops' in column 'a'\)"):
        list(CSVSource(path).chunks())
