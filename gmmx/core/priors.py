"""Conjugate priors and the MAP M-step (Fraley & Raftery, 2007; R mclust).

:class:`ConjugatePrior` is what a user passes (``GaussianMixture(prior=...)``);
its data-dependent defaults are filled in from the data's moments, which
every driver gets from its first pass's statistics (:func:`moments_from_stats`),
giving a :class:`ResolvedPrior`: plain numbers and arrays that
:func:`gmmx.core.mstep.m_step` uses for the MAP estimates and that the
lower bound uses for the log prior density.

The prior, per component k (mclust's ``priorControl()`` / ``defaultPrior``):

- ``mu_k | Sigma_k ~ N(mean, Sigma_k / shrinkage)`` (no prior on the means
  when ``shrinkage = 0``);
- full: ``Sigma_k ~ inverse-Wishart(dof, scale)``; tied: one such prior on
  the shared ``Sigma``; diag: every variance ``~ inverse-gamma(dof/2, scale_j/2)``;
  spherical: ``sigma_k^2 ~ inverse-gamma(dof/2, scale/2)``.

MAP estimates with ``kappa = shrinkage``, ``nu = dof``, ``Lambda = scale``,
``x_k`` the weighted component mean and ``W_k`` its scatter about ``x_k``::

    mu_k    = (n_k x_k + kappa mean) / (n_k + kappa)
    B_k     = W_k + kappa n_k / (kappa + n_k) (x_k - mean)(x_k - mean)^T
    full:      Sigma_k   = (Lambda + B_k) / (nu + n_k + d + 1 + [kappa > 0])
    tied:      Sigma     = (Lambda + sum_k B_k) / (nu + n + d + 1 + K [kappa > 0])
    diag:      sigma_kj^2 = (Lambda_j + B_kjj) / (nu + n_k + 2 + [kappa > 0])
    spherical: sigma_k^2 = (Lambda + tr B_k) / (nu + n_k d + 2 + d [kappa > 0])

exactly mclust's ``msvvvp``, ``mseeep``, ``msvvip`` and ``msviip`` (its
``mevvvp`` uses ``+ 2`` for full even when ``shrinkage = 0``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional

import numbers
from dataclasses import dataclass

import numpy as np

from .covariance import get_covariance

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import NDArray

__all__ = [
    "ConjugatePrior",
    "DataMoments",
    "ResolvedPrior",
    "moments_from_data",
    "moments_from_stats",
]

_LOG_2PI = np.log(2.0 * np.pi)


@dataclass(frozen=True, eq=False)
class DataMoments:
    """Weighted moments of the whole data set.

    Attributes
    ----------
    weight : float
        Total weight ``n`` (the number of rows without weights).
    mean : ndarray of shape (d,)
    scatter : ndarray of shape (d, d) or (d,)
        ``sum_i w_i (x_i - mean)(x_i - mean)^T``, or its diagonal when only
        per-feature moments are known (diag and spherical statistics).
    """

    weight: float
    mean: np.ndarray
    scatter: np.ndarray

    def variance(self) -> NDArray[Any]:
        """Sample (co)variance with the ``n - 1`` denominator, as R's ``var``."""
        return self.scatter / max(self.weight - 1.0, np.finfo(float).tiny)


def moments_from_stats(stats: Any) -> DataMoments:
    """The data's moments from one pass's :class:`SufficientStats` (pooled over components)."""
    nk = stats.nk
    n = float(nk.sum())
    if not n > 0:
        raise ValueError("the statistics carry no weight; the data or sample_weight are empty")
    sums = nk[:, None] * stats.centers + stats.sk
    mean = sums.sum(axis=0) / n
    D = stats.centers - mean
    if stats.Mk.ndim == 3:
        scatter = (stats.Mk
                   + D[:, :, None] * stats.sk[:, None, :] + stats.sk[:, :, None] * D[:, None, :]
                   + nk[:, None, None] * D[:, :, None] * D[:, None, :]).sum(axis=0)
        scatter = 0.5 * (scatter + scatter.T)
    else:
        scatter = (stats.Mk + 2.0 * D * stats.sk + nk[:, None] * D * D).sum(axis=0)
    return DataMoments(n, mean, scatter)


def moments_from_data(X: NDArray[Any], sample_weight: NDArray[Any] | None = None,
                      full: bool = True) -> DataMoments:
    """The moments of rows ``X`` (optionally weighted), in float64."""
    X = np.asarray(X, dtype=np.float64)
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64)
    n = float(w.sum())
    mean = (w @ X) / n
    D = X - mean
    scatter = (D * w[:, None]).T @ D if full else w @ (D * D)
    return DataMoments(n, mean, scatter)


def _real(value, name, minimum, inclusive=True):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if value < minimum or (not inclusive and value == minimum):
        op = ">=" if inclusive else ">"
        raise ValueError(f"{name} must be {op} {minimum:g}, got {value!r}")
    return float(value)


class ConjugatePrior:
    """Conjugate normal-inverse-Wishart prior of Fraley & Raftery (2007), as R mclust.

    ``ConjugatePrior()`` is mclust's ``priorControl()``: every hyperparameter
    left as None is set from the data (from the first pass's statistics, so
    out-of-core and Dask fits need no extra pass) and from the model's
    ``n_components`` K and ``covariance_type``.

    Parameters
    ----------
    shrinkage : float >= 0, default=0.01
        ``kappa``: pseudo-observations at ``mean`` for every component mean;
        0 means no prior on the means.
    mean : array-like of shape (n_features,), optional
        Prior mean of the component means; default the data mean.
    dof : float, optional
        ``nu``, degrees of freedom of the (inverse-Wishart / inverse-gamma)
        covariance prior, ``> n_features - 1``; default ``n_features + 2``.
    scale : float, array-like of shape (n_features,) or (n_features, n_features), optional
        ``Lambda``. Default: ``var(data) * (1/K)^(2/d)`` (a matrix) for full
        and tied, ``mean(diag(var(data))) * (1/K)^(2/d)`` (a number) for diag
        and spherical; variances with ``n - 1``.  A number means that
        multiple of the identity; a vector a diagonal (full, tied, diag).

    Notes
    -----
    The MAP M-step and the prior density are in :mod:`gmmx.core.priors`.
    ``GaussianMixture(prior=ConjugatePrior(), reg_covar=0)`` reproduces
    ``Mclust(X, G, modelNames, prior = priorControl())`` (VVV, EEE, VVI, VII
    for full, tied, diag, spherical) from the same start.
    """

    def __init__(self, shrinkage: float = 0.01, mean: Any = None, dof: Optional[float] = None,
                 scale: Any = None) -> None:
        self.shrinkage = shrinkage
        self.mean = mean
        self.dof = dof
        self.scale = scale

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters."""
        return {"shrinkage": self.shrinkage, "mean": self.mean, "dof": self.dof,
                "scale": self.scale}

    def __repr__(self):
        parts = []
        for name, value in self.get_params().items():
            default = 0.01 if name == "shrinkage" else None
            if value is not None and not (name == "shrinkage" and value == default):
                parts.append(f"{name}={np.asarray(value).tolist()!r}"
                             if np.ndim(value) else f"{name}={value!r}")
        return f"ConjugatePrior({', '.join(parts)})"

    def __eq__(self, other):
        if not isinstance(other, ConjugatePrior):
            return NotImplemented
        for name, a in self.get_params().items():
            b = getattr(other, name)
            if (a is None) != (b is None):
                return False
            if a is not None and not np.array_equal(np.asarray(a, dtype=float),
                                                    np.asarray(b, dtype=float)):
                return False
        return True

    __hash__ = None  # type: ignore[assignment]  # mutable arrays: unhashable

    # ------------------------------------------------------------------ checks
    def check(self, n_features: int, covariance_type: str) -> tuple[float, Any, Any, Any]:
        """Validate the hyperparameters for data with ``n_features`` columns.

        Raises
        ------
        ValueError
            Naming the hyperparameter (``prior.mean``, ``prior.scale``, ...)
            and what it must be.
        """
        d = int(n_features)
        cov = get_covariance(covariance_type).name
        kappa = _real(self.shrinkage, "prior.shrinkage (ConjugatePrior shrinkage)", 0.0)
        mean = None
        if self.mean is not None:
            mean = np.asarray(self.mean, dtype=np.float64)
            if mean.ndim == 0 and d == 1:
                mean = mean.reshape(1)
            if mean.shape != (d,):
                raise ValueError(
                    f"prior.mean must have shape ({d},) (one value per feature), got "
                    f"{mean.shape}; pass ConjugatePrior(mean=...) matching the data's columns"
                )
            if not np.all(np.isfinite(mean)):
                raise ValueError("prior.mean contains NaN or infinity")
            if kappa == 0:
                raise ValueError(
                    "prior.mean is given but prior.shrinkage is 0, so the mean would be "
                    "ignored; pass shrinkage > 0 or drop the mean (as mclust's defaultPrior)"
                )
        dof = None
        if self.dof is not None:
            dof = _real(self.dof, "prior.dof (ConjugatePrior dof)", max(d - 1.0, 0.0),
                        inclusive=False)
        scale = None
        if self.scale is not None:
            scale = self._check_scale(d, cov)
        return kappa, mean, dof, scale

    def _check_scale(self, d, cov):
        s = np.asarray(self.scale, dtype=np.float64)
        if not np.all(np.isfinite(s)):
            raise ValueError("prior.scale contains NaN or infinity")
        allowed = {"full": ((), (d,), (d, d)), "tied": ((), (d,), (d, d)),
                   "diag": ((), (d,)), "spherical": ((),)}[cov]
        if d == 1 and s.shape in ((1,), (1, 1)):
            s = s.reshape(())
        if s.shape not in allowed:
            raise ValueError(
                f"prior.scale must have one of the shapes {list(allowed)} for "
                f"covariance_type={cov!r} with {d} features, got {s.shape}"
            )
        if s.ndim < 2:
            if np.any(s <= 0):
                raise ValueError("prior.scale must be strictly positive")
            return s
        if not np.allclose(s, s.T, rtol=1e-10, atol=0):
            raise ValueError("prior.scale must be a symmetric matrix")
        s = 0.5 * (s + s.T)
        if np.linalg.eigvalsh(s)[0] <= 0:
            raise ValueError("prior.scale must be positive definite")
        return s

    # ------------------------------------------------------------------ resolve
    def resolve(self, n_components: int, covariance_type: str, moments: Any) -> ResolvedPrior:
        """The hyperparameters with every default filled in.

        Parameters
        ----------
        n_components : int
        covariance_type : str
        moments : DataMoments
            Of the whole data (:func:`moments_from_stats` of a first pass).

        Returns
        -------
        ResolvedPrior
        """
        cov = get_covariance(covariance_type).name
        d = moments.mean.shape[0]
        kappa, mean, dof, scale = self.check(d, cov)
        if mean is None:
            mean = moments.mean.copy()
        if dof is None:
            dof = d + 2.0
        fac = (1.0 / n_components) ** (2.0 / d)
        var = moments.variance()
        if scale is None:
            diag_var = np.diagonal(var) if var.ndim == 2 else var
            if cov in ("full", "tied"):
                # mclust: the diagonal only when there are no more rows than features
                full = var.ndim == 2 and moments.weight > d
                scale = fac * (var if full else np.diag(diag_var))
            else:
                scale = np.asarray(fac * float(np.mean(diag_var)))
        if cov in ("full", "tied") and scale.ndim < 2:
            scale = np.diag(np.broadcast_to(scale, (d,)).astype(np.float64))
        return ResolvedPrior(cov, float(kappa), np.asarray(mean, np.float64), float(dof),
                             np.asarray(scale, np.float64), self)

    # ------------------------------------------------------------------ archive
    def to_archive(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """``(json_dict, arrays)``: scalars as JSON, array-valued hyperparameters as arrays."""
        meta: dict[str, Any] = {}
        arrays: dict[str, Any] = {}
        for name, value in self.get_params().items():
            if value is None:
                meta[name] = None
            elif np.ndim(value) == 0:
                meta[name] = float(value)
            else:
                meta[name] = "array"
                arrays[name] = np.asarray(value, dtype=np.float64)
        return meta, arrays

    @classmethod
    def from_archive(cls, meta: Any, arrays: Any) -> ConjugatePrior:
        """Inverse of :meth:`to_archive` (raises ValueError for malformed content)."""
        kwargs: dict[str, Any] = {}
        for name in ("shrinkage", "mean", "dof", "scale"):
            value = meta.get(name)
            if value == "array":
                if name not in arrays:
                    raise ValueError(f"the prior's {name} array is missing")
                kwargs[name] = np.asarray(arrays[name], dtype=np.float64)
            elif value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
                kwargs[name] = value
            else:
                raise ValueError(f"the prior's {name} is malformed")
        if kwargs.get("shrinkage") is None:
            raise ValueError("the prior's shrinkage is missing")
        return cls(**kwargs)


@dataclass(frozen=True, eq=False)
class ResolvedPrior:
    """A :class:`ConjugatePrior` with every hyperparameter a number or an array.

    Attributes
    ----------
    covariance_type : str
    shrinkage : float
    mean : ndarray of shape (d,)
    dof : float
    scale : ndarray
        (d, d) for full and tied, (d,) or () for diag, () for spherical.
    spec : ConjugatePrior
        The prior it was resolved from.
    """

    covariance_type: str
    shrinkage: float
    mean: np.ndarray
    dof: float
    scale: np.ndarray
    spec: Optional[ConjugatePrior] = None

    # ------------------------------------------------------------------ MAP
    def map_estimates(self, stats: Any) -> tuple[NDArray[Any], NDArray[Any]]:
        """MAP means and covariances from one pass's statistics (module docstring).

        Returns
        -------
        means : ndarray of shape (K, d)
        covariances : ndarray in the covariance type's shape
        """
        kappa, nu = self.shrinkage, self.dof
        nk, sk, Mk, c = stats.nk, stats.sk, stats.Mk, stats.centers
        K, d = c.shape
        denom_mean = np.maximum(nk + kappa, np.finfo(float).tiny)
        # a = new mean - centre; no division by n_k, so empty components are fine
        a = (sk + kappa * (self.mean - c)) / denom_mean[:, None]
        means = c + a
        e = means - self.mean  # new mean - prior mean
        has_mean_prior = 1.0 if kappa > 0 else 0.0
        if Mk.ndim == 3:
            # scatter about the new mean plus kappa (mu - mean)(mu - mean)^T
            B = (Mk - sk[:, :, None] * a[:, None, :] - a[:, :, None] * sk[:, None, :]
                 + nk[:, None, None] * a[:, :, None] * a[:, None, :]
                 + kappa * e[:, :, None] * e[:, None, :])
            B = 0.5 * (B + np.swapaxes(B, 1, 2))
            if self.covariance_type == "tied":
                n = float(nk.sum())
                cov = (self.scale + B.sum(axis=0)) / (nu + n + d + 1.0 + K * has_mean_prior)
            else:
                denom = nu + nk + d + 1.0 + has_mean_prior
                cov = (self.scale[None] + B) / denom[:, None, None]
            return means, cov
        B = Mk - 2.0 * a * sk + nk[:, None] * a * a + kappa * e * e
        if self.covariance_type == "spherical":
            denom = nu + nk * d + 2.0 + d * has_mean_prior
            return means, (self.scale + B.sum(axis=1)) / denom
        denom = nu + nk + 2.0 + has_mean_prior
        return means, (self.scale + B) / denom[:, None]

    # ------------------------------------------------------------------ density
    def log_density(self, means: NDArray[Any], precisions_cholesky: NDArray[Any]) -> float:
        """Log prior density of the parameters (normalised; for the lower bound)."""
        from scipy.special import gammaln, multigammaln  # on use: off the CLI's import path

        cov_type = get_covariance(self.covariance_type)
        K, d = means.shape
        kappa, nu, S = self.shrinkage, self.dof, self.scale
        diff = means - self.mean
        U = np.asarray(precisions_cholesky, dtype=np.float64)
        total = 0.0
        if self.covariance_type in ("full", "tied"):
            # log|Sigma| = -2 log|U|; tr(S Sigma^-1) = tr(U^T S U)
            Us = U[None] if U.ndim == 2 else U
            logdet_sigma = -2.0 * np.sum(np.log(np.diagonal(Us, axis1=1, axis2=2)), axis=1)
            tr = np.einsum("kji,jl,kli->k", Us, S, Us)
            log_iw = (0.5 * nu * np.linalg.slogdet(S)[1] - 0.5 * nu * d * np.log(2.0)
                      - multigammaln(0.5 * nu, d)
                      - 0.5 * (nu + d + 1.0) * logdet_sigma - 0.5 * tr)
            total += float(np.sum(log_iw))
            if kappa > 0:
                y = np.einsum("ki,kij->kj", diff, Us if U.ndim == 3 else np.repeat(Us, K, 0))
                ld = np.broadcast_to(logdet_sigma, (K,))
                total += float(np.sum(-0.5 * d * _LOG_2PI + 0.5 * d * np.log(kappa)
                                      - 0.5 * ld - 0.5 * kappa * np.sum(y * y, axis=1)))
            return total
        var = cov_type.covariances_from_cholesky(U)  # (K, d) diag or (K,) spherical
        a, b = 0.5 * nu, 0.5 * S
        total += float(np.sum(a * np.log(b) - gammaln(a) - (a + 1.0) * np.log(var) - b / var))
        if kappa > 0:
            v = var if var.ndim == 2 else var[:, None]
            total += float(np.sum(-0.5 * _LOG_2PI + 0.5 * np.log(kappa) - 0.5 * np.log(v)
                                  - 0.5 * kappa * diff * diff / v))
        return total

    # ------------------------------------------------------------------ archive
    def to_arrays(self, prefix: str) -> dict[str, NDArray[Any]]:
        """Plain arrays (fitted state of a model)."""
        return {prefix + "scalars": np.array([self.shrinkage, self.dof]),
                prefix + "mean": self.mean, prefix + "scale": self.scale}

    @classmethod
    def from_arrays(cls, covariance_type: str, arrays: Mapping[str, Any], prefix: str,
                    spec: Any) -> ResolvedPrior:
        """Inverse of :meth:`to_arrays`."""
        sc = np.asarray(arrays[prefix + "scalars"], dtype=np.float64).reshape(-1)
        return cls(covariance_type, float(sc[0]), np.asarray(arrays[prefix + "mean"], float),
                   float(sc[1]), np.asarray(arrays[prefix + "scale"], float), spec)


def log_dirichlet(weights: NDArray[Any], concentration: float) -> float:
    """Log density of the symmetric Dirichlet(``concentration``) at ``weights``."""
    from scipy.special import gammaln  # on use: off the CLI's import path

    alpha = float(concentration)
    K = weights.shape[0]
    if alpha == 1.0:
        return float(gammaln(K))
    with np.errstate(divide="ignore"):
        logw = np.log(weights)
    return float(gammaln(K * alpha) - K * gammaln(alpha) + (alpha - 1.0) * np.sum(logw))
