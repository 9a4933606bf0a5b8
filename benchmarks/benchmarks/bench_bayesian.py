"""Benchmarks of BayesianGaussianMixture: fixed variational iterations and online SVI."""

from __future__ import annotations

from gmmx import BayesianGaussianMixture

from .common import COVARIANCE_TYPES, mixture_data, n_rows, quiet, tick_returns


class BayesianFixedIterations:
    """Ten variational iterations from a random start (``tol=0``): kernel + conjugate M-step."""

    params = [COVARIANCE_TYPES, ["dirichlet_process", "dirichlet_distribution"]]
    param_names = ["covariance_type", "weight_concentration_prior_type"]
    timeout = 600

    def setup(self, covariance_type, prior_type):
        self.X = mixture_data(n_rows(50_000, 1_000_000), 4, 8)
        self.kwargs = dict(n_components=4, covariance_type=covariance_type, max_iter=10,
                           tol=0.0, init_params="random", random_state=0,
                           weight_concentration_prior_type=prior_type)

    def time_fit(self, *params):
        with quiet():
            BayesianGaussianMixture(**self.kwargs).fit(self.X)


class BayesianOnline:
    """One epoch of ``partial_fit`` on tick returns in batches of 20,000 (K = 6, DP)."""

    timeout = 600

    def setup(self):
        self.X = tick_returns(n_rows(400_000, 4_000_000))

    def _epoch(self):
        m = BayesianGaussianMixture(n_components=6, reg_covar=1e-14, random_state=0)
        with quiet():
            for i in range(0, self.X.shape[0], 20_000):
                m.partial_fit(self.X[i:i + 20_000])
        return m

    def time_epoch(self):
        self._epoch()

    def track_components_above_1pct(self):
        return int((self._epoch().weights_ > 0.01).sum())
