"""BayesianGaussianMixture: iteration time against scikit-learn and against gmmx's EM,
and the online (stochastic variational inference) acceptance case.

An "iteration" is one variational E-step + lower bound + M-step from the same
fitted state: scikit-learn's ``_e_step`` + ``_m_step`` + ``_compute_lower_bound``,
gmmx's kernel pass + ``_lower_bound`` + ``_m_step`` (what ``fit`` runs per
iteration).  Medians over repeats, in one process, ratios printed. Run::

    python benchmarks/bench_bayesian.py            # every case at full size
    python benchmarks/bench_bayesian.py --quick    # tiny smoke run

Cases:

1. N = 2M, d = 1, K = 4: gmmx vs scikit-learn per iteration (target >= 20x).
2. N = 200k, d = 16, K = 8, full: a variational iteration vs gmmx's own EM
   iteration on the same data (target <= 1.2x).
3. Online: 10M tick returns (85% sd 1e-4, 15% sd 4e-4), one shuffled epoch of
   ``partial_fit`` in batches of 20,000 with a Dirichlet process over 6
   components: the components above 1% weight (target: exactly 2) and the
   log-likelihood per sample against the exact maximum-likelihood K = 2 fit
   (target: within 2e-3).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isdir(os.path.join(_ROOT, "gmmx")) and _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def make_data(n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(k, d))
    return np.ascontiguousarray(centers[rng.integers(0, k, n)] + rng.normal(size=(n, d)))


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def gmmx_iteration(model, X):
    """One variational iteration of a fitted gmmx model (its fit's per-iteration work)."""
    from gmmx.core import kernel

    params = model._get_parameters()
    n_threads = model._n_threads(X)

    def run():
        with kernel.blas_held_to_one_thread():
            stats = kernel.accumulate(X, None, model._kernel_params(params), n_threads)
            model._lower_bound(stats, params)
            model._m_step(stats, params)
    return run


def sklearn_iteration(model, X):
    def run():
        _, log_resp = model._e_step(X)
        model._m_step(X, log_resp)
        model._compute_lower_bound(log_resp, None)
    return run


def case_vs_sklearn(n, repeats):
    from sklearn.mixture import BayesianGaussianMixture as SK

    import gmmx
    X = make_data(n, 1, 4)
    kw = dict(n_components=4, covariance_type="full", max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm = gmmx.BayesianGaussianMixture(**kw).fit(X)
        sk = SK(**kw).fit(X)
    t_gm = median_time(gmmx_iteration(gm, X), repeats)
    t_sk = median_time(sklearn_iteration(sk, X), max(1, repeats // 2))
    print(f"[1] N={n:,} d=1 K=4 full: gmmx {1e3 * t_gm:.2f} ms/iter, scikit-learn "
          f"{1e3 * t_sk:.2f} ms/iter, ratio {t_sk / t_gm:.1f}x (target >= 20x)")


def case_vs_em(n, repeats):
    import gmmx
    from gmmx.core import kernel
    from gmmx.core.mstep import m_step
    X = make_data(n, 16, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bgm = gmmx.BayesianGaussianMixture(n_components=8, max_iter=2, random_state=0).fit(X)
        gm = gmmx.GaussianMixture(8, max_iter=2, random_state=0).fit(X)
    n_threads = gm._n_threads(X)
    params = gm._get_parameters()

    def em():
        with kernel.blas_held_to_one_thread():
            stats = kernel.accumulate(X, None, gm._kernel_params(params), n_threads)
            m_step(stats, gm.reg_covar, prev_covariances=params[2])
    t_vb, t_em = 0.0, 0.0
    vb = gmmx_iteration(bgm, X)
    for _ in range(3):  # alternate, so a load burst hits both
        t_vb += median_time(vb, repeats)
        t_em += median_time(em, repeats)
    print(f"[2] N={n:,} d=16 K=8 full: variational {1e3 * t_vb / 3:.2f} ms/iter, EM "
          f"{1e3 * t_em / 3:.2f} ms/iter, ratio {t_vb / t_em:.2f}x (target <= 1.2x)")


def case_online(n, batch=20_000):
    import gmmx
    from gmmx.core import kernel
    rng = np.random.default_rng(0)
    wide = rng.random(n) < 0.15
    x = np.where(wide, rng.normal(0, 4e-4, n), rng.normal(0, 1e-4, n))[:, None]
    x = x[rng.permutation(n)]
    m = gmmx.BayesianGaussianMixture(n_components=6, random_state=0, reg_covar=1e-14)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(0, n, batch):
            m.partial_fit(x[i:i + batch])
        t_svi = time.perf_counter() - t0
        ml = gmmx.GaussianMixture(2, random_state=0, reg_covar=1e-14, tol=1e-8,
                                  max_iter=1000).fit(x)
    kp = kernel.kernel_params(m.weights_, m.means_, m.precisions_cholesky_, "full")
    ll = float(kernel.log_prob_norm(x, kp).mean())
    alive = int(np.sum(m.weights_ > 0.01))
    print(f"[3] online N={n:,} batches of {batch:,}: {t_svi:.1f} s, components above 1%: "
          f"{alive} (target 2), weights {np.round(np.sort(m.weights_)[::-1], 4)}, "
          f"log-likelihood/sample {ll:.6f} vs ML K=2 {ml.score(x):.6f}: "
          f"diff {ll - ml.score(x):+.2e} (target within 2e-3)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke run)")
    args = parser.parse_args(argv)
    import gmmx
    import sklearn
    print(f"gmmx {gmmx.__version__} ({os.path.dirname(gmmx.__file__)}), scikit-learn "
          f"{sklearn.__version__}, numpy {np.__version__}")
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores")
    if args.quick:
        case_vs_sklearn(20_000, 3)
        case_vs_em(5_000, 3)
        case_online(200_000)
    else:
        case_vs_sklearn(2_000_000, 7)
        case_vs_em(200_000, 7)
        case_online(10_000_000)


if __name__ == "__main__":
    main()
