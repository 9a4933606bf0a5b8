"""Imputation of missing values by a Gaussian mixture fitted with the gaps marginalized.

:class:`MixtureImputer` is a scikit-learn transformer: ``fit`` fits a
:class:`~gmmx.GaussianMixture` with ``nan_policy='marginalize'`` (EM with
the missing entries latent), ``transform`` replaces every NaN (or masked)
entry by its conditional mean ``E[x_m | x_o]`` under the fitted mixture.
Unlike mean imputation it keeps the correlations between features, and
unlike dropping rows it uses every observed value.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np

from .mixture import GaussianMixture
from .mixture._sklearn import BaseEstimator

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import ArrayLike, NDArray

try:
    from sklearn.base import TransformerMixin
except ImportError:  # pragma: no cover - exercised without scikit-learn

    class TransformerMixin:  # type: ignore[no-redef]
        """``fit_transform`` as scikit-learn's mixin."""

        def fit_transform(self, X, y=None, **fit_params):
            """Fit, then transform ``X``."""
            return self.fit(X, y, **fit_params).transform(X)

__all__ = ["MixtureImputer"]


class MixtureImputer(TransformerMixin, BaseEstimator):
    """Impute missing values by their conditional means under a Gaussian mixture.

    Parameters
    ----------
    n_components : int, default=1
        Mixture components (1: a multivariate normal, the classic EM imputation).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        'full' or 'tied' use the correlations; 'diag' and 'spherical' impute
        each component's mean.
    reg_covar, tol, max_iter, n_init, init_params, random_state, n_threads
        As for :class:`~gmmx.GaussianMixture`.

    Attributes
    ----------
    mixture_ : GaussianMixture
        The fitted mixture (``nan_policy='marginalize'``).
    n_features_in_ : int
    """

    def __init__(self, n_components: int = 1, *, covariance_type: str = "full",
                 reg_covar: float = 1e-6, tol: float = 1e-3, max_iter: int = 100,
                 n_init: int = 1, init_params: str = "kmeans",
                 random_state: Union[None, int, np.random.RandomState] = None,
                 n_threads: Optional[int] = None) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.n_threads = n_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def fit(self, X: Any, y: Any = None,
            sample_weight: Optional[ArrayLike] = None) -> "MixtureImputer":
        """Fit the mixture to ``X`` by EM over its missing entries.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or any data ``GaussianMixture.fit`` takes
            NaN or masked entries are missing; a row needs one observed value.
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        self.mixture_ = GaussianMixture(
            self.n_components, covariance_type=self.covariance_type, reg_covar=self.reg_covar,
            tol=self.tol, max_iter=self.max_iter, n_init=self.n_init,
            init_params=self.init_params, random_state=self.random_state,
            n_threads=self.n_threads, nan_policy="marginalize",
        ).fit(X, sample_weight=sample_weight)
        self.n_features_in_ = self.mixture_.n_features_in_
        if hasattr(self.mixture_, "feature_names_in_"):
            self.feature_names_in_ = self.mixture_.feature_names_in_
        return self

    def transform(self, X: ArrayLike) -> NDArray:
        """``X`` with its missing entries replaced by ``E[x_m | x_o]``.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        if not hasattr(self, "mixture_"):
            from .exceptions import NotFittedError

            raise NotFittedError("This MixtureImputer instance is not fitted yet. Call 'fit' "
                                 "with appropriate arguments before using this estimator.")
        return self.mixture_.impute(X)

    def get_feature_names_out(self, input_features: Any = None) -> NDArray:
        """The input feature names (imputation keeps the columns)."""
        names = getattr(self, "feature_names_in_", None)
        if input_features is not None:
            names = input_features
        if names is None:
            names = [f"x{i}" for i in range(self.n_features_in_)]
        return np.asarray(names, dtype=object)
