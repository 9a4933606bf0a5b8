"""gmmx's full, tied and diagonal EM iterations against the machine's DGEMM rate (issue #20).

For each case of the issue, one EM iteration of gmmx (E-step over all rows +
M-step, default threads, BLAS held to one thread as ``fit`` holds it) is timed and its *useful* flops per second are
compared with numpy's DGEMM rate measured in the same run (a 2048 x 2048
product, default BLAS threads, median of repeats):

* full: 2 K d (d + 1) flops per row (triangular distances plus the upper
  triangle of the scatter);
* tied: the same count (as if distances and scatter were per component;
  gmmx's tied kernel computes one product for the distances and ONE pooled
  scatter, so this is an equivalent rate, and the tied rows also time the
  kernel forced to one scatter per component, as before issue #20, with the
  ratio of the two);
* diag: 8 K d flops per row.

Prints the CPU model and the SIMD target gmmx ran, the median times, the
rates and the fraction of the DGEMM rate against the issue's goal.  Timings
are medians of interleaved repeats; the machine may be shared, so quote
ratios, not single figures.

    python benchmarks/bench_flops.py              # the issue's cases
    python benchmarks/bench_flops.py --quick      # smaller N, a smoke run
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_floor_d1 import cpu_model  # noqa: E402
from bench_vs_sklearn import _gmmx_em_iteration  # noqa: E402

# (N, d, K, covariance type, goal as a fraction of the DGEMM rate)
CASES = [
    (200_000, 50, 10, "full", 0.60),
    (100_000, 32, 16, "full", 0.50),
    (200_000, 16, 8, "full", 0.40),
    (200_000, 16, 8, "tied", 0.40),
    (1_000_000, 64, 64, "diag", 0.60),
]


def useful_flops(n, d, k, cov):
    """Useful floating-point operations of one EM iteration (the issue's count)."""
    if cov in ("full", "tied"):
        return 2.0 * n * k * d * (d + 1)
    return 8.0 * n * k * d


def dgemm_rate(size=2048, repeats=7):
    """numpy's DGEMM rate in flop/s (median of ``repeats`` products)."""
    a = np.random.default_rng(0).standard_normal((size, size))
    b = np.random.default_rng(1).standard_normal((size, size))
    a @ b
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2.0 * size ** 3 / statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N / 20, fewer repeats")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    from gmmx._kernels import _estep, _simd
    from gmmx.core.kernel import blas_held_to_one_thread

    scale, repeats = (20, 2) if args.quick else (1, args.repeats)
    print(f"CPU: {cpu_model()}; gmmx SIMD target {_simd.current_target()}")
    rate = dgemm_rate(1024 if args.quick else 2048)
    print(f"numpy DGEMM: {rate / 1e9:.1f} GFlop/s")
    print(f"{'case':<32}{'ms/iter':>9}{'GFlop/s':>9}{'of DGEMM':>10}{'goal':>7}")
    rng = np.random.default_rng(0)
    for n, d, k, cov, goal in CASES:
        n //= scale
        X = rng.standard_normal((n, d)) + rng.integers(0, k, n)[:, None] * 0.5
        step, _ = _gmmx_em_iteration(X, k, cov)
        times, per_k = [], []
        # as GaussianMixture.fit: BLAS held to one thread for all iterations
        # (restored between calls, its threads spin through the next one)
        with blas_held_to_one_thread():
            step()
            for _ in range(repeats):
                t0 = time.perf_counter()
                step()
                times.append(time.perf_counter() - t0)
                if cov == "tied":  # interleaved: one scatter per component
                    _estep._set_tied_pooled(0)
                    try:
                        t0 = time.perf_counter()
                        step()
                        per_k.append(time.perf_counter() - t0)
                    finally:
                        _estep._set_tied_pooled(-1)
        t = statistics.median(times)
        g = useful_flops(n, d, k, cov) / t
        frac = g / rate
        mark = "ok" if frac >= goal else "MISSED"
        print(f"N={n:,} d={d} K={k} {cov:<5}".ljust(32)
              + f"{1e3 * t:9.1f}{g / 1e9:9.1f}{100 * frac:9.0f}%{100 * goal:6.0f}% {mark}")
        if per_k:
            tk = statistics.median(per_k)
            print(f"  same, one scatter per component{1e3 * tk:9.1f} ms/iter: "
                  f"{tk / t:.2f}x the pooled scatter's time")
    print(f"numpy DGEMM after the cases: {dgemm_rate(1024 if args.quick else 2048) / 1e9:.1f} GFlop/s"
          " (the fractions use the rate measured before them)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
