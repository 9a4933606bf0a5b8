"""The CLI reads what the file means: delimiters, decimal marks, gaps, levels vs returns."""

import json

import numpy as np
import pytest

from gmmx.cli import build_parser, main

pd = pytest.importorskip("pandas")


def _fit_json(capsys, *argv):
    rc = main(["fit", *map(str, argv), "--json", "-k", "2"])
    out, err = capsys.readouterr()
    return rc, (json.loads(out) if rc == 0 else None), err


def test_semicolons_and_decimal_commas_are_read_as_numbers(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(-2, 0.5, 300), rng.normal(3, 0.5, 300)]
    lines = ["ret;volume"] + [f"{v:.6f};{i}".replace(".", ",") for i, v in enumerate(x)]
    (tmp_path / "eu.csv").write_text("\n".join(lines) + "\n")
    rc, res, err = _fit_json(capsys, tmp_path / "eu.csv", "--columns", "ret")
    assert rc == 0, err
    assert sorted(np.round(np.ravel(res["means"]), 1)) == [-2.0, 3.0]


def test_ambiguous_delimiters_are_refused_naming_the_options(tmp_path, capsys):
    (tmp_path / "amb.csv").write_text("a;b,c\n1;2,3\n4;5,6\n")
    rc, _, err = _fit_json(capsys, tmp_path / "amb.csv")
    assert rc == 1 and "--sep" in err and "--decimal" in err and "Traceback" not in err
    (tmp_path / "cc.csv").write_text('a,b\n"1,5","2,5"\n"3,5","4,5"\n')
    rc, _, err = _fit_json(capsys, tmp_path / "cc.csv")
    assert rc == 1 and "decimal commas" in err


def test_explicit_sep_and_decimal_win(tmp_path, capsys):
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1, 400)
    (tmp_path / "p.txt").write_text("v|w\n" + "\n".join(f"{a:.5f}|1".replace(".", ",")
                                                        for a in x) + "\n")
    rc, res, err = _fit_json(capsys, tmp_path / "p.txt", "--sep", "|", "--decimal", ",",
                             "--columns", "v")
    assert rc == 0, err
    assert abs(float(np.dot(res["weights"], np.ravel(res["means"]))) - x.mean()) < 1e-3


def test_returns_across_missing_prices_are_noted(tmp_path, capsys):
    p = 100 * np.exp(np.cumsum(np.random.default_rng(2).normal(0, 0.01, 500)))
    p[[100, 101, 300]] = np.nan
    pd.DataFrame({"close": p}).to_csv(tmp_path / "px.csv", index=False)
    rc, _, err = _fit_json(capsys, tmp_path / "px.csv", "--returns")
    assert rc == 0
    assert "2 return(s) span a gap of missing prices" in err


def test_var_is_refused_on_a_level_unless_asked(tmp_path, capsys):
    vix = np.random.default_rng(3).gamma(6.0, 3.0, 2000)  # all positive, mean >> 0
    pd.DataFrame({"vix": vix}).to_csv(tmp_path / "vix.csv", index=False)
    rc, res, err = _fit_json(capsys, tmp_path / "vix.csv")
    assert rc == 0 and "risk" not in res and "looks like a level" in err
    rc, res, _ = _fit_json(capsys, tmp_path / "vix.csv", "--risk")
    assert rc == 0 and len(res["risk"]) == 2
    rets = np.random.default_rng(4).normal(0, 0.01, 2000)
    pd.DataFrame({"r": rets}).to_csv(tmp_path / "r.csv", index=False)
    rc, res, err = _fit_json(capsys, tmp_path / "r.csv")
    assert rc == 0 and len(res["risk"]) == 2 and "level" not in err


def test_help_states_the_defaults_that_differ_from_the_python_api():
    text = build_parser()._subparsers._group_actions[0].choices["fit"].format_help()
    for phrase in ("GaussianMixture's is 100", "GaussianMixture's is sklearn's 1e-3",
                   "GaussianMixture's is 'kmeans'", "GaussianMixture's is sklearn's"):
        assert phrase in " ".join(text.split()), phrase
