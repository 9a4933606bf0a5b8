# E-step of the rows with missing entries (NaN), in one pass over them in place.
#
# The caller (gmmx/core/missing.py) computes per missingness pattern g and
# component k, once per pass:
#   cols[g]      the observed columns, then the missing ones (n_obs[g] observed)
#   U[g, k]      upper factor of the observed block's precision (d_o x d_o in
#                the top-left corner): S_oo^-1 = U U^T
#   B[g, k]      regression of the missing on the observed entries (d_m x d_o
#                in the top-left corner): E[x_m | x_o, k] = mu_km + B (x_o - mu_ko)
#   cst[g, k]    log w_k + log det U - d_o/2 log 2 pi
# and per row, its pattern id.  For every row, with y = (x_o - mu_ko):
#   log-density   cst - ||y U||^2 / 2
#   log-sum-exp, responsibilities r_k, log p(x_o)
#   e_k = E[x | x_o, k] - mu_k  (y on the observed columns, B y on the missing)
#   statistics    n_k += w r_k,  s_k += w r_k e_k,  M_k += w r_k e_k e_k^T
# (the conditional covariance term, sum_g (sum of w r_k over the pattern) C_gk,
# is added by the caller from the responsibilities this kernel returns).
#
# Rows are cut into fixed chunks; the chunks into a fixed number of groups of
# consecutive chunks, each with its own partial sums, added in group order:
# results are identical bit for bit whatever the number of threads.  M_k of a
# chunk is one GEMM per component over the chunk's e and w r e rows.

import numpy as np

from cython.parallel cimport prange
from libc.math cimport INFINITY, exp, isfinite, log
from libc.stdint cimport int32_t, int64_t, uint64_t
from scipy.linalg.cython_blas cimport dgemm

from ._openmp cimport gmmx_omp_thread_num

cdef enum:
    CHUNK = 256
    MAX_GROUPS = 64


def nan_keys(const double[:, ::1] X, uint64_t[::1] keys, int n_threads):
    """Bit ``j`` of ``keys[i]`` set when ``X[i, j]`` is NaN (d <= 64); returns the gap count."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], i, j
    cdef uint64_t key
    cdef Py_ssize_t gaps = 0
    with nogil:
        for i in prange(n, schedule='static', num_threads=max(1, n_threads)):
            key = 0
            for j in range(d):
                if X[i, j] != X[i, j]:
                    key = key | ((<uint64_t> 1) << j)
            keys[i] = key
            if key != 0:
                gaps += 1
    return gaps


def count_keys(const uint64_t[::1] keys, int64_t[::1] counts):
    """``counts[key] += 1`` for every key (each below ``counts.shape[0]``)."""
    cdef Py_ssize_t i
    with nogil:
        for i in range(keys.shape[0]):
            counts[keys[i]] += 1


def split_rows(const uint64_t[::1] keys, const int32_t[::1] lut, int64_t[::1] complete,
               int64_t[::1] gap, int32_t[::1] pid):
    """Rows with key 0 into ``complete``, the others into ``gap`` with ``pid = lut[key]``."""
    cdef Py_ssize_t i, nc = 0, ng = 0
    with nogil:
        for i in range(keys.shape[0]):
            if keys[i] == 0:
                complete[nc] = i
                nc += 1
            else:
                gap[ng] = i
                pid[ng] = lut[keys[i]]
                ng += 1


def missing_pass(const double[:, ::1] X, const double[::1] w, const int64_t[::1] rows,
                 const int32_t[::1] pid, const int32_t[:, ::1] cols, const int32_t[::1] n_obs,
                 const double[:, ::1] means, const double[:, :, :, ::1] U,
                 const double[:, :, :, ::1] B, const double[:, ::1] cst,
                 double[:, ::1] out, double[::1] norm, int mode, bint want_stats,
                 bint pattern_sums, int n_threads):
    """One pass over the rows ``rows`` of ``X`` (see the module comment).

    ``mode``: 0 computes responsibilities (written to ``out`` (m, K) if it has
    rows) and ``log p(x_o)`` (to ``norm`` if it has rows); 1 takes the
    responsibilities from ``out``; 2 writes the component log-densities to
    ``out`` and stops there.  ``w`` empty means unit weights.

    ``pattern_sums``: also sum ``w r_k`` per pattern (returned as ``(G, K)``,
    else None).

    Returns ``(nk, sk, Mk, log_likelihood, weight_sum, bad, per_pattern)``: statistics
    about the means (zeros unless ``want_stats``), and the first position in
    ``rows`` whose log-likelihood (or, mode 1, weighted responsibility) is
    not finite, -1 if none.
    """
    cdef Py_ssize_t m = rows.shape[0], d = X.shape[1], K = means.shape[0]
    cdef Py_ssize_t n_chunks = (m + CHUNK - 1) // CHUNK
    cdef Py_ssize_t n_groups = max(1, min(<Py_ssize_t> MAX_GROUPS, n_chunks))
    cdef Py_ssize_t per_group = (n_chunks + n_groups - 1) // n_groups if n_chunks else 0
    cdef int threads = <int> max(1, min(<Py_ssize_t> n_threads, n_groups))
    cdef Py_ssize_t G = U.shape[0]
    cdef Py_ssize_t base = K + K * d + K * d * d + 2
    cdef Py_ssize_t stride = base + (G * K if pattern_sums else 0)
    cdef double[:, ::1] part = np.zeros((n_groups, stride))
    cdef int64_t[::1] first_bad = np.full(n_groups, -1, dtype=np.int64)
    # per-thread scratch: e rows and w r e rows (K x CHUNK x d each), log-densities
    # / responsibilities (CHUNK x K), y (d), yU (d)
    cdef Py_ssize_t ed = K * CHUNK * d
    cdef double[:, ::1] scratch = np.zeros((threads, 2 * ed + CHUNK * K + 2 * d))
    cdef bint weighted = w.shape[0] > 0
    cdef bint write_out = out.shape[0] > 0
    cdef bint write_norm = norm.shape[0] > 0
    cdef Py_ssize_t grp, ch, c0, c1, lo, nr, ii, i, k, j, t, g, do, dm, pk
    cdef double *E
    cdef double *WE
    cdef double *R
    cdef double *Y
    cdef double *YU
    cdef double *P
    cdef double *er
    cdef double *wer
    cdef const double *u
    cdef const double *b
    cdef const double *mu
    cdef const double *x
    cdef const int32_t *cg
    cdef double acc, q, mx, tot, nrm, r, wi, wr
    cdef int dd = <int> d, nrows, one_i = 1
    cdef double one = 1.0
    if m == 0:
        return (np.zeros(K), np.zeros((K, d)), np.zeros((K, d, d)), 0.0, 0.0, -1,
                np.zeros((G, K)) if pattern_sums else None)
    with nogil:
        for grp in prange(n_groups, schedule='dynamic', chunksize=1, num_threads=threads):
            t = gmmx_omp_thread_num()
            E = &scratch[t, 0]
            WE = E + ed
            R = WE + ed
            Y = R + CHUNK * K
            YU = Y + d
            P = &part[grp, 0]
            c0 = grp * per_group
            c1 = min(c0 + per_group, n_chunks)
            for ch in range(c0, c1):
                lo = ch * CHUNK
                nr = min(<Py_ssize_t> CHUNK, m - lo)
                for ii in range(nr):
                    i = rows[lo + ii]
                    x = &X[i, 0]
                    g = pid[lo + ii]
                    cg = &cols[g, 0]
                    do = n_obs[g]
                    dm = d - do
                    wi = w[i] if weighted else 1.0
                    mx = -INFINITY
                    for k in range(K):
                        mu = &means[k, 0]
                        for j in range(do):
                            Y[j] = x[cg[j]] - mu[cg[j]]
                        if mode != 1:
                            u = &U[g, k, 0, 0]
                            q = 0.0
                            for j in range(do):
                                acc = 0.0
                                for pk in range(j + 1):
                                    acc = acc + Y[pk] * u[pk * d + j]
                                q = q + acc * acc
                            q = cst[g, k] - 0.5 * q
                            R[ii * K + k] = q
                            if q > mx:
                                mx = q
                        if want_stats and mode != 2:
                            er = E + (k * CHUNK + ii) * d
                            for j in range(do):
                                er[cg[j]] = Y[j]
                            b = &B[g, k, 0, 0]
                            for j in range(dm):
                                acc = 0.0
                                for pk in range(do):
                                    acc = acc + b[j * d + pk] * Y[pk]
                                er[cg[do + j]] = acc
                    if mode == 2:
                        for k in range(K):
                            out[lo + ii, k] = R[ii * K + k]
                        continue
                    if mode == 0:
                        tot = 0.0
                        if isfinite(mx):
                            for k in range(K):
                                R[ii * K + k] = exp(R[ii * K + k] - mx)
                                tot = tot + R[ii * K + k]
                            nrm = mx + log(tot)
                        else:
                            nrm = mx
                        if not isfinite(nrm) or not isfinite(wi * nrm):
                            if first_bad[grp] < 0:
                                first_bad[grp] = lo + ii
                            for k in range(K):
                                R[ii * K + k] = 0.0
                            if write_norm:
                                norm[lo + ii] = nrm
                            if write_out:
                                for k in range(K):
                                    out[lo + ii, k] = 0.0
                            continue
                        for k in range(K):
                            R[ii * K + k] = R[ii * K + k] / tot
                        if write_norm:
                            norm[lo + ii] = nrm
                        if write_out:
                            for k in range(K):
                                out[lo + ii, k] = R[ii * K + k]
                        P[base - 2] += wi * nrm
                    else:
                        for k in range(K):
                            R[ii * K + k] = out[lo + ii, k]
                            if not isfinite(wi * R[ii * K + k]) and first_bad[grp] < 0:
                                first_bad[grp] = lo + ii
                    P[base - 1] += wi
                    if want_stats:
                        for k in range(K):
                            wr = wi * R[ii * K + k]
                            P[k] += wr
                            if pattern_sums:
                                P[base + g * K + k] += wr
                            er = E + (k * CHUNK + ii) * d
                            wer = WE + (k * CHUNK + ii) * d
                            for j in range(d):
                                wer[j] = wr * er[j]
                                P[K + k * d + j] += wer[j]
                if want_stats and mode != 2:
                    nrows = <int> nr
                    for k in range(K):
                        # M_k (column-major d x d, symmetric) += WE_k^T E_k
                        dgemm(b"N", b"T", &dd, &dd, &nrows, &one, WE + k * CHUNK * d, &dd,
                              E + k * CHUNK * d, &dd, &one, P + K + K * d + k * d * d, &dd)
    sums = np.zeros(stride)
    for grp in range(n_groups):
        sums += np.asarray(part[grp])
    bad = [int(b_) for b_ in np.asarray(first_bad) if b_ >= 0]
    return (sums[:K].copy(), sums[K:K + K * d].reshape(K, d).copy(),
            sums[K + K * d:K + K * d + K * d * d].reshape(K, d, d).copy(),
            float(sums[base - 2]), float(sums[base - 1]), min(bad) if bad else -1,
            sums[base:].reshape(G, K).copy() if pattern_sums else None)
