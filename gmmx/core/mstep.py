"""The M-step: parameters from sufficient statistics plus a regularisation.

Every driver (in-memory, out-of-core, online, Dask) ends in :func:`m_step`,
so a regularisation added here works for all of them at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Optional, Union

if TYPE_CHECKING:  # pragma: no cover
    from .priors import ResolvedPrior
    from .stats import SufficientStats

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

    Applied in this order: the estimate (maximum likelihood, or MAP with
    ``prior``), plus ``reg_covar`` on the diagonal, shrunk toward
    ``tr(Sigma)/d * I`` by ``covariance_shrinkage``, eigenvalues floored at
    ``min_eigenvalue``.  Adding ``reg_covar`` commutes with the shrinkage, so
    every fitted covariance has eigenvalues >= ``max(reg_covar, min_eigenvalue)``
    (an emptied component keeps its previous covariance).

    Parameters
    ----------
    reg_covar : float, default=0.0
        Added to the diagonal of every covariance.
    prior : ResolvedPrior, optional
        Conjugate prior (:mod:`gmmx.core.priors`): MAP means and covariances.
    covariance_shrinkage : float in [0, 1], default=0.0
        ``Sigma <- (1 - s) Sigma + s tr(Sigma)/d I`` (diag: toward the mean
        variance; no effect on spherical covariances).
    min_eigenvalue : float >= 0, default=0.0
        Eigenvalues (diag, spherical: variances) below it are raised to it.
    weight_concentration : float >= 1, default=1.0
        Symmetric Dirichlet prior on the weights: MAP weights
        ``(n_k + a - 1) / (n + K (a - 1))``; 1 is maximum likelihood.
    """

    reg_covar: float = 0.0
    prior: Optional[ResolvedPrior] = None
    covariance_shrinkage: float = 0.0
    min_eigenvalue: float = 0.0
    weight_concentration: float = 1.0

    @property
    def is_map(self) -> bool:
        """True when the estimates depend on the amount of data (a prior of any kind).

        Online EM then passes statistics scaled to the weight seen so far.
        """
        return self.prior is not None or self.weight_concentration != 1.0


def as_regularisation(regularisation: Union[Regularisation, float]) -> Regularisation:
    """A :class:`Regularisation` from itself or a plain ``reg_covar`` number."""
    if isinstance(regularisation, Regularisation):
        return regularisation
    return Regularisation(reg_covar=float(regularisation))


def m_step(stats: SufficientStats, regularisation: Union[Regularisation, float],
           prev_covariances: Optional[Any] = None) -> Params:
    """Parameters that maximise the expected log-likelihood given ``stats``.

    Matches scikit-learn's M-step (including its ``10 * eps`` guard on the
    component weights), computed from centred statistics.

    Parameters
    ----------
    stats : SufficientStats
    regularisation : Regularisation or float
        A float is ``reg_covar``; a :class:`Regularisation` may add a prior
        (MAP estimates), shrinkage, an eigenvalue floor and a Dirichlet prior
        on the weights.
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
    if reg.prior is None:
        delta = stats.sk / nk_g[:, None]
        delta[empty] = 0.0
        means = stats.centers + delta
        cov = cov_type.m_step(stats, nk_g, delta, empty, reg.reg_covar, prev_covariances)
    else:
        # MAP: a prior keeps every component (an empty one gets the prior's values)
        means, cov = reg.prior.map_estimates(stats)
        cov = _add_to_diagonal(cov, cov_type.name, reg.reg_covar)
        empty = np.zeros_like(empty)
    cov = _constrain(cov, cov_type.name, reg, ~empty)
    alpha = float(reg.weight_concentration)
    if alpha == 1.0:
        weights = nk_g / nk_g.sum()
    else:
        weights = (nk + (alpha - 1.0)) / (nk.sum() + nk.shape[0] * (alpha - 1.0))
    if not (np.all(np.isfinite(means)) and np.all(np.isfinite(cov))):
        raise ValueError(
            "the M-step produced non-finite parameters; the data may be too "
            "badly scaled. Standardise the features or increase reg_covar."
        )
    return Params(weights, means, cov, cov_type.precision_cholesky(cov))


def _add_to_diagonal(cov, name, value):
    if value == 0.0:
        return cov
    if name in ("full", "tied"):
        d = cov.shape[-1]
        cov = cov.copy()
        if cov.ndim == 2:
            cov.flat[:: d + 1] += value
        else:
            cov[:, np.arange(d), np.arange(d)] += value
        return cov
    return cov + value


def _constrain(cov, name, reg, keep):
    """Shrinkage toward tr/d I, then the eigenvalue floor; components ``keep`` only."""
    lam, floor = float(reg.covariance_shrinkage), float(reg.min_eigenvalue)
    if lam == 0.0 and floor == 0.0:
        return cov
    cov = np.array(cov, dtype=np.float64, copy=True)
    if name in ("full", "tied"):
        mats = cov[None] if cov.ndim == 2 else cov
        sel = np.ones(mats.shape[0], bool) if cov.ndim == 2 else keep
        for k in np.flatnonzero(sel):
            S = mats[k]
            d = S.shape[0]
            if lam > 0:
                target = np.trace(S) / d
                S = (1.0 - lam) * S
                S.flat[:: d + 1] += lam * target
            if floor > 0:
                vals, vecs = np.linalg.eigh(S)
                if vals[0] < floor:
                    S = (vecs * np.maximum(vals, floor)) @ vecs.T
                    S = 0.5 * (S + S.T)
            mats[k] = S
        return mats[0] if cov.ndim == 2 else mats
    if name == "diag" and lam > 0:
        target = cov.mean(axis=1, keepdims=True)
        cov[keep] = ((1.0 - lam) * cov + lam * target)[keep]
    if floor > 0:
        cov[keep] = np.maximum(cov[keep], floor)
    return cov
