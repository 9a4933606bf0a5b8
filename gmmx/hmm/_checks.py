"""Validation of HMM parameters set by users (hmmlearn's rules, with clearer errors)."""

from __future__ import annotations

import numpy as np
from scipy import linalg

from ..core.covariance import get_covariance

__all__ = ["check_covars", "check_distribution", "check_prior", "precisions_cholesky"]


def check_distribution(value, name, shape):
    """``value`` as a float64 array of ``shape`` whose last axis sums to 1.

    Raises
    ------
    ValueError
        Wrong shape, NaN/inf, negative entries, or sums away from 1 (beyond
        ``np.allclose``, hmmlearn's tolerance).
    """
    a = np.array(value, dtype=np.float64, order="C")
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (n_components = {shape[0]}), "
                         f"got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinity")
    if np.any(a < 0):
        raise ValueError(f"{name} contains negative probabilities")
    s = a.sum(axis=-1)
    if not np.allclose(s, 1):
        what = "must sum to 1" if a.ndim == 1 else "rows must sum to 1"
        raise ValueError(f"{name} {what} (got {np.round(s, 6).tolist()}); divide by the sum")
    return a


def check_prior(value, name, shape):
    """A finite Dirichlet prior broadcast to ``shape``."""
    a = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinity")
    try:
        return np.broadcast_to(a, shape)
    except ValueError:
        raise ValueError(f"{name} has shape {a.shape}; pass a scalar or shape {shape}") from None


def check_covars(covars, covariance_type, n_components):
    """User covariances in their stored shape (hmmlearn's ``covars_`` setter rules).

    full (K, d, d), tied (d, d), diag (K, d), spherical (K,). As in
    hmmlearn (its #385), spherical accepts any array of K values, e.g. the
    (K, 1, 1) that hmmlearn's own ``covars_`` returns for one feature, and a
    (K, d) array with equal columns, as hmmlearn stores it.

    Raises
    ------
    ValueError
        Wrong shape for the covariance type, NaN/inf, non-positive variances,
        or matrices that are not symmetric positive definite.
    """
    cov = get_covariance(covariance_type)
    c = np.array(covars, dtype=np.float64)
    K = n_components
    if cov.name == "spherical":
        if c.size == K:
            c = c.reshape(K)
        elif c.ndim == 2 and c.shape[0] == K and np.all(c == c[:, :1]):
            c = c[:, 0].copy()
    d = c.shape[-1] if c.ndim else 0
    want = cov.shape(K, d)
    if c.shape != want or (cov.is_matrix and d == 0):
        raise ValueError(
            f"covars_ for covariance_type={cov.name!r} must have shape "
            f"{_shape_doc(cov.name)} with n_components = {K}, got {c.shape}"
        )
    if not np.all(np.isfinite(c)):
        raise ValueError("covars_ contains NaN or infinity")
    if not cov.is_matrix:
        if np.any(c <= 0):
            raise ValueError(f"{cov.name!r} covars_ must be positive")
        return c
    mats = c if c.ndim == 3 else c[None]
    for k, m in enumerate(mats):
        what = "the tied covariance" if c.ndim == 2 else f"component {k} of covars_"
        if not np.allclose(m, m.T) or np.any(linalg.eigvalsh(m) <= 0):
            raise ValueError(f"{what} must be symmetric, positive-definite")
    return c


def _shape_doc(name):
    return {"full": "(n_components, n_features, n_features)",
            "tied": "(n_features, n_features)",
            "diag": "(n_components, n_features)",
            "spherical": "(n_components,)"}[name]


def precisions_cholesky(covars, covariance_type, min_covar):
    """Precision Cholesky factors; a matrix that is not positive definite gets
    ``min_covar`` on its diagonal first (hmmlearn's fallback for full
    covariances).

    Raises
    ------
    ValueError
        When a covariance is not positive definite even then.
    """
    cov = get_covariance(covariance_type)
    try:
        return cov.precision_cholesky(covars)
    except ValueError:
        pass
    if cov.is_matrix:
        d = covars.shape[-1]
        mats = covars if covars.ndim == 3 else covars[None]
        out = []
        for m in mats:
            try:
                out.append(cov.precision_cholesky(m if covars.ndim == 2 else m[None]))
            except ValueError:
                try:
                    shifted = m + min_covar * np.eye(d)
                    out.append(cov.precision_cholesky(shifted if covars.ndim == 2 else
                                                      shifted[None]))
                except ValueError:
                    break
        else:
            return out[0] if covars.ndim == 2 else np.concatenate(out)
    raise ValueError(
        "a state's covariance is not positive definite (a state collapsed onto too few "
        "distinct rows); increase covars_prior or min_covar, reduce n_components, or "
        "standardise the data"
    )
