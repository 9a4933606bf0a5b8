"""Mini-batch EM against the exact out-of-core fit of the same .npy (issue #22 item 1).

Data: tick returns, 85 % drawn with sd 1e-4 and 15 % with sd 4e-4 (zero
means), 10,000,000 rows x 1 float64 in a .npy file (``--ordered``: the mix
changes between volatility regimes of 200,000 rows, as in time-ordered ticks).
For each seed, in one process and alternated:

* ``exact``: ``GaussianMixture(2, reg_covar=1e-14).fit(path)`` with the
  default ``tol`` (1e-3): one pass of the file per EM iteration;
* ``minibatch``: ``fit_minibatch(GaussianMixture(2, reg_covar=1e-14), path)``,
  one epoch with the defaults;
* ``readme 0.1``: the README's former recipe, ``n_epochs=2, polish_iter=5``
  (today's code);

and once ``optimum``: the exact fit run to ``tol=1e-8`` (the maximum-likelihood
reference).  Printed per run: wall time, log-likelihood per sample (one extra
scoring pass, not timed), the weights (largest first) and iterations/updates;
then the medians and the issue's bar: one epoch within 1e-3 of the exact
fit's log-likelihood per sample and 0.02 of its weights, in no more wall
time than the exact fit.

Before (issue #22, the code of 0.2 on a quiet machine): exact 1.3 s, weights
0.82/0.18, 7.410 per sample; fit_minibatch one epoch with defaults 0.53/0.47,
7.198; README recipe 2.8 s, 0.69/0.31.

Usage::

    python benchmarks/bench_minibatch.py                   # 10M rows (~80 MB in /tmp)
    python benchmarks/bench_minibatch.py --rows 300000     # a quick check
    python benchmarks/bench_minibatch.py --ordered --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings

import numpy as np

try:
    import gmmx  # noqa: F401
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from gmmx import GaussianMixture
from gmmx.exceptions import ConvergenceWarning
from gmmx.streaming import fit_minibatch, score


def write_ticks(path, n, ordered, seed=0, block=1_000_000):
    """Write n tick returns to a .npy file chunk by chunk."""
    rng = np.random.default_rng(seed)
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(n, 1))
    regime = 200_000
    for a in range(0, n, block):
        m = min(block, n - a)
        if ordered:
            share = np.repeat(rng.choice([0.037, 0.36], -(-m // regime), p=[0.65, 0.35]),
                              regime)[:m]
        else:
            share = 0.15
        wide = rng.random(m) < share
        X[a:a + m, 0] = np.where(wide, rng.normal(0, 4e-4, m), rng.normal(0, 1e-4, m))
    X.flush()
    del X


def run(name, fit, path):
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = fit()
    seconds = time.perf_counter() - t
    ll = score(gm, path)
    w = np.sort(gm.weights_)[::-1]
    print(f"  {name:12s} {seconds:7.2f} s   loglik/sample {ll:.5f}   weights "
          f"{w[0]:.4f}/{w[1]:.4f}   n_iter {gm.n_iter_}", flush=True)
    return seconds, ll, w


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--ordered", action="store_true", help="volatility regimes in time order")
    ap.add_argument("--no-optimum", action="store_true", help="skip the tol=1e-8 reference")
    ap.add_argument("--tmpdir", default=None)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="gmmx-bench-minibatch-", dir=args.tmpdir)
    try:
        path = os.path.join(tmp, "ticks.npy")
        write_ticks(path, args.rows, args.ordered)
        print(f"{args.rows:,} rows x 1 float64 ({os.path.getsize(path) / 2**20:.0f} MiB), "
              f"{'time-ordered regimes' if args.ordered else 'iid'}")

        def model(seed, **kw):
            return GaussianMixture(2, reg_covar=1e-14, random_state=seed, **kw)

        optimum = None
        if not args.no_optimum:
            print("reference:")
            optimum = run("optimum", lambda: model(0, tol=1e-8, max_iter=1000).fit(path), path)
        results = {"exact": [], "minibatch": [], "readme 0.1": []}
        for seed in args.seeds:
            print(f"seed {seed}:")
            results["exact"].append(run("exact", lambda: model(seed).fit(path), path))
            results["minibatch"].append(
                run("minibatch", lambda: fit_minibatch(model(seed), path), path))
            results["readme 0.1"].append(
                run("readme 0.1", lambda: fit_minibatch(model(seed), path, n_epochs=2,
                                                         polish_iter=5), path))
        print("medians over seeds:")
        med = {}
        for name, rows in results.items():
            t = float(np.median([r[0] for r in rows]))
            ll = float(np.median([r[1] for r in rows]))
            w = np.median([r[2] for r in rows], axis=0)
            med[name] = (t, ll, w)
            print(f"  {name:12s} {t:7.2f} s   loglik/sample {ll:.5f}   weights "
                  f"{w[0]:.4f}/{w[1]:.4f}")
        (te, lle, we), (tm, llm, wm) = med["exact"], med["minibatch"]
        print("bar (one epoch, defaults, against the exact fit):")
        print(f"  |loglik difference| {abs(llm - lle):.2e} <= 1e-3: {abs(llm - lle) <= 1e-3}")
        print(f"  max weight difference {np.abs(wm - we).max():.4f} <= 0.02: "
              f"{np.abs(wm - we).max() <= 0.02}")
        print(f"  wall time ratio minibatch / exact {tm / te:.2f} <= 1: {tm <= te}")
        if optimum is not None:  # the default tol=1e-3 stops the exact fit short of it
            _, llo, wo = optimum
            print("against the maximum-likelihood optimum (tol=1e-8):")
            for name in ("exact", "minibatch"):
                _, ll, w = med[name]
                print(f"  {name:12s} loglik/sample {ll - llo:+.2e}   max weight difference "
                      f"{np.abs(w - wo).max():.4f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
