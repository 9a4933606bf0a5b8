"""The M-step: parameters from sufficient statistics plus a regularisation.

Every driver (in-memory, out-of-core, online, Dask) ends in :func:`m_step`,
so a regularisation added here works for all of them at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .covariance import get_covariance

__all__ = ["Params", "Regularisation", "as_regularisation", "m_step"]

_EPS = np.finfo(np.float64).eps


class Params(NamedTuple):
    """Mixture parameters in scikit-learn's layout."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray


@dataclass(frozen=True)
class Regularisation:
    """What the M-step adds to the maximum-likelihood estimates.

    Parameters
    ----------
    reg_covar : float, default=0.0
        Added to the diagonal of every covariance.
    """

    reg_covar: float = 0.0


def as_regularisation(regularisation):
    """A :class:`Regularisation` from itself or a plain ``reg_covar`` number."""
    if isinstance(regularisation, Regularisation):
        return regularisation
    return Regularisation(reg_covar=float(regularisation))


def m_step(stats, regularisation, prev_covariances=None):
    """Parameters that maximise the expected log-likelihood given ``stats``.

    Matches scikit-learn's M-step (including its ``10 * eps`` guard on the
    component weights), computed from centred statistics.

    Parameters
    ----------
    stats : SufficientStats
    regularisation : Regularisation or float
        A float is ``reg_covar``.
    prev_covariances : ndarray, optional
        Covariances of the previous iteration, kept for components that
        received no weight at all (instead of producing 0/0).

    Returns
    -------
    Params
    """
    reg = as_regularisation(regularisation)
    cov_type = get_covariance(stats.covariance_type)
    nk = stats.nk
    if stats.weight_sum == np.inf:
        raise ValueError(
            "the sample weights sum to more than float64 can hold (1.8e308); divide "
            "them by a constant: only their ratios matter"
        )
    if stats.weight_sum <= 0 or not np.isfinite(stats.weight_sum):
        raise ValueError("the statistics carry no weight; the data or sample_weight are empty")
    mean_w = stats.weight_sum / max(stats.n_samples, 1)
    guard = 10.0 * _EPS * mean_w
    nk_g = nk + guard
    empty = nk <= guard
    delta = stats.sk / nk_g[:, None]
    delta[empty] = 0.0
    means = stats.centers + delta
    cov = cov_type.m_step(stats, nk_g, delta, empty, reg.reg_covar, prev_covariances)
    weights = nk_g / nk_g.sum()
    if not (np.all(np.isfinite(means)) and np.all(np.isfinite(cov))):
        raise ValueError(
            "the M-step produced non-finite parameters; the data may be too "
            "badly scaled. Standardise the features or increase reg_covar."
        )
    return Params(weights, means, cov, cov_type.precision_cholesky(cov))
