"""Time one EM iteration of gmmx and scikit-learn on the same data.

Both start from identical parameters (one sklearn iteration from a fixed
initialisation); an "iteration" is one E-step plus one M-step: sklearn's
``_e_step`` + ``_m_step``, gmmx's driver pass + ``gmmx.core.mstep.m_step``. Medians over
repeats, printed with the ratio. Run::

    python benchmarks/bench_vs_sklearn.py            # every case
    python benchmarks/bench_vs_sklearn.py --quick    # small smoke run
    python benchmarks/bench_vs_sklearn.py --only d=64 --only init   # some cases

Besides the EM iterations it times float32 against float64 input (gmmx
alone) and the default k-means initialisation in units of gmmx EM
iterations on the same data.

On machines where OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set, unset both
for the command (for gmmx and sklearn alike) to let numpy use its best kernel.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np

# Time the checkout this script belongs to when it is built in place, not a
# gmmx installed elsewhere; the header prints which one was imported. A
# checkout without compiled kernels (after `pip install .`) is left off
# sys.path: its gmmx cannot run, and the installed one is timed.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _built_in_place(root):
    kernels = os.path.join(root, "gmmx", "_kernels")
    return os.path.isdir(kernels) and any(
        name.startswith("_estep.") and name.endswith((".so", ".pyd"))
        for name in os.listdir(kernels))


if _built_in_place(_ROOT) and _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


def make_data(n, d, k, dtype, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(k, d))
    labels = rng.integers(0, k, n)
    X = centers[labels] + rng.normal(size=(n, d))
    return np.ascontiguousarray(X, dtype=dtype)


def _median_time(fn, repeats, min_time=0.0):
    times = []
    t_start = time.perf_counter()
    while len(times) < repeats or (time.perf_counter() - t_start < min_time and len(times) < 50):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _gmmx_em_iteration(X, k, cov, n_threads=None):
    """One gmmx EM iteration (E-step over X + M-step) as a callable, from the parameters
    of a one-iteration fit on the first 50,000 rows; and that fit."""
    from gmmx import GaussianMixture
    from gmmx.core.kernel import kernel_params, resolve_n_threads
    from gmmx.core.mstep import m_step
    from gmmx.drivers import ArrayDriver

    init = GaussianMixture(k, covariance_type=cov, max_iter=1, tol=0, random_state=0,
                           n_threads=n_threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        init.fit(X[: min(X.shape[0], 50_000)])
    driver = ArrayDriver(X, None, resolve_n_threads(n_threads))
    kp = kernel_params(init.weights_, init.means_, init.precisions_cholesky_, cov)

    def gmmx_iter():
        st = driver.accumulate(kp)
        m_step(st, 1e-6)

    return gmmx_iter, init


def time_case(n, d, k, cov="full", dtype=np.float64, n_threads=None, repeats=5, sk=True):
    """Median seconds per EM iteration for sklearn and gmmx."""
    from gmmx.core.kernel import blas_held_to_one_thread

    X = make_data(n, d, k, dtype)
    gmmx_iter, init = _gmmx_em_iteration(X, k, cov, n_threads)
    weights, means, prec_chol = init.weights_, init.means_, init.precisions_cholesky_

    # GaussianMixture.fit holds BLAS to one thread for the whole fit; so do we.
    with blas_held_to_one_thread():
        gmmx_iter()  # warm-up
        t_gmmx = _median_time(gmmx_iter, repeats, min_time=0.5)

    t_sk = float("nan")
    if sk:
        from sklearn.mixture import GaussianMixture as SKGaussianMixture

        precisions = init.precisions_
        skm = SKGaussianMixture(k, covariance_type=cov, weights_init=weights, means_init=means,
                                precisions_init=precisions, max_iter=1, tol=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            skm.fit(X)
            skm._set_parameters((weights, means, init.covariances_, prec_chol))

        def sk_iter():
            _, log_resp = skm._e_step(X)
            skm._m_step(X, log_resp)
            skm._set_parameters((weights, means, init.covariances_, prec_chol))

        t_sk = _median_time(sk_iter, max(3, repeats // 2))
    return t_sk, t_gmmx


def time_dtypes(n, d, k, cov="full", repeats=7):
    """Median seconds per gmmx EM iteration on float64 and float32 copies of one data set.

    Both start from the same parameters and their iterations alternate, so a
    change of load on a shared machine hits both alike.
    """
    from gmmx import GaussianMixture
    from gmmx.core.kernel import blas_held_to_one_thread, kernel_params, resolve_n_threads
    from gmmx.core.mstep import m_step
    from gmmx.drivers import ArrayDriver

    X64 = make_data(n, d, k, np.float64)
    init = GaussianMixture(k, covariance_type=cov, max_iter=1, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        init.fit(X64[: min(n, 50_000)])
    kp = kernel_params(init.weights_, init.means_, init.precisions_cholesky_, cov)
    nt = resolve_n_threads(None)
    drivers = [ArrayDriver(X, None, nt) for X in (X64, X64.astype(np.float32))]
    times = ([], [])
    with blas_held_to_one_thread():
        for _ in range(max(repeats, 3) * 3):
            for driver, out in zip(drivers, times):
                t0 = time.perf_counter()
                m_step(driver.accumulate(kp), 1e-6)
                out.append(time.perf_counter() - t0)
    return statistics.median(times[0][1:]), statistics.median(times[1][1:])


def time_init(n, d, k, cov="full", n_threads=None, repeats=7):
    """Median seconds of sklearn's and gmmx's default (k-means) initialisation, and of
    one gmmx EM iteration timed alternately with gmmx's initialisation (so that a load
    burst on a shared machine hits both, and their ratio, the issue's unit, holds)."""
    from sklearn.mixture import GaussianMixture as SKGaussianMixture

    from gmmx.core.init import initial_parameters
    from gmmx.core.kernel import blas_held_to_one_thread, resolve_n_threads

    X = make_data(n, d, k, np.float64)
    nt = resolve_n_threads(n_threads)
    gmmx_iter, _ = _gmmx_em_iteration(X, k, cov, n_threads)

    def gmmx_init():
        initial_parameters(X, None, k, cov, "kmeans", 1e-6, np.random.RandomState(0), nt)

    t_init, t_iter = [], []
    with blas_held_to_one_thread():
        gmmx_init()
        gmmx_iter()
        for _ in range(repeats):
            t_init.append(_median_time(gmmx_init, 1))
            t_iter.append(_median_time(gmmx_iter, 3))
    skm = SKGaussianMixture(k, covariance_type=cov, random_state=0)

    def sk_init():
        skm._initialize_parameters(X, np.random.RandomState(0))

    sk_init()
    t_sk = _median_time(sk_init, 3)
    return t_sk, statistics.median(t_init), statistics.median(t_iter)


def threads_info():
    try:
        from threadpoolctl import threadpool_info

        return ", ".join(f"{i['internal_api']}:{i['num_threads']}" for i in threadpool_info())
    except ImportError:
        return "threadpoolctl not installed"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for CI smoke runs")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", action="append", default=[],
                        help="run the cases whose label contains this text (repeatable)")
    args = parser.parse_args(argv)
    scale = 0.05 if args.quick else 1.0

    import gmmx
    from gmmx._kernels import _estep

    print(f"gmmx {gmmx.__version__} from {os.path.dirname(gmmx.__file__)}, OpenMP={_estep.OPENMP_ENABLED}, cores={os.cpu_count()}, "
          f"numpy {np.__version__}, {threads_info()}")
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    em_cases = [
        # (n, d, k, cov, target ratio to sklearn)
        (2_000_000, 1, 2, "full", 40),
        (1_000_000, 64, 64, "diag", 4),
        (100_000, 32, 16, "full", 8),
        (200_000, 16, 8, "full", 16),
        (200_000, 50, 10, "full", 7),
    ]

    def wanted(label):
        return not args.only or any(o in label for o in args.only)

    header = f"{'case':<40}{'sklearn ms':>12}{'gmmx ms':>10}{'ratio':>9}{'target':>8}"
    print(header)
    print("-" * len(header))
    ok = True

    def report(label, a, b, target, unit=1e3, inverse=False):
        nonlocal ok
        ratio = b / a if inverse else a / b
        met = ratio <= target if inverse else ratio >= target
        ok &= met
        sign = "<=" if inverse else ">="
        shown = f"{ratio:.2f}" if ratio < 10 else f"{ratio:.1f}"
        print(f"{label:<40}{a * unit:>12.2f}{b * unit:>10.2f}{shown:>8}x{sign:>4}{target}x")

    for n, d, k, cov, target in em_cases:
        n_eff = max(int(n * scale), 1000)
        label = f"EM N={n_eff:,} d={d} K={k} {cov} f64"
        if not wanted(label):
            continue
        t_sk, t_gx = time_case(n_eff, d, k, cov, repeats=args.repeats)
        report(label, t_sk, t_gx, target)

    n_eff = max(int(2_000_000 * scale), 1000)
    label = f"EM N={n_eff:,} d=1 K=2 f64 vs f32 (gmmx)"
    if wanted(label):
        t64, t32 = time_dtypes(n_eff, 1, 2, "full", repeats=args.repeats)
        report(label, t64, t32, 1.6)

    for n, d, k, cov, target in [(2_000_000, 1, 2, "full", 5), (200_000, 16, 8, "full", 3)]:
        n_eff = max(int(n * scale), 1000)
        label = f"init N={n_eff:,} d={d} K={k} {cov}"
        if not wanted(label):
            continue
        t_sk, t_gx, t_it = time_init(n_eff, d, k, cov, repeats=args.repeats)
        report(label, t_sk, t_gx, 1.0)
        # the unit: gmmx initialisation in gmmx EM iterations
        report(f"  ... in gmmx EM iterations", t_it, t_gx, target, unit=1e3, inverse=True)

    # thread scaling of the d=16 case
    n_eff = max(int(200_000 * scale), 1000)
    label = f"N={n_eff:,} d=16 K=8 full, 1 vs 2 threads"
    if wanted(label):
        _, t1 = time_case(n_eff, 16, 8, "full", n_threads=1, repeats=args.repeats, sk=False)
        _, t2 = time_case(n_eff, 16, 8, "full", n_threads=2, repeats=args.repeats, sk=False)
        report(label, t1, t2, 1.7)
    print("all targets met" if ok else "some targets missed (see ratio vs target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
