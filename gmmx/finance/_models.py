"""Reading mixture parameters, from a fitted model or given raw, for gmmx.finance.

The helpers here turn what a caller passes (a fitted sklearn-style mixture with
``weights_``, ``means_``, ``covariances_`` and ``covariance_type``, or raw
weights, means and standard deviations / variances / covariances) into checked
float64 arrays, and expand covariances of any ``covariance_type`` to full
(K, d, d) matrices.  They are shared by the distribution, risk, regime and
plotting code; :func:`full_covariances` is public and re-exported as
``gmmx.finance.full_covariances``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import ArrayLike, NDArray

from .. import exceptions
from ..core.covariance import get_covariance

__all__ = ["full_covariances", "model_covariances"]


def _is_model(obj):
    return all(hasattr(obj, a) for a in ("weights_", "means_", "covariances_"))


def full_covariances(covariances: ArrayLike, covariance_type: str, n_components: int,
                     n_features: int) -> NDArray[np.float64]:
    """Expand covariances of any ``covariance_type`` to shape (K, d, d).

    Parameters
    ----------
    covariances : array_like
        As stored in ``covariances_`` by sklearn-style mixtures: (K, d, d) for
        'full', (d, d) for 'tied', (K, d) for 'diag', (K,) for 'spherical'.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    n_components, n_features : int

    Returns
    -------
    ndarray of shape (n_components, n_features, n_features)
    """
    c = np.asarray(covariances, dtype=np.float64)
    K, d = int(n_components), int(n_features)
    cov = get_covariance(covariance_type)
    expected = cov.shape(K, d)
    if c.shape != expected:
        raise ValueError(
            f"covariances for covariance_type={covariance_type!r} with {K} components "
            f"and {d} features must have shape {expected}, got {c.shape}"
        )
    return cov.to_full(c, K, d)


def _check_weights(weights):
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"weights must be a non-empty 1-D array, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights contain NaN or inf; pass finite mixing weights")
    if np.any(w < 0):
        raise ValueError(f"weights must be non-negative, got {w.tolist()}")
    total = w.sum()
    if abs(total - 1.0) > 1e-6:
        raise ValueError(
            f"weights must sum to 1, they sum to {total:.10g}; divide them by their sum"
        )
    return w / total


def _model_params(model):
    """(weights, means (K, d), full covariances (K, d, d)) of a fitted model."""
    if hasattr(model, "degrees_of_freedom_"):
        raise ValueError(
            f"{type(model).__name__} is a Student-t mixture, not a Gaussian one: use "
            "gmmx.finance.UnivariateTMixture.from_model / MultivariateTMixture.from_model "
            "(value_at_risk and expected_shortfall accept it directly)")
    if not _is_model(model):
        if hasattr(model, "fit"):  # an estimator, not fitted yet
            raise exceptions.NotFittedError(  # built on use: scikit-learn loads then
                f"This {type(model).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator (it has no weights_, "
                "means_ and covariances_ yet)"
            )
        raise ValueError(
            "expected a fitted mixture model with weights_, means_ and covariances_ "
            f"(call fit first), got {type(model).__name__}"
        )
    weights = _check_weights(model.weights_)
    means = np.asarray(model.means_, dtype=np.float64)
    if means.ndim != 2 or means.shape[0] != weights.size:
        raise ValueError(f"model.means_ must have shape (K, d), got {means.shape}")
    return weights, means, model_covariances(model)


def model_covariances(model: Any) -> NDArray[np.float64]:
    """Covariances of a fitted model as (K, d, d) matrices, whatever its covariance_type."""
    n_components, n_features = np.shape(model.means_)
    return full_covariances(model.covariances_, getattr(model, "covariance_type", "full"),
                            n_components, n_features)


def _univariate_params(weights, means, stds=None, variances=None):
    w = _check_weights(weights)
    m = np.asarray(means, dtype=np.float64).reshape(-1)
    if (stds is None) == (variances is None):
        raise ValueError("pass exactly one of stds= or variances=")
    if stds is not None:
        s = np.asarray(stds, dtype=np.float64).reshape(-1)
    else:
        v = np.asarray(variances, dtype=np.float64).reshape(-1)
        if np.any(~(v > 0)):
            raise ValueError(f"variances must be positive and finite, got {v.tolist()}")
        s = np.sqrt(v)
    if not (w.size == m.size == s.size):
        raise ValueError(
            f"weights, means and stds must have the same length, got "
            f"{w.size}, {m.size} and {s.size}"
        )
    if not np.all(np.isfinite(m)):
        raise ValueError("means contain NaN or inf")
    if np.any(~(s > 0)) or not np.all(np.isfinite(s)):
        raise ValueError(f"standard deviations must be positive and finite, got {s.tolist()}")
    return w, m, s

