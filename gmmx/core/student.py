"""Student-t components on the Gaussian kernel: E-step, scale M-step, ν update.

A multivariate t component ``t(x | mu, Sigma, nu)`` is a Gaussian scale
mixture: ``x | tau ~ N(mu, Sigma / tau)``, ``tau ~ Gamma(nu/2, nu/2)``.
EM for a mixture of them (Peel & McLachlan 2000) needs per row and
component the squared Mahalanobis distance ``delta = (x-mu)' Sigma^-1 (x-mu)``,
which follows from the Gaussian log-density that kernel entry point 2
(:func:`gmmx.core.kernel.log_densities`) computes, and the weight
``u = E[tau | x, k] = (nu + d) / (nu + delta)``.

The mixture's E-step, ``log_prob_norm`` and ``responsibilities`` are one
native pass over the rows (:func:`gmmx._kernels._estep.t_estep`): per
cache-sized chunk, the Gaussian log-densities, the t arithmetic
(t log-densities, responsibilities, ``u``, the per-component sums) and the
statistics under r·u, so no (n, K) array is materialised.  The HMM
emissions need the (n, K) t log-densities for the forward-backward pass:
one native pass over the kernel's Gaussian log-densities
(:func:`gmmx._kernels._student.t_lattice`, :func:`student_log_densities`).

The statistics of a pass are :class:`~gmmx.core.stats.SufficientStats`
**under r·u** (``nk = sum w r u``, ``sk``, ``Mk`` from kernel entry point 3,
:func:`gmmx.core.kernel.accumulate_resp`), so the Gaussian M-step's means
``sk / nk`` are the t locations; ``extra`` holds what only the t model needs:

``extra["resp"]``
    ``sum_i w_i r_ik`` (the counts for the mixing weights and the scale's
    denominator);
``extra["log_u_minus_u"]``
    ``sum_i w_i r_ik (log u_ik - u_ik)`` (for the ν update);
``extra["entropy"]``
    ``-sum_i w_i r_ik log r_ik`` (ICL from the statistics alone).

Both are additive, so chunk sources, Dask and online EM carry them unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Optional

import numpy as np

from .._kernels import _estep, _student
from . import kernel
from ..exceptions import DegreesOfFreedomWarning, warn_user
from .covariance import get_covariance
from .stats import SufficientStats

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import NDArray

__all__ = ["DOF_MAX", "DOF_MIN", "StudentTEStep", "StudentTEmissions", "StudentTParams",
           "dof_update", "u_weighted_scales",
           "student_log_densities", "student_m_step", "t_covariances"]

#: Largest degrees of freedom an estimate takes.  Beyond ~1e3 a t component
#: is a Gaussian to within the sampling error of any realistic data set
#: (its kurtosis excess is 6 / (nu - 4) < 0.6 %), while the ν equation's root
#: runs off to infinity on Gaussian data; the estimate stops here and the
#: estimator warns, naming the component.
DOF_MAX = 1000.0
#: Smallest degrees of freedom an estimate takes (keeps log-densities finite).
DOF_MIN = 1e-3

_LOG_PI = math.log(math.pi)
_LOG_2PI = math.log(2.0 * math.pi)


class StudentTParams(NamedTuple):
    """Parameters of a t mixture: Gaussian layout plus the degrees of freedom.

    ``scales`` are the scale matrices Sigma in the covariance type's shape and
    ``precisions_cholesky`` the factors of their inverses.
    """

    weights: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    precisions_cholesky: np.ndarray
    dof: np.ndarray


def student_log_densities(gauss: Any, log_det: Any, dof: Any, n_features: int) -> tuple[NDArray[Any], NDArray[Any]]:
    """t log-densities and weights ``u`` from unit-weight Gaussian log-densities.

    Parameters
    ----------
    gauss : ndarray of shape (n, K)
        ``log N(x_i | mu_k, Sigma_k)`` (not modified).
    log_det : ndarray of shape (K,)
        ``-1/2 log |Sigma_k|`` (the log-determinant of the precision factor).
    dof : ndarray of shape (K,)
    n_features : int

    Returns
    -------
    log_t : ndarray of shape (n, K)
        ``log t(x_i | mu_k, Sigma_k, nu_k)``.
    u : ndarray of shape (n, K)
        ``(nu_k + d) / (nu_k + delta_ik)``.
    """
    log_t, u, _ = _t_lattice(np.array(gauss, dtype=np.float64), log_det, dof, n_features, 0.0)
    return log_t, u


def _t_constants(log_det, dof, d, log_weights):
    """``c_k`` with ``log w_k + log t_k = c_k - half_k log(nu_k + delta)``, and ``half_k``."""
    from scipy.special import gammaln  # on use: off the CLI's import path

    dof = np.asarray(dof, dtype=np.float64)
    half = 0.5 * (dof + d)
    # log(1 + delta/nu) = log(nu + delta) - log nu, the -log nu folded into c_k
    c = (gammaln(half) - gammaln(0.5 * dof) - 0.5 * d * (np.log(dof) + _LOG_PI) + log_det
         + half * np.log(dof) + log_weights)
    return np.ascontiguousarray(c, dtype=np.float64), np.ascontiguousarray(half)


def _t_lattice(g, log_det, dof, d, log_weights, n_threads=1):
    """``(log w_k + log t_ik, u_ik, log(nu_k + delta_ik))``, overwriting ``g``.

    ``g`` holds the unit-weight Gaussian log-densities, from which
    ``delta = 2 (log_det - d/2 log 2 pi - g)``; one native pass
    (:func:`gmmx._kernels._student.t_lattice`).
    """
    dof = np.ascontiguousarray(dof, dtype=np.float64)
    c, half = _t_constants(log_det, dof, d, log_weights)
    gcst = np.ascontiguousarray(log_det - 0.5 * d * _LOG_2PI, dtype=np.float64)
    gcst = np.broadcast_to(gcst, dof.shape).copy()
    u = np.empty_like(g)
    L = np.empty_like(g)
    _student.t_lattice(g, gcst, dof, c, half, u, L, int(n_threads))
    return g, u, L


@dataclass
class StudentTEStep:
    """The t mixture's E-step on one block of rows (a :class:`kernel.BlockEStep`).

    Parameters
    ----------
    gauss : KernelParams
        The locations and scales packed with unit weights: entry point 2
        gives ``log N(x | mu_k, Sigma_k)``.
    log_weights : ndarray of shape (K,)
    dof : ndarray of shape (K,)
    """

    gauss: kernel.KernelParams
    log_weights: np.ndarray
    dof: np.ndarray

    @classmethod
    def from_params(cls, params: Any, covariance_type: str) -> StudentTEStep:
        """The E-step for :class:`StudentTParams`."""
        K = params.means.shape[0]
        gauss = kernel.kernel_params(np.ones(K), params.means, params.precisions_cholesky,
                                     covariance_type)
        with np.errstate(divide="ignore"):
            logw = np.log(np.asarray(params.weights, dtype=np.float64))
        return cls(gauss, logw, np.asarray(params.dof, dtype=np.float64))

    def _tpar(self, d):
        c, half = _t_constants(self.gauss.cst + 0.5 * d * _LOG_2PI, self.dof, d,
                               self.log_weights)
        return np.ascontiguousarray(np.stack([self.dof, c, half]), dtype=np.float64)

    def _pass(self, X, w, n_threads, chunk_rows=0, want_stats=True, out_norm=None,
              out_resp=None, where=""):
        """One fused native pass (:func:`gmmx._kernels._estep.t_estep`)."""
        kp = self.gauss
        w64 = kernel._weights_arg(w)
        with kernel.blas_threads_for(kp.kind, n_threads, kernel.uses_blas(kp)) as threads:
            flat, tsums, status, bad_chunk, used = _estep.t_estep(
                X, w64, kp.cst, kp.means, kp.prec, kp.ref, kp.shift, kp.n_blocks, kp.kind,
                threads, self._tpar(X.shape[1]), chunk_rows, want_stats, out_norm, out_resp)
        if status != _estep.STATUS_OK:
            kernel._raise_status(status, bad_chunk, used, X, where, params=kp,
                                 sample_weight=w)
        return flat, tsums

    def log_prob_norm(self, X: NDArray[Any], n_threads: int | None) -> NDArray[Any]:
        """``log p(x_i)`` of every row."""
        out = np.empty(X.shape[0], dtype=np.float64)
        self._pass(X, None, n_threads, want_stats=False, out_norm=out)
        return out

    def responsibilities(self, X: NDArray[Any], n_threads: int | None) -> NDArray[Any]:
        """Posterior component probabilities, (n, K)."""
        out = np.empty((X.shape[0], self.dof.shape[0]), dtype=np.float64)
        self._pass(X, None, n_threads, want_stats=False, out_resp=out)
        return out

    def accumulate(self, X: NDArray[Any], sample_weight: NDArray[Any] | None,
                   n_threads: int | None, chunk_rows: int | None,
                   where: str) -> SufficientStats:
        """Statistics under r·u plus ``extra`` (see the module docstring).

        One native pass: per cache-sized chunk of rows, the Gaussian
        log-densities, the t arithmetic and the statistics under r·u.
        """
        flat, sums = self._pass(X, sample_weight, n_threads, chunk_rows, where=where)
        stats = kernel.stats_from_kernel(flat, self.gauss, X.shape[0])
        if X.shape[0] == 0:
            stats = SufficientStats.zeros(self.gauss.covariance_type, self.gauss.means)
        resp = sums[0]
        # sum w r (log u - u) = log(nu + d) sum w r - sum w r log(nu + delta) - sum w r u
        stats.extra = {"resp": resp,
                       "log_u_minus_u": np.log(self.dof + X.shape[1]) * resp - sums[1]
                       - stats.nk,
                       "entropy": sums[2]}
        return stats


@dataclass
class StudentTEmissions:
    """t emissions of a hidden Markov model on the Gaussian kernel (an HMM emission family).

    ``bind(kp)`` attaches the unit-weight Gaussian parameters;
    :meth:`log_densities` returns the t log-densities with ``(u, log(nu + delta))``
    as state, :meth:`statistics` the statistics under ``gamma * u`` with the
    ``extra`` sums of :mod:`gmmx.core.student` (``resp`` = ``sum w gamma``).

    Parameters
    ----------
    dof : ndarray of shape (K,)
    gauss : KernelParams, optional
    """

    dof: np.ndarray
    gauss: Optional[kernel.KernelParams] = None

    def bind(self, kp: Any) -> StudentTEmissions:
        """These emissions on the Gaussian parameters ``kp``."""
        return StudentTEmissions(np.asarray(self.dof, dtype=np.float64), kp)

    def log_densities(self, X: NDArray[Any], n_threads: int | None) -> Any:
        """``(log t(x_i | k) (n, K), (u, log(nu + delta)))``."""
        if self.gauss is None:
            raise ValueError("StudentTEmissions.bind(kernel_params) must be called first")
        d = X.shape[1]
        g = kernel.log_densities(X, self.gauss, n_threads)
        log_t, u, log_s = _t_lattice(g, self.gauss.cst + 0.5 * d * _LOG_2PI, self.dof, d, 0.0,
                                     n_threads)
        return log_t, (u, log_s)

    def statistics(self, X: NDArray[Any], w: NDArray[Any] | None, resp: NDArray[Any], state: Any, n_threads: int | None, where: str = "") -> SufficientStats:
        """Statistics of ``X`` under ``resp * u`` plus ``extra["resp"]`` and
        ``extra["log_u_minus_u"]``."""
        u, log_s = state
        stats = kernel.accumulate_resp(X, w, resp * u, self.gauss, n_threads, where=where)
        wr = resp if w is None else resp * np.asarray(w, dtype=np.float64)[:, None]
        total = wr.sum(axis=0)
        stats.extra = {"resp": total,
                       "log_u_minus_u": (np.log(self.dof + X.shape[1]) * total
                                         - np.einsum("ik,ik->k", wr, log_s) - stats.nk)}
        return stats


def u_weighted_scales(scales: NDArray[Any], resp: NDArray[Any], nk_u: NDArray[Any], covariance_type: str, guard: float = 0.0) -> NDArray[Any]:
    """Scales estimated with ``sum r u`` as denominator, moved to ``sum r``.

    The Gaussian M-step on statistics under r·u divides the scatter by
    ``sum w r u``; the t scale divides by ``sum w r``.  Tied: pooled sums.
    Components without weight keep their value.
    """
    scales = np.asarray(scales, dtype=np.float64)
    if covariance_type == "tied":
        return scales * ((nk_u.sum() + guard) / (resp.sum() + guard))
    factor = np.where(resp > guard, (nk_u + guard) / (resp + guard), 1.0)
    return scales * factor.reshape((-1,) + (1,) * (scales.ndim - 1))


def dof_update(resp: NDArray[Any], log_u_minus_u: NDArray[Any], dof: Any, n_features: int, dof_max: float = DOF_MAX) -> NDArray[Any]:
    """New degrees of freedom per component (the CM-step of ECM for ν).

    Solves, for each component with weight, Peel & McLachlan's (2000) eq. (30)

    ``-psi(v/2) + log(v/2) + 1 + A_k + psi((nu_k+d)/2) - log((nu_k+d)/2) = 0``

    with ``A_k = sum w r (log u - u) / sum w r`` from the E-step under the
    current ``nu_k``, by Brent's method on ``[DOF_MIN, dof_max]``.  The
    left-hand side decreases in ``v``; when it is still positive at
    ``dof_max`` (Gaussian-looking data) the root lies beyond and ``dof_max``
    is returned.  At a fixed point of EM this is the likelihood's score
    equation for ν.

    Returns
    -------
    ndarray of shape (K,)
    """
    from scipy.optimize import brentq  # on use: the CLI's import path stays light
    from scipy.special import digamma
    new = np.array(dof, dtype=np.float64, copy=True)
    d = n_features
    for k in range(new.shape[0]):
        if not resp[k] > 0:
            continue  # an empty component keeps its value
        c = 1.0 + log_u_minus_u[k] / resp[k] + digamma(0.5 * (dof[k] + d)) \
            - math.log(0.5 * (dof[k] + d))

        def f(v, c=c):
            return math.log(0.5 * v) - digamma(0.5 * v) + c

        if f(dof_max) >= 0.0:
            new[k] = dof_max
        elif f(DOF_MIN) <= 0.0:
            new[k] = DOF_MIN
        else:
            new[k] = brentq(f, DOF_MIN, dof_max, xtol=1e-12, rtol=4 * np.finfo(float).eps,
                            maxiter=500)
    return new


def warn_dof_floor(dof: NDArray[Any], unit: str = "component") -> None:
    """A :class:`~gmmx.DegreesOfFreedomWarning` naming the estimated ν at ``DOF_MIN``.

    ν falls to the bound where a component's rows sit (almost) on its
    location: the t likelihood then grows without bound as ν falls (d > 2),
    as a Gaussian's does when a variance collapses.
    """
    floored = np.flatnonzero(np.asarray(dof) <= DOF_MIN)
    if floored.size:
        warn_user(
            f"the degrees of freedom of {unit}(s) {floored.tolist()} reached the lower bound "
            f"{DOF_MIN:g}: the rows of those {unit}s sit (almost) on their location, as "
            "duplicated or collapsed rows do, or reg_covar is large against the data's "
            "spread, and the likelihood grows without bound as nu falls. The fit is "
            "degenerate there: drop duplicate rows, rescale the data, lower reg_covar, use "
            "fewer components, or fix degrees_of_freedom.",
            DegreesOfFreedomWarning)


def student_m_step(stats: SufficientStats, reg_covar: float, prev: Any, fixed_dof: Any = None, dof_max: float = DOF_MAX) -> StudentTParams:
    """New :class:`StudentTParams` from statistics under r·u (see the module docstring).

    Locations ``sum w r u x / sum w r u`` and scales
    ``sum w r u (x - mu)(x - mu)' / sum w r`` (the covariance type's Gaussian
    M-step on the u-weighted statistics, rescaled from ``sum w r u`` to
    ``sum w r``; tied: pooled over components), plus ``reg_covar`` on the
    diagonal; weights ``sum w r / sum w``; ν by :func:`dof_update` unless
    ``fixed_dof``.

    Parameters
    ----------
    stats : SufficientStats
    reg_covar : float
    prev : StudentTParams
        The parameters of the E-step (their ν enter the ν update; an empty
        component keeps its scale).
    fixed_dof : float, optional
    dof_max : float
    """
    cov_type = get_covariance(stats.covariance_type)
    if stats.weight_sum == np.inf:
        raise ValueError(
            "the sample weights sum to more than float64 can hold (1.8e308); divide "
            "them by a constant: only their ratios matter")
    if not stats.weight_sum > 0 or not np.isfinite(stats.weight_sum):
        raise ValueError("the statistics carry no weight; the data or sample_weight are empty")
    eps = np.finfo(np.float64).eps
    guard = 10.0 * eps * stats.weight_sum / max(stats.n_samples, 1)
    resp = stats.extra["resp"]
    nr_g = resp + guard
    nu_g = stats.nk + guard
    empty = resp <= guard
    delta = stats.sk / nu_g[:, None]
    delta[empty] = 0.0
    means = stats.centers + delta
    scales = u_weighted_scales(cov_type.m_step(stats, nu_g, delta, empty, 0.0, None), resp,
                               stats.nk, cov_type.name, guard)
    scales = _plus_diagonal(scales, cov_type.name, reg_covar)
    if np.any(empty) and cov_type.name != "tied":
        scales[empty] = np.asarray(prev.scales, dtype=np.float64)[empty]
    weights = nr_g / nr_g.sum()
    if fixed_dof is not None:
        dof = np.full(resp.shape[0], float(fixed_dof))
    else:
        dof = dof_update(resp, stats.extra["log_u_minus_u"], np.asarray(prev.dof),
                         stats.n_features, dof_max)
    if not (np.all(np.isfinite(means)) and np.all(np.isfinite(scales))):
        raise ValueError(
            "the M-step produced non-finite parameters; the data may be too "
            "badly scaled. Standardise the features or increase reg_covar.")
    return StudentTParams(weights, means, scales, cov_type.precision_cholesky(scales), dof)


def _plus_diagonal(scales, name, value):
    if value == 0.0:
        return scales
    if name in ("full", "tied"):
        d = scales.shape[-1]
        return scales + value * np.eye(d)
    return scales + value


def t_covariances(scales: NDArray[Any], dof: Any, covariance_type: str) -> NDArray[Any]:
    """Covariances ``nu / (nu - 2) Sigma`` (infinite where ``nu <= 2``).

    Shape as ``covariances_`` of a Gaussian mixture of the type, except tied:
    (K, d, d), since each component has its own ν.
    """
    dof = np.asarray(dof, dtype=np.float64)
    scales = np.asarray(scales, dtype=np.float64)
    if covariance_type == "tied":
        scales = np.broadcast_to(scales, (dof.shape[0],) + scales.shape)
    finite = dof > 2.0
    factor = np.where(finite, dof / np.where(finite, dof - 2.0, 1.0), 1.0)
    out = scales * factor.reshape((-1,) + (1,) * (scales.ndim - 1))
    out[~finite] = np.inf
    return out
