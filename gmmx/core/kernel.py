"""Python side of the E-step kernel: parameter packing, threads, errors.

:func:`accumulate` is what every driver calls on a block of rows; the predict
and score paths use :func:`log_prob_norm` and :func:`responsibilities`, which
run the same kernel without statistics. :func:`log_densities` (per-component
log-densities) and :func:`accumulate_resp` (statistics under responsibilities
computed elsewhere, e.g. by an HMM) use the same chunk loop.  The covariance
type's object (:mod:`gmmx.core.covariance`) decides how its precision factors
are packed.
"""

from __future__ import annotations

import contextlib
import os
from typing import NamedTuple

import numpy as np

from .._kernels import _estep, layout
from .covariance import get_covariance
from .stats import SufficientStats

_LOG_2PI = np.log(2.0 * np.pi)
_EMPTY = np.empty(0, dtype=np.float64)
_EMPTY2 = np.empty((0, 0), dtype=np.float64)


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


# Below this much work per thread (rows x components x (features + 1)) a
# thread costs more to wake than it saves, most visibly on a busy machine.
MIN_WORK_PER_THREAD = 250_000


def resolve_n_threads(n_threads, work=None):
    """Number of OpenMP threads for a kernel call.

    ``None`` means all usable cores, capped by ``OMP_NUM_THREADS`` and, when
    ``work`` (rows x components x (features + 1)) is given, by one thread per
    ``MIN_WORK_PER_THREAD`` units so small problems stay single-threaded.
    Negative values count back from the number of cores as in scikit-learn's
    ``n_jobs`` (-1 = all). An explicit positive count is used as given.
    """
    cpus = available_cpus()
    if n_threads is None:
        n = max(1, min(cpus, _estep.openmp_max_threads()))
        if work is not None:
            n = max(1, min(n, int(work) // MIN_WORK_PER_THREAD))
        return n
    n = int(n_threads)
    if n == 0:
        raise ValueError("n_threads must be a positive integer, -1 or None, got 0")
    if n < 0:
        n = max(1, cpus + 1 + n)
    return n


_CONTROLLER = None


def _blas_controller():
    """threadpoolctl's controller, or None when threadpoolctl is not installed."""
    global _CONTROLLER
    if _CONTROLLER is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _CONTROLLER = False
        else:
            _CONTROLLER = ThreadpoolController()
    return _CONTROLLER or None


_HOLD_DEPTH = 0


@contextlib.contextmanager
def blas_held_to_one_thread():
    """Hold BLAS to one thread for a whole fit (re-entrant).

    Limiting BLAS around every kernel call is not enough: restoring its
    threads after each call wakes them, and they spin while the next call
    runs (measured: d=16, K=8 full went from 35 to 50 ms per pass). Fits
    therefore hold the limit from start to end; kernel calls inside skip
    their own limit.
    """
    global _HOLD_DEPTH
    controller = _blas_controller()
    if controller is None or _HOLD_DEPTH > 0:
        ctx = contextlib.nullcontext()
    else:
        ctx = controller.limit(limits=1, user_api="blas")
    with ctx:
        _HOLD_DEPTH += 1
        try:
            yield
        finally:
            _HOLD_DEPTH -= 1


@contextlib.contextmanager
def blas_threads_for(kind, n_threads):
    """Run a kernel call without oversubscribing the cores; yields the thread count.

    Full and tied kernels call BLAS from every OpenMP thread on chunk-sized
    blocks. With threadpoolctl installed, BLAS is held to one thread for the
    call (also when ``n_threads`` is 1: BLAS threads cost more than they give
    on chunk-sized products, and ``n_threads`` is then the true thread count);
    without it (gmmx needs only numpy and scipy) such calls run on one OpenMP
    thread and let BLAS use its own threads instead.
    """
    if kind != _estep.KIND_FULL:
        yield n_threads
        return
    controller = _blas_controller()
    if controller is None:
        yield 1
        return
    if _HOLD_DEPTH > 0:
        yield n_threads
        return
    with controller.limit(limits=1, user_api="blas"):
        yield n_threads


class KernelParams(NamedTuple):
    """Model parameters in the kernel's layout (see ``_kernels/_estep.pyx``)."""

    cst: np.ndarray
    means: np.ndarray
    prec: np.ndarray
    ref: np.ndarray
    shift: np.ndarray
    n_blocks: int
    kind: int
    covariance_type: str


def kernel_params(weights, means, precisions_cholesky, covariance_type):
    """Pack sklearn-style parameters into the kernel's arrays.

    Full and tied models are centred at the mixture mean ``ref``; their
    precision factors go side by side into one matrix so a single GEMM per
    chunk serves every component. Models with one feature use the univariate
    path whatever their covariance type.
    """
    cov = get_covariance(covariance_type)
    means = np.ascontiguousarray(means, dtype=np.float64)
    K, d = means.shape
    pc = np.asarray(precisions_cholesky, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    logdet = cov.log_det_cholesky(pc, d)
    with np.errstate(divide="ignore"):
        logw = np.log(weights)
    cst = np.ascontiguousarray(
        np.broadcast_to(logw + logdet - 0.5 * d * _LOG_2PI, (K,)), dtype=np.float64
    )
    if cov.is_matrix and d > 1:
        U = cov.cholesky_blocks(pc, K, d)
        P = U.shape[0]
        w = weights / weights.sum() if weights.sum() > 0 else np.full(K, 1.0 / K)
        ref = np.ascontiguousarray(w @ means)
        ucat = np.ascontiguousarray(np.concatenate(list(U), axis=1)).reshape(-1)
        Uk = U if P == K else np.broadcast_to(U, (K, d, d))
        shift = np.ascontiguousarray(np.einsum("kj,kjl->kl", means - ref, Uk))
        return KernelParams(cst, means, ucat, ref, shift, P, _estep.KIND_FULL, cov.name)
    prec = cov.diagonal_factors(pc, K, d)
    prec = np.ascontiguousarray(prec, dtype=np.float64).reshape(-1)
    return KernelParams(cst, means, prec, _EMPTY, _EMPTY2, K, _estep.KIND_DIAG, cov.name)


def stats_from_kernel(flat, kp, n_samples):
    """SufficientStats centred at the means from the kernel's flat vector."""
    covariance_type = kp.covariance_type
    K, d = kp.means.shape
    u = layout.unpack(flat, K, d, kp.kind)
    if kp.kind == _estep.KIND_FULL:
        about_ref = SufficientStats(
            covariance_type, np.broadcast_to(kp.ref, (K, d)).copy(), u.nk, u.s, u.M,
            u.log_likelihood, u.weight_sum, int(n_samples),
        )
        return about_ref.recentred(kp.means)
    M = u.M.reshape(K, 1, 1) if get_covariance(covariance_type).is_matrix else u.M  # d == 1
    return SufficientStats(
        covariance_type, kp.means.copy(), u.nk, u.s, M, u.log_likelihood, u.weight_sum,
        int(n_samples),
    )


def _weights_arg(sample_weight):
    if sample_weight is None:
        return _EMPTY
    return np.ascontiguousarray(sample_weight, dtype=np.float64)


def _raise_status(status, bad_chunk, chunk_rows, X, where, resp=None):
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
    if resp is not None:  # statistics under given responsibilities
        end = start + len(block) - 1
        bad = np.flatnonzero(~np.all(np.isfinite(resp[start:end + 1]), axis=1))
        row = start + int(bad[0]) if bad.size else start
        raise NonFiniteChunkError(
            f"{where}row {row} of resp contains NaN or infinity" if bad.size else
            f"{where}the weighted responsibilities of rows {start}..{end} are not "
            "finite: check sample_weight",
            row=row,
        )
    raise NonFiniteChunkError(
        f"{where}the log-likelihood of rows {start}..{start + len(block) - 1} is "
        "not finite although the data are finite: the model parameters are "
        "degenerate (a covariance too small for the data's scale). "
        "Increase reg_covar or standardise the data.",
        row=start,
    )


def accumulate(X, sample_weight, params, n_threads=1, chunk_rows=0, where=""):
    """Sufficient statistics of the rows of ``X`` under ``params``.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64, C-contiguous
    sample_weight : ndarray of shape (n,) or None
    params : KernelParams
        Output of :func:`kernel_params`.
    n_threads : int
    chunk_rows : int
        Rows per cache chunk (0: automatic).
    where : str
        Prefix for error messages (e.g. ``"chunk 3: "``).

    Returns
    -------
    SufficientStats
    """
    flat, status, bad_chunk, used = _run(
        X, _weights_arg(sample_weight), params, n_threads, chunk_rows, True, None, None
    )
    if status != _estep.STATUS_OK:
        _raise_status(status, bad_chunk, used, X, where)
    return stats_from_kernel(flat, params, X.shape[0])


def _run(X, w, kp, n_threads, chunk_rows, want_stats, out_norm, out_resp):
    with blas_threads_for(kp.kind, n_threads) as n_threads:
        return _estep.estep(
            X, w, kp.cst, kp.means, kp.prec, kp.ref, kp.shift, kp.n_blocks, kp.kind,
            n_threads, chunk_rows, want_stats, out_norm, out_resp,
        )


def log_prob_norm(X, params, n_threads=1):
    """``log p(x_i)`` for every row."""
    out = np.empty(X.shape[0], dtype=np.float64)
    _, status, bad_chunk, used = _run(X, _EMPTY, params, n_threads, 0, False, out, None)
    if status != _estep.STATUS_OK:
        _raise_status(status, bad_chunk, used, X, "")
    return out


def responsibilities(X, params, n_threads=1):
    """Posterior component probabilities ``(n, K)``."""
    resp = np.empty((X.shape[0], params.cst.shape[0]), dtype=np.float64)
    _, status, bad_chunk, used = _run(X, _EMPTY, params, n_threads, 0, False, None, resp)
    if status != _estep.STATUS_OK:
        _raise_status(status, bad_chunk, used, X, "")
    return resp


def log_densities(X, params, n_threads=1):
    """Component log-densities ``cst_k - ||(x_i - mu_k) U_k||^2 / 2``, shape (n, K).

    ``log w_k + log N(x_i | k)`` for :func:`kernel_params`' output; pack the
    parameters with unit weights for the pure densities ``log N(x_i | k)``.
    Their log-sum-exp over components is :func:`log_prob_norm`.
    """
    kp = params
    with blas_threads_for(kp.kind, n_threads) as n_threads:
        out, status, bad_chunk, used = _estep.log_densities(
            X, kp.cst, kp.means, kp.prec, kp.ref, kp.shift, kp.n_blocks, kp.kind, n_threads
        )
    if status != _estep.STATUS_OK:
        _raise_status(status, bad_chunk, used, X, "")
    return out


def accumulate_resp(X, sample_weight, resp, params, n_threads=1, chunk_rows=0, where=""):
    """Sufficient statistics of ``X`` under responsibilities ``resp`` (n, K).

    As :func:`accumulate` (statistics centred at ``params.means``) but with
    ``r_ik = resp[i, k]`` computed elsewhere (e.g. HMM posteriors) instead of
    by the E-step; ``log_likelihood`` is 0.
    """
    resp = np.ascontiguousarray(resp, dtype=np.float64)
    kp = params
    with blas_threads_for(kp.kind, n_threads) as n_threads:
        flat, status, bad_chunk, used = _estep.stats_given_resp(
            X, _weights_arg(sample_weight), resp, kp.means, kp.ref, kp.kind, n_threads,
            chunk_rows,
        )
    if status != _estep.STATUS_OK:
        _raise_status(status, bad_chunk, used, X, where, resp)
    return stats_from_kernel(flat, kp, X.shape[0])
