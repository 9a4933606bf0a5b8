"""Benchmarks of online EM: ``partial_fit`` throughput and mini-batch fits."""

from __future__ import annotations

from gmmx import GaussianMixture

from .common import mixture_data, n_rows, quiet, skip, true_init, with_large

N_COMPONENTS = 4


def _require_partial_fit():
    if not hasattr(GaussianMixture, "partial_fit"):
        skip("this gmmx has no GaussianMixture.partial_fit")


class PartialFit:
    """One epoch of ``partial_fit`` over the data in fixed-size batches.

    ``track_rows_per_second`` is the throughput of that epoch (best of three);
    ``track_loglik_one_epoch`` the mean log-likelihood after it, which is
    where a change in the step-size schedule or the statistics would show.
    """

    params = [["full", "diag"], with_large([1_000, 10_000], [100_000]),
              with_large([1, 8], [32])]
    param_names = ["covariance_type", "batch_size", "n_features"]
    timeout = 600

    def setup(self, covariance_type, batch_size, n_features):
        _require_partial_fit()
        X = mixture_data(n_rows(100_000, 2_000_000), N_COMPONENTS, n_features)
        bs = min(batch_size, max(1, X.shape[0] // 4))
        self.X = X
        self.batches = [X[i:i + bs] for i in range(0, X.shape[0], bs)]
        self.kwargs = dict(n_components=N_COMPONENTS, covariance_type=covariance_type,
                           random_state=0,
                           **true_init(covariance_type, N_COMPONENTS, n_features))

    def _epoch(self):
        model = GaussianMixture(**self.kwargs)
        with quiet():
            for batch in self.batches:
                model.partial_fit(batch)
        return model

    def time_epoch(self, *params):
        self._epoch()

    def peakmem_epoch(self, *params):
        self._epoch()

    def track_rows_per_second(self, *params):
        import time

        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            self._epoch()
            best = min(best, time.perf_counter() - t0)
        return self.X.shape[0] / best

    track_rows_per_second.unit = "rows/s"

    def track_loglik_one_epoch(self, *params):
        return float(self._epoch().score(self.X))

    track_loglik_one_epoch.unit = "nats/sample"


class MinibatchFit:
    """``gmmx.streaming.fit_minibatch``: shuffled online epochs over a source."""

    params = [["full", "diag"]]
    param_names = ["covariance_type"]
    timeout = 600

    def setup(self, covariance_type):
        _require_partial_fit()
        try:
            from gmmx.streaming import fit_minibatch
        except ImportError:
            skip("this gmmx has no gmmx.streaming.fit_minibatch")
        self.fit_minibatch = fit_minibatch
        self.X = mixture_data(n_rows(200_000, 2_000_000), N_COMPONENTS, 8)
        self.kwargs = dict(n_components=N_COMPONENTS, covariance_type=covariance_type,
                           random_state=0, chunk_size=max(64, n_rows(10_000) // 4),
                           **true_init(covariance_type, N_COMPONENTS, 8))

    def time_fit_minibatch_1_epoch(self, covariance_type):
        with quiet():
            self.fit_minibatch(GaussianMixture(**self.kwargs), self.X, n_epochs=1)
