"""Run each script in examples/ as a user would and check what it prints and saves."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gmmx

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# The scripts must import the gmmx these tests import: the installed package in
# CI, the source tree in an in-place development build.
GMMX_HOME = Path(gmmx.__file__).resolve().parents[1]


def run(script, *args, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join([str(GMMX_HOME), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep)
    proc = subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    # what a script prints is published in the docs' gallery: no machine's paths
    assert str(tmp_path) not in proc.stdout and str(tmp_path.resolve()) not in proc.stdout
    return proc.stdout


def number(text, pattern):
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not found in:\n{text}"
    return float(m.group(1).replace(",", ""))


def assert_png(path):
    mpimg = pytest.importorskip("matplotlib.image")
    img = mpimg.imread(path)[..., :3]
    assert np.mean(np.any(img < 0.9, axis=-1)) > 0.02, f"{path} looks blank"


def test_two_state_em_recovers_all_six_parameters(tmp_path):
    pytest.importorskip("matplotlib")
    out = run("em_two_state.py", "--out", str(tmp_path / "figs"), tmp_path=tmp_path)
    rows = dict(re.findall(r"^(\w+_\d)\s+[\d.]+\s+([\d.]+)$", out, flags=re.M))
    fitted = {k: float(v) for k, v in rows.items()}
    assert set(fitted) == {"mu_1", "mu_2", "var_1", "var_2", "rho_1", "rho_2"}
    truth = {"mu_1": 5, "mu_2": 10, "var_1": 1, "var_2": 2, "rho_1": 0.8, "rho_2": 0.2}
    for name, value in truth.items():
        assert fitted[name] == pytest.approx(value, rel=0.05), name
    assert "converged=True" in out
    assert "saved em_two_state.png" in out
    assert_png(tmp_path / "figs" / "em_two_state.png")  # the gallery's thumbnail


def test_leptokurtic_gm2_prints_the_worked_numbers(tmp_path):
    pytest.importorskip("matplotlib")
    out = run("leptokurtic_gm2.py", "--out", str(tmp_path / "figs"), tmp_path=tmp_path)
    assert_png(tmp_path / "figs" / "leptokurtic_gm2.png")  # the gallery's thumbnail
    first, second = out.split("Exact volatility")
    assert number(first, r"p = ([\d.]+)") == 0.9544
    assert number(first, r"q = ([\d.]+)") == 0.0456
    assert "$95,440 of XYZ1 at 17.96% vol" in first
    assert "$4,560 of XYZ2 at 40.00% vol" in first
    # The exact moment match restores volatility 0.20 and kurtosis 4.05.
    assert number(second, r"mixture volatility = ([\d.]+)") == 0.2
    assert number(second, r"  kurtosis = ([\d.]+)") == 4.05
    assert number(second, r"excess kurtosis = ([\d.]+)") == 1.05


def test_sp500_two_component_fit_prints_moments_and_risk(tmp_path):
    pytest.importorskip("arch")
    out = run("sp500_returns.py", "--out", str(tmp_path), tmp_path=tmp_path)
    assert "5030 days, 1999-01-05 to 2018-12-31" in out
    # The mixture's mean and volatility are the sample's (EM preserves the first two moments).
    sample_sd = number(out, r"volatility\s+([\d.]+)")
    mix_sd = number(out, r"volatility\s+[\d.]+\s+([\d.]+)")
    assert mix_sd == pytest.approx(sample_sd, rel=1e-3)
    # Fat tails: positive excess kurtosis, and a 1% VaR beyond the normal's.
    assert number(out, r"excess kurt\s+\S+\s+([\d.]+)") > 1
    # The moment-matched GM(2) reproduces the sample kurtosis exactly.
    sample_kurt = number(out, r"  kurtosis\s+([\d.]+)")
    assert number(out, r"  kurtosis\s+[\d.]+\s+[\d.]+\s+([\d.]+)") == pytest.approx(sample_kurt)
    var_mix = number(out, r"1%\s+VaR\s+([\d.]+)")
    var_normal = number(out, r"1%\s+VaR\s+[\d.]+\s+([\d.]+)")
    es_mix = number(out, r"1%\s+ES\s+([\d.]+)")
    assert var_mix > var_normal and es_mix > var_mix
    assert 0.02 < var_mix < 0.06
    assert_png(tmp_path / "sp500_density.png")
    assert_png(tmp_path / "sp500_qq.png")


def test_sp500_regimes(tmp_path):
    pytest.importorskip("arch")
    out = run("sp500_regimes.py", "--out", str(tmp_path), tmp_path=tmp_path)
    vols = [float(v) for v in re.findall(r"^[01]\s+[\d.]+\s+-?[\d.]+\s+([\d.]+)", out, flags=re.M)]
    assert len(vols) == 2 and vols[0] < vols[1]
    assert "most volatile month: 2008" in out
    assert_png(tmp_path / "sp500_regimes.png")
    assert_png(tmp_path / "sp500_bic_aic.png")


def test_sp500_gaussian_versus_student_t_table(tmp_path):
    pytest.importorskip("arch")
    out = run("sp500_student_t.py", "--out", str(tmp_path), tmp_path=tmp_path)
    emp_var = number(out, r"empirical: VaR ([\d.]+)")
    emp_es = number(out, r"empirical: VaR [\d.]+, ES ([\d.]+)")
    rows = re.findall(r"^(gaussian|t)\s+(\d)\s+(-[\d.]+)\s+([\d.]+)\s+([\d.]+)(.*)$", out,
                      flags=re.M)
    table = {(f, int(k)): (float(b), float(v), float(e), rest.split())
             for f, k, b, v, e, rest in rows}
    assert set(table) == {(f, k) for f in ("gaussian", "t") for k in range(1, 5)}
    bic = {key: row[0] for key, row in table.items()}
    # one t component already beats two Gaussian ones; the overall best is a t mixture
    assert bic[("t", 1)] < bic[("gaussian", 2)]
    assert min(bic, key=bic.get)[0] == "t"
    # a single Gaussian understates the 1% tail; the best t mixture is close to history
    assert table[("gaussian", 1)][1] < 0.9 * emp_var
    best_t = min((k for k in range(1, 5)), key=lambda k: bic[("t", k)])
    assert table[("t", best_t)][1] == pytest.approx(emp_var, rel=0.1)
    assert table[("t", best_t)][2] == pytest.approx(emp_es, rel=0.1)
    assert all(0 < float(v) < 1000 for v in table[("t", 2)][3])
    assert_png(tmp_path / "sp500_student_t.png")


def test_2d_scatter_with_ellipses(tmp_path):
    out = run("scatter_2d.py", "--out", str(tmp_path), tmp_path=tmp_path)
    weights = [float(w) for w in re.findall(r"weight ([\d.]+) \(true", out)]
    assert weights == pytest.approx([0.6, 0.4], abs=0.03)
    assert number(out, r"true component: ([\d.]+)%") > 98
    assert_png(tmp_path / "scatter_2d.png")


def test_portfolio_risk_of_three_assets(tmp_path):
    pytest.importorskip("arch")
    pd = pytest.importorskip("pandas")
    stats = pytest.importorskip("scipy.stats")
    from arch.data import nasdaq, sp500, wti

    out = run("portfolio_risk.py", "--out", str(tmp_path), tmp_path=tmp_path)
    assert "5011 days, 1999-01-05 to 2018-12-28" in out
    table = {(level, measure): [float(v.replace(",", "")) for v in values.split()]
             for level, measure, values in re.findall(r"^\s+(\d+)%\s+(VaR|ES)\s+([\d, ]+)$", out,
                                                      flags=re.M)}
    assert set(table) == {("5", "VaR"), ("5", "ES"), ("1", "VaR"), ("1", "ES")}

    # References computed here from the same data: historical VaR/ES of the book,
    # and the closed-form VaR/ES of the normal with the sample mean and covariance.
    prices = pd.concat({"S&P 500": sp500.load()["Adj Close"], "NASDAQ": nasdaq.load()["Adj Close"],
                        "WTI crude": wti.load()["DCOILWTICO"]}, axis=1, join="inner").dropna()
    r = prices.pct_change().dropna().to_numpy()
    w = np.array([0.5, 0.3, 0.2])
    book = r @ w
    mu, sd = book.mean(), np.sqrt(w @ np.cov(r, rowvar=False, ddof=0) @ w)
    for level, alpha in (("5", 0.05), ("1", 0.01)):
        mixture_var, normal_var, historical_var = table[(level, "VaR")]
        mixture_es, normal_es, historical_es = table[(level, "ES")]
        q = np.quantile(book, alpha)
        assert historical_var == pytest.approx(-1e6 * q, abs=1)
        assert historical_es == pytest.approx(-1e6 * book[book <= q].mean(), abs=1)
        z = stats.norm.ppf(alpha)
        assert normal_var == pytest.approx(-1e6 * (mu + sd * z), abs=1)
        assert normal_es == pytest.approx(-1e6 * (mu - sd * stats.norm.pdf(z) / alpha), abs=1)
        assert mixture_es > mixture_var
    # Fat tails: at 1 % the normal understates both; the mixture's ES is the historical one.
    mixture_var, normal_var, historical_var = table[("1", "VaR")]
    mixture_es, normal_es, historical_es = table[("1", "ES")]
    assert normal_var < historical_var and normal_es < 0.8 * historical_es
    assert mixture_es == pytest.approx(historical_es, rel=0.05)
    # An oil shock of -5 % raises the 1 % VaR of the book.
    assert number(out, r"1% VaR \$([\d,]+)") > mixture_var
    assert_png(tmp_path / "portfolio_risk.png")


def test_sp500_bayesian_switches_components_off(tmp_path):
    pytest.importorskip("arch")
    out = run("sp500_bayesian.py", tmp_path=tmp_path)
    kept = number(out, r"regimes kept \(weight > 1%\): (\d+)")
    assert 2 <= kept < 8
    assert out.count("(switched off)") == 8 - kept
    weights = [float(w) for w in re.findall(r"^\s+\d\s+([\d.]+)\s+[+-]", out, flags=re.M)]
    assert len(weights) == 8 and sum(weights) == pytest.approx(1.0, abs=5e-3)
    bic_k = number(out, r"BIC picks K = (\d+)")
    assert 1 <= bic_k <= 6


def test_missing_values_simulation_ranks_the_three_fits(tmp_path):
    out = run("missing_values_simulation.py", "--reps", "2", tmp_path=tmp_path)
    errors = {name: (float(a), float(b)) for name, a, b in re.findall(
        r"^(marginalized|complete case|mean imputed)\s+([\d.]+)\s+([\d.]+)$", out, flags=re.M)}
    assert set(errors) == {"marginalized", "complete case", "mean imputed"}
    for j in range(2):  # mean imputation shrinks the covariances
        assert errors["marginalized"][j] < errors["mean imputed"][j] / 3
        assert errors["complete case"][j] < errors["mean imputed"][j] / 3
    # the complete case keeps 17 % of the rows: its components are the noisier
    assert errors["marginalized"][0] < errors["complete case"][0]


def test_missing_values_panel_counts_and_risk(tmp_path):
    pytest.importorskip("arch")
    pd = pytest.importorskip("pandas")
    from arch.data import nasdaq, sp500, wti

    out = run("missing_values_panel.py", tmp_path=tmp_path)
    prices = {"s": sp500.load()["Adj Close"], "n": nasdaq.load()["Adj Close"],
              "w": wti.load()["DCOILWTICO"]}
    panel = pd.concat({k: p.dropna().pct_change().iloc[1:] for k, p in prices.items()},
                      axis=1, sort=True)
    panel = panel.loc[:min(p.dropna().index[-1] for p in prices.values())].dropna(how="all")
    assert f"{len(panel)} calendar days" in out
    assert f"complete case fits {int(panel.notna().all(axis=1).sum())} days" in out
    assert f"({int(panel.isna().to_numpy().sum())} missing entries integrated out)" in out
    var = [number(part, r"99% one-day VaR \$([\d,]+)")
           for part in out.split("complete case:")[1].split("marginalized:")]
    assert all(20_000 < v < 60_000 for v in var)


def test_every_gallery_example_saves_a_figure():
    """sphinx-gallery's thumbnail is an example's first figure: a script without one gets a
    placeholder. Each takes --out (docs/conf.py passes the build folder)."""
    scripts = sorted(EXAMPLES.glob("*.py"))
    assert len(scripts) >= 6
    for script in scripts:
        text = script.read_text(encoding="utf-8")
        assert "savefig(" in text and '"--out"' in text, script.name
