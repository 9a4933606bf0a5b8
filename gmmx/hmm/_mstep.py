"""The Baum-Welch M-step with hmmlearn's MAP priors.

Start and transition probabilities: Dirichlet priors (hmmlearn's
``BaseHMM._do_mstep``).  Emissions (hmmlearn's ``GaussianHMM._do_mstep``):
a normal prior on the means, an inverse-Wishart (full, tied) or
inverse-gamma (diag, spherical) prior on the covariances.  The covariance
prior enters as pseudo-statistics: the scatter about the new means plus
``means_weight (mu - means_prior)(mu - means_prior)^T`` plus ``covars_prior``,
over the occupancy plus the prior's weight, and the covariance object of
:mod:`gmmx.core.covariance` does the rest (its M-step with a zero mean shift),
so each covariance type keeps its own shape, pooling and empty-state rule.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..core.covariance import get_covariance

__all__ = ["EmissionPriors", "emission_m_step", "start_m_step", "transition_m_step"]

_EPS = np.finfo(np.float64).eps


class EmissionPriors:
    """hmmlearn's emission priors, checked and broadcast to a model's shapes.

    Parameters
    ----------
    means_prior, means_weight, covars_prior, covars_weight :
        As :class:`gmmx.hmm.GaussianHMM`.
    covariance_type : str
    n_components, n_features : int
    """

    def __init__(self, means_prior, means_weight, covars_prior, covars_weight,
                 covariance_type, n_components, n_features):
        K, d = n_components, n_features
        self.cov = get_covariance(covariance_type)
        self.means_prior = _per_state(means_prior, "means_prior", K, (K, d))
        self.means_weight = _per_state(means_weight, "means_weight", K, (K,))
        if np.any(self.means_weight < 0):
            raise ValueError("means_weight must be non-negative")
        self.covars_prior = _per_state(covars_prior, "covars_prior", K,
                                       self.cov.stats_shape(K, d))
        weight = np.asarray(covars_weight, dtype=np.float64)
        if _pooled(self.cov, K, d) and weight.ndim:
            raise ValueError("covars_weight must be a scalar for covariance_type='tied'")
        self.covars_weight = _per_state(covars_weight, "covars_weight", K, (K,))


def _pooled(cov, K, d):
    """True for a covariance shared by all states (tied)."""
    return cov.is_matrix and len(cov.shape(K, d)) == 2


def _broadcast(value, name, shape):
    a = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinity")
    try:
        return np.broadcast_to(a, shape).copy()
    except ValueError:
        raise ValueError(
            f"{name} has shape {a.shape}, which does not broadcast to {shape}; pass a "
            "scalar or an array of that shape"
        ) from None


def _per_state(value, name, K, shape):
    """A scalar, a per-state vector (K,) or an array broadcasting to ``shape``."""
    a = np.asarray(value, dtype=np.float64)
    if a.shape == (K,) and len(shape) > 1:
        a = a.reshape((K,) + (1,) * (len(shape) - 1))
    return _broadcast(a, name, shape)


def start_m_step(start, startprob, prior):
    """New start probabilities (hmmlearn's rule; zeros stay zero)."""
    new = np.maximum(np.asarray(prior, dtype=np.float64) - 1.0 + start, 0.0)
    new = np.where(startprob == 0, 0.0, new)
    total = new.sum()
    if not total > 0:
        warnings.warn(
            "startprob_ was not updated: the statistics and startprob_prior leave no "
            "positive start probability", UserWarning, stacklevel=4)
        return startprob.copy()
    return new / total


def transition_m_step(trans, transmat, prior):
    """New transition matrix (hmmlearn's rule; zeros stay zero).

    A state no transition left (zero row) keeps its previous row, where
    hmmlearn would leave a row of zeros that is not a distribution.
    """
    new = np.maximum(np.asarray(prior, dtype=np.float64) - 1.0 + trans, 0.0)
    new = np.where(transmat == 0, 0.0, new)
    rows = new.sum(axis=1)
    dead = ~(rows > 0)
    if np.any(dead):
        warnings.warn(
            f"no transition from state(s) {np.flatnonzero(dead).tolist()} was observed; "
            "their rows of transmat_ keep their previous values", UserWarning, stacklevel=4)
        new[dead] = transmat[dead]
        rows[dead] = new[dead].sum(axis=1)
    return new / rows[:, None]


def emission_m_step(stats, means, covars, priors, update_means, update_covars):
    """New means and covariances (hmmlearn's estimates, from centred statistics).

    Parameters
    ----------
    stats : SufficientStats
        Emission statistics, centred at the current means ``stats.centers``.
    means, covars : ndarray
        Current parameters (``covars`` in the covariance object's shape).
    priors : EmissionPriors
    update_means, update_covars : bool
        ``'m'`` / ``'c'`` in ``params``.

    Returns
    -------
    means, covars : ndarray
        States that received no weight keep their previous values.
    """
    cov = priors.cov
    K, d = stats.centers.shape
    n = stats.nk
    guard = 10.0 * _EPS * stats.weight_sum / max(stats.n_samples, 1)
    empty = n <= guard
    c = stats.centers
    if update_means:
        mw = priors.means_weight[:, None]
        denom = mw + n[:, None]
        shift = (mw * (priors.means_prior - c) + stats.sk) / np.where(denom > 0, denom, 1.0)
        shift[empty] = 0.0
        means = c + shift
    else:
        means = c.copy()
    if not update_covars:
        return means, covars
    scatter = stats.recentred(means)
    dev = means - priors.means_prior
    mw = priors.means_weight
    if cov.is_matrix:
        scatter.Mk = scatter.Mk + mw[:, None, None] * dev[:, :, None] * dev[:, None, :]
        denom = np.maximum(priors.covars_weight - d, 0.0) + n
    else:
        scatter.Mk = scatter.Mk + mw[:, None] * dev ** 2
        denom = np.maximum(np.maximum(priors.covars_weight - 1.0, 0.0) + n, 1e-5)
    if _pooled(cov, K, d):
        # tied: the covariance object pools sum_k M_k / sum_k n_k, so the
        # prior, counted once in hmmlearn, is spread over the K states.
        scatter.Mk = scatter.Mk + priors.covars_prior / K
        denom = n + (denom - n) / K
        empty = np.zeros(K, dtype=bool)
    else:
        scatter.Mk = scatter.Mk + priors.covars_prior
        denom = np.where(empty, 1.0, denom)   # empty states keep their covariance
    new = cov.m_step(scatter, denom, np.zeros((K, d)), empty, 0.0, covars)
    return means, new
