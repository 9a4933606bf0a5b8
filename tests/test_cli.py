"""Tests of the ``gmmx`` command (gmmx.cli): in-process through ``main`` and
once through ``python -m gmmx`` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import gmmx
from gmmx.cli import main, simulate_regime_returns


def two_blobs(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    half = n // 2
    return np.concatenate([rng.normal([0.0, 0.0], [1.0, 1.0], (half, 2)),
                           rng.normal([6.0, 3.0], [1.0, 0.5], (n - half, 2))])


def regime_prices(n=6000, seed=1):
    rng = np.random.default_rng(seed)
    r = np.where(rng.random(n) < 0.2, rng.normal(0, 3e-3, n), rng.normal(0, 1e-3, n))
    return 100.0 * np.exp(np.cumsum(r))


@pytest.fixture
def npy_file(tmp_path):
    path = tmp_path / "blobs.npy"
    np.save(path, two_blobs())
    return path


@pytest.fixture
def csv_file(tmp_path):
    pd = pytest.importorskip("pandas")
    X = two_blobs()
    df = pd.DataFrame({"a": X[:, 0], "b": X[:, 1],
                       "label": np.where(np.arange(len(X)) % 2, "x", "y")})
    path = tmp_path / "blobs.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture
def prices_csv(tmp_path):
    pd = pytest.importorskip("pandas")
    p = regime_prices()
    path = tmp_path / "prices.csv"
    pd.DataFrame({"time": [f"t{i}" for i in range(p.size)], "price": p}).to_csv(
        path, index=False)
    return path


def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


# -------------------------------------------------------------------- fit


def test_fit_npy_table(capsys, npy_file):
    rc, out, err = run(capsys, "fit", npy_file, "-k", "2")
    assert rc == 0, err
    assert "K = 2" in out and "converged" in out
    assert "component 0" in out and "covariance (full)" in out
    assert "Traceback" not in err


def test_fit_selects_k_by_bic_json(capsys, csv_file):
    rc, out, err = run(capsys, "fit", csv_file, "-k", "1-3", "--json")
    assert rc == 0, err
    s = json.loads(out)  # stdout is pure JSON; notes went to stderr
    assert s["n_components"] == 2
    assert [r["n_components"] for r in s["selection"]] == [1, 2, 3]
    bics = {r["n_components"]: r["bic"] for r in s["selection"]}
    assert bics[2] == min(bics.values()) == s["bic"]
    assert s["features"] == ["a", "b"]  # the text column is skipped ...
    assert "skipped non-numeric columns: label" in err  # ... and said so
    assert np.isclose(sum(s["weights"]), 1.0)
    means = np.sort(np.asarray(s["means"])[:, 0])
    assert np.allclose(means, [0.0, 6.0], atol=0.15)
    assert np.asarray(s["covariances"]).shape == (2, 2, 2)


def test_fit_text_table_shows_selection(capsys, csv_file):
    rc, out, _ = run(capsys, "fit", csv_file, "-k", "1,2", "--covariance-type", "diag")
    assert rc == 0
    assert "lowest BIC" in out and "covariance diag" in out


def test_fit_returns_risk_out_and_info(capsys, prices_csv, tmp_path):
    model_path = tmp_path / "ret.npz"
    rc, out, err = run(capsys, "fit", prices_csv, "--returns", "--columns", "price",
                       "--out", model_path, "--alpha", "0.01,0.05")
    assert rc == 0, err
    assert "log returns" in out
    assert "mixture moments" in out and "VaR" in out and "ES" in out
    assert model_path.exists()

    rc, out, err = run(capsys, "fit", prices_csv, "--returns", "--json")
    s = json.loads(out)
    assert s["n_samples"] == 6000 - 1 and s["features"] == ["logret(price)"]
    risk = {r["alpha"]: r for r in s["risk"]}
    assert 0 < risk[0.05]["value_at_risk"] < risk[0.01]["value_at_risk"]
    assert risk[0.01]["expected_shortfall"] > risk[0.01]["value_at_risk"]
    assert s["moments"]["excess_kurtosis"] > 0.5  # a scale mixture is leptokurtic

    rc, out, err = run(capsys, "info", model_path)
    assert rc == 0, err
    assert "K = 2" in out and "1 feature" in out and "VaR" in out

    rc, out, _ = run(capsys, "info", model_path, "--json")
    info = json.loads(out)
    loaded = gmmx.load(model_path)
    assert np.allclose(info["weights"], loaded.weights_)


def test_stream_matches_in_memory(capsys, npy_file):
    rc, out, _ = run(capsys, "fit", npy_file, "-k", "2", "--json", "--tol", "1e-10")
    assert rc == 0
    mem = json.loads(out)
    rc, out, _ = run(capsys, "fit", npy_file, "-k", "2", "--json", "--tol", "1e-10",
                     "--stream", "--chunk-size", "700")
    assert rc == 0
    streamed = json.loads(out)
    assert streamed["stream"] is True
    order_m = np.argsort(np.asarray(mem["means"])[:, 0])
    order_s = np.argsort(np.asarray(streamed["means"])[:, 0])
    assert np.allclose(np.asarray(mem["means"])[order_m],
                       np.asarray(streamed["means"])[order_s], atol=1e-6)
    assert streamed["n_samples"] == mem["n_samples"] == 4000


def test_stream_returns_match_in_memory(capsys, prices_csv):
    rc, out, _ = run(capsys, "fit", prices_csv, "--returns", "--json", "--tol", "1e-10")
    mem = json.loads(out)
    rc, out, err = run(capsys, "fit", prices_csv, "--returns", "--json", "--tol", "1e-10",
                       "--stream", "--chunk-size", "500")
    assert rc == 0, err
    streamed = json.loads(out)
    # the carried-over last price of each chunk: same returns, same count
    assert streamed["n_samples"] == mem["n_samples"]
    assert np.allclose(sorted(streamed["weights"]), sorted(mem["weights"]), atol=1e-5)


@pytest.mark.parametrize("stream", [False, True])
def test_npy_columns_by_index(capsys, npy_file, stream):
    extra = ["--stream", "--chunk-size", "999"] if stream else []
    rc, out, err = run(capsys, "fit", npy_file, "--columns", "1", "-k", "2", "--json", *extra)
    assert rc == 0, err
    s = json.loads(out)
    assert s["features"] == ["x1"] and s["n_features"] == 1
    assert np.allclose(sorted(np.ravel(s["means"])), [0.0, 3.0], atol=0.1)


def test_parquet(capsys, tmp_path):
    pytest.importorskip("pyarrow")
    pd = pytest.importorskip("pandas")
    X = two_blobs()
    path = tmp_path / "blobs.parquet"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1]}).to_parquet(path)
    for extra in ([], ["--stream", "--chunk-size", "1000"]):
        rc, out, err = run(capsys, "fit", path, "-k", "2", "--json", *extra)
        assert rc == 0, err
        assert json.loads(out)["n_samples"] == 4000


def test_missing_values_are_dropped_with_a_note(capsys, tmp_path):
    pd = pytest.importorskip("pandas")
    X = two_blobs()
    X[:10, 0] = np.nan
    path = tmp_path / "gaps.csv"
    pd.DataFrame(X, columns=["a", "b"]).to_csv(path, index=False)
    rc, out, err = run(capsys, "fit", path, "--json")
    assert rc == 0
    assert json.loads(out)["n_samples"] == 3990
    assert "dropped 10 rows" in err


def test_plot_written(capsys, csv_file, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "fit.png"
    rc, out, err = run(capsys, "fit", csv_file, "-k", "2", "--plot", png)
    assert rc == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------- demo


def test_demo(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "demo.png"
    model_path = tmp_path / "demo.npz"
    rc, out, err = run(capsys, "demo", "--n-samples", "50000", "--plot", png,
                       "--out", model_path)
    assert rc == 0, err
    assert "50,000 tick returns" in out
    assert "recovered: calm weight" in out and "VaR" in out
    assert png.stat().st_size > 10_000
    assert gmmx.load(model_path).n_components == 2


def test_demo_json_recovers_truth(capsys):
    rc, out, err = run(capsys, "demo", "--n-samples", "200000", "--no-plot", "--json")
    assert rc == 0, err
    s = json.loads(out)
    order = np.argsort(np.asarray(s["covariances"])[:, 0, 0])
    stds = np.sqrt(np.asarray(s["covariances"])[order, 0, 0])
    assert np.allclose(stds, s["truth"]["stds"], rtol=0.05)
    assert np.allclose(np.asarray(s["weights"])[order], s["truth"]["weights"], atol=0.03)


def test_simulate_regime_returns():
    r, states, truth = simulate_regime_returns(300_000, seed=3)
    assert r.shape == states.shape == (300_000,)
    assert abs(states.mean() - truth["weights"][1]) < 0.03
    assert np.isclose(r[states == 1].std(), truth["stds"][1], rtol=0.05)
    again, _, _ = simulate_regime_returns(300_000, seed=3)
    assert np.array_equal(r, again)


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize("argv, message", [
    (["fit", "{tmp}/nope.csv"], "no such file"),
    (["fit", "{tmp}/data.xyz"], "cannot tell the format"),
    (["info", "{tmp}/nope.npz"], "no such file"),
    (["info", "{npy}"], "not a valid gmmx model"),
    (["fit", "{npy}", "--columns", "7"], "unknown column '7'"),
    (["fit", "{npy}", "-k", "5000"], "cannot fit 5000 components"),
])
def test_data_errors_exit_1(capsys, tmp_path, npy_file, argv, message):
    (tmp_path / "data.xyz").write_text("1,2\n")
    argv = [a.format(tmp=tmp_path, npy=npy_file) for a in argv]
    rc, out, err = run(capsys, *argv)
    assert rc == 1
    assert err.startswith("gmmx: error: ") and message in err
    assert "Traceback" not in err and out == ""


def test_csv_column_errors_exit_1(capsys, csv_file, tmp_path):
    rc, _, err = run(capsys, "fit", csv_file, "--columns", "a,zz")
    assert rc == 1 and "unknown column 'zz'" in err and "a, b, label" in err
    rc, _, err = run(capsys, "fit", csv_file, "--columns", "label")
    assert rc == 1 and "not numeric" in err
    rc, _, err = run(capsys, "fit", csv_file, "--returns")
    assert rc == 1 and "one price column" in err

    import pandas as pd

    # a non-numeric value far below the rows used to sniff the column types
    df = pd.read_csv(csv_file)
    df["a"] = df["a"].astype(object)
    df.loc[3000, "a"] = "oops"
    bad = tmp_path / "bad.csv"
    df.to_csv(bad, index=False)
    rc, _, err = run(capsys, "fit", bad, "--columns", "a,b")
    assert rc == 1 and "non-numeric" in err and "Traceback" not in err
    rc, _, err = run(capsys, "fit", bad, "--columns", "a,b", "--stream")
    assert rc == 1 and "non-numeric" in err


@pytest.mark.parametrize("argv", [
    [],
    ["frobnicate"],
    ["fit"],
    ["fit", "x.csv", "-k", "abc"],
    ["fit", "x.csv", "-k", "0"],
    ["fit", "x.csv", "-k", "5-2"],
    ["fit", "x.csv", "--covariance-type", "weird"],
    ["fit", "x.csv", "--alpha", "0.9"],
    ["demo", "--n-samples", "-3"],
])
def test_bad_options_exit_2(capsys, argv):
    rc, out, err = run(capsys, *argv)
    assert rc == 2
    assert "usage: gmmx" in err and "Traceback" not in err


def test_help_and_version(capsys):
    rc, out, _ = run(capsys, "--help")
    assert rc == 0 and "demo" in out and "fit" in out and "info" in out
    rc, out, _ = run(capsys, "--version")
    assert rc == 0 and gmmx.__version__ in out


# ------------------------------------------------------------- subprocess


def _env():
    # Import the same gmmx as this test session: the installed wheel under
    # ci/test_wheel.sh, the source tree in a development checkout.
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(gmmx.__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    env["MPLBACKEND"] = "Agg"
    return env


def test_python_m_gmmx_subprocess(tmp_path, npy_file):
    proc = subprocess.run(
        [sys.executable, "-m", "gmmx", "fit", str(npy_file), "-k", "2", "--json"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["n_components"] == 2

    proc = subprocess.run(
        [sys.executable, "-m", "gmmx", "fit", str(tmp_path / "missing.npy")],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("gmmx: error: no such file")
    assert "Traceback" not in proc.stderr
