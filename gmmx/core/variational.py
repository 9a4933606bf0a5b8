"""Variational Bayesian Gaussian mixtures: conjugate updates from sufficient statistics.

The model and its mean-field posterior are scikit-learn's
``BayesianGaussianMixture`` (Bishop 2006, ch. 10.2; Blei & Jordan 2006 for
the Dirichlet process): a Dirichlet (or stick-breaking Beta) posterior on the
weights, a Gaussian on each mean with precision ``beta_k Lambda_k`` and a
Wishart ``W(nu_k, W_k)`` on each precision ``Lambda_k``.

The variational E-step is the Gaussian E-step of the kernel with precision
factor ``sqrt(nu_k) chol(W_k)`` (scikit-learn's ``precisions_cholesky_``),
mean ``m_k`` and per-component constants :func:`log_weight_terms`; the
M-step (:func:`variational_m_step`) turns the kernel's centred statistics
``n_k, s_k, M_k`` into the posterior's parameters.  :func:`lower_bound` is
scikit-learn's evidence lower bound, whose entropy term
``sum_i w_i sum_k r_ik log r_ik`` follows from the same statistics (see
:func:`responsibility_entropy_sum`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple, Union

import numpy as np
from scipy.special import betaln, digamma, gammaln

from .covariance import get_covariance

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import ArrayLike, NDArray
    from .stats import SufficientStats

__all__ = ["PRIOR_TYPES", "VariationalParams", "VariationalPrior", "expected_log_weights",
           "log_weight_terms", "lower_bound", "responsibility_entropy_sum",
           "variational_m_step", "weights_from_concentration"]

PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")
_EPS = np.finfo(np.float64).eps
_LOG_2PI = math.log(2.0 * math.pi)


class VariationalPrior(NamedTuple):
    """The prior with every default filled in (scikit-learn's ``*_prior_`` attributes).

    Attributes
    ----------
    prior_type : {'dirichlet_process', 'dirichlet_distribution'}
    weight_concentration : float
    mean_precision : float
    mean : ndarray of shape (d,)
    degrees_of_freedom : float
    covariance : ndarray or float
        (d, d) full and tied, (d,) diag, a float spherical.
    """

    prior_type: str
    weight_concentration: float
    mean_precision: float
    mean: np.ndarray
    degrees_of_freedom: float
    covariance: Union[np.ndarray, float]


class VariationalParams(NamedTuple):
    """The variational posterior, in scikit-learn's ``_get_parameters`` order.

    ``weight_concentration`` is (K,) for a Dirichlet distribution and (2, K)
    (the Beta parameters of the sticks) for a Dirichlet process;
    ``degrees_of_freedom`` is (K,), or a 0-d array for tied covariances.
    """

    weight_concentration: np.ndarray
    mean_precision: np.ndarray
    means: np.ndarray
    degrees_of_freedom: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray


def expected_log_weights(weight_concentration: ArrayLike, prior_type: str) -> NDArray[Any]:
    """``E[log pi_k]`` under the posterior on the weights."""
    wc = np.asarray(weight_concentration, dtype=np.float64)
    if prior_type == "dirichlet_process":
        digamma_sum = digamma(wc[0] + wc[1])
        sticks = digamma(wc[1]) - digamma_sum
        return digamma(wc[0]) - digamma_sum + np.hstack((0.0, np.cumsum(sticks)[:-1]))
    return digamma(wc) - digamma(np.sum(wc))


def weights_from_concentration(weight_concentration: ArrayLike, prior_type: str) -> NDArray[Any]:
    """Posterior mean weights, as scikit-learn's ``weights_``."""
    wc = np.asarray(weight_concentration, dtype=np.float64)
    if prior_type == "dirichlet_process":
        total = wc[0] + wc[1]
        weights = wc[0] / total * np.hstack((1.0, np.cumprod(wc[1] / total)[:-1]))
        return weights / np.sum(weights)
    return wc / np.sum(wc)


def _log_lambda(degrees_of_freedom, d):
    """``E[log |Lambda_k|] - log |W_k|`` (scikit-learn's formula for every type)."""
    nu = np.atleast_1d(np.asarray(degrees_of_freedom, dtype=np.float64))
    return d * math.log(2.0) + np.sum(digamma(0.5 * (nu - np.arange(d)[:, None])), axis=0)


def log_weight_terms(params: Any, prior_type: str) -> NDArray[Any]:
    """Per-component terms that take the place of ``log w_k`` in the kernel's constants.

    With the kernel's precision factor ``sqrt(nu_k) chol(W_k)`` its constant
    ``log w_k + log|sqrt(nu_k) chol W_k| - d/2 log 2 pi`` becomes
    ``E[log pi_k] + E[log|Lambda_k|]/2 - d/2 log 2 pi - d / (2 beta_k)``
    (scikit-learn's ``_estimate_log_prob`` + ``_estimate_log_weights``).
    """
    d = params.means.shape[1]
    nu = np.asarray(params.degrees_of_freedom, dtype=np.float64)
    beta = np.asarray(params.mean_precision, dtype=np.float64)
    terms = (expected_log_weights(params.weight_concentration, prior_type)
             - 0.5 * d * np.log(nu)
             + 0.5 * (_log_lambda(nu, d) - d / beta))
    return np.ascontiguousarray(np.broadcast_to(terms, beta.shape), dtype=np.float64)


def _guarded_counts(stats):
    """scikit-learn's ``n_k + 10 eps`` (times the mean sample weight)."""
    mean_w = stats.weight_sum / max(stats.n_samples, 1) if stats.weight_sum > 0 else 1.0
    return stats.nk + 10.0 * _EPS * mean_w


def _gaussian_estimates(stats, reg_covar):
    """scikit-learn's ``_estimate_gaussian_parameters``: ``nk, xk, sk`` from statistics."""
    cov = get_covariance(stats.covariance_type)
    nk = _guarded_counts(stats)
    xk = (stats.sk + stats.nk[:, None] * stats.centers) / nk[:, None]
    M = stats.recentred(xk).Mk  # sum_i w r (x - xk)(x - xk)^T (or its diagonal)
    d = xk.shape[1]
    if cov.name == "full":
        sk = M / nk[:, None, None]
        sk[:, np.arange(d), np.arange(d)] += reg_covar
    elif cov.name == "tied":
        sk = M.sum(axis=0) / nk.sum()
        sk[np.arange(d), np.arange(d)] += reg_covar
    elif cov.name == "diag":
        sk = M / nk[:, None] + reg_covar
    else:
        sk = (M / nk[:, None]).mean(axis=1) + reg_covar
    return nk, xk, sk


def variational_m_step(stats: Any, prior: Any, reg_covar: float) -> Any:
    """The conjugate update of the posterior from statistics of one pass.

    Matches scikit-learn's ``BayesianGaussianMixture._m_step`` (its ``10 * eps``
    guard on the counts and ``reg_covar`` on the covariance estimates
    included), computed from centred statistics.

    Parameters
    ----------
    stats : SufficientStats
    prior : VariationalPrior
    reg_covar : float

    Returns
    -------
    VariationalParams
    """
    cov = get_covariance(stats.covariance_type)
    nk, xk, sk = _gaussian_estimates(stats, reg_covar)
    K, d = xk.shape
    a0 = prior.weight_concentration
    if prior.prior_type == "dirichlet_process":
        wc = np.vstack((1.0 + nk, a0 + np.hstack((np.cumsum(nk[::-1])[-2::-1], 0.0))))
    else:
        wc = a0 + nk
    b0, m0 = prior.mean_precision, prior.mean
    beta = b0 + nk
    means = (b0 * m0 + nk[:, None] * xk) / beta[:, None]
    diff = xk - m0
    if cov.name == "full":
        nu = prior.degrees_of_freedom + nk
        shrink = nk * b0 / beta
        covariances = (prior.covariance + nk[:, None, None] * sk
                       + shrink[:, None, None] * diff[:, :, None] * diff[:, None, :])
        covariances /= nu[:, None, None]
    elif cov.name == "tied":
        nu = np.asarray(prior.degrees_of_freedom + nk.sum() / K)
        covariances = (prior.covariance + sk * nk.sum() / K
                       + b0 / K * np.dot((nk / beta) * diff.T, diff))
        covariances = covariances / nu
    elif cov.name == "diag":
        nu = prior.degrees_of_freedom + nk
        covariances = prior.covariance + nk[:, None] * (sk + (b0 / beta)[:, None] * diff ** 2)
        covariances /= nu[:, None]
    else:
        nu = prior.degrees_of_freedom + nk
        covariances = prior.covariance + nk * (sk + b0 / beta * np.mean(diff ** 2, axis=1))
        covariances /= nu
    prec_chol = cov.precision_cholesky(covariances)
    return VariationalParams(wc, beta, means, nu, covariances, prec_chol)


def responsibility_entropy_sum(stats: Any, params: Any, prior_type: str) -> float:
    """``sum_i w_i sum_k r_ik log r_ik`` of the E-step under ``params``, from its statistics.

    ``log r_ik = log rho_ik - log Z_i`` with ``log rho_ik = c_k - q_ik / 2``
    quadratic in ``x_i``, so ``sum_ik w_i r_ik log rho_ik = sum_k n_k c_k -
    tr(P_k M_k) / 2`` (``M_k`` centred at ``m_k``, ``P_k`` the precision the
    kernel used) and ``sum_i w_i log Z_i`` is the pass's log-likelihood.
    """
    cov = get_covariance(stats.covariance_type)
    means = np.asarray(params.means, dtype=np.float64)
    d = means.shape[1]
    st = stats.recentred(means)
    pc = np.asarray(params.precisions_cholesky, dtype=np.float64)
    const = (log_weight_terms(params, prior_type) + cov.log_det_cholesky(pc, d)
             - 0.5 * d * _LOG_2PI)
    P = cov.precisions_from_cholesky(pc)
    if cov.name == "full":
        quad = np.einsum("kij,kij->", P, st.Mk)
    elif cov.name == "tied":
        quad = np.einsum("ij,kij->", P, st.Mk)
    elif cov.name == "diag":
        quad = np.sum(P * st.Mk)
    else:
        quad = np.dot(P, st.Mk.sum(axis=1))
    return float(np.dot(st.nk, const) - 0.5 * quad - st.log_likelihood)


def _log_wishart_norm(nu, log_det_chol, d):
    """scikit-learn's ``_log_wishart_norm`` (without its ``log pi`` term)."""
    nu = np.asarray(nu, dtype=np.float64)
    return -(nu * log_det_chol + nu * d * 0.5 * math.log(2.0)
             + np.sum(gammaln(0.5 * (nu - np.arange(d)[:, None])), axis=0))


def lower_bound(entropy_sum: float, params: Any, prior_type: str, covariance_type: str) -> float:
    """scikit-learn's evidence lower bound (up to its constant): not per sample.

    Parameters
    ----------
    entropy_sum : float
        ``sum_i w_i sum_k r_ik log r_ik`` of the E-step that preceded the M-step.
    params : VariationalParams
        After the M-step.
    """
    cov = get_covariance(covariance_type)
    means = params.means
    K, d = means.shape
    nu = np.asarray(params.degrees_of_freedom, dtype=np.float64)
    log_det = (cov.log_det_cholesky(np.asarray(params.precisions_cholesky, np.float64), d)
               - 0.5 * d * np.log(nu))
    if cov.name == "tied":
        log_wishart = K * float(np.squeeze(_log_wishart_norm(nu, log_det, d)))
    else:
        log_wishart = float(np.sum(_log_wishart_norm(nu, log_det, d)))
    wc = np.asarray(params.weight_concentration, dtype=np.float64)
    if prior_type == "dirichlet_process":
        log_norm_weight = -float(np.sum(betaln(wc[0], wc[1])))
    else:
        log_norm_weight = float(gammaln(np.sum(wc)) - np.sum(gammaln(wc)))
    return (-entropy_sum - log_wishart - log_norm_weight
            - 0.5 * d * float(np.sum(np.log(params.mean_precision))))


def prior_moments(stats: Any) -> tuple[NDArray[Any], NDArray[Any]]:
    """Mean and unbiased covariance (full, or per feature) of one-component statistics.

    ``stats`` are those of every row under a single component (``r_i = 1``);
    the covariance divides by ``sum w - 1`` (frequency weights, as
    ``np.cov``; by ``sum w`` when that is at most 1).
    """
    n = stats.nk[0]
    s = stats.sk[0]
    mean = stats.centers[0] + s / n
    denom = n - 1.0 if n > 1.0 else n
    M = stats.Mk[0]
    if M.ndim == 2:
        covariance = (M - np.outer(s, s) / n) / denom
    else:
        covariance = (M - s * s / n) / denom
    return mean, covariance


def scaled_stats(stats: Any, factor: float) -> SufficientStats:
    """``stats`` with every additive statistic times ``factor`` and ``n_samples`` too."""
    out = stats.scaled(factor)
    out.n_samples = int(round(stats.n_samples * factor)) if factor != 1.0 else stats.n_samples
    return out
