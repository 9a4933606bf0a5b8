"""The shapes of issue #13: one EM iteration, the default initialisation, float32.

An "EM iteration" here is what ``benchmarks/bench_vs_sklearn.py`` times: one
pass of the in-memory driver plus the M-step, started at the generating
parameters, with BLAS held to one thread as in a fit; scikit-learn's is its
``_e_step`` + ``_m_step`` on the same data and parameters. The default sizes
keep ``asv run --quick`` short; ``GMMX_BENCH_LARGE=1`` runs the issue's sizes.
"""

from __future__ import annotations

import numpy as np

from .common import best_time, mixture_data, n_rows, quiet, sklearn_gaussian_mixture, true_init

#: (label, rows by default, rows with GMMX_BENCH_LARGE, d, K, covariance type)
SHAPES = {
    "diag d=64 K=64": (50_000, 1_000_000, 64, 64, "diag"),
    "full d=32 K=16": (20_000, 100_000, 32, 16, "full"),
    "full d=16 K=8": (40_000, 200_000, 16, 8, "full"),
    "full d=50 K=10": (20_000, 200_000, 50, 10, "full"),
    "full d=1 K=2": (400_000, 2_000_000, 1, 2, "full"),
}


def _case(label, dtype="float64"):
    """Data and true-parameter constructor arguments of one shape."""
    n, n_large, d, k, cov = SHAPES[label]
    X = mixture_data(n_rows(n, n_large), k, d, dtype)
    return X, k, cov, true_init(cov, k, d)


def em_iteration(X, n_components, covariance_type, init):
    """A callable running one gmmx EM iteration (driver pass + M-step).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    n_components : int
    covariance_type : str
    init : dict
        ``weights_init``, ``means_init``, ``precisions_init``.

    Returns
    -------
    callable
    """
    from gmmx import GaussianMixture
    from gmmx.core.kernel import kernel_params, resolve_n_threads
    from gmmx.core.mstep import m_step
    from gmmx.drivers import ArrayDriver

    with quiet():
        start = GaussianMixture(n_components, covariance_type=covariance_type, max_iter=1,
                                tol=0.0, **init).fit(X[:2000])
    kp = kernel_params(start.weights_, start.means_, start.precisions_cholesky_,
                       covariance_type)
    driver = ArrayDriver(X, None, resolve_n_threads(None))

    def run():
        m_step(driver.accumulate(kp), 1e-6)

    return run


class EMIteration:
    """Seconds per EM iteration on the issue's shapes, and the speed-up over sklearn."""

    params = [list(SHAPES)]
    param_names = ["shape"]
    timeout = 900

    def setup(self, shape):
        from gmmx.core.kernel import blas_held_to_one_thread

        self.X, self.k, self.cov, self.init = _case(shape)
        self.held = blas_held_to_one_thread
        self.run = em_iteration(self.X, self.k, self.cov, self.init)

    def time_em_iteration(self, shape):
        with self.held():
            self.run()

    def track_speedup(self, shape):
        SkGM = sklearn_gaussian_mixture()
        with quiet():
            sk = SkGM(self.k, covariance_type=self.cov, max_iter=1, tol=0.0, **self.init)
            sk.fit(self.X)

        def sk_iter():
            _, log_resp = sk._e_step(self.X)
            sk._m_step(self.X, log_resp)

        t_sk = best_time(sk_iter)
        with self.held():
            t_gx = best_time(self.run)
        return t_sk / t_gx

    track_speedup.unit = "x faster than sklearn"


class DefaultInitialisation:
    """The default (k-means) start, in units of one EM iteration on the same data."""

    params = [["full d=1 K=2", "full d=16 K=8"]]
    param_names = ["shape"]
    timeout = 600

    def setup(self, shape):
        self.X, self.k, self.cov, self.init = _case(shape)

    def _initialise(self):
        from gmmx.core.init import initial_parameters
        from gmmx.core.kernel import resolve_n_threads

        initial_parameters(self.X, None, self.k, self.cov, "kmeans", 1e-6,
                           np.random.RandomState(0), resolve_n_threads(None))

    def time_initialisation(self, shape):
        self._initialise()

    def track_em_iterations(self, shape):
        from gmmx.core.kernel import blas_held_to_one_thread

        run = em_iteration(self.X, self.k, self.cov, self.init)
        with blas_held_to_one_thread():
            t_iter = best_time(run)
            t_init = best_time(self._initialise)
        return t_init / t_iter

    track_em_iterations.unit = "EM iterations"


class Float32Speedup:
    """float64 time over float32 time per EM iteration (d = 1, K = 2)."""

    timeout = 600

    def setup(self):
        self.runs = {}
        for dtype in ("float64", "float32"):
            X, k, cov, init = _case("full d=1 K=2", dtype)
            self.runs[dtype] = em_iteration(X, k, cov, init)

    def time_em_iteration_float32(self):
        self.runs["float32"]()

    def track_speedup(self):
        return best_time(self.runs["float64"], 5) / best_time(self.runs["float32"], 5)

    track_speedup.unit = "x faster than float64"
