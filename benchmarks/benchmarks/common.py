"""Shared data and helpers of the gmmx asv suite.

Sizes
-----
The default cases are sized so that ``asv run --quick`` over the whole suite
takes a few minutes on two cores. ``GMMX_BENCH_LARGE=1`` adds the large cases
(millions of rows, K = 32, d = 32): see :data:`LARGE`. ``GMMX_BENCH_TINY=1``
shrinks every case to a few hundred rows; ``tests/test_asv_suite.py`` uses it
to run each benchmark once as a smoke test.

Data
----
:func:`mixture_data` draws from a *known* mixture, so every benchmark can
start EM from the same parameters (the true ones): gmmx and scikit-learn then
follow the same EM path, and comparisons of time per fit and of the final
log-likelihood are like for like.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
import warnings

import numpy as np

#: Covariance types, in sklearn's order.
COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]

#: True when the large cases are enabled (``GMMX_BENCH_LARGE=1``).
LARGE = os.environ.get("GMMX_BENCH_LARGE", "0") == "1"


def tiny():
    """True when ``GMMX_BENCH_TINY=1`` (smoke-test sizes), read at call time."""
    return os.environ.get("GMMX_BENCH_TINY", "0") == "1"


def n_rows(default, large=None):
    """Rows for a case: ``default``; ``large`` with GMMX_BENCH_LARGE; tiny in tests.

    Parameters
    ----------
    default : int
        Rows of the default case.
    large : int, optional
        Rows when the large cases are enabled (default: ``default``).

    Returns
    -------
    int
    """
    if tiny():
        return min(default, 600)
    if LARGE and large is not None:
        return large
    return default


def with_large(default, large):
    """A parameter list: ``default`` values, plus ``large`` ones when enabled.

    Parameters
    ----------
    default, large : list

    Returns
    -------
    list
    """
    return list(default) + (list(large) if LARGE else [])


def skip(reason):
    """Skip the current parameter combination (asv: NotImplementedError in setup).

    Parameters
    ----------
    reason : str

    Raises
    ------
    NotImplementedError
    """
    raise NotImplementedError(reason)


def _spd(rng, d, scale):
    A = rng.normal(size=(d, d))
    return scale * (A @ A.T / d + 0.5 * np.eye(d))


@functools.lru_cache(maxsize=8)
def _true_mixture(n_components, n_features, seed, separation=6.0):
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(n_components, 5.0))
    # By default centres lie far apart against unit-scale covariances: a
    # well-posed problem whose EM path does not depend on round-off. A small
    # ``separation`` gives overlapping components and longer EM runs.
    means = rng.normal(scale=separation, size=(n_components, n_features))
    covs = np.stack([_spd(rng, n_features, rng.uniform(0.5, 1.5))
                     for _ in range(n_components)])
    return weights, means, covs


@functools.lru_cache(maxsize=8)
def _mixture_data_cached(n_samples, n_components, n_features, dtype, seed, separation):
    weights, means, covs = _true_mixture(n_components, n_features, seed, separation)
    rng = np.random.default_rng(seed + 1)
    labels = rng.choice(n_components, size=n_samples, p=weights)
    chol = np.linalg.cholesky(covs)
    z = rng.standard_normal((n_samples, n_features))
    X = means[labels] + np.einsum("nij,nj->ni", chol[labels], z)
    X = np.ascontiguousarray(X, dtype=dtype)
    X.setflags(write=False)
    return X


def mixture_data(n_samples, n_components, n_features, dtype="float64", seed=0,
                 separation=6.0):
    """Rows drawn from a fixed random mixture (cached per process, read-only).

    Parameters
    ----------
    n_samples, n_components, n_features : int
    dtype : str, default="float64"
    seed : int, default=0
    separation : float, default=6.0
        Standard deviation of the component centres (covariances are of
        order one): 6 gives well-separated components, 1.5 overlapping ones.

    Returns
    -------
    ndarray of shape (n_samples, n_features)
    """
    return _mixture_data_cached(int(n_samples), int(n_components), int(n_features),
                                str(dtype), int(seed), float(separation))


def true_init(covariance_type, n_components, n_features, seed=0):
    """Constructor arguments that start EM at the generating parameters.

    Parameters
    ----------
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    n_components, n_features : int
    seed : int, default=0

    Returns
    -------
    dict
        ``weights_init``, ``means_init`` and ``precisions_init`` in the shape
        that ``covariance_type`` needs (the same for gmmx and scikit-learn).
    """
    weights, means, covs = _true_mixture(int(n_components), int(n_features), int(seed))
    if covariance_type == "full":
        prec = np.linalg.inv(covs)
    elif covariance_type == "tied":
        prec = np.linalg.inv(np.tensordot(weights, covs, axes=1))
    elif covariance_type == "diag":
        prec = 1.0 / np.diagonal(covs, axis1=1, axis2=2)
    elif covariance_type == "spherical":
        prec = 1.0 / np.diagonal(covs, axis1=1, axis2=2).mean(axis=1)
    else:
        raise ValueError(covariance_type)
    if covariance_type in ("full", "tied"):
        prec = (prec + np.swapaxes(prec, -1, -2)) / 2  # exactly symmetric
    return {"weights_init": weights.copy(), "means_init": means.copy(),
            "precisions_init": np.ascontiguousarray(prec)}


def tick_returns(n_samples, seed=0):
    """Two-regime univariate returns (calm 90 %, volatile 10 %), shape (n, 1).

    Variances near 1e-8 as in tick data; used by the d = 1 benchmarks.

    Parameters
    ----------
    n_samples : int
    seed : int, default=0

    Returns
    -------
    ndarray of shape (n_samples, 1)
    """
    rng = np.random.default_rng(seed)
    volatile = rng.random(n_samples) < 0.1
    sigma = np.where(volatile, 4e-4, 1e-4)
    r = rng.normal(0.0, 1.0, n_samples) * sigma + np.where(volatile, -5e-5, 1e-5)
    return r[:, None]


def sklearn_gaussian_mixture():
    """scikit-learn's GaussianMixture, or skip when sklearn is not installed.

    Returns
    -------
    type
    """
    try:
        from sklearn.mixture import GaussianMixture
    except ImportError:  # pragma: no cover - depends on the environment
        skip("scikit-learn is not installed")
    return GaussianMixture


def best_time(fn, repeat=3):
    """Fastest of ``repeat`` wall-clock timings of ``fn()``, in seconds.

    Parameters
    ----------
    fn : callable
    repeat : int, default=3

    Returns
    -------
    float
    """
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


@contextlib.contextmanager
def quiet():
    """Silence the warnings of fixed-iteration fits.

    ``tol=0`` makes every fit stop at ``max_iter`` and warn that it did not
    converge; that is the point of a fixed-work benchmark.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
