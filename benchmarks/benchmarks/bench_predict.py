"""Benchmarks of scoring and prediction with a fitted model."""

from __future__ import annotations

from gmmx import GaussianMixture

from .common import COVARIANCE_TYPES, mixture_data, n_rows, quiet, true_init, with_large


class Predict:
    """score_samples / predict / predict_proba on new rows.

    float64 rows only: float32 input goes through the same kernel, which
    ``bench_fit.FitFixedIterations`` times for both dtypes.
    """

    params = [COVARIANCE_TYPES, with_large([2, 8], [32]), with_large([1, 8], [32])]
    param_names = ["covariance_type", "n_components", "n_features"]
    timeout = 600

    def setup(self, covariance_type, n_components, n_features):
        n = n_rows(100_000, 2_000_000)
        X_train = mixture_data(min(n, 20_000), n_components, n_features, seed=1)
        with quiet():
            self.model = GaussianMixture(
                n_components, covariance_type=covariance_type, max_iter=5, tol=0.0,
                **true_init(covariance_type, n_components, n_features),
            ).fit(X_train)
        self.X = mixture_data(n, n_components, n_features)

    def time_score_samples(self, *params):
        self.model.score_samples(self.X)

    def time_predict(self, *params):
        self.model.predict(self.X)

    def time_predict_proba(self, *params):
        self.model.predict_proba(self.X)

    def peakmem_predict_proba(self, *params):
        self.model.predict_proba(self.X)


class Sample:
    """Drawing rows from a fitted model."""

    params = [COVARIANCE_TYPES]
    param_names = ["covariance_type"]

    def setup(self, covariance_type):
        X = mixture_data(n_rows(5_000), 4, 8)
        with quiet():
            self.model = GaussianMixture(4, covariance_type=covariance_type, max_iter=3,
                                         tol=0.0, **true_init(covariance_type, 4, 8)).fit(X)
        self.n = n_rows(200_000)

    def time_sample(self, covariance_type):
        self.model.sample(self.n)
