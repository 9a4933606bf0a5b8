"""gmmx fit options that must do what they say: --sep wins, --cache-dir errors name it."""

import json
import os

import numpy as np
import pytest

from gmmx.cli import main
from gmmx.sources import CSVSource

pytest.importorskip("pandas")


@pytest.fixture
def semicolon_csv(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "semi.csv"
    lines = ["a;b"] + [f"{x:.6f};{y:.6f}" for x, y in rng.normal(size=(200, 2))]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_given_sep_is_kept_not_sniffed(semicolon_csv):
    assert CSVSource.sniff_read_options(semicolon_csv) == {"sep": ";"}
    assert CSVSource.sniff_read_options(semicolon_csv, sep=",") == {"sep": ","}


def test_sep_comma_on_a_semicolon_file_reads_one_column(semicolon_csv, capsys):
    # With --sep , every line is one field "x;y": no numeric column.
    assert main(["fit", str(semicolon_csv), "--sep", ","]) == 1
    assert "no numeric columns (columns: a;b)" in capsys.readouterr().err
    assert main(["fit", str(semicolon_csv), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["features"] == ["a", "b"]


def test_missing_cache_dir_is_named_as_the_option(semicolon_csv, tmp_path, capsys):
    missing = tmp_path / "nope"
    assert main(["fit", str(semicolon_csv), "--stream", "--cache-dir", str(missing)]) == 1
    err = capsys.readouterr().err
    assert "--cache-dir" in err and "is not a directory; create it first" in err
    assert "cache_dir=None" not in err


def test_read_only_cache_dir_is_named_as_the_option(semicolon_csv, tmp_path, capsys,
                                                   monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access  # a read-only directory, also for root (who may write anywhere)
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: (
        False if os.fspath(p) == str(ro) and mode & os.W_OK else real(p, mode, **kw)))
    assert main(["fit", str(semicolon_csv), "--stream", "--cache-dir", str(ro)]) == 1
    err = capsys.readouterr().err
    assert "--cache-dir" in err and "is not writable" in err
