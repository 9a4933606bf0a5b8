"""Covariance types as objects: everything that depends on the form of Sigma_k.

One class per ``covariance_type`` (``full``, ``tied``, ``diag``,
``spherical``) holds the shapes, the parameter count, the validation of user
precisions, the Cholesky/precision conversions (scikit-learn's conventions:
``P = U U^T`` with ``U`` upper triangular), the log-determinant, the packing
of the precision factors for the kernel, the expansion to full matrices,
sampling and the covariance part of the M-step.  A new covariance type is one
new subclass registered in :data:`COVARIANCES`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import linalg
from scipy.linalg import lapack

from ..exceptions import IllDefinedCovarianceError

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import NDArray

__all__ = [
    "COVARIANCES",
    "COVARIANCE_TYPES",
    "CovarianceType",
    "ILL_DEFINED_COVARIANCE",
    "get_covariance",
    "n_mixture_parameters",
]

_EPS = np.finfo(np.float64).eps

ILL_DEFINED_COVARIANCE = (
    "Fitting the mixture model failed because some components have "
    "ill-defined empirical covariance (for instance caused by singleton "
    "or collapsed samples). Try to decrease the number of components, "
    "increase reg_covar, or scale the input data."
)


def _prec_chol_one(cov):
    """Upper-triangular ``U`` with ``U U^T = cov^-1`` for one matrix."""
    if not np.all(np.isfinite(cov)):
        raise IllDefinedCovarianceError(ILL_DEFINED_COVARIANCE)
    if cov.shape == (1, 1):
        # LAPACK's 1 x 1 Cholesky and triangular solve are sqrt and 1 / x:
        # the same bits, without scipy's ~20 us of wrappers per call (one
        # feature, K = 2: 3 % of a float32 EM iteration on 2M rows).
        c = float(cov[0, 0])
        if not c > 0.0:
            raise IllDefinedCovarianceError(ILL_DEFINED_COVARIANCE)
        U = np.array([[1.0 / math.sqrt(c)]])
        if not np.isfinite(U[0, 0]):
            raise IllDefinedCovarianceError(ILL_DEFINED_COVARIANCE)
        return U
    # LAPACK's potrf and trtrs called as scipy's cholesky and solve_triangular
    # call them (the same bits), without their ~60 us of wrappers per matrix
    cov_chol, info = lapack.dpotrf(np.asarray(cov, dtype=np.float64), lower=1, clean=1)
    if info != 0:
        raise IllDefinedCovarianceError(ILL_DEFINED_COVARIANCE)
    U, info = lapack.dtrtrs(cov_chol, np.eye(cov.shape[0]), lower=1)
    U = U.T
    if info != 0 or not np.all(np.isfinite(U)):
        raise IllDefinedCovarianceError(ILL_DEFINED_COVARIANCE)
    return U


def _chol_of_precision(P):
    """Upper-triangular ``U`` with ``U U^T = P`` for one precision matrix."""
    try:
        # Reverse rows and columns so a lower Cholesky gives U.
        L = linalg.cholesky(P[::-1, ::-1], lower=True)
    except linalg.LinAlgError:
        raise ValueError("precisions_init must be symmetric positive definite") from None
    return L[::-1, ::-1]


def _cov_from_chol(U):
    Uinv = linalg.solve_triangular(U, np.eye(U.shape[0]), lower=False)
    return Uinv.T @ Uinv


class CovarianceType:
    """Base class: the form of the component covariances.

    Attributes
    ----------
    name : str
        The ``covariance_type`` string.
    is_matrix : bool
        True when covariances are d x d matrices (full, tied); their kernel
        layout multiplies rows by the precision Cholesky factors with BLAS.
    """

    name = ""
    is_matrix = False

    def __repr__(self):
        return f"<covariance {self.name!r}>"

    # -- shapes and counts ------------------------------------------------
    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        """Shape of ``covariances_``, ``precisions_`` and ``precisions_cholesky_``."""
        raise NotImplementedError

    def stats_shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        """Shape of the second-moment statistic ``M`` of :class:`SufficientStats`."""
        K, d = n_components, n_features
        return (K, d, d) if self.is_matrix else (K, d)

    def n_parameters(self, n_components: int, n_features: int) -> float:
        """Number of free covariance parameters."""
        raise NotImplementedError

    # -- conversions -------------------------------------------------------
    def precision_cholesky(self, covariances: NDArray[Any]) -> NDArray[Any]:
        """Upper-triangular factors ``U`` with ``U U^T = Sigma^-1``.

        Raises
        ------
        ValueError
            If a covariance is not positive definite.
        """
        covariances = np.asarray(covariances, dtype=np.float64)
        if np.any(~np.isfinite(covariances)) or np.any(covariances <= 0.0):
            raise IllDefinedCovarianceError(ILL_DEFINED_COVARIANCE)
        return 1.0 / np.sqrt(covariances)

    def precision_cholesky_from_precisions(self, precisions: NDArray[Any]) -> NDArray[Any]:
        """Cholesky factors of given precisions (``precisions_init``)."""
        return np.sqrt(np.asarray(precisions, dtype=np.float64))

    def covariances_from_cholesky(self, prec_chol: NDArray[Any]) -> NDArray[Any]:
        """Covariances implied by precision Cholesky factors."""
        return 1.0 / prec_chol**2

    def precisions_from_cholesky(self, prec_chol: NDArray[Any]) -> NDArray[Any]:
        """``P = U U^T`` for every component."""
        return prec_chol**2

    def log_det_cholesky(self, prec_chol: NDArray[Any], n_features: int) -> Any:
        """``log det U`` per component (a scalar for tied)."""
        raise NotImplementedError

    # -- kernel packing ----------------------------------------------------
    def cholesky_blocks(self, prec_chol: NDArray[Any], n_components: int,
                        n_features: int) -> NDArray[Any]:
        """(P, d, d) stack of factors for the BLAS layout (P = K, or 1 when shared)."""
        raise NotImplementedError(f"{self.name} covariances have no matrix layout")

    def diagonal_factors(self, prec_chol: NDArray[Any], n_components: int,
                         n_features: int) -> NDArray[Any]:
        """(K, d) square roots of the precisions for the direct (diagonal) layout."""
        raise NotImplementedError

    # -- validation, expansion, sampling ------------------------------------
    def check_precisions(self, precisions: NDArray[Any], n_components: int, n_features: int,
                         name: str = "precisions_init") -> NDArray[Any]:
        """Validate user-given precisions; return them as float64.

        Raises
        ------
        ValueError
            Wrong shape, non-finite, not symmetric or not positive.
        """
        p = np.asarray(precisions, dtype=np.float64)
        want = self.shape(n_components, n_features)
        if p.shape != want:
            raise ValueError(
                f"The parameter '{self.name} precision' should have the shape of {want}, but "
                f"got {p.shape}: {name} must have shape {want} for covariance_type="
                f"{self.name!r}"
            )
        if not np.all(np.isfinite(p)):
            raise ValueError(f"{name} contains NaN or infinity")
        self._check_precision_values(p, name)
        return p

    def _check_precision_values(self, p, name):
        if np.any(p <= 0):
            raise ValueError(f"'{self.name} precision' should be positive: {name} must be "
                             "strictly positive")

    def to_full(self, covariances: NDArray[Any], n_components: int,
                n_features: int) -> NDArray[Any]:
        """Covariances expanded to shape (K, d, d)."""
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, means: NDArray[Any], covariances: NDArray[Any],
               counts: NDArray[Any]) -> NDArray[Any]:
        """``counts[k]`` draws from each component, stacked in component order."""
        K, d = means.shape
        sd = np.sqrt(np.asarray(covariances, dtype=np.float64))
        sd = sd if sd.ndim == 2 else sd[:, None] * np.ones((K, d))
        return np.vstack([
            m + rng.standard_normal(size=(int(s), d)) * sd_k
            for m, sd_k, s in zip(means, sd, counts)
        ])

    # -- M-step --------------------------------------------------------------
    def m_step(self, stats: Any, nk_g: NDArray[Any], delta: NDArray[Any],
               empty: NDArray[Any], reg_covar: float,
               prev_covariances: NDArray[Any] | None) -> NDArray[Any]:
        """The covariance part of the M-step (scikit-learn's estimates).

        Parameters
        ----------
        stats : SufficientStats
            Centred at ``stats.centers``; the new means are ``centers + delta``.
        nk_g : ndarray of shape (K,)
            Component weights plus scikit-learn's ``10 * eps`` guard.
        delta : ndarray of shape (K, d)
            New means minus the centres.
        empty : ndarray of bool, shape (K,)
            Components that received (almost) no weight.
        reg_covar : float
            Added to every covariance diagonal.
        prev_covariances : ndarray or None
            Previous covariances, kept for empty components.

        Returns
        -------
        ndarray
            Covariances of shape :meth:`shape`.
        """
        raise NotImplementedError

    def _diagonal_m_step(self, stats, nk_g, delta, empty, reg_covar, prev):
        corr = 2.0 - stats.nk / nk_g
        cov = stats.Mk / nk_g[:, None] - corr[:, None] * delta**2 + reg_covar
        if np.any(empty):
            cov[empty] = self._fallback(prev, empty, stats, reg_covar)
        return cov

    def _fallback(self, prev, empty, stats, reg_covar):
        """Covariance for an empty component, regularised like the others.

        The previous iteration's covariance (which already includes
        ``reg_covar``), else, at initialisation, the pooled within-component
        spread plus ``reg_covar`` -- so with ``reg_covar > 0`` it is at least
        ``reg_covar * I`` even when every row is identical.
        """
        d = stats.n_features
        if prev is not None:
            prev = np.asarray(prev, dtype=np.float64)[empty]
            return np.repeat(prev[:, None], d, axis=1) if prev.ndim == 1 else prev
        pooled = stats.Mk.sum(axis=0) / max(stats.nk.sum(), _EPS)
        if pooled.ndim == 2:
            pooled = pooled + reg_covar * np.eye(d)
        else:
            pooled = pooled + reg_covar
        return np.repeat(pooled[None], int(empty.sum()), axis=0)


class FullCovariance(CovarianceType):
    """Each component has its own d x d covariance."""

    name = "full"
    is_matrix = True

    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components, n_features, n_features)

    def n_parameters(self, n_components: int, n_features: int) -> float:
        return n_components * n_features * (n_features + 1) / 2.0

    def precision_cholesky(self, covariances: NDArray[Any]) -> NDArray[Any]:
        K, d, _ = covariances.shape
        out = np.empty((K, d, d))
        for k in range(K):
            out[k] = _prec_chol_one(covariances[k])
        return out

    def precision_cholesky_from_precisions(self, precisions: NDArray[Any]) -> NDArray[Any]:
        P = np.asarray(precisions, dtype=np.float64)
        return np.stack([_chol_of_precision(Pk) for Pk in P])

    def covariances_from_cholesky(self, prec_chol: NDArray[Any]) -> NDArray[Any]:
        return np.stack([_cov_from_chol(U) for U in prec_chol])

    def precisions_from_cholesky(self, prec_chol: NDArray[Any]) -> NDArray[Any]:
        return np.einsum("kij,klj->kil", prec_chol, prec_chol)

    def log_det_cholesky(self, prec_chol: NDArray[Any], n_features: int) -> Any:
        return np.sum(np.log(np.diagonal(prec_chol, axis1=1, axis2=2)), axis=1)

    def cholesky_blocks(self, prec_chol: NDArray[Any], n_components: int,
                        n_features: int) -> NDArray[Any]:
        return prec_chol

    def diagonal_factors(self, prec_chol: NDArray[Any], n_components: int,
                         n_features: int) -> NDArray[Any]:
        return prec_chol.reshape(n_components, 1)  # d == 1 only

    def _check_precision_values(self, p, name):
        mats = p if p.ndim == 3 else p[None]
        if not np.allclose(mats, np.swapaxes(mats, 1, 2)):
            raise ValueError(f"'{self.name} precision' should be symmetric, positive-definite: "
                             f"{name} must be symmetric")
        for k, m in enumerate(mats):
            if np.any(linalg.eigvalsh(m) <= 0.0):
                what = "" if p.ndim == 2 else f" (component {k})"
                raise ValueError(f"'{self.name} precision' should be symmetric, "
                                 f"positive-definite: {name}{what} has an eigenvalue <= 0")

    def to_full(self, covariances: NDArray[Any], n_components: int,
                n_features: int) -> NDArray[Any]:
        return covariances.copy()

    def sample(self, rng: np.random.Generator, means: NDArray[Any], covariances: NDArray[Any],
               counts: NDArray[Any]) -> NDArray[Any]:
        return np.vstack([
            rng.multivariate_normal(m, c, int(s)) for m, c, s in zip(means, covariances, counts)
        ])

    def m_step(self, stats: Any, nk_g: NDArray[Any], delta: NDArray[Any],
               empty: NDArray[Any], reg_covar: float,
               prev_covariances: NDArray[Any] | None) -> NDArray[Any]:
        d = stats.n_features
        corr = 2.0 - stats.nk / nk_g
        outer = delta[:, :, None] * delta[:, None, :]
        cov = stats.Mk / nk_g[:, None, None] - corr[:, None, None] * outer
        cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
        cov += reg_covar * np.eye(d)[None]
        if np.any(empty):
            cov[empty] = self._fallback(prev_covariances, empty, stats, reg_covar)
        return cov


class TiedCovariance(FullCovariance):
    """All components share one d x d covariance."""

    name = "tied"

    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_features, n_features)

    def n_parameters(self, n_components: int, n_features: int) -> float:
        return n_features * (n_features + 1) / 2.0

    def precision_cholesky(self, covariances: NDArray[Any]) -> NDArray[Any]:
        return _prec_chol_one(covariances)

    def precision_cholesky_from_precisions(self, precisions: NDArray[Any]) -> NDArray[Any]:
        return _chol_of_precision(np.asarray(precisions, dtype=np.float64))

    def covariances_from_cholesky(self, prec_chol: NDArray[Any]) -> NDArray[Any]:
        return _cov_from_chol(prec_chol)

    def precisions_from_cholesky(self, prec_chol: NDArray[Any]) -> NDArray[Any]:
        return prec_chol @ prec_chol.T

    def log_det_cholesky(self, prec_chol: NDArray[Any], n_features: int) -> Any:
        return np.sum(np.log(np.diag(prec_chol)))

    def cholesky_blocks(self, prec_chol: NDArray[Any], n_components: int,
                        n_features: int) -> NDArray[Any]:
        return prec_chol[None]

    def diagonal_factors(self, prec_chol: NDArray[Any], n_components: int,
                         n_features: int) -> NDArray[Any]:
        return np.broadcast_to(prec_chol.reshape(1, 1), (n_components, 1))

    def to_full(self, covariances: NDArray[Any], n_components: int,
                n_features: int) -> NDArray[Any]:
        return np.repeat(covariances[None], n_components, axis=0)

    def sample(self, rng: np.random.Generator, means: NDArray[Any], covariances: NDArray[Any],
               counts: NDArray[Any]) -> NDArray[Any]:
        return np.vstack([
            rng.multivariate_normal(m, covariances, int(s)) for m, s in zip(means, counts)
        ])

    def m_step(self, stats: Any, nk_g: NDArray[Any], delta: NDArray[Any],
               empty: NDArray[Any], reg_covar: float,
               prev_covariances: NDArray[Any] | None) -> NDArray[Any]:
        d = stats.n_features
        outer = delta[:, :, None] * delta[:, None, :]
        scatter = stats.Mk - (2.0 * nk_g - stats.nk)[:, None, None] * outer
        cov = scatter.sum(axis=0) / nk_g.sum()
        cov = 0.5 * (cov + cov.T)
        cov.flat[:: d + 1] += reg_covar
        return cov


class DiagCovariance(CovarianceType):
    """Each component has its own diagonal covariance."""

    name = "diag"

    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components, n_features)

    def n_parameters(self, n_components: int, n_features: int) -> float:
        return n_components * n_features

    def log_det_cholesky(self, prec_chol: NDArray[Any], n_features: int) -> Any:
        return np.sum(np.log(prec_chol), axis=1)

    def diagonal_factors(self, prec_chol: NDArray[Any], n_components: int,
                         n_features: int) -> NDArray[Any]:
        return prec_chol

    def to_full(self, covariances: NDArray[Any], n_components: int,
                n_features: int) -> NDArray[Any]:
        return np.stack([np.diag(c) for c in covariances])

    def m_step(self, stats: Any, nk_g: NDArray[Any], delta: NDArray[Any],
               empty: NDArray[Any], reg_covar: float,
               prev_covariances: NDArray[Any] | None) -> NDArray[Any]:
        return self._diagonal_m_step(stats, nk_g, delta, empty, reg_covar, prev_covariances)


class SphericalCovariance(CovarianceType):
    """Each component has its own single variance."""

    name = "spherical"

    def shape(self, n_components: int, n_features: int) -> tuple[int, ...]:
        return (n_components,)

    def n_parameters(self, n_components: int, n_features: int) -> float:
        return n_components

    def log_det_cholesky(self, prec_chol: NDArray[Any], n_features: int) -> Any:
        return n_features * np.log(prec_chol)

    def diagonal_factors(self, prec_chol: NDArray[Any], n_components: int,
                         n_features: int) -> NDArray[Any]:
        return np.repeat(prec_chol[:, None], n_features, axis=1)

    def to_full(self, covariances: NDArray[Any], n_components: int,
                n_features: int) -> NDArray[Any]:
        return covariances[:, None, None] * np.eye(n_features)[None]

    def m_step(self, stats: Any, nk_g: NDArray[Any], delta: NDArray[Any],
               empty: NDArray[Any], reg_covar: float,
               prev_covariances: NDArray[Any] | None) -> NDArray[Any]:
        cov = self._diagonal_m_step(stats, nk_g, delta, empty, reg_covar, prev_covariances)
        return cov.mean(axis=1)


#: The covariance types by name, in scikit-learn's order.
COVARIANCES = {
    c.name: c
    for c in (FullCovariance(), TiedCovariance(), DiagCovariance(), SphericalCovariance())
}
COVARIANCE_TYPES = tuple(COVARIANCES)


def n_mixture_parameters(covariance_type: str | CovarianceType, n_components: int,
                         n_features: int) -> int:
    """Free parameters of a Gaussian mixture: weights, means and covariances."""
    K, d = n_components, n_features
    return int(get_covariance(covariance_type).n_parameters(K, d) + K * d + K - 1)


def get_covariance(covariance_type: str | CovarianceType) -> CovarianceType:
    """The :class:`CovarianceType` object for a name (or the object itself).

    Raises
    ------
    ValueError
        For an unknown name, listing the valid ones.
    """
    if isinstance(covariance_type, CovarianceType):
        return covariance_type
    try:
        return COVARIANCES[covariance_type]
    except (KeyError, TypeError):
        raise ValueError(
            f"covariance_type must be one of {COVARIANCE_TYPES}, got {covariance_type!r}"
        ) from None
