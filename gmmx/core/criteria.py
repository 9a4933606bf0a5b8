"""Information criteria from one pass's sufficient statistics.

BIC, AIC and ICL need the (weighted) log-likelihood of the final parameters,
the total weight and, for ICL, the entropy of the posterior probabilities.
All three come from the statistics of one E-step under those parameters:
the entropy is ``EN = log L - Q`` where ``Q`` is the expected complete-data
log-likelihood, itself a function of the statistics.  So model selection
over data of any size needs no pass beyond the EM passes.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .covariance import get_covariance

__all__ = ["complete_log_likelihood", "criteria", "entropy"]

_LOG_2PI = np.log(2.0 * np.pi)


def complete_log_likelihood(stats: Any, weights: Any, means: Any, precisions_cholesky: Any,
                            covariance_type: str) -> float:
    """``Q = sum_i w_i sum_k g_ik [log pi_k + log N(x_i | mu_k, Sigma_k)]``.

    Parameters
    ----------
    stats : SufficientStats
        Of a pass under these same parameters (``g_ik`` their posteriors).
    weights, means, precisions_cholesky : ndarray
    covariance_type : str

    Returns
    -------
    float
    """
    cov = get_covariance(covariance_type)
    st = stats.recentred(np.asarray(means, dtype=np.float64))
    K, d = st.centers.shape
    U = np.asarray(precisions_cholesky, dtype=np.float64)
    log_det_u = np.broadcast_to(cov.log_det_cholesky(U, d), (K,))
    P = cov.precisions_from_cholesky(U)
    if cov.name == "full":
        quad = np.einsum("kij,kji->k", P, st.Mk)
    elif cov.name == "tied":
        quad = np.einsum("ij,kji->k", P, st.Mk)
    elif cov.name == "diag":
        quad = np.sum(P * st.Mk, axis=1)
    else:
        quad = P * st.Mk.sum(axis=1)
    nk = st.nk
    with np.errstate(divide="ignore"):
        log_w = np.log(np.asarray(weights, dtype=np.float64))
    per_k = np.where(nk > 0, nk * (log_w - 0.5 * d * _LOG_2PI + log_det_u), 0.0) - 0.5 * quad
    return float(per_k.sum())


def entropy(stats: Any, weights: Any, means: Any, precisions_cholesky: Any,
            covariance_type: str) -> float:
    """``EN = -sum_i w_i sum_k g_ik log g_ik`` from a pass's statistics under the parameters."""
    q = complete_log_likelihood(stats, weights, means, precisions_cholesky, covariance_type)
    return max(float(stats.log_likelihood) - q, 0.0)


def criteria(log_likelihood: float, weight: float, n_parameters: int,
             entropy_value: Optional[float] = None) -> dict[str, Optional[float]]:
    """``{"bic", "aic", "icl"}`` (lower is better) from ``log L``, ``n = sum w`` and ``p``.

    ``icl`` is None when no entropy is given.
    """
    bic = -2.0 * log_likelihood + n_parameters * np.log(weight)
    return {
        "bic": float(bic),
        "aic": float(-2.0 * log_likelihood + 2.0 * n_parameters),
        "icl": None if entropy_value is None else float(bic + 2.0 * entropy_value),
    }
