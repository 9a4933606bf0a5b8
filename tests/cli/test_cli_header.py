"""``gmmx fit`` of a CSV without a header: every row is fitted and counted."""

import json
import subprocess
import sys

import numpy as np
import pytest

from gmmx.cli import main

pytest.importorskip("pandas")


def _blobs(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    return np.r_[rng.normal(0, 1, (n // 2, 2)), rng.normal(6, 1, (n - n // 2, 2))]


def test_fit_json_counts_every_row_of_a_headerless_file(tmp_path):
    path = tmp_path / "noheader.csv"
    np.savetxt(path, _blobs(), delimiter=",", fmt="%.10g")
    out = subprocess.run([sys.executable, "-m", "gmmx", "fit", str(path), "--json"],
                         capture_output=True, text=True, check=True)
    summary = json.loads(out.stdout)
    assert summary["n_samples"] == 1000
    assert summary["features"] == ["0", "1"]
    assert "read as data" in out.stderr


def test_text_output_and_header_options(tmp_path, capsys):
    path = tmp_path / "noheader.csv"
    np.savetxt(path, _blobs(), delimiter=",", fmt="%.10g")
    assert main(["fit", str(path)]) == 0
    assert "rows 1,000 " in capsys.readouterr().out
    assert main(["fit", str(path), "--header"]) == 0  # the user says line 1 is a header
    assert "rows 999 " in capsys.readouterr().out
    assert main(["fit", str(path), "--no-header", "--columns", "1", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n_samples"] == 1000
    assert "read as data" not in captured.err  # said, not inferred


def test_header_options_are_for_text_files(tmp_path, capsys):
    path = tmp_path / "x.npy"
    np.save(path, _blobs(10))
    assert main(["fit", str(path), "--no-header"]) == 1
    assert "apply to delimited text files only" in capsys.readouterr().err
