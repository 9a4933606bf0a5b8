"""Cost of one EM iteration with missing entries against the complete-data iteration.

The issue's case: N = 1,000,000 rows, d = 8 features, K = 4 full-covariance
components, 10% of the entries missing at random (about 57% of the rows have
a gap, in about 230 missingness patterns).  Both fits start from the same
parameters; an "iteration" is one E-step pass plus the M-step (what
``GaussianMixture.fit`` repeats).  Two measures, both libraries' paths
interleaved, medians over repeats in one process:

- ``fit(max_iter=1)`` with the initial parameters given, so no
  initialisation runs; the input validation (once per fit) is included;
- the cost of one more iteration: ``(fit(max_iter=6) - fit(max_iter=1)) / 5``
  (medians of each), what each iteration of a long fit costs, without the
  once-per-fit validation and first touch of memory (the target, <= 2x, is
  on it).

The complete-data iteration runs on the same rows with nothing missing.  Run::

    python benchmarks/bench_missing.py            # the issue's case
    python benchmarks/bench_missing.py --quick    # small smoke run

Also prints the split of the marginalized iteration into the complete rows'
kernel call and the per-pattern work on the rows with gaps.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
import warnings

import numpy as np


def cpu_model():
    """The CPU's model name (Linux /proc/cpuinfo), else platform's guess."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def make_case(n, d, k, frac, seed=0):
    """Mixture data, the same data with ``frac`` of the entries NaN, and a start."""
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=3.0, size=(k, d))
    A = rng.normal(size=(k, d, d))
    covs = A @ A.transpose(0, 2, 1) / d + 0.5 * np.eye(d)
    labels = rng.integers(0, k, n)
    chol = np.linalg.cholesky(covs)
    X = means[labels] + np.einsum("nij,nj->ni", chol[labels], rng.normal(size=(n, d)))
    Xm = X.copy()
    Xm[rng.random((n, d)) < frac] = np.nan
    empty = np.isnan(Xm).all(axis=1)
    Xm[empty, 0] = X[empty, 0]
    start = dict(weights_init=np.full(k, 1.0 / k), means_init=means + 0.3,
                 precisions_init=np.linalg.inv(covs * 1.3))
    return np.ascontiguousarray(X), np.ascontiguousarray(Xm), start


def time_fit(X, start, policy, n_threads, max_iter):
    """Seconds of ``fit(max_iter=max_iter)`` from ``start`` (no initialisation)."""
    from gmmx import GaussianMixture

    gm = GaussianMixture(len(start["weights_init"]), max_iter=max_iter, tol=0,
                         nan_policy=policy, n_threads=n_threads, **start)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(X)
    return time.perf_counter() - t0


def time_iterations(X, Xm, start, repeats, n_threads):
    """Medians of ``fit(max_iter=1)`` and of one more iteration, complete and marginalized
    (interleaved)."""
    one = {"raise": [], "marginalize": []}
    six = {"raise": [], "marginalize": []}
    for _ in range(repeats):
        for policy, data in (("raise", X), ("marginalize", Xm)):
            one[policy].append(time_fit(data, start, policy, n_threads, 1))
            six[policy].append(time_fit(data, start, policy, n_threads, 6))
    med = statistics.median
    one = {p: med(v) for p, v in one.items()}
    return one, {p: (med(six[p]) - one[p]) / 5 for p in one}


def split(Xm, start, n_threads):
    """Seconds of the complete rows' kernel call and of the rows with gaps (one pass)."""
    from gmmx import GaussianMixture
    from gmmx.core import kernel

    gm = GaussianMixture(len(start["weights_init"]), nan_policy="marginalize",
                         n_threads=n_threads, **start)
    params = gm._initial_params(None, None)
    step = gm._estep_params(params)
    complete = ~np.isnan(Xm).any(axis=1)
    Xc = np.ascontiguousarray(Xm[complete])
    Xg = np.ascontiguousarray(Xm[~complete])
    nt = kernel.resolve_n_threads(n_threads)
    with kernel.blas_held_to_one_thread():
        t0 = time.perf_counter()
        step.accumulate(Xc, None, nt)
        t1 = time.perf_counter()
        step.accumulate(Xg, None, nt)
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1, int(complete.sum()), int((~complete).sum())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--d", type=int, default=8)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--missing", type=float, default=0.10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    n, repeats = (20_000, 1) if args.quick else (args.n, args.repeats)
    X, Xm, start = make_case(n, args.d, args.k, args.missing)
    patterns = len(np.unique(np.isnan(Xm), axis=0))
    print(f"CPU: {cpu_model()}")
    print(f"N={n:,} d={args.d} K={args.k} full, {args.missing:.0%} entries missing "
          f"({np.isnan(Xm).any(axis=1).mean():.0%} of rows, {patterns} patterns), "
          f"threads={args.threads or 'auto'}")
    time_fit(X[:1000], start, "raise", args.threads, 1)  # warm-up
    one, more = time_iterations(X, Xm, start, repeats, args.threads)
    print(f"fit(max_iter=1), validation included:  complete {one['raise'] * 1e3:7.1f} ms, "
          f"marginalize {one['marginalize'] * 1e3:7.1f} ms, "
          f"ratio {one['marginalize'] / one['raise']:.2f}x")
    print(f"one more EM iteration:                 complete {more['raise'] * 1e3:7.1f} ms, "
          f"marginalize {more['marginalize'] * 1e3:7.1f} ms, "
          f"ratio {more['marginalize'] / more['raise']:.2f}x (target <= 2x)")
    tc, tg, nc, ng = split(Xm, start, args.threads)
    print(f"  of which: {nc:,} complete rows {tc * 1e3:.1f} ms; {ng:,} rows with gaps "
          f"{tg * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
