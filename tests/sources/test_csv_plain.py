"""Plain numeric CSV files are read by NumPy (no pandas import); the blocks equal pandas'."""

import subprocess
import sys

import numpy as np
import pytest

from gmmx.sources import CSVSource, as_source, list_columns

pd = pytest.importorskip("pandas")


def _write(path, X, header="a,b,c", sep=","):
    np.savetxt(path, X, delimiter=sep, header=header, comments="", fmt="%.17g")
    return path


def _pandas_read(path, **kw):
    # engine= is an option only pandas honours: the pandas reader, for reference
    return CSVSource(path, engine="c", **kw)


@pytest.mark.parametrize("chunk_size", [7, 1000])
def test_plain_blocks_equal_pandas(tmp_path, rng, chunk_size):
    X = rng.normal(size=(300, 3)) * [1e-8, 1.0, 1e8]
    X[:, 1] = np.abs(X[:, 1]) + 0.5  # the weights
    X[5, 0] = np.inf
    X[6, 2] = np.nan  # written as "nan" / "inf": plain numbers
    path = _write(tmp_path / "x.csv", X)
    plain = CSVSource(path, columns=["c", "a"], weight_column="b", chunk_size=chunk_size)
    assert plain._plain_sep == ","
    ref = _pandas_read(path, columns=["c", "a"], weight_column="b", chunk_size=chunk_size)
    assert ref._plain_sep is None
    for (xa, wa), (xb, wb) in zip(plain.chunks(), ref.chunks(), strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(wa, wb)
    got = list(plain.chunks())
    np.testing.assert_array_equal(np.concatenate([x for x, _ in got]), X[:, [2, 0]])
    np.testing.assert_array_equal(np.concatenate([w for _, w in got]), X[:, 1])


def test_chunks_pandas_must_parse_still_read_right(tmp_path, rng):
    # a missing value and a row of text in later chunks: those chunks go to pandas
    lines = ["a;b"] + [f"{x:.17g};{y:.17g}" for x, y in rng.normal(size=(50, 2))]
    lines[30] = "1.5;"  # missing value: NaN, as pandas reads it
    path = tmp_path / "semi.csv"
    path.write_text("\n".join(lines) + "\n")
    got = CSVSource(path, sep=";", chunk_size=8).read_all()[0]
    want = pd.read_csv(path, sep=";").to_numpy()
    np.testing.assert_array_equal(got, want)
    lines[45] = "oops;1"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="non-numeric values"):
        CSVSource(path, sep=";", chunk_size=8).read_all()


def test_extra_field_in_a_later_chunk_names_the_file_line(tmp_path, rng):
    lines = ["a,b"] + [f"{x:.17g},{y:.17g}" for x, y in rng.normal(size=(40, 2))]
    lines[25] = "1,2,3"
    path = tmp_path / "long.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="Expected 2 fields in line 26, saw 3"):
        CSVSource(path, chunk_size=10).read_all()


def test_headers_pandas_would_rename_go_to_pandas(tmp_path, rng):
    X = rng.normal(size=(10, 3))
    for header, names in (("a,a,b", ["a", "a.1", "b"]), ('"a","b","c"', ["a", "b", "c"]),
                          ("a,,c", ["a", "Unnamed: 1", "c"])):
        path = _write(tmp_path / "h.csv", X, header=header)
        src = as_source(path)
        assert src._plain_sep is None and src.columns == names
        assert [c.name for c in list_columns(path)] == names


def test_list_columns_of_a_plain_file(tmp_path, rng):
    path = _write(tmp_path / "x.csv", rng.normal(size=(20, 3)))
    assert [(c.name, c.numeric) for c in list_columns(path)] == [
        ("a", True), ("b", True), ("c", True)]


def test_a_plain_csv_is_read_without_pandas(tmp_path, rng):
    path = _write(tmp_path / "x.csv", rng.normal(size=(100, 3)))
    code = ("import sys; from gmmx.sources import as_source, list_columns; "
            f"list_columns({str(path)!r}); X, _ = as_source({str(path)!r}).read_all(); "
            "assert X.shape == (100, 3); print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
