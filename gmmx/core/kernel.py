"""Python side of the E-step kernel: parameter packing, threads, errors.

:func:`accumulate` is what every driver calls on a block of rows; the predict
and score paths use :func:`log_prob_norm` and :func:`responsibilities`, which
run the same kernel without statistics. :func:`log_densities` (per-component
log-densities) and :func:`accumulate_resp` (statistics under responsibilities
computed elsewhere, e.g. by an HMM) use the same chunk loop.  The covariance
type's object (:mod:`gmmx.core.covariance`) decides how its precision factors
are packed.

Model families whose E-step is more than one kernel call per block (Student-t
weights, missing entries) hand the drivers a :class:`BlockEStep` instead of
:class:`KernelParams`: :func:`accumulate`, :func:`log_prob_norm` and
:func:`responsibilities` call its methods, so every driver (in memory,
chunk sources, Dask, online) runs the family without knowing it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import TYPE_CHECKING, Any, Iterator, NamedTuple, Protocol, runtime_checkable

import numpy as np

from .. import _kernels
from .._kernels import _estep, layout
from .covariance import get_covariance
from .stats import SufficientStats

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import NDArray

_LOG_2PI = np.log(2.0 * np.pi)
_EMPTY = np.empty(0, dtype=np.float64)
_EMPTY2 = np.empty((0, 0), dtype=np.float64)


class NonFiniteChunkError(ValueError):
    """A block of rows produced a non-finite log-likelihood."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row


def available_cpus() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return os.cpu_count() or 1


# Below this much work per thread (rows x components x (features + 1)) a
# thread costs more to wake than it saves, most visibly on a busy machine.
MIN_WORK_PER_THREAD = 250_000

#: No kernel call splits its rows into more parts than this; more threads
#: would only idle (and an absurd count could exhaust the process's threads).
MAX_THREADS = _estep.MAX_GROUPS


def resolve_n_threads(n_threads: int | None, work: int | None = None) -> int:
    """Number of OpenMP threads for a kernel call.

    ``None`` means all usable cores, capped by ``OMP_NUM_THREADS`` and, when
    ``work`` (rows x components x (features + 1)) is given, by one thread per
    ``MIN_WORK_PER_THREAD`` units so small problems stay single-threaded.
    Negative values count back from the number of cores as in scikit-learn's
    ``n_jobs`` (-1 = all). An explicit positive count is used as given, up to
    :data:`MAX_THREADS`. In a process forked from one that imported gmmx the
    answer is always 1 (see :func:`gmmx._kernels.in_forked_child`).
    """
    if n_threads is not None:
        n = int(n_threads)
        if n == 0:
            raise ValueError("n_threads must be a positive integer, -1 or None, got 0")
    if _kernels.in_forked_child():
        return 1
    cpus = available_cpus()
    if n_threads is None:
        n = max(1, min(cpus, _estep.openmp_max_threads()))
        if work is not None:
            n = max(1, min(n, int(work) // MIN_WORK_PER_THREAD))
    elif n < 0:
        n = max(1, cpus + 1 + n)
    return min(n, MAX_THREADS)


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


class _BlasHold:
    """Process-wide hold of BLAS at one thread, shared by all Python threads.

    BLAS has one thread pool per process, so its limit is global state. A
    thread that enters while no hold is active limits BLAS and becomes the
    owner; other threads entering meanwhile share the owner's hold. The owner
    restores the user's setting when its own outermost entry ends, in its own
    thread (threadpoolctl >= 3.8 lets only the thread that set OpenBLAS's
    limit change it back); a thread still inside then takes the hold again at
    its next kernel call. The saved setting is thus always the user's, never
    another thread's limit, so no interleaving leaves BLAS pinned at one.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._depth = {}  # thread ident -> nested entries
        self._owner = None  # ident of the thread whose limiter is active
        self._limiter = None

    def enter(self):
        """Take a reference; False (and nothing held) without threadpoolctl."""
        with self._lock:
            controller = _blas_controller()
            if controller is None:
                return False
            me = threading.get_ident()
            self._depth[me] = self._depth.get(me, 0) + 1
            if self._owner is None:
                limiter = controller.limit(limits=1, user_api="blas")
                limiter.__enter__()
                self._owner, self._limiter = me, limiter
            return True

    def leave(self):
        """Drop a reference taken by :meth:`enter` in this thread."""
        with self._lock:
            me = threading.get_ident()
            depth = self._depth.pop(me, 0) - 1
            if depth > 0:
                self._depth[me] = depth
            elif self._owner == me:
                limiter, self._limiter, self._owner = self._limiter, None, None
                limiter.__exit__(None, None, None)

    def held(self):
        """True while BLAS is held by some thread."""
        return self._owner is not None

    def after_fork_in_child(self):
        # Only the forking thread survives fork(); the lock may have been held
        # by another thread. If another thread owned the hold, BLAS stays
        # limited in the child: threadpoolctl is not called from an at-fork
        # handler (its own locks may be in the same state).
        self._lock = threading.Lock()
        me = threading.get_ident()
        self._depth = {me: self._depth[me]} if me in self._depth else {}
        if self._owner != me:
            self._owner = self._limiter = None


_BLAS_HOLD = _BlasHold()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_BLAS_HOLD.after_fork_in_child)


@contextlib.contextmanager
def blas_held_to_one_thread() -> Iterator[None]:
    """Hold BLAS to one thread for a whole fit (re-entrant, thread-safe).

    Limiting BLAS around every kernel call is not enough: restoring its
    threads after each call wakes them, and they spin while the next call
    runs (measured: d=16, K=8 full went from 35 to 50 ms per pass). Fits
    therefore hold the limit from start to end; kernel calls inside add a
    reference to the same hold. The user's BLAS threads come back when the
    last fit or kernel call of any thread ends.
    """
    entered = _BLAS_HOLD.enter()
    try:
        yield
    finally:
        if entered:
            _BLAS_HOLD.leave()


@contextlib.contextmanager
def blas_threads_for(kind: str, n_threads: int | None,
                     uses_blas: bool | None = None) -> Iterator[int | None]:
    """Run a kernel call without oversubscribing the cores; yields the thread count.

    Full and tied kernels, and diagonal ones packed for the GEMM formulation
    (``uses_blas``; default: full and tied only), call BLAS from every OpenMP
    thread on chunk-sized blocks. With threadpoolctl installed, BLAS is held
    to one thread for the call (also when ``n_threads`` is 1: BLAS threads
    cost more than they give on chunk-sized products, and ``n_threads`` is
    then the true thread count); without it (gmmx needs only numpy and scipy)
    such calls run on one OpenMP thread and let BLAS use its own threads
    instead.
    """
    if uses_blas is None:
        uses_blas = kind == _estep.KIND_FULL
    if not uses_blas:
        yield n_threads
        return
    with blas_held_to_one_thread():
        yield n_threads if _blas_controller() is not None else 1


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


# Diagonal and spherical models use the GEMM formulation (see
# gmmx/_kernels/_estep.pyx) where it is measured faster with OpenBLAS's own
# kernels AND with its older Haswell ones: from 8 features and 8 components
# with K*d >= 512. CPU ms per 100k rows, one thread, each path at its default
# chunk (Zen 5), direct / GEMM, native (SkylakeX) kernels | Haswell kernels:
#   d=16 K=8 5.3/3.5 | 6.8/8.2     d=32 K=8 9.0/5.7 | 8.9/11.2
#   d=64 K=4 15.8/10.6 | 17.2/24.6  d=16 K=16 8.7/6.9 | 10.6/11.5
#   d=64 K=8 18.4/10.7 | 18.7/20.4  d=8 K=64 18.4/13.8 | 18.9/19.4
#   d=16 K=32 15.4/10.8 | 17.8/16.8 d=32 K=32 26.1/18.0 | 26.5/25.5
#   d=64 K=64 93/54 | 97/82         d=4 K=4, d=8 K=8, d=2 K=64: direct faster
# (the direct loops before their chunks grew: d=64 K=8 ~27, d=8 K=64 ~26).
DIAG_GEMM_MIN_FEATURES = 8
DIAG_GEMM_MIN_COMPONENTS = 8
DIAG_GEMM_MIN_KD = 512

# ... and while every component is within this squared Mahalanobis distance
# of the mixture mean, sum_j P_kj (mu_kj - ref_j)^2. The expanded square
# cancels: the log-densities of rows near component k lose about 1e-15 times
# that distance in absolute terms (measured at price level, d=16: 1.6e-11 at
# 2e4, 1.2e-10 at 2e5; the direct loops 1.4e-14), its recentred variances
# about 2e-17 times it relative. Beyond it (narrow components many sigmas
# apart) the direct loops keep every digit.
DIAG_GEMM_MAX_DIST2 = 1e5


@runtime_checkable
class BlockEStep(Protocol):
    """A model family's E-step on one block of rows (the drivers' hook).

    What a model's ``_kernel_params`` returns when its E-step is not a single
    :func:`accumulate` kernel call.  It must pickle (Dask ships it to the
    workers) and must not hold the estimator.
    """

    def accumulate(self, X: NDArray[Any], sample_weight: NDArray[Any] | None, n_threads: int | None,
                   chunk_rows: int | None, where: Any) -> SufficientStats:
        """``SufficientStats`` of the block ``X`` (as :func:`accumulate`)."""

    def log_prob_norm(self, X: NDArray[Any], n_threads: int | None) -> NDArray[Any]:
        """``log p(x_i)`` of every row (as :func:`log_prob_norm`)."""

    def responsibilities(self, X: NDArray[Any], n_threads: int | None) -> NDArray[Any]:
        """Posterior component probabilities ``(n, K)`` (as :func:`responsibilities`)."""


def mixture_mean(weights: NDArray[Any], means: NDArray[Any]) -> NDArray[Any]:
    """``sum_k w_k mu_k`` (equal weights when they sum to zero)."""
    K = means.shape[0]
    w = weights / weights.sum() if weights.sum() > 0 else np.full(K, 1.0 / K)
    return np.ascontiguousarray(w @ means)


def diag_gemm_suits(means: NDArray[Any], prec: NDArray[Any], ref: NDArray[Any]) -> bool:
    """True when the GEMM formulation of a diagonal model is faster and exact enough.

    ``prec`` (K, d) square roots of the precisions, ``ref`` the centring point.
    Needs threadpoolctl (to hold BLAS to one thread inside the parallel kernel).
    """
    K, d = means.shape
    faster = (d >= DIAG_GEMM_MIN_FEATURES and K >= DIAG_GEMM_MIN_COMPONENTS
              and K * d >= DIAG_GEMM_MIN_KD)
    if not faster or _blas_controller() is None:
        return False
    with np.errstate(over="ignore", invalid="ignore"):
        dist2 = np.sum((prec * (means - ref)) ** 2, axis=1)
    return bool(np.all(dist2 <= DIAG_GEMM_MAX_DIST2))


def uses_blas(params: Any) -> bool:
    """True when the kernel calls BLAS for these :class:`KernelParams`."""
    return params.kind == _estep.KIND_FULL or params.ref.shape[0] > 0


def kernel_params(weights: NDArray[Any], means: NDArray[Any], precisions_cholesky: NDArray[Any],
                  covariance_type: str, diag_gemm: bool | None = None,
                  log_weights: NDArray[Any] | None = None) -> KernelParams:
    """Pack sklearn-style parameters into the kernel's arrays.

    Full and tied models are centred at the mixture mean ``ref``; their
    precision factors go side by side into one matrix so a single GEMM per
    chunk serves every component. Diagonal and spherical models with d > 1
    get the same centring and a GEMM formulation when :func:`diag_gemm_suits`
    (``diag_gemm``: None decides so, True / False force it), else an empty
    ``ref`` and the direct loops. Models with one feature use the univariate
    path whatever their covariance type.

    ``log_weights`` (K,), when given, replaces ``log(weights)`` in the
    per-component constants (a variational mixture's ``E[log pi_k]`` plus its
    other per-component terms); ``weights`` then only choose the centring point.
    """
    cov = get_covariance(covariance_type)
    means = np.ascontiguousarray(means, dtype=np.float64)
    K, d = means.shape
    pc = np.asarray(precisions_cholesky, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    logdet = cov.log_det_cholesky(pc, d)
    if log_weights is None:
        with np.errstate(divide="ignore"):
            logw = np.log(weights)
    else:
        logw = np.asarray(log_weights, dtype=np.float64)
    cst = np.ascontiguousarray(
        np.broadcast_to(logw + logdet - 0.5 * d * _LOG_2PI, (K,)), dtype=np.float64
    )
    if cov.is_matrix and d > 1:
        # upper triangular: the kernel skips what lies below the diagonal
        U = np.triu(cov.cholesky_blocks(pc, K, d))
        P = U.shape[0]
        ref = mixture_mean(weights, means)
        ucat = np.ascontiguousarray(np.concatenate(list(U), axis=1)).reshape(-1)
        Uk = U if P == K else np.broadcast_to(U, (K, d, d))
        shift = np.ascontiguousarray(np.einsum("kj,kjl->kl", means - ref, Uk))
        return KernelParams(cst, means, ucat, ref, shift, P, _estep.KIND_FULL, cov.name)
    prec = cov.diagonal_factors(pc, K, d)
    prec = np.ascontiguousarray(prec, dtype=np.float64).reshape(K, d)
    ref = _EMPTY
    if d > 1 and diag_gemm is not False:
        centre = mixture_mean(weights, means)
        if diag_gemm or diag_gemm_suits(means, prec, centre):
            ref = centre
    return KernelParams(cst, means, prec.reshape(-1), ref, _EMPTY2, K, _estep.KIND_DIAG,
                        cov.name)


def stats_from_kernel(flat: NDArray[Any], kp: Any, n_samples: int) -> SufficientStats:
    """SufficientStats centred at the means from the kernel's flat vector."""
    covariance_type = kp.covariance_type
    K, d = kp.means.shape
    u = layout.unpack(flat, K, d, kp.kind)
    if kp.kind == _estep.KIND_FULL or kp.ref.shape[0] > 0:
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


def _row_log_densities(block, kp):
    """The kernel's ``log w_k + log N(x_i | k)`` for a few rows, in numpy (diagnostics)."""
    x = np.asarray(block, dtype=np.float64)
    K, d = kp.means.shape
    with np.errstate(all="ignore"):
        if kp.kind == _estep.KIND_FULL:
            ucat = kp.prec.reshape(d, kp.n_blocks * d)
            y = ((x - kp.ref) @ ucat).reshape(len(x), kp.n_blocks, d)
            y = y if kp.n_blocks == K else np.broadcast_to(y, (len(x), K, d))
            sq = np.sum((y - kp.shift) ** 2, axis=2)
        else:
            z = (x[:, None, :] - kp.means) * kp.prec.reshape(K, d)
            sq = np.sum(z * z, axis=2)
        return kp.cst - 0.5 * sq


def _raise_status(status, bad_chunk, chunk_rows, X, where, resp=None, params=None,
                  sample_weight=None):
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
    if params is not None:
        best = np.max(_row_log_densities(block, params), axis=1)
        bad = np.flatnonzero(~np.isfinite(best))
        if bad.size:
            i = int(bad[0])
            col = int(np.argmax(np.abs(block[i])))
            row = start + i
            raise NonFiniteChunkError(
                f"{where}row {row} is too far from every component for its "
                f"log-density to be finite in float64 (its largest value is "
                f"{block[i, col]:.3g}, in column {col}): an extreme outlier or data on "
                "another scale than the model. Remove or winsorise the row or rescale "
                "the data (if the model's covariances are tiny, increase reg_covar)",
                row=row,
            )
        if sample_weight is not None:
            w = np.asarray(sample_weight[start:start + len(block)], dtype=np.float64)
            with np.errstate(over="ignore", invalid="ignore"):
                weighted = np.dot(w, best)
            if not np.isfinite(weighted):
                raise NonFiniteChunkError(
                    f"{where}the weighted log-likelihood of rows {start}.."
                    f"{start + len(block) - 1} overflows float64: sample weights up to "
                    f"{w.max():.3g} are too large; divide all weights by a constant (only "
                    "their ratios matter)",
                    row=start,
                )
    raise NonFiniteChunkError(
        f"{where}the log-likelihood of rows {start}..{start + len(block) - 1} is "
        "not finite although the data are finite: the model parameters are "
        "degenerate (a covariance too small for the data's scale). "
        "Increase reg_covar or standardise the data.",
        row=start,
    )


def accumulate(X: NDArray[Any], sample_weight: NDArray[Any] | None, params: Any,
               n_threads: int | None = 1, chunk_rows: int | None = 0,
               where: Any = "") -> SufficientStats:
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
    if not isinstance(params, KernelParams):
        return params.accumulate(X, sample_weight, n_threads, chunk_rows, where)
    flat, status, bad_chunk, used = _run(
        X, _weights_arg(sample_weight), params, n_threads, chunk_rows, True, None, None
    )
    if status != _estep.STATUS_OK:
        _raise_status(status, bad_chunk, used, X, where, params=params,
                      sample_weight=sample_weight)
    return stats_from_kernel(flat, params, X.shape[0])


def _run(X, w, kp, n_threads, chunk_rows, want_stats, out_norm, out_resp):
    with blas_threads_for(kp.kind, n_threads, uses_blas(kp)) as n_threads:
        return _estep.estep(
            X, w, kp.cst, kp.means, kp.prec, kp.ref, kp.shift, kp.n_blocks, kp.kind,
            n_threads, chunk_rows, want_stats, out_norm, out_resp,
        )


def log_prob_norm(X: NDArray[Any], params: Any, n_threads: int | None = 1) -> NDArray[Any]:
    """``log p(x_i)`` for every row."""
    if not isinstance(params, KernelParams):
        return params.log_prob_norm(X, n_threads)
    out = np.empty(X.shape[0], dtype=np.float64)
    _, status, bad_chunk, used = _run(X, _EMPTY, params, n_threads, 0, False, out, None)
    if status != _estep.STATUS_OK:
        _raise_status(status, bad_chunk, used, X, "", params=params)
    return out


def responsibilities(X: NDArray[Any], params: Any, n_threads: int | None = 1) -> NDArray[Any]:
    """Posterior component probabilities ``(n, K)``."""
    if not isinstance(params, KernelParams):
        return params.responsibilities(X, n_threads)
    resp = np.empty((X.shape[0], params.cst.shape[0]), dtype=np.float64)
    _, status, bad_chunk, used = _run(X, _EMPTY, params, n_threads, 0, False, None, resp)
    if status != _estep.STATUS_OK:
        _raise_status(status, bad_chunk, used, X, "", params=params)
    return resp


def log_densities(X: NDArray[Any], params: Any, n_threads: int | None = 1) -> NDArray[Any]:
    """Component log-densities ``cst_k - ||(x_i - mu_k) U_k||^2 / 2``, shape (n, K).

    ``log w_k + log N(x_i | k)`` for :func:`kernel_params`' output; pack the
    parameters with unit weights for the pure densities ``log N(x_i | k)``.
    Their log-sum-exp over components is :func:`log_prob_norm`.
    """
    kp = params
    with blas_threads_for(kp.kind, n_threads, uses_blas(kp)) as n_threads:
        out, status, bad_chunk, used = _estep.log_densities(
            X, kp.cst, kp.means, kp.prec, kp.ref, kp.shift, kp.n_blocks, kp.kind, n_threads
        )
    if status != _estep.STATUS_OK:
        _raise_status(status, bad_chunk, used, X, "", params=kp)
    return out


def accumulate_resp(X: NDArray[Any], sample_weight: NDArray[Any] | None, resp: NDArray[Any],
                    params: Any, n_threads: int | None = 1, chunk_rows: int | None = 0,
                    where: Any = "") -> SufficientStats:
    """Sufficient statistics of ``X`` under responsibilities ``resp`` (n, K).

    As :func:`accumulate` (statistics centred at ``params.means``) but with
    ``r_ik = resp[i, k]`` computed elsewhere (e.g. HMM posteriors) instead of
    by the E-step; ``log_likelihood`` is 0.
    """
    resp = np.ascontiguousarray(resp, dtype=np.float64)
    kp = params
    with blas_threads_for(kp.kind, n_threads, uses_blas(kp)) as n_threads:
        flat, status, bad_chunk, used = _estep.stats_given_resp(
            X, _weights_arg(sample_weight), resp, kp.means, kp.ref, kp.kind, n_threads,
            chunk_rows, kp.n_blocks,
        )
    if status != _estep.STATUS_OK:
        _raise_status(status, bad_chunk, used, X, where, resp)
    return stats_from_kernel(flat, kp, X.shape[0])
