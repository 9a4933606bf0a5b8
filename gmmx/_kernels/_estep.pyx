# The one E-step of gmmx.
#
# Every driver (in-memory, out-of-core, online, Dask) calls `estep` on blocks of
# rows.  It makes a single pass over the rows in chunks that stay in cache:
# log-densities -> log-sum-exp -> responsibilities -> sufficient statistics
# centred at the current means (see DESIGN.md).  It also serves predict /
# score_samples through optional outputs, so the log-density code exists once.
#
# Parallel layout follows scikit-learn's k-means Lloyd kernel: `prange` over
# chunks with a static schedule, thread-local scratch, BLAS on chunk blocks.
# Unlike sklearn, thread partial sums go to one row per thread and are reduced
# after the parallel region in thread order, so a run is reproducible.

import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange, threadid
from libc.math cimport sqrt, isfinite
from libc.stdlib cimport free, malloc
from libc.string cimport memset
from scipy.linalg.cython_blas cimport dgemv, dsyrk, dtrmm

from ._openmp cimport GMMX_HAVE_OPENMP, gmmx_omp_max_threads
from ._vmath cimport gmmx_dot, gmmx_sum, gmmx_uni_stats, gmmx_vexp, gmmx_vlog

# Precision layouts understood by the kernel.
KIND_FULL = 0   # prec: (K, d, d) upper-triangular U_k, log N uses ||(x - mu) U||^2
KIND_DIAG = 1   # prec: (K, d) per-feature sqrt(precision)

# Status of a pass, stored after a thread's statistics row.
cdef enum:
    ST_OK = 0
    ST_NONFINITE = 1
    ST_NOMEM = 2

STATUS_OK = ST_OK
STATUS_NONFINITE = ST_NONFINITE
STATUS_NOMEM = ST_NOMEM

OPENMP_ENABLED = bool(GMMX_HAVE_OPENMP)


def openmp_max_threads():
    """Number of threads OpenMP would use by default (1 without OpenMP)."""
    return gmmx_omp_max_threads()


def default_chunk_rows(Py_ssize_t n_features, Py_ssize_t n_components):
    """Rows per chunk so that a chunk's working set stays in L2 (~128 KiB)."""
    cdef Py_ssize_t b = 16384 // (n_components + n_features + 4)
    b = (b // 16) * 16
    return int(min(max(b, 64), 4096))


cdef inline Py_ssize_t _msize(Py_ssize_t d, int kind) noexcept nogil:
    return d * d if kind == 0 else d


cdef int _chunk(
    const floating *X,        # IN  (n, d) rows of this chunk
    const double *sw,         # IN  (n,) sample weights or NULL
    Py_ssize_t n,
    Py_ssize_t d,
    Py_ssize_t K,
    int kind,
    const double *cst,        # IN  (K,) log w_k + log det U_k - d/2 log 2 pi
    const double *means,      # IN  (K, d) component means, also the centres
    const double *prec,       # IN  (K, d, d) or (K, d), see KIND_*
    double *lp,               # SCRATCH (K, n) log-probs, then responsibilities
    double *D,                # SCRATCH (n, d)
    double *mx,               # SCRATCH (n,)
    double *ssum,             # SCRATCH (n,)
    double *lnorm,            # SCRATCH (n,)
    double *stats,            # OUT, accumulated: [n_k | s_k | M_k | ll | W | status]
    double *out_norm,         # OUT (n,) log p(x_i) or NULL
    double *out_resp,         # OUT (n, K) responsibilities or NULL
    bint want_stats,
) noexcept nogil:
    """Process one chunk; return 0, or 1 when a non-finite value appeared."""
    cdef:
        Py_ssize_t i, j, k, msz = _msize(d, kind)
        double z, acc, m, p, c, wsum, ll, sq
        const double *xd
        double *r
        double *s_k
        double *M_k
        double out3[3]
        int di = <int> d, ni = <int> n, one = 1
        double fone = 1.0
        char side_l = b'L', uplo_l = b'L', notrans = b'N', uplo_u = b'U'

    # ---- log N(x_i | k) + log w_k into lp[k, i] ----------------------------
    if d == 1:
        for i in range(n):
            D[i] = X[i]
        for k in range(K):
            m = means[k]
            p = prec[k]
            c = cst[k]
            for i in range(n):
                z = (D[i] - m) * p
                lp[k * n + i] = c - 0.5 * z * z
    elif kind == 0:
        for k in range(K):
            for i in range(n):
                for j in range(d):
                    D[i * d + j] = X[i * d + j] - means[k * d + j]
            # Row-major Y = D U is column-major Y^T = U^T D^T: U's buffer read
            # column-major is U^T, lower triangular.
            dtrmm(&side_l, &uplo_l, &notrans, &notrans, &di, &ni, &fone,
                  <double *> (prec + k * d * d), &di, D, &di)
            c = cst[k]
            for i in range(n):
                lp[k * n + i] = c - 0.5 * gmmx_dot(D + i * d, D + i * d, d)
    else:
        for k in range(K):
            c = cst[k]
            for i in range(n):
                acc = 0.0
                for j in range(d):
                    z = (X[i * d + j] - means[k * d + j]) * prec[k * d + j]
                    acc = acc + z * z
                lp[k * n + i] = c - 0.5 * acc

    # ---- log-sum-exp and responsibilities ---------------------------------
    for i in range(n):
        mx[i] = lp[i]
    for k in range(1, K):
        for i in range(n):
            mx[i] = lp[k * n + i] if lp[k * n + i] > mx[i] else mx[i]
    for k in range(K):
        for i in range(n):
            lp[k * n + i] = lp[k * n + i] - mx[i]
    gmmx_vexp(lp, K * n)
    for i in range(n):
        ssum[i] = lp[i]
    for k in range(1, K):
        for i in range(n):
            ssum[i] = ssum[i] + lp[k * n + i]
    for i in range(n):
        lnorm[i] = ssum[i]
    gmmx_vlog(lnorm, n)
    for i in range(n):
        lnorm[i] = lnorm[i] + mx[i]

    if sw != NULL:
        ll = gmmx_dot(sw, lnorm, n)
        wsum = gmmx_sum(sw, n)
    else:
        ll = gmmx_sum(lnorm, n)
        wsum = <double> n
    if not isfinite(ll):
        return 1

    if out_norm != NULL:
        for i in range(n):
            out_norm[i] = lnorm[i]

    # ssum becomes the factor w_i / sum_k exp(...)
    if sw != NULL:
        for i in range(n):
            ssum[i] = sw[i] / ssum[i]
    else:
        for i in range(n):
            ssum[i] = 1.0 / ssum[i]
    for k in range(K):
        for i in range(n):
            lp[k * n + i] = lp[k * n + i] * ssum[i]

    if out_resp != NULL:
        for i in range(n):
            for k in range(K):
                out_resp[i * K + k] = lp[k * n + i]

    if not want_stats:
        return 0

    # ---- sufficient statistics centred at the current means ---------------
    stats[K + K * d + K * msz] += ll
    stats[K + K * d + K * msz + 1] += wsum
    if d == 1:
        for k in range(K):
            out3[0] = 0.0
            out3[1] = 0.0
            out3[2] = 0.0
            gmmx_uni_stats(D, lp + k * n, means[k], n, out3)
            stats[k] += out3[0]
            stats[K + k] += out3[1]
            stats[2 * K + k] += out3[2]
    elif kind == 0:
        for k in range(K):
            r = lp + k * n
            s_k = stats + K + k * d
            M_k = stats + K + K * d + k * d * d
            stats[k] += gmmx_sum(r, n)
            for i in range(n):
                for j in range(d):
                    D[i * d + j] = X[i * d + j] - means[k * d + j]
            # s_k += D^T r  (column-major D^T is d x n)
            dgemv(&notrans, &di, &ni, &fone, D, &di, r, &one, &fone, s_k, &one)
            for i in range(n):
                sq = sqrt(r[i])
                for j in range(d):
                    D[i * d + j] = D[i * d + j] * sq
            # M_k += (sqrt(r) D)^T (sqrt(r) D), upper triangle (column-major)
            dsyrk(&uplo_u, &notrans, &di, &ni, &fone, D, &di, &fone, M_k, &di)
    else:
        for k in range(K):
            r = lp + k * n
            s_k = stats + K + k * d
            M_k = stats + K + K * d + k * d
            stats[k] += gmmx_sum(r, n)
            for i in range(n):
                for j in range(d):
                    z = X[i * d + j] - means[k * d + j]
                    s_k[j] = s_k[j] + r[i] * z
                    M_k[j] = M_k[j] + r[i] * z * z
    return 0


def estep(
    const floating[:, ::1] X,
    const double[::1] sample_weight,
    const double[::1] cst,
    const double[:, ::1] means,
    const double[::1] prec,
    int kind,
    int n_threads,
    Py_ssize_t chunk_rows=0,
    bint want_stats=True,
    double[::1] out_norm=None,
    double[:, ::1] out_resp=None,
):
    """One pass of the E-step over the rows of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64, C-contiguous
    sample_weight : ndarray of shape (n,) or (0,)
        Non-negative weights; an empty array means unit weights.
    cst : ndarray of shape (K,)
        ``log w_k + log det U_k - d/2 log(2 pi)`` per component.
    means : ndarray of shape (K, d)
        Current means; the statistics are centred at them.
    prec : ndarray, flattened
        ``KIND_FULL``: (K, d, d) upper-triangular precision Cholesky factors.
        ``KIND_DIAG``: (K, d) square roots of the precisions.
    kind : int
        ``KIND_FULL`` or ``KIND_DIAG``.
    n_threads : int
        OpenMP threads (at most one per chunk).
    chunk_rows : int, default=0
        Rows per chunk; 0 picks a cache-sized default.
    want_stats : bool
        Accumulate sufficient statistics.
    out_norm : ndarray of shape (n,), optional
        Receives ``log p(x_i)``.
    out_resp : ndarray of shape (n, K), optional
        Receives the responsibilities.

    Returns
    -------
    stats : ndarray of shape (K + K d + K m + 2,)
        ``[n_k, s_k, M_k, ll, W]`` with ``m = d*d`` (full) or ``d`` (diag),
        reduced over threads in a fixed order.
    status : int
        ``STATUS_OK``, ``STATUS_NONFINITE`` or ``STATUS_NOMEM``.
    bad_chunk : int
        First chunk (in rows of ``chunk_rows``) found non-finite, or -1.
    chunk_rows : int
        The chunk size used.
    """
    cdef:
        Py_ssize_t n = X.shape[0]
        Py_ssize_t d = X.shape[1]
        Py_ssize_t K = cst.shape[0]
        Py_ssize_t msz = _msize(d, kind)
        Py_ssize_t S = K + K * d + K * msz + 2
        Py_ssize_t B, n_chunks, ci, start, m_rows, t
        Py_ssize_t scratch_size
        int rc, tid
        double *scratch
        double *sp
        const double *swp
        double *onp
        double *orp
        bint have_w = sample_weight.shape[0] > 0
        bint have_norm = out_norm is not None
        bint have_resp = out_resp is not None

    if means.shape[0] != K or means.shape[1] != d:
        raise ValueError("means must have shape (n_components, n_features)")
    if prec.shape[0] != K * msz:
        raise ValueError("prec has the wrong size for this kind")
    if have_w and sample_weight.shape[0] != n:
        raise ValueError("sample_weight must have one entry per row")
    if have_norm and out_norm.shape[0] != n:
        raise ValueError("out_norm must have one entry per row")
    if have_resp and (out_resp.shape[0] != n or out_resp.shape[1] != K):
        raise ValueError("out_resp must have shape (n_samples, n_components)")

    B = chunk_rows if chunk_rows > 0 else default_chunk_rows(d, K)
    n_chunks = (n + B - 1) // B
    n_threads = max(1, min(n_threads, n_chunks))
    # [stats | status | bad_chunk] per thread
    tbuf_arr = np.zeros((n_threads, S + 2), dtype=np.float64)
    tbuf_arr[:, S + 1] = -1
    cdef double[:, ::1] tbuf = tbuf_arr
    scratch_size = K * B + B * d + 3 * B

    if n_chunks == 0:
        return tbuf_arr[0, :S].copy(), STATUS_OK, -1, B

    with nogil, parallel(num_threads=n_threads):
        tid = threadid()
        scratch = <double *> malloc(scratch_size * sizeof(double))
        if scratch == NULL:
            tbuf[tid, S] = ST_NOMEM
        for ci in prange(n_chunks, schedule='static'):
            if scratch == NULL:
                continue
            start = ci * B
            m_rows = B if start + B <= n else n - start
            swp = &sample_weight[start] if have_w else NULL
            onp = &out_norm[start] if have_norm else NULL
            orp = &out_resp[start, 0] if have_resp else NULL
            sp = scratch
            rc = _chunk(&X[start, 0], swp, m_rows, d, K, kind, &cst[0], &means[0, 0],
                        &prec[0], sp, sp + K * B, sp + K * B + B * d,
                        sp + K * B + B * d + B, sp + K * B + B * d + 2 * B,
                        &tbuf[tid, 0], onp, orp, want_stats)
            if rc != 0 and tbuf[tid, S] == ST_OK:
                tbuf[tid, S] = ST_NONFINITE
                tbuf[tid, S + 1] = ci
        free(scratch)

    status = int(tbuf_arr[:, S].max())
    bad = tbuf_arr[tbuf_arr[:, S] == ST_NONFINITE, S + 1]
    bad_chunk = int(bad.min()) if bad.size else -1
    total = tbuf_arr[0, :S].copy()
    for t in range(1, n_threads):
        total += tbuf_arr[t, :S]
    return total, status, bad_chunk, B


def _vector_exp(double[::1] a):
    """Apply the kernel's vector ``exp`` in place (exposed for tests)."""
    with nogil:
        gmmx_vexp(&a[0], a.shape[0])


def _vector_log(double[::1] a):
    """Apply the kernel's vector ``log`` in place (exposed for tests)."""
    with nogil:
        gmmx_vlog(&a[0], a.shape[0])
