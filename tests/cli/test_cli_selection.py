"""gmmx fit -k with several covariance types and --criterion (GaussianMixtureIC)."""

import json

import numpy as np

from conftest import DATA_DIR
from gmmx.cli import main

FAITHFUL = str(DATA_DIR / "faithful.csv")


def _run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_several_covariance_types_pick_mclusts_model(capsys):
    rc, out, err = _run(capsys, "fit", FAITHFUL, "-k", "1-4", "--covariance-type", "all",
                        "--json")
    assert rc == 0, err
    s = json.loads(out)
    assert (s["n_components"], s["covariance_type"]) == (3, "tied")  # mclust: EEE,3
    assert len(s["selection"]) == 16
    assert {r["covariance_type"] for r in s["selection"]} == {"full", "tied", "diag",
                                                              "spherical"}
    assert s["bic"] == min(r["bic"] for r in s["selection"])


def test_criterion_and_stream_agree_with_memory(capsys, tmp_path):
    X = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    npy = tmp_path / "f.npy"
    np.save(npy, X)
    args = ["fit", str(npy), "-k", "1-3", "--covariance-type", "full,diag", "--criterion",
            "icl", "--json"]
    rc, out, err = _run(capsys, *args)
    assert rc == 0, err
    mem = json.loads(out)
    rc, out, err = _run(capsys, *args, "--stream", "--chunk-size", "50")
    assert rc == 0, err
    streamed = json.loads(out)
    assert streamed["criterion"] == "icl"
    assert (streamed["n_components"], streamed["covariance_type"]) == \
        (mem["n_components"], mem["covariance_type"])
    np.testing.assert_allclose([r["icl"] for r in streamed["selection"]],
                               [r["icl"] for r in mem["selection"]], rtol=1e-8)
    assert mem["icl"] == min(r["icl"] for r in mem["selection"])


def test_text_table_and_errors(capsys):
    rc, out, _ = _run(capsys, "fit", FAITHFUL, "-k", "1,2", "--covariance-type", "diag,spherical",
                      "--criterion", "aic")
    assert rc == 0 and "lowest AIC" in out and "spherical" in out
    rc, _, err = _run(capsys, "fit", FAITHFUL, "--stream", "--criterion", "cv")
    assert rc == 1 and "--criterion cv" in err
    assert main(["fit", FAITHFUL, "--covariance-type", "full,weird"]) == 2
    assert "expected covariance types" in capsys.readouterr().err


def test_info_shows_the_prior(capsys, tmp_path):
    from gmmx import ConjugatePrior, GaussianMixture

    X = np.loadtxt(FAITHFUL, delimiter=",", skiprows=1)
    path = tmp_path / "map.npz"
    GaussianMixture(2, prior=ConjugatePrior(), weight_concentration=2.0).fit(X).save(path)
    rc, out, err = _run(capsys, "info", str(path))
    assert rc == 0, err
    assert "(log-posterior)" in out and "prior ConjugatePrior()" in out
    assert "weight_concentration 2.0" in out
