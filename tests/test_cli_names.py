"""The CLI keeps column names: in the saved model, in gmmx info, in the summary."""

import json

import numpy as np
import pytest

import gmmx
from gmmx.cli import main

pd = pytest.importorskip("pandas")


def test_saved_model_and_info_show_the_csv_columns(tmp_path, capsys):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"spx": rng.normal(0, 1, 800), "vix": rng.normal(3, 2, 800)})
    df.to_csv(tmp_path / "d.csv", index=False)
    out = tmp_path / "m.npz"
    assert main(["fit", str(tmp_path / "d.csv"), "-k", "2", "--out", str(out), "--json"]) == 0
    capsys.readouterr()
    model = gmmx.load(out)
    assert list(model.feature_names_in_) == ["spx", "vix"]
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["features"] == ["spx", "vix"]
