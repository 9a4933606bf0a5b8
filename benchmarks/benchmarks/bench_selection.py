"""Benchmarks of model selection (GaussianMixtureIC), MAP fits and the hierarchical start."""

from __future__ import annotations

import numpy as np

from gmmx import ConjugatePrior, GaussianMixture, GaussianMixtureIC
from gmmx.core.hierarchical import hc_vvv, svd_transform

from .common import mixture_data, n_rows, quiet


class SelectGrid:
    """A K = 1..6 x covariance-type grid fitted in lockstep, fixed work per candidate.

    ``source`` reads the rows from an iterable of blocks, so every EM
    iteration is one pass for the whole grid; ``track_passes`` records it.
    """

    params = [["array", "source"], [1, 4]]
    param_names = ["data", "n_covariance_types"]
    timeout = 600

    def setup(self, data, n_covariance_types):
        X = mixture_data(n_rows(100_000), 3, 2)
        self.X = X if data == "array" else [X[i:i + 16_384] for i in range(0, X.shape[0],
                                                                         16_384)]
        covs = ("full", "tied", "diag", "spherical")[:n_covariance_types]
        self.kwargs = dict(n_components=range(1, 7), covariance_type=covs, max_iter=10,
                           tol=0.0, random_state=0)

    def _fit(self):
        with quiet():
            return GaussianMixtureIC(**self.kwargs).fit(self.X)

    def time_grid(self, *params):
        self._fit()

    def track_passes(self, *params):
        return float(self._fit().n_passes_)


class HierarchicalTree:
    """mclust's model-based agglomeration on the at most 2,000 rows it uses."""

    params = [[2, 8]]
    param_names = ["n_features"]
    timeout = 300

    def setup(self, n_features):
        self.Z = svd_transform(mixture_data(n_rows(2_000), 4, n_features))

    def time_tree(self, n_features):
        hc_vvv(self.Z)


class MapFit:
    """Ten MAP EM iterations with the default conjugate prior."""

    params = [["full", "diag"]]
    param_names = ["covariance_type"]

    def setup(self, covariance_type):
        self.X = mixture_data(n_rows(200_000), 4, 4)
        self.model = GaussianMixture(4, covariance_type=covariance_type, prior=ConjugatePrior(),
                                     reg_covar=0, max_iter=10, tol=0.0, random_state=0)

    def time_map_fit(self, covariance_type):
        with quiet():
            self.model.fit(self.X)

    def track_loglik(self, covariance_type):
        with quiet():
            return float(np.mean(self.model.fit(self.X).score_samples(self.X)))
