"""CSVSource's header=: a headerless file of numbers loses no row."""

import numpy as np
import pytest

from gmmx.sources import CSVSource, as_source, list_columns

pytest.importorskip("pandas")


def _rows(n=1000, d=2, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d))


def _headerless(tmp_path, X, name="data.csv", sep=","):
    path = tmp_path / name
    np.savetxt(path, X, delimiter=sep, fmt="%.17g")
    return path


def test_headerless_numeric_file_keeps_its_first_row(tmp_path):
    X = _rows()
    src = as_source(_headerless(tmp_path, X))
    assert not src.has_header
    assert src.columns == ["0", "1"]
    got, _ = src.read_all()
    assert got.shape == (1000, 2)
    np.testing.assert_array_equal(got, X)  # %.17g round-trips exactly


def test_header_is_detected_and_can_be_forced(tmp_path):
    X = _rows(20)
    path = tmp_path / "named.csv"
    np.savetxt(path, X, delimiter=",", header="a,b", comments="", fmt="%.17g")
    src = CSVSource(path)
    assert src.has_header and src.columns == ["a", "b"]
    assert src.read_all()[0].shape == (20, 2)
    # a header of numbers is data unless header=True says otherwise
    numeric = tmp_path / "numeric_names.csv"
    np.savetxt(numeric, X, delimiter=",", header="1,2", comments="", fmt="%.17g")
    assert as_source(numeric).read_all()[0].shape == (21, 2)
    forced = as_source(numeric, header=True)
    assert forced.has_header and forced.columns == ["1", "2"]
    np.testing.assert_array_equal(forced.read_all()[0], X)


def test_no_header_names_the_columns_by_position(tmp_path):
    X = _rows(30, 3)
    path = tmp_path / "named.csv"
    np.savetxt(path, X, delimiter=",", header="a,b,c", comments="", fmt="%.17g")
    src = as_source(path, header=False, columns=["1"])
    assert not src.has_header
    # the header line is now data: 'a' is not a number
    with pytest.raises(ValueError, match="non-numeric"):
        src.read_all()
    assert [c.name for c in list_columns(path, header=False)] == ["0", "1", "2"]
    assert [c.name for c in list_columns(path)] == ["a", "b", "c"]


def test_first_row_with_a_missing_value_is_still_data(tmp_path):
    path = tmp_path / "gap.csv"
    path.write_text("1.5,,3\n4,5,6\n")
    src = CSVSource(path)
    got = src.read_all()[0]
    assert got.shape == (2, 3) and np.isnan(got[0, 1])


def test_semicolon_decimal_comma_headerless(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("1,5;2\n3;4,25\n")
    src = CSVSource(path, sep=";", decimal=",")
    np.testing.assert_array_equal(src.read_all()[0], [[1.5, 2.0], [3.0, 4.25]])


def test_bad_header_value_is_refused(tmp_path):
    path = _headerless(tmp_path, _rows(5))
    with pytest.raises(ValueError, match="header must be 'infer', True or False"):
        CSVSource(path, header="yes")
    with pytest.raises(ValueError, match="header= alone"):
        CSVSource(path, header=False, names=["a", "b"])
