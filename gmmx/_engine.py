"""Python side of the E-step kernel: parameter packing, threads, errors.

:func:`accumulate` is what every driver calls on a block of rows; the predict
and score paths use :func:`log_prob_norm` and :func:`responsibilities`, which
run the same kernel without statistics.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from ._kernels import _estep
from ._stats import SufficientStats, log_det_cholesky

_LOG_2PI = np.log(2.0 * np.pi)


class NonFiniteChunkError(ValueError):
    """A block of rows produced a non-finite log-likelihood."""

    def __init__(self, message, row=None):
        super().__init__(message)
        self.row = row


def available_cpus():
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return os.cpu_count() or 1


def resolve_n_threads(n_threads):
    """Number of OpenMP threads for a kernel call.

    ``None`` means all usable cores, capped by ``OMP_NUM_THREADS``; negative
    values count back from the number of cores as in scikit-learn's
    ``n_jobs`` (-1 = all).
    """
    cpus = available_cpus()
    if n_threads is None:
        return max(1, min(cpus, _estep.openmp_max_threads()))
    n = int(n_threads)
    if n == 0:
        raise ValueError("n_threads must be a positive integer, -1 or None, got 0")
    if n < 0:
        n = max(1, cpus + 1 + n)
    return n


_CONTROLLER = None


@contextlib.contextmanager
def single_threaded_blas(n_threads):
    """Hold BLAS to one thread while our OpenMP threads call it.

    Uses threadpoolctl when it is installed; without it, BLAS keeps its own
    setting (OpenBLAS runs the small chunk-sized calls single-threaded anyway).
    """
    global _CONTROLLER
    if n_threads <= 1:
        yield
        return
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        yield
        return
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=1, user_api="blas"):
        yield


def kernel_params(weights, means, precisions_cholesky, covariance_type):
    """Pack sklearn-style parameters into the kernel's arrays.

    Returns
    -------
    cst : ndarray (K,)
    means : ndarray (K, d)
    prec : ndarray, flattened (K*d*d,) or (K*d,)
    kind : int
    """
    means = np.ascontiguousarray(means, dtype=np.float64)
    K, d = means.shape
    pc = np.asarray(precisions_cholesky, dtype=np.float64)
    logdet = log_det_cholesky(pc, covariance_type, d)
    with np.errstate(divide="ignore"):
        logw = np.log(np.asarray(weights, dtype=np.float64))
    cst = np.ascontiguousarray(logw + logdet - 0.5 * d * _LOG_2PI, dtype=np.float64)
    if np.ndim(cst) == 0 or cst.shape != (K,):
        cst = np.broadcast_to(cst, (K,)).copy()
    if covariance_type == "full":
        prec = np.ascontiguousarray(pc).reshape(-1)
        kind = _estep.KIND_FULL
    elif covariance_type == "tied":
        prec = np.ascontiguousarray(np.broadcast_to(pc, (K, d, d))).reshape(-1)
        kind = _estep.KIND_FULL
    elif covariance_type == "diag":
        prec = np.ascontiguousarray(pc).reshape(-1)
        kind = _estep.KIND_DIAG
    else:
        prec = np.ascontiguousarray(np.repeat(pc[:, None], d, axis=1)).reshape(-1)
        kind = _estep.KIND_DIAG
    return cst, means, prec, kind


_EMPTY = np.empty(0, dtype=np.float64)


def _weights_arg(sample_weight):
    if sample_weight is None:
        return _EMPTY
    return np.ascontiguousarray(sample_weight, dtype=np.float64)


def _raise_status(status, bad_chunk, chunk_rows, X, where):
    if status == _estep.STATUS_NOMEM:
        raise MemoryError("gmmx: could not allocate the kernel's per-thread scratch buffers")
    start = bad_chunk * chunk_rows
    block = np.asarray(X[start:start + chunk_rows])
    bad = np.flatnonzero(~np.all(np.isfinite(block), axis=1))
    if bad.size:
        row = start + int(bad[0])
        raise NonFiniteChunkError(
            f"{where}row {row} contains NaN or infinity; remove or impute "
            "non-finite values before fitting",
            row=row,
        )
    raise NonFiniteChunkError(
        f"{where}the log-likelihood of rows {start}..{start + len(block) - 1} is "
        "not finite although the data are finite: the model parameters are "
        "degenerate (a covariance too small for the data's scale). "
        "Increase reg_covar or standardise the data.",
        row=start,
    )


def accumulate(X, sample_weight, params, covariance_type, n_threads=1, chunk_rows=0, where=""):
    """Sufficient statistics of the rows of ``X`` under ``params``.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64, C-contiguous
    sample_weight : ndarray of shape (n,) or None
    params : tuple
        Output of :func:`kernel_params`.
    covariance_type : str
    n_threads : int
    chunk_rows : int
        Rows per cache chunk (0: automatic).
    where : str
        Prefix for error messages (e.g. ``"chunk 3: "``).

    Returns
    -------
    SufficientStats
    """
    cst, means, prec, kind = params
    with single_threaded_blas(n_threads):
        flat, status, bad_chunk, used = _estep.estep(
            X, _weights_arg(sample_weight), cst, means, prec, kind, n_threads, chunk_rows, True
        )
    if status != _estep.STATUS_OK:
        _raise_status(status, bad_chunk, used, X, where)
    return SufficientStats.from_flat(covariance_type, means, flat, X.shape[0])


def log_prob_norm(X, params, n_threads=1):
    """``log p(x_i)`` for every row."""
    cst, means, prec, kind = params
    out = np.empty(X.shape[0], dtype=np.float64)
    with single_threaded_blas(n_threads):
        _, status, bad_chunk, used = _estep.estep(
            X, _EMPTY, cst, means, prec, kind, n_threads, 0, False, out, None
        )
    if status != _estep.STATUS_OK:
        _raise_status(status, bad_chunk, used, X, "")
    return out


def responsibilities(X, params, n_threads=1, with_norm=False):
    """Posterior component probabilities ``(n, K)`` (and ``log p(x_i)``)."""
    cst, means, prec, kind = params
    resp = np.empty((X.shape[0], cst.shape[0]), dtype=np.float64)
    norm = np.empty(X.shape[0], dtype=np.float64) if with_norm else None
    with single_threaded_blas(n_threads):
        _, status, bad_chunk, used = _estep.estep(
            X, _EMPTY, cst, means, prec, kind, n_threads, 0, False, norm, resp
        )
    if status != _estep.STATUS_OK:
        _raise_status(status, bad_chunk, used, X, "")
    return (resp, norm) if with_norm else resp
