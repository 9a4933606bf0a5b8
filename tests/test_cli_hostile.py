"""The ``gmmx`` command under hostile files and arguments: short messages, the
right exit status, no traceback, and one missing-value policy."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest

from gmmx.cli import MAX_MESSAGE_CHARS, main

pytestmark = pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")


def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _data(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0, 1, (n // 2, 2)), rng.normal(5, 1, (n - n // 2, 2))])


@pytest.fixture
def npy(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, _data())
    return path


def _short_error(rc, err, status=1):
    assert rc == status, err
    assert "Traceback" not in err
    assert len(err) < MAX_MESSAGE_CHARS + 400, len(err)


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize("k, expected", [
    ("1-1000000000000", "at most 10000 components"),
    ("1-100", "at most 64 candidate values of K"),
    ("2,3," + ",".join(str(i) for i in range(10, 80)), "at most 64 candidate values"),
    ("5000000", "at most 10000 components"),
    ("0-3", "must be >= 1"),
    ("x" * 10_000, "expected a number of components"),
])
def test_absurd_k_is_a_usage_error(capsys, npy, k, expected, monkeypatch):
    # Was a time bound (< 5 s); what it guarded, measured: -k is refused while
    # parsing, without building the range (peak memory) and before any fit.
    from gmmx.mixture import GaussianMixtureIC

    def no_fit(*a, **kw):  # pragma: no cover - must not be reached
        raise AssertionError("a fit started")

    monkeypatch.setattr(GaussianMixtureIC, "fit", no_fit)
    tracemalloc.start()
    try:
        rc, out, err = run(capsys, "fit", npy, "-k", k)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    _short_error(rc, err, status=2)
    assert expected in err
    assert peak < 4 << 20  # a list of even 10**6 values of K would take 8 MB


@pytest.mark.parametrize("threads", ["3000000000", "0", "-5000", "lots"])
def test_absurd_thread_counts_are_a_usage_error(capsys, npy, threads):
    rc, out, err = run(capsys, "fit", npy, "--threads", threads)
    _short_error(rc, err, status=2)
    assert "--threads" in err and "thread count from 1 to 1024" in err


def test_reasonable_thread_counts_still_work(capsys, npy):
    for threads in ("1", "-1"):
        rc, out, err = run(capsys, "fit", npy, "--threads", threads, "--json")
        assert rc == 0, err


# ---------------------------------------------------------------- hostile CSV


def test_header_of_a_million_columns_in_small(capsys, tmp_path, monkeypatch):
    """A header-only CSV far wider than MAX_COLUMNS: refused from the head, quickly.

    Was a time bound (< 5 s); what it guarded, counted: the head is read once,
    at most HEAD_BYTES of it, and no parser ever sees the file.
    """
    from gmmx.sources import csv as csv_module

    path = tmp_path / "wide.csv"
    path.write_text(",".join(f"column_{i}" for i in range(40_000)) + "\n")
    heads = []
    real_head = csv_module._read_head
    monkeypatch.setattr(csv_module, "_read_head",
                        lambda p, c, n: heads.append(n) or real_head(p, c, n))

    def no_parse(*a, **kw):  # pragma: no cover - must not be reached
        raise AssertionError("the file was parsed")

    monkeypatch.setattr(csv_module, "_read_strict", no_parse)
    rc, out, err = run(capsys, "fit", path)
    _short_error(rc, err)
    assert "line 1 of CSV file" in err and "at most 10000 columns" in err
    assert len(heads) <= 2 and max(heads) <= csv_module.CSVSource.HEAD_BYTES


def test_a_million_numbers_on_one_line_in_small(capsys, tmp_path):
    path = tmp_path / "line.csv"
    path.write_text("a\n" + ",".join(["0.123"] * 40_000) + "\n")
    rc, out, err = run(capsys, "fit", path)
    _short_error(rc, err)
    assert "line 2 of CSV file" in err


def test_nul_bytes_named_csv(capsys, tmp_path):
    path = tmp_path / "zeros.csv"
    path.write_bytes(b"\0" * (1 << 20))
    rc, out, err = run(capsys, "fit", path)
    _short_error(rc, err)
    assert "contains NUL characters" in err and "\0" not in err


def test_long_messages_are_cut(capsys, tmp_path):
    path = tmp_path / "x.csv"
    names = ["n" * 500 + str(i) for i in range(1000)]
    path.write_text(",".join(names) + "\n" + ",".join(["1"] * 1000) + "\n")
    rc, out, err = run(capsys, "fit", path, "--columns", "q" * 5000)
    _short_error(rc, err)
    assert "unknown column" in err


def test_csv_row_with_an_extra_field(capsys, tmp_path):
    path = tmp_path / "x.csv"
    X = _data(1500)  # the bad row is past the rows read to tell the column types
    rows = [f"{a},{b}" for a, b in X]
    rows.insert(1300, "99,99,99")
    path.write_text("a,b\n" + "\n".join(rows) + "\n")
    for extra in ([], ["--stream"]):
        rc, out, err = run(capsys, "fit", path, *extra)
        _short_error(rc, err)
        assert "Expected 2 fields in line 1302, saw 3" in err


# ---------------------------------------------------------------- missing values


def test_missing_values_are_dropped_the_same_way_in_memory_and_streamed(capsys, tmp_path):
    X = _data()
    X[[3, 400, 401], 0] = np.nan
    X[900, 1] = np.inf
    path = tmp_path / "gaps.csv"
    path.write_text("a,b\n" + "\n".join(
        ",".join("" if np.isnan(v) else repr(float(v)) for v in row) for row in X) + "\n")
    results = []
    for extra in ([], ["--stream", "--chunk-size", "128"]):
        rc, out, err = run(capsys, "fit", path, "--json", "--seed", "1", *extra)
        assert rc == 0, err
        assert "dropped 4 rows with missing or non-finite values" in err
        results.append(json.loads(out))
    assert results[0]["n_samples"] == results[1]["n_samples"] == 996
    np.testing.assert_allclose(sorted(results[0]["weights"]), sorted(results[1]["weights"]),
                               rtol=1e-6)


def test_missing_prices_are_reported_in_both_modes(capsys, tmp_path):
    rng = np.random.default_rng(2)
    p = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, 3000)))
    p[[10, 2000]] = np.nan
    path = tmp_path / "p.npy"
    np.save(path, p)
    counts = []
    for extra in ([], ["--stream", "--chunk-size", "500"]):
        rc, out, err = run(capsys, "fit", path, "--returns", "--json", *extra)
        assert rc == 0, err
        assert "dropped 2 missing or non-finite prices" in err
        counts.append(json.loads(out)["n_samples"])
    assert counts == [2997, 2997]


def test_all_rows_missing(capsys, tmp_path):
    path = tmp_path / "nan.npy"
    np.save(path, np.full((10, 2), np.nan))
    for extra in ([], ["--stream"]):
        rc, out, err = run(capsys, "fit", path, *extra)
        _short_error(rc, err)
        assert "no rows with finite values" in err


# ---------------------------------------------------------------- gmmx info


def _bad_models(tmp_path):
    import io as _io
    import zipfile

    from gmmx import GaussianMixture

    good = tmp_path / "good.npz"
    GaussianMixture(2, random_state=0, n_threads=1).fit(_data()).save(good)
    with zipfile.ZipFile(good) as z:
        members = {n: z.read(n) for n in z.namelist()}

    def variant(name, **replace):
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as z:
            for n, data in {**members, **replace}.items():
                z.writestr(n, data)
        return path

    def npy(a):
        buf = _io.BytesIO()
        np.lib.format.write_array(buf, np.asarray(a))
        return buf.getvalue()

    meta = json.loads(str(np.lib.format.read_array(_io.BytesIO(members["__gmmx_metadata__.npy"]))))
    nested = json.dumps(meta)[:-1] + ', "x": ' + "[" * 50_000 + "]" * 50_000 + "}"
    k0 = dict(meta, params=dict(meta["params"], n_components=0))
    iters = dict(meta, fitted=dict(meta["fitted"], n_iter_=[1]))
    raw = bytearray(good.read_bytes())
    raw[raw.find(b"PK\x01\x02") + 10] = 99
    flipped = tmp_path / "flip.npz"
    flipped.write_bytes(bytes(raw))
    return {
        "nested": variant("nested.npz", **{"__gmmx_metadata__.npy": npy(np.array(nested))}),
        "not npy": variant("notnpy.npz", **{"fit_means_.npy": b"garbage"}),
        "weights": variant("w.npz", **{"fit_weights_.npy": npy([-1.0, 2.0])}),
        "k0": variant("k0.npz", **{"__gmmx_metadata__.npy": npy(np.array(json.dumps(k0)))}),
        "n_iter": variant("it.npz", **{"__gmmx_metadata__.npy": npy(np.array(json.dumps(iters)))}),
        "flipped": flipped,
        "truncated": _truncated(good, tmp_path),
        "text": _text(tmp_path),
    }


def _truncated(good, tmp_path):
    path = tmp_path / "cut.npz"
    path.write_bytes(good.read_bytes()[:700])
    return path


def _text(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("\0" * 100_000)
    return path


def test_info_on_invalid_model_files_never_shows_a_traceback(capsys, tmp_path):
    for case, path in _bad_models(tmp_path).items():
        rc, out, err = run(capsys, "info", path)
        assert rc == 1, (case, err)
        assert "Traceback" not in err and out == "", case
        assert err.startswith("gmmx: error: ") and "not a valid gmmx model file" in err, (case, err)
        assert len(err) < MAX_MESSAGE_CHARS + 100, (case, len(err))


def test_info_on_a_valid_file_still_works(capsys, tmp_path):
    from gmmx import GaussianMixture

    path = tmp_path / "m.npz"
    GaussianMixture(2, random_state=0, n_threads=1).fit(_data()).save(path)
    rc, out, err = run(capsys, "info", path, "--json")
    assert rc == 0, err
    assert json.loads(out)["n_components"] == 2
