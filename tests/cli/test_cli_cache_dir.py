"""gmmx fit --stream --cache-dir: the same model as without, the copy gone at the end,
and clear errors where the option does not apply."""

import gc
import json
import os

import numpy as np
import pytest

from conftest import DATA_DIR
from gmmx.cli import main

FAITHFUL = str(DATA_DIR / "faithful.csv")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def _run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def faithful_parquet(tmp_path):
    X = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    path = str(tmp_path / "f.parquet")
    pq.write_table(pa.table({"eruptions": X[:, 0], "waiting": X[:, 1]}), path)
    return path


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_cache_dir_gives_the_same_model_and_leaves_nothing(capsys, tmp_path, faithful_parquet,
                                                           fmt):
    path = faithful_parquet if fmt == "parquet" else FAITHFUL
    cache = tmp_path / "cache"
    cache.mkdir()
    args = ["fit", path, "-k", "1-3", "--stream", "--chunk-size", "50", "--json"]
    rc, out, err = _run(capsys, *args)
    assert rc == 0, err
    plain = json.loads(out)
    rc, out, err = _run(capsys, *args, "--cache-dir", str(cache))
    assert rc == 0, err
    cached = json.loads(out)
    assert cached["n_components"] == plain["n_components"]
    for key in ("weights", "means", "covariances"):
        np.testing.assert_array_equal(np.asarray(cached[key]), np.asarray(plain[key]))
    assert cached["bic"] == plain["bic"]
    gc.collect()
    assert os.listdir(cache) == []


def test_cache_dir_needs_stream(capsys, tmp_path):
    rc, out, err = _run(capsys, "fit", FAITHFUL, "--cache-dir", str(tmp_path))
    assert rc == 1 and "--cache-dir needs --stream" in err


def test_cache_dir_is_refused_for_npy(capsys, tmp_path):
    npy = tmp_path / "f.npy"
    np.save(npy, np.loadtxt(FAITHFUL, delimiter=",", skiprows=1))
    rc, out, err = _run(capsys, "fit", str(npy), "--stream", "--cache-dir", str(tmp_path))
    assert rc == 1 and "--cache-dir applies to Parquet and CSV files" in err


def test_cache_dir_must_exist(capsys, tmp_path):
    rc, out, err = _run(capsys, "fit", FAITHFUL, "--stream", "--cache-dir",
                        str(tmp_path / "nope"))
    assert rc == 1 and "is not a directory; create it first" in err
