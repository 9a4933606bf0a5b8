"""Benchmarks of in-memory EM fits, and comparisons with scikit-learn."""

from __future__ import annotations

from gmmx import GaussianMixture

from .common import (
    COVARIANCE_TYPES,
    best_time,
    mixture_data,
    n_rows,
    quiet,
    sklearn_gaussian_mixture,
    tick_returns,
    true_init,
    with_large,
)


class FitFixedIterations:
    """Ten EM iterations started at the generating parameters.

    Fixed work (``tol=0``) and no initialisation: this times the kernel and
    the M-step alone, for every covariance type, K, d and input dtype.
    """

    params = [
        COVARIANCE_TYPES,
        with_large([2, 8], [32]),
        with_large([1, 8], [32]),
        ["float64", "float32"],
    ]
    param_names = ["covariance_type", "n_components", "n_features", "dtype"]
    timeout = 600

    def setup(self, covariance_type, n_components, n_features, dtype):
        self.X = mixture_data(n_rows(50_000, 1_000_000), n_components, n_features, dtype)
        self.kwargs = dict(
            n_components=n_components,
            covariance_type=covariance_type,
            max_iter=10,
            tol=0.0,
            **true_init(covariance_type, n_components, n_features),
        )

    def _fit(self):
        with quiet():
            return GaussianMixture(**self.kwargs).fit(self.X)

    def time_fit(self, *params):
        self._fit()

    def peakmem_fit(self, *params):
        self._fit()


class FitConverged:
    """A default fit to convergence (k-means initialisation included).

    ``track_loglik`` records the final per-sample log-likelihood, so that an
    accuracy regression shows in the history as plainly as a slowdown.
    """

    params = [COVARIANCE_TYPES, with_large([4], [32]), with_large([4], [32])]
    param_names = ["covariance_type", "n_components", "n_features"]
    timeout = 600

    def setup(self, covariance_type, n_components, n_features):
        # Overlapping components: EM needs tens of iterations, as on real data.
        self.X = mixture_data(n_rows(50_000, 1_000_000), n_components, n_features,
                              separation=1.5)
        self.kwargs = dict(n_components=n_components, covariance_type=covariance_type,
                           random_state=0)

    def time_fit(self, *params):
        with quiet():
            GaussianMixture(**self.kwargs).fit(self.X)

    def track_loglik(self, *params):
        with quiet():
            return float(GaussianMixture(**self.kwargs).fit(self.X).score(self.X))

    track_loglik.unit = "nats/sample"

    def track_n_iter(self, *params):
        with quiet():
            return int(GaussianMixture(**self.kwargs).fit(self.X).n_iter_)

    track_n_iter.unit = "iterations"


class FitTickReturns:
    """The univariate two-regime case (d = 1, K = 2) at tick-data scale."""

    params = [with_large([200_000], [2_000_000, 10_000_000])]
    param_names = ["n_samples"]
    timeout = 600

    def setup(self, n_samples):
        self.X = tick_returns(n_rows(n_samples))
        self.kwargs = dict(n_components=2, reg_covar=1e-12, random_state=0)

    def time_fit(self, n_samples):
        with quiet():
            GaussianMixture(**self.kwargs).fit(self.X)

    def time_fit_20_iter(self, n_samples):
        with quiet():
            GaussianMixture(max_iter=20, tol=0.0, **self.kwargs).fit(self.X)


class CompareSklearn:
    """gmmx against sklearn.mixture.GaussianMixture on identical EM paths.

    Both start from the same (true) parameters, so they visit the same
    iterates. ``track_speedup`` is sklearn's time over gmmx's for ten
    iterations (best of three each, so one-off start-up costs drop out);
    ``track_loglik_gap`` is gmmx's final mean log-likelihood minus sklearn's
    after both converge (about 1e-15; a clearly negative value is an
    accuracy regression).
    """

    params = [COVARIANCE_TYPES, with_large([2, 8], [32]), with_large([1, 8], [32])]
    param_names = ["covariance_type", "n_components", "n_features"]
    timeout = 900

    def setup(self, covariance_type, n_components, n_features):
        self.SkGM = sklearn_gaussian_mixture()
        self.X = mixture_data(n_rows(10_000, 500_000), n_components, n_features)
        self.kwargs = dict(
            n_components=n_components,
            covariance_type=covariance_type,
            **true_init(covariance_type, n_components, n_features),
        )

    def track_speedup(self, *params):
        with quiet():
            t_sk = best_time(lambda: self.SkGM(max_iter=10, tol=0.0, **self.kwargs).fit(self.X))
            t_gx = best_time(lambda: GaussianMixture(max_iter=10, tol=0.0, **self.kwargs)
                             .fit(self.X))
        return t_sk / t_gx

    track_speedup.unit = "x faster than sklearn"

    def track_loglik_gap(self, *params):
        with quiet():
            sk = self.SkGM(max_iter=300, tol=1e-7, **self.kwargs).fit(self.X)
            gx = GaussianMixture(max_iter=300, tol=1e-7, **self.kwargs).fit(self.X)
        return float(gx.score(self.X) - sk.score(self.X))

    track_loglik_gap.unit = "nats/sample"

    def time_gmmx_10_iter(self, *params):
        with quiet():
            GaussianMixture(max_iter=10, tol=0.0, **self.kwargs).fit(self.X)

    def time_sklearn_10_iter(self, *params):
        with quiet():
            self.SkGM(max_iter=10, tol=0.0, **self.kwargs).fit(self.X)
