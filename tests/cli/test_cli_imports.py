"""The gmmx command imports what it uses only: a plain CSV fit loads neither
scikit-learn nor pandas, pyarrow, matplotlib, scipy.stats or scipy.optimize (counted, not timed)."""

import json
import subprocess
import sys

import numpy as np

HEAVY = ("sklearn", "pandas", "pyarrow", "matplotlib", "scipy.stats", "scipy.optimize")


def test_plain_csv_fit_imports_no_heavy_module(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "x.csv"
    X = np.r_[rng.normal(0, 1, (500, 2)), rng.normal(5, 1, (500, 2))]
    np.savetxt(path, X, delimiter=",", header="a,b", comments="", fmt="%.10g")
    code = ("import sys, json\n"
            "from gmmx.cli import main\n"
            f"sys.argv = ['gmmx', 'fit', {str(path)!r}, '--json']\n"
            "rc = main()\n"
            f"print(json.dumps([rc, [m for m in {HEAVY!r} if m in sys.modules]]), "
            "file=sys.stderr)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    rc, loaded = json.loads(out.stderr.strip().splitlines()[-1])
    assert rc == 0 and loaded == []
    assert json.loads(out.stdout)["n_samples"] == 1000


def test_estimators_without_sklearn_bases_fit_alike(tmp_path):
    # GMMX_SKLEARN=0 (what the command sets): stand-in bases, the same fit
    code = ("import sys, numpy as np, gmmx\n"
            "X = np.random.default_rng(0).normal(size=(300, 2))\n"
            "gm = gmmx.GaussianMixture(2, random_state=0).fit(X)\n"
            "print(repr(gm.means_.tolist()), 'sklearn' in sys.modules)\n")
    plain = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={**__import__("os").environ, "GMMX_SKLEARN": "0"})
    normal = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    means, loaded = plain.stdout.rsplit(" ", 1)
    assert loaded.strip() == "False"
    assert means == normal.stdout.rsplit(" ", 1)[0]
