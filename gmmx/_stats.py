"""Sufficient statistics of a Gaussian mixture, their algebra, and the M-step.

Every driver produces :class:`SufficientStats` with the one E-step kernel and
turns them into parameters with :func:`m_step`.  Statistics are centred at the
model's means at the time of the pass (the "assumed mean" method), so
``Sigma_k = M_k / n_k - delta delta^T`` never cancels catastrophically on
price-level data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

_EPS = np.finfo(np.float64).eps

ILL_DEFINED_COVARIANCE = (
    "Fitting the mixture model failed because some components have "
    "ill-defined empirical covariance (for instance caused by singleton "
    "or collapsed samples). Try to decrease the number of components, "
    "increase reg_covar, or scale the input data."
)


def m_shape(covariance_type, n_components, n_features):
    """Shape of the second-moment statistic ``M`` for a covariance type."""
    if covariance_type in ("full", "tied"):
        return (n_components, n_features, n_features)
    return (n_components, n_features)


@dataclass
class SufficientStats:
    """Weighted sufficient statistics of one or more blocks of rows.

    Attributes
    ----------
    covariance_type : str
    centers : ndarray of shape (K, d)
        The centres ``c_k`` the moments are taken about.
    nk : ndarray of shape (K,)
        ``sum_i w_i r_ik``.
    sk : ndarray of shape (K, d)
        ``sum_i w_i r_ik (x_i - c_k)``.
    Mk : ndarray of shape (K, d, d) or (K, d)
        ``sum_i w_i r_ik (x_i - c_k)(x_i - c_k)^T`` (full, tied) or its
        diagonal (diag, spherical).
    log_likelihood : float
        ``sum_i w_i log p(x_i)`` under the parameters of the pass.
    weight_sum : float
        ``sum_i w_i``.
    n_samples : int
        Number of rows.
    """

    covariance_type: str
    centers: np.ndarray
    nk: np.ndarray
    sk: np.ndarray
    Mk: np.ndarray
    log_likelihood: float = 0.0
    weight_sum: float = 0.0
    n_samples: int = 0

    @classmethod
    def zeros(cls, covariance_type, centers):
        """Empty statistics about ``centers``."""
        centers = np.array(centers, dtype=np.float64, order="C")
        K, d = centers.shape
        return cls(
            covariance_type,
            centers,
            np.zeros(K),
            np.zeros((K, d)),
            np.zeros(m_shape(covariance_type, K, d)),
        )

    @property
    def n_components(self):
        """Number of components K."""
        return self.centers.shape[0]

    @property
    def n_features(self):
        """Number of features d."""
        return self.centers.shape[1]

    def copy(self):
        """A deep copy."""
        return SufficientStats(
            self.covariance_type,
            self.centers.copy(),
            self.nk.copy(),
            self.sk.copy(),
            self.Mk.copy(),
            self.log_likelihood,
            self.weight_sum,
            self.n_samples,
        )

    def recentred(self, new_centers):
        """The same statistics taken about ``new_centers``.

        With ``D = c_old - c_new``: ``s' = s + n D`` and
        ``M' = M + D s^T + s D^T + n D D^T``.
        """
        new_centers = np.asarray(new_centers, dtype=np.float64)
        if np.array_equal(new_centers, self.centers):
            return self.copy()
        D = self.centers - new_centers
        n = self.nk
        sk = self.sk + n[:, None] * D
        if self.Mk.ndim == 3:
            Mk = (
                self.Mk
                + D[:, :, None] * self.sk[:, None, :]
                + self.sk[:, :, None] * D[:, None, :]
                + n[:, None, None] * D[:, :, None] * D[:, None, :]
            )
        else:
            Mk = self.Mk + 2.0 * D * self.sk + n[:, None] * D * D
        return SufficientStats(
            self.covariance_type,
            new_centers.copy(),
            self.nk.copy(),
            sk,
            Mk,
            self.log_likelihood,
            self.weight_sum,
            self.n_samples,
        )

    def _check_compatible(self, other):
        if not isinstance(other, SufficientStats):
            raise TypeError(f"cannot combine SufficientStats with {type(other).__name__}")
        if other.covariance_type != self.covariance_type:
            raise ValueError(
                "cannot combine statistics of covariance_type "
                f"{self.covariance_type!r} and {other.covariance_type!r}"
            )
        if other.centers.shape != self.centers.shape:
            raise ValueError(
                f"cannot combine statistics of shape {self.centers.shape} and "
                f"{other.centers.shape} (n_components, n_features)"
            )

    def __add__(self, other):
        """Statistics of the union of the two blocks (about ``self.centers``)."""
        self._check_compatible(other)
        if not np.array_equal(other.centers, self.centers):
            other = other.recentred(self.centers)
        return SufficientStats(
            self.covariance_type,
            self.centers.copy(),
            self.nk + other.nk,
            self.sk + other.sk,
            self.Mk + other.Mk,
            self.log_likelihood + other.log_likelihood,
            self.weight_sum + other.weight_sum,
            self.n_samples + other.n_samples,
        )

    def scaled(self, factor):
        """All additive statistics multiplied by ``factor`` (online EM)."""
        f = float(factor)
        return SufficientStats(
            self.covariance_type,
            self.centers.copy(),
            self.nk * f,
            self.sk * f,
            self.Mk * f,
            self.log_likelihood * f,
            self.weight_sum * f,
            self.n_samples,
        )

    def to_arrays(self, prefix="stats_"):
        """Plain arrays for saving (see :mod:`gmmx.io`)."""
        return {
            prefix + "centers": self.centers,
            prefix + "nk": self.nk,
            prefix + "sk": self.sk,
            prefix + "Mk": self.Mk,
            prefix + "scalars": np.array(
                [self.log_likelihood, self.weight_sum, float(self.n_samples)]
            ),
        }

    @classmethod
    def from_arrays(cls, covariance_type, arrays, prefix="stats_"):
        """Inverse of :meth:`to_arrays`."""
        sc = np.asarray(arrays[prefix + "scalars"], dtype=np.float64)
        return cls(
            covariance_type,
            np.asarray(arrays[prefix + "centers"], dtype=np.float64),
            np.asarray(arrays[prefix + "nk"], dtype=np.float64),
            np.asarray(arrays[prefix + "sk"], dtype=np.float64),
            np.asarray(arrays[prefix + "Mk"], dtype=np.float64),
            float(sc[0]),
            float(sc[1]),
            int(sc[2]),
        )


# --------------------------------------------------------------------------
# Precision Cholesky factors (sklearn's conventions: P = U U^T, U upper)
# --------------------------------------------------------------------------


def compute_precision_cholesky(covariances, covariance_type):
    """Upper-triangular ``U`` with ``U U^T = Sigma^-1``, as sklearn's.

    Raises
    ------
    ValueError
        If a covariance is not positive definite.
    """
    if covariance_type == "full":
        K, d, _ = covariances.shape
        out = np.empty((K, d, d))
        for k in range(K):
            out[k] = _prec_chol_one(covariances[k])
        return out
    if covariance_type == "tied":
        return _prec_chol_one(covariances)
    covariances = np.asarray(covariances, dtype=np.float64)
    if np.any(~np.isfinite(covariances)) or np.any(covariances <= 0.0):
        raise ValueError(ILL_DEFINED_COVARIANCE)
    return 1.0 / np.sqrt(covariances)


def _prec_chol_one(cov):
    if not np.all(np.isfinite(cov)):
        raise ValueError(ILL_DEFINED_COVARIANCE)
    try:
        cov_chol = linalg.cholesky(cov, lower=True)
    except linalg.LinAlgError:
        raise ValueError(ILL_DEFINED_COVARIANCE) from None
    d = cov.shape[0]
    U = linalg.solve_triangular(cov_chol, np.eye(d), lower=True).T
    if not np.all(np.isfinite(U)):
        raise ValueError(ILL_DEFINED_COVARIANCE)
    return U


def precision_cholesky_from_precisions(precisions, covariance_type):
    """Upper-triangular Cholesky factors of given precision matrices."""
    if covariance_type in ("full", "tied"):
        P = np.asarray(precisions, dtype=np.float64)
        single = P.ndim == 2
        P = P[None] if single else P
        out = np.empty_like(P)
        for k in range(P.shape[0]):
            try:
                # Reverse rows and columns so a lower Cholesky gives U.
                L = linalg.cholesky(P[k][::-1, ::-1], lower=True)
            except linalg.LinAlgError:
                raise ValueError(
                    "precisions_init must be symmetric positive definite"
                ) from None
            out[k] = L[::-1, ::-1]
        return out[0] if single else out
    return np.sqrt(np.asarray(precisions, dtype=np.float64))


def covariances_from_precision_cholesky(prec_chol, covariance_type):
    """Covariances implied by precision Cholesky factors."""
    if covariance_type == "full":
        out = np.empty_like(prec_chol)
        for k in range(prec_chol.shape[0]):
            Uinv = linalg.solve_triangular(prec_chol[k], np.eye(prec_chol.shape[1]), lower=False)
            out[k] = Uinv.T @ Uinv
        return out
    if covariance_type == "tied":
        Uinv = linalg.solve_triangular(prec_chol, np.eye(prec_chol.shape[0]), lower=False)
        return Uinv.T @ Uinv
    return 1.0 / prec_chol**2


def precisions_from_cholesky(prec_chol, covariance_type):
    """``P = U U^T`` for every component."""
    if covariance_type == "full":
        return np.einsum("kij,klj->kil", prec_chol, prec_chol)
    if covariance_type == "tied":
        return prec_chol @ prec_chol.T
    return prec_chol**2


def log_det_cholesky(prec_chol, covariance_type, n_features):
    """``log det U`` per component (a scalar for tied)."""
    if covariance_type == "full":
        return np.sum(np.log(np.diagonal(prec_chol, axis1=1, axis2=2)), axis=1)
    if covariance_type == "tied":
        return np.sum(np.log(np.diag(prec_chol)))
    if covariance_type == "diag":
        return np.sum(np.log(prec_chol), axis=1)
    return n_features * np.log(prec_chol)


# --------------------------------------------------------------------------
# M-step
# --------------------------------------------------------------------------


def m_step(stats, reg_covar, prev_covariances=None):
    """Parameters that maximise the expected log-likelihood given ``stats``.

    Matches scikit-learn's M-step (including its ``10 * eps`` guard on the
    component weights), computed from centred statistics.

    Parameters
    ----------
    stats : SufficientStats
    reg_covar : float
        Added to the diagonal of every covariance.
    prev_covariances : ndarray, optional
        Covariances of the previous iteration, kept for components that
        received no weight at all (instead of producing 0/0).

    Returns
    -------
    weights, means, covariances, precisions_cholesky
    """
    cov_type = stats.covariance_type
    K, d = stats.centers.shape
    nk = stats.nk
    if stats.weight_sum <= 0 or not np.isfinite(stats.weight_sum):
        raise ValueError("the statistics carry no weight; the data or sample_weight are empty")
    mean_w = stats.weight_sum / max(stats.n_samples, 1)
    guard = 10.0 * _EPS * mean_w
    nk_g = nk + guard
    empty = nk <= guard
    delta = stats.sk / nk_g[:, None]
    delta[empty] = 0.0
    means = stats.centers + delta
    # (1/n_g) sum r (x - mu)(x - mu)^T with mu = c + delta, s = n_g delta
    corr = 2.0 - nk / nk_g
    if cov_type in ("full", "tied"):
        outer = delta[:, :, None] * delta[:, None, :]
        if cov_type == "full":
            cov = stats.Mk / nk_g[:, None, None] - corr[:, None, None] * outer
            cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
            if np.any(empty):
                cov[empty] = _fallback(prev_covariances, empty, stats, d)
                cov[empty] -= reg_covar * np.eye(d)
            cov += reg_covar * np.eye(d)[None]
        else:
            scatter = stats.Mk - (2.0 * nk_g - nk)[:, None, None] * outer
            cov = scatter.sum(axis=0) / nk_g.sum()
            cov = 0.5 * (cov + cov.T)
            cov.flat[:: d + 1] += reg_covar
    else:
        cov = stats.Mk / nk_g[:, None] - corr[:, None] * delta**2
        if np.any(empty):
            cov[empty] = _fallback(prev_covariances, empty, stats, d) - reg_covar
        cov = cov + reg_covar
        if cov_type == "spherical":
            cov = cov.mean(axis=1)
    weights = nk_g / nk_g.sum()
    if not (np.all(np.isfinite(means)) and np.all(np.isfinite(cov))):
        raise ValueError(
            "the M-step produced non-finite parameters; the data may be too "
            "badly scaled. Standardise the features or increase reg_covar."
        )
    prec_chol = compute_precision_cholesky(cov, cov_type)
    return weights, means, cov, prec_chol


def _fallback(prev, empty, stats, d):
    """Covariance for an empty component: the previous one, else the pooled spread."""
    if prev is not None:
        prev = np.asarray(prev, dtype=np.float64)[empty]
        return np.repeat(prev[:, None], d, axis=1) if prev.ndim == 1 else prev
    pooled = stats.Mk.sum(axis=0) / max(stats.nk.sum(), _EPS)
    return np.repeat(pooled[None], int(empty.sum()), axis=0)
