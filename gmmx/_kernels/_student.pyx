# Student-t E-step arithmetic between the E-step kernel's two passes, fused.
#
# Input: the unit-weight Gaussian log-densities g (n, K) of a block (kernel
# entry point 2).  For each row, in one pass and in place:
#     delta_k = max(2 (gcst_k - g_k), 0)           squared Mahalanobis distance
#     L_k     = log(nu_k + delta_k)
#     j_k     = c_k - half_k L_k                    log w_k + log t_k
#     norm    = log sum_k exp(j_k)                  log p(x)
#     r_k     = exp(j_k - norm), flushed to 0 below 1e-200
#     g_k    <- r_k u_k,  u_k = (nu_k + d) / (nu_k + delta_k)
# and the block's sums per component: sum w r, sum w r L, sum w r (norm - j)
# (the entropy), plus sum w norm.  g then goes to entry point 3 (statistics
# under r u).  numpy needed about ten passes over (n, K) for the same.
#
# Rows are cut into fixed chunks; each chunk writes its own row of partial
# sums, added in order afterwards, so results do not depend on the number of
# threads.
#
# StudentTMixture no longer uses t_block: its E-step is one pass of the
# E-step kernel (_estep.t_estep, the same arithmetic per cache-sized chunk,
# no (n, K) array).  t_block stays as the three-pass reference that
# benchmarks/bench_student.py times against it.  t_lattice gives the HMM
# emissions their (n, K) t log-densities, u and log(nu + delta) in one pass.

import numpy as np

from cython.parallel cimport prange
from libc.math cimport INFINITY, isfinite

from ._openmp cimport gmmx_omp_thread_num
from ._vmath cimport gmmx_simd_import, gmmx_vexp, gmmx_vlog

# the vector math is called through the SIMD table of gmmx._kernels._simd
gmmx_simd_import()

cdef enum:
    CHUNK = 512


def t_block(double[:, ::1] g, const double[::1] gcst, const double[::1] dof,
            const double[::1] c, const double[::1] half, const double[::1] w,
            double[::1] norm_out, int n_threads):
    """Fused t E-step on ``g`` (overwritten with r*u); returns the (4, K) sums.

    Rows of the result: ``sum w r``, ``sum w r log(nu + delta)``,
    ``sum w r (norm - j)`` and, in column 0 of row 3, ``sum w norm``.
    ``w`` empty means unit weights.  Non-finite ``norm_out`` entries flag
    bad rows (the caller reports them).  exp and log are gmmx's vector
    functions (_vmath.h) over a chunk at a time.
    """
    cdef Py_ssize_t n = g.shape[0], K = g.shape[1]
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef int threads = max(1, min(n_threads, max(n_chunks, 1)))
    cdef double[:, ::1] part = np.zeros((max(n_chunks, 1), 3 * K + 1))
    # per-thread scratch: L, j, e (CHUNK x K each), then row max, total, log total,
    # and a flag for rows whose distance is not finite
    cdef Py_ssize_t ck = CHUNK * K
    cdef double[:, ::1] scratch = np.empty((threads, 3 * ck + 4 * CHUNK))
    cdef Py_ssize_t ch, i, ii, k, lo, rows, at
    cdef double *A
    cdef double *J
    cdef double *E
    cdef double *MX
    cdef double *TT
    cdef double *TL
    cdef double *BAD
    cdef double *row
    cdef double delta, s, jk, mx, total, nrm, r, wi
    cdef bint weighted = w.shape[0] > 0
    if n == 0:
        return np.zeros((4, K))
    with nogil:
        for ch in prange(n_chunks, schedule='dynamic', chunksize=1, num_threads=threads):
            A = &scratch[gmmx_omp_thread_num(), 0]
            J = A + ck
            E = J + ck
            MX = E + ck
            TT = MX + CHUNK
            TL = TT + CHUNK
            BAD = TL + CHUNK
            lo = ch * CHUNK
            rows = min(CHUNK, n - lo)
            for ii in range(rows):
                row = &g[lo + ii, 0]
                BAD[ii] = 0.0
                for k in range(K):
                    delta = 2.0 * (gcst[k] - row[k])
                    if delta < 0.0:
                        delta = 0.0
                    if not isfinite(delta):   # reported below; keep log's input valid
                        BAD[ii] = 1.0
                        delta = 0.0
                    s = dof[k] + delta
                    A[ii * K + k] = s
                    row[k] = 2.0 * half[k] / s          # u = (nu + d) / (nu + delta)
            gmmx_vlog(A, rows * K)                      # L = log(nu + delta)
            for ii in range(rows):
                mx = -INFINITY
                for k in range(K):
                    at = ii * K + k
                    jk = c[k] - half[k] * A[at]
                    J[at] = jk
                    if jk > mx:
                        mx = jk
                MX[ii] = mx
                for k in range(K):
                    at = ii * K + k
                    E[at] = J[at] - mx
            gmmx_vexp(E, rows * K)
            for ii in range(rows):
                total = 0.0
                for k in range(K):
                    total = total + E[ii * K + k]
                TT[ii] = total
                TL[ii] = total
            gmmx_vlog(TL, rows)
            for ii in range(rows):
                i = lo + ii
                row = &g[i, 0]
                nrm = MX[ii] + TL[ii]
                if not isfinite(MX[ii]) or BAD[ii] != 0.0:
                    nrm = INFINITY if BAD[ii] != 0.0 else MX[ii]
                norm_out[i] = nrm
                if not isfinite(nrm):
                    for k in range(K):
                        row[k] = 0.0
                    continue
                wi = w[i] if weighted else 1.0
                part[ch, 3 * K] += wi * nrm
                for k in range(K):
                    at = ii * K + k
                    r = E[at] / TT[ii]
                    if r < 1e-200:
                        r = 0.0
                    row[k] = r * row[k]
                    if r > 0.0:
                        r = wi * r
                        part[ch, k] += r
                        part[ch, K + k] += r * A[at]
                        part[ch, 2 * K + k] += r * (nrm - J[at])
    sums = np.asarray(part).sum(axis=0)
    out = np.zeros((4, K))
    out[0] = sums[:K]
    out[1] = sums[K:2 * K]
    out[2] = sums[2 * K:3 * K]
    out[3, 0] = sums[3 * K]
    return out


def t_lattice(double[:, ::1] g, const double[::1] gcst, const double[::1] dof,
              const double[::1] c, const double[::1] half, double[:, ::1] u_out,
              double[:, ::1] L_out, int n_threads):
    """t log-densities, ``u`` and ``log(nu + delta)`` of a lattice, in one pass.

    ``g`` (unit-weight Gaussian log-densities, (n, K)) is overwritten with
    ``c_k - half_k log(nu_k + delta)`` (the t log-densities plus whatever
    ``c`` adds); ``u_out`` receives ``2 half_k / (nu_k + delta)`` and
    ``L_out`` ``log(nu_k + delta)``, with ``delta = max(2 (gcst_k - g), 0)``.
    Row by row, so the result does not depend on ``n_threads``.
    """
    cdef Py_ssize_t n = g.shape[0], K = g.shape[1]
    cdef Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK
    cdef int threads = max(1, min(n_threads, max(n_chunks, 1)))
    cdef Py_ssize_t ch, ii, k, lo, rows
    cdef double delta, s
    cdef double *row
    cdef double *L
    cdef double *U
    if u_out.shape[0] != n or L_out.shape[0] != n or u_out.shape[1] != K \
            or L_out.shape[1] != K:
        raise ValueError("u_out and L_out must have the shape of g")
    if n == 0:
        return
    with nogil:
        for ch in prange(n_chunks, schedule='static', num_threads=threads):
            lo = ch * CHUNK
            rows = min(CHUNK, n - lo)
            L = &L_out[lo, 0]
            U = &u_out[lo, 0]
            for ii in range(rows * K):
                k = ii % K
                delta = 2.0 * (gcst[k] - g[lo + ii // K, k])
                if delta < 0.0:
                    delta = 0.0
                s = dof[k] + delta
                L[ii] = s
                U[ii] = 2.0 * half[k] / s
            gmmx_vlog(L, rows * K)
            for ii in range(rows):
                row = &g[lo + ii, 0]
                for k in range(K):
                    row[k] = c[k] - half[k] * L[ii * K + k]
