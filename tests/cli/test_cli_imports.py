"""The gmmx command imports what it uses only: a plain CSV fit loads neither
scikit-learn nor pandas, pyarrow, matplotlib, scipy.stats, scipy.optimize or
scipy.special, nor the gmmx modules only other estimators and the finance
tools need (counted, not timed)."""

import json
import subprocess
import sys

import numpy as np

HEAVY = ("sklearn", "pandas", "pyarrow", "matplotlib", "scipy.stats", "scipy.optimize",
         "scipy.special",
         # estimators and tools the command does not use on a Gaussian fit of a table
         "gmmx.mixture.bayesian", "gmmx.core.variational", "gmmx.mixture.minibatch",
         "gmmx.mixture.student", "gmmx.core.student", "gmmx.core.missing",
         "gmmx.finance.distributions", "gmmx.finance.risk", "gmmx.finance.multivariate",
         "gmmx.finance.student_t", "gmmx.finance.gm2", "gmmx.hmm", "gmmx.plotting")


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


# What the command may load besides gmmx and what ``import numpy, scipy.linalg``
# loads (the floor: gmmx's kernels link SciPy's BLAS, whose package imports
# scipy.linalg, and through it numpy.f2py and charset_normalizer): gzip (.csv.gz),
# mmap and queue (the chunk readers), threadpoolctl (BLAS held to one thread in
# a fit) and the shared module of Cython's runtime.
EXTRA_ALLOWED = ("gzip", "mmap", "queue", "_queue", "threadpoolctl")


def _modules_after(code):
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json\n"
                          "print(json.dumps(sorted(sys.modules)), file=sys.stderr)"],
                         capture_output=True, text=True, check=True)
    return set(json.loads(out.stderr.strip().splitlines()[-1]))


def test_plain_csv_fit_adds_only_gmmx_modules_to_numpy_and_scipy_linalg(tmp_path):
    path = tmp_path / "x.csv"
    X = np.random.default_rng(1).normal(size=(1000, 2))
    np.savetxt(path, X, delimiter=",", header="a,b", comments="", fmt="%.10g")
    floor = _modules_after("import numpy, scipy.linalg")
    fit = _modules_after("import sys\nfrom gmmx.cli import main\n"
                         f"sys.argv = ['gmmx', 'fit', {str(path)!r}]\nmain()")
    added = {m for m in fit - floor if not (m == "gmmx" or m.startswith(("gmmx.", "_cython_")))}
    assert added <= set(EXTRA_ALLOWED), sorted(added - set(EXTRA_ALLOWED))


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
