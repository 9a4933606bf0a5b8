"""The gmmx command reads its files through gmmx.sources."""

import json

import numpy as np
import pytest

from gmmx.cli import Dataset, main
from gmmx.sources import ColumnInfo, IterableSource, NpySource, register_format, unregister_format


def _blobs(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0, 1, (n // 2, 2)), rng.normal(6, 1, (n - n // 2, 2))])


def test_dataset_npy_source_selects_columns(tmp_path):
    X = _blobs()
    np.save(tmp_path / "a.npy", X)
    data = Dataset(tmp_path / "a.npy", "1")
    assert data.kind == "npy" and data.columns == ["x1"] and data.indices == [1]
    src = data.source(300)
    assert isinstance(src, NpySource) and src.random_access and src.columns == [1]
    np.testing.assert_array_equal(data.load(), X[:, [1]])
    assert data.load().dtype == np.float64


def test_dataset_float32_loads_as_float64(tmp_path):
    X = _blobs().astype(np.float32)
    np.save(tmp_path / "a.npy", X)
    loaded = Dataset(tmp_path / "a.npy", None).load()
    assert loaded.dtype == np.float64 and np.array_equal(loaded, X)


def test_dataset_csv_options_from_the_name(tmp_path):
    pd = pytest.importorskip("pandas")
    X = _blobs()
    path = tmp_path / "a.tsv.xz"
    pd.DataFrame({"t": ["x"] * len(X), "a": X[:, 0], "b": X[:, 1]}).to_csv(
        path, sep="\t", index=False)
    data = Dataset(path, None)
    assert data.kind == "csv" and data.options == {"sep": "\t"}
    assert data.columns == ["a", "b"] and data.skipped == ["t"]
    np.testing.assert_allclose(data.load(), X, rtol=1e-15)


def test_fit_reads_a_registered_format(tmp_path, capsys):
    X = _blobs()

    def factory(path, columns=None, chunk_size=None, weight_column=None, sample_weight=None):
        cols = [0, 1] if columns is None else [int(c[1:]) for c in columns]
        return IterableSource(lambda: iter(np.array_split(X[:, cols], 4)))

    register_format("blobs", ".blobs", factory,
                    list_columns=lambda path: [ColumnInfo("c0", True, "float64"),
                                               ColumnInfo("c1", True, "float64")])
    try:
        (tmp_path / "x.blobs").write_text("")
        for extra in ([], ["--stream"]):
            rc = main(["fit", str(tmp_path / "x.blobs"), "-k", "2", "--json", "--columns", "c1",
                       *extra])
            out, err = capsys.readouterr()
            assert rc == 0, err
            s = json.loads(out)
            assert s["n_samples"] == len(X) and s["features"] == ["c1"]
    finally:
        unregister_format("blobs")
