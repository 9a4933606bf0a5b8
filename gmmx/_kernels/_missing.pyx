# E-step of the rows with missing entries (NaN), in one pass over a copy of them
# grouped by missingness pattern (split_rows: one sequential read of the block).
#
# The caller (gmmx/core/missing.py) computes per missingness pattern g and
# component k, once per pass:
#   cols[g]       the observed columns, then the missing ones (n_obs[g] observed)
#   Ucat[g]       the upper factors U_k of the observed blocks' precisions side by
#                 side (S_oo^-1 = U U^T), shift[g, k] = (mu_ko - ref_o) U_k
#   B[g, k]       regression of the missing on the observed entries (d_m x d_o
#                 in the top-left corner): E[x_m | x_o, k] = mu_km + B (x_o - mu_ko)
#   C[g, k]       conditional covariance of the missing entries (full coordinates)
#   cst[g, k]     log w_k + log det U - d_o/2 log 2 pi
# and hands a copy of the rows grouped by pattern, cut into chunks of one
# pattern each (chunk_starts).  Per chunk, with Y = x_o - ref_o of its rows
# (ref: the mean of the means):
#   log-densities   cst - ||Y U_k - shift_k||^2 / 2  (one GEMM for all k)
#   log-sum-exp, responsibilities r_k, log p(x_o)
#   scatters about ref, Y^T diag(w r_k) Y side by side (one GEMM for all k),
#   moved to mu_k; then n_k = sum w r_k, s_o, M_o about mu_ko are expanded to
#   the expected complete-data statistics with A = [I on the observed columns,
#   B^T on the missing]: s_k += A^T s_o, M_k += A^T M_o A + n_k C.
#
# The chunks are cut into a fixed number of groups of consecutive chunks,
# each with its own partial sums, added in group order: results are
# identical bit for bit whatever the number of threads.

import numpy as np

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport isfinite
from libc.stdint cimport int32_t, int64_t, uint64_t
from libc.string cimport memcpy
from scipy.linalg.cython_blas cimport dgemm

from ._openmp cimport gmmx_omp_thread_num
from ._vmath cimport (GMMX_FULL_LD, GMMX_FULL_PAD, gmmx_all_finite, gmmx_dot,
                     gmmx_full_logprob_row, gmmx_full_scale_rows, gmmx_full_scatter_upper,
                     gmmx_full_transpose, gmmx_full_tri_logprob, gmmx_full_weighted_rows,
                     gmmx_full_wide_simd, gmmx_logsumexp_resp, gmmx_simd_import, gmmx_sum)

# the vector loops are called through the SIMD table of gmmx._kernels._simd
gmmx_simd_import()


cdef enum:
    CHUNK = 256
    MAX_GROUPS = 64


def nan_keys(const floating[:, ::1] X, uint64_t[::1] keys, int n_threads):
    """Bit ``j`` of ``keys[i]`` set when ``X[i, j]`` is NaN (d <= 64); returns the gap count."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], i, j
    cdef uint64_t key
    cdef const floating *x
    cdef Py_ssize_t gaps = 0
    with nogil:
        for i in prange(n, schedule='static', num_threads=max(1, n_threads)):
            x = &X[i, 0]
            key = 0
            for j in range(d):  # branch-free: a NaN's place is not predictable
                key = key | ((<uint64_t> (x[j] != x[j])) << j)
            keys[i] = key
            gaps += key != 0
    return gaps


def count_keys(const uint64_t[::1] keys, int64_t[::1] counts):
    """``counts[key] += 1`` for every key (each below ``counts.shape[0]``)."""
    cdef Py_ssize_t i
    with nogil:
        for i in range(keys.shape[0]):
            counts[keys[i]] += 1


def split_rows(const double[:, ::1] X, const uint64_t[::1] keys, const int32_t[::1] lut,
               int64_t[:, ::1] offsets, const int64_t[::1] first_complete,
               int64_t[::1] complete, int64_t[::1] gap, int32_t[::1] pid, double[:, ::1] Xc,
               double[:, ::1] Xg):
    """Rows with key 0 into ``complete`` and ``Xc``; the others into ``gap`` and
    ``Xg``, grouped by key, in one sequential read of ``X``.

    A counting sort, by ``T = offsets.shape[0]`` threads, thread ``t`` taking
    the ``t``-th of ``T`` equal runs of rows: ``offsets[t, key]`` is where
    its rows of ``key`` start in ``gap`` (advanced as rows are placed, so rows
    keep their order within a key), ``first_complete[t]`` where its complete
    rows start; ``pid`` takes ``lut[key]``.  ``Xc`` / ``Xg`` receive copies of
    the rows (``Xc`` may have no rows: then only the indices are written).
    The result does not depend on ``T``.
    """
    cdef Py_ssize_t n = keys.shape[0], T = offsets.shape[0], t, i, i0, i1, nc, at
    cdef size_t row_bytes = X.shape[1] * sizeof(double)
    cdef uint64_t key
    cdef bint copy_c = Xc.shape[0] > 0
    with nogil:
        for t in prange(T, schedule='static', chunksize=1, num_threads=<int> T):
            i0 = t * n // T
            i1 = (t + 1) * n // T
            nc = first_complete[t]
            for i in range(i0, i1):
                key = keys[i]
                if key == 0:
                    complete[nc] = i
                    if copy_c:
                        memcpy(&Xc[nc, 0], &X[i, 0], row_bytes)
                    nc = nc + 1
                else:
                    at = offsets[t, key]
                    offsets[t, key] = at + 1
                    gap[at] = i
                    pid[at] = lut[key]
                    memcpy(&Xg[at, 0], &X[i, 0], row_bytes)


def chunk_starts(const int32_t[::1] pid):
    """Start positions of the pass's chunks, and the end: runs of one pattern id
    cut into pieces of at most ``CHUNK`` rows."""
    cdef Py_ssize_t m = pid.shape[0], i, n = 0, lo = 0
    starts = np.empty(m + 1, dtype=np.int64)
    cdef int64_t[::1] s = starts
    with nogil:
        for i in range(m):
            if i == lo or pid[i] != pid[i - 1] or i - s[n - 1] == CHUNK:
                s[n] = i
                n += 1
        s[n] = m
    return starts[:n + 1].copy()


cdef void _expand_scatter(const double *MO, const double *bm, const double *cm,
                          const int32_t *cg, Py_ssize_t do, Py_ssize_t d, double n_,
                          double *TT, double *Mk) noexcept nogil:
    """``Mk += A^T M_o A + n C`` (full coordinates, d x d) with ``A = [I | B^T]``.

    ``MO`` (do x do) the scatter of the observed columns ``cg[:do]`` about the
    component's mean, ``bm``/``cm`` the pattern's regression and conditional
    covariance, ``TT`` scratch (do x d): ``M_o A``.
    """
    cdef Py_ssize_t a, b_, j, ci, cj, dm = d - do
    cdef double acc
    for a in range(do):
        for b_ in range(do):
            TT[a * d + cg[b_]] = MO[a * do + b_]
        for j in range(dm):
            acc = 0.0
            for b_ in range(do):
                acc = acc + MO[a * do + b_] * bm[j * d + b_]
            TT[a * d + cg[do + j]] = acc
    for a in range(do):
        ci = cg[a]
        for j in range(d):
            Mk[ci * d + j] += TT[a * d + j]
    for b_ in range(dm):
        ci = cg[do + b_]
        for j in range(d):
            acc = 0.0
            for a in range(do):
                acc = acc + bm[b_ * d + a] * TT[a * d + j]
            Mk[ci * d + j] += acc
        for a in range(dm):
            cj = cg[do + a]
            Mk[ci * d + cj] += n_ * cm[ci * d + cj]


cdef void _expand_sums(const double *SO, const double *bm, const int32_t *cg, Py_ssize_t do,
                       Py_ssize_t d, double *sk) noexcept nogil:
    """``sk += A^T s_o``: the observed sums, and ``B s_o`` on the missing columns."""
    cdef Py_ssize_t a, b_, dm = d - do
    cdef double acc
    for a in range(do):
        sk[cg[a]] += SO[a]
    for b_ in range(dm):
        acc = 0.0
        for a in range(do):
            acc = acc + bm[b_ * d + a] * SO[a]
        sk[cg[do + b_]] += acc


def missing_pass(const double[:, ::1] X, const double[::1] w, const int32_t[::1] pid,
                 const int64_t[::1] starts, const int32_t[:, ::1] cols,
                 const int32_t[::1] n_obs, const double[:, ::1] means, const double[::1] ref,
                 const double[:, :, ::1] Ucat, const double[:, :, ::1] shift,
                 const double[:, :, :, ::1] B, const double[:, :, :, ::1] C,
                 const double[:, ::1] cst, double[:, ::1] out, double[::1] norm, int mode,
                 bint want_stats, int n_threads, bint pooled=False):
    """One pass over the rows of ``X`` (see the module comment).

    The rows are grouped by pattern id ``pid`` (``w``, their weights, in the
    same order); ``starts`` are the chunk starts and the end
    (:func:`chunk_starts`).  ``mode``: 0 computes responsibilities (written
    to ``out`` (m, K) if it has rows) and ``log p(x_o)`` (to ``norm`` if it
    has rows); 1 takes the responsibilities from ``out``; 2 writes the
    component log-densities to ``out`` and stops there.  ``w`` empty means
    unit weights.

    Returns ``(nk, sk, Mk, log_likelihood, weight_sum, bad)``: expected
    complete-data statistics about the means (zeros unless ``want_stats``;
    ``Mk`` includes the conditional covariances), and the first row whose
    log-likelihood (or, mode 1, weighted responsibility) is not finite, -1
    if none (the statistics are then not to be used).  ``pooled`` (tied
    models, whose ``B`` and ``C`` are the same for every component): one
    scatter and one expansion for all components, stored in ``Mk[0]`` (the
    others 0; only the sum over components is defined).
    """
    cdef Py_ssize_t m = X.shape[0], d = X.shape[1], K = means.shape[0]
    cdef Py_ssize_t n_chunks = starts.shape[0] - 1
    cdef Py_ssize_t n_groups = max(1, min(<Py_ssize_t> MAX_GROUPS, n_chunks))
    cdef Py_ssize_t per_group = (n_chunks + n_groups - 1) // n_groups if n_chunks > 0 else 0
    cdef int threads = <int> max(1, min(<Py_ssize_t> n_threads, n_groups))
    cdef Py_ssize_t base = K + K * d + K * d * d + 2
    cdef double[:, ::1] part = np.zeros((n_groups, base))
    cdef int64_t[::1] first_bad = np.full(n_groups, -1, dtype=np.int64)
    # per-thread scratch: x_o - ref and a 1 per row (CHUNK x (d+1)); Z = (x_o - ref)
    # [U_1 .. U_K] (column-major, CHUNK x K d); the rows r_k (x_o - ref) side by
    # side (CHUNK x K d); log-densities / responsibilities (K x CHUNK); three
    # row scratches (CHUNK); the scatters and sums side by side (K d x (d+1));
    # M_o and M_o A (d x d each); s_o and delta (d each); n_k of the chunk (K);
    # the chunk transposed and its rows times r_k (padded, for the own loops);
    # the K factors of the chunk's pattern, each contiguous (own loops: Ucat's
    # rows are K d apart, and at K d = 512 a factor's rows share one L1 set)
    cdef Py_ssize_t kd = K * d
    cdef Py_ssize_t ldt = GMMX_FULL_LD(CHUNK)
    cdef Py_ssize_t width = (CHUNK * (d + 1) + 2 * CHUNK * kd + CHUNK * K + 3 * CHUNK
                             + kd * (d + 1) + 2 * d * d + 2 * d + K
                             + 2 * GMMX_FULL_PAD(d) * ldt + K * d * d)
    # the full kernel's own loops where the target picks them over BLAS (AVX2,
    # AVX-512 with vector extensions): triangular distances, direct scatter
    cdef bint own = gmmx_full_wide_simd() >= 1
    cdef double[:, ::1] scratch = np.zeros((threads, width))
    cdef bint weighted = w.shape[0] > 0
    cdef bint write_out = out.shape[0] > 0
    cdef bint write_norm = norm.shape[0] > 0
    cdef bint stats_pass = want_stats and mode != 2
    cdef Py_ssize_t grp, ch, c0, c1, lo, nr, ii, k, j, a, b_, t, g, do, dm, kdo, do1
    cdef Py_ssize_t[:, ::1] jbs = np.zeros((threads, 2), dtype=np.intp)
    cdef Py_ssize_t[::1] packed_g = np.full(threads, -1, dtype=np.intp)
    cdef double *UP
    cdef Py_ssize_t *jb
    cdef double *XO
    cdef double *Z
    cdef double *W
    cdef double *LP
    cdef double *MX
    cdef double *SS
    cdef double *LN
    cdef double *MC
    cdef double *MO
    cdef double *TT
    cdef double *SO
    cdef double *DL
    cdef double *NKC
    cdef double *XT
    cdef double *RX
    cdef double *P
    cdef double *xr
    cdef const double *wc
    cdef const double *bm
    cdef const double *cm
    cdef const double *x
    cdef const int32_t *cg
    cdef double ll, n_, n_tot
    cdef int iK = <int> K
    cdef int ido, ido1, inr, ikdo, ild = <int> kd
    cdef double one = 1.0, zero = 0.0
    if m == 0 or n_chunks <= 0:
        return (np.zeros(K), np.zeros((K, d)), np.zeros((K, d, d)), 0.0, 0.0, -1)
    with nogil:
        for grp in prange(n_groups, schedule='dynamic', chunksize=1, num_threads=threads):
            t = gmmx_omp_thread_num()
            XO = &scratch[t, 0]
            Z = XO + CHUNK * (d + 1)
            W = Z + CHUNK * kd
            LP = W + CHUNK * kd
            MX = LP + CHUNK * K
            SS = MX + CHUNK
            LN = SS + CHUNK
            MC = LN + CHUNK
            MO = MC + kd * (d + 1)
            TT = MO + d * d
            SO = TT + d * d
            DL = SO + d
            NKC = DL + d
            XT = NKC + K
            RX = XT + GMMX_FULL_PAD(d) * ldt
            UP = RX + GMMX_FULL_PAD(d) * ldt
            P = &part[grp, 0]
            jb = &jbs[t, 0]  # the feature block of the vector loops: all observed columns
            c0 = grp * per_group
            c1 = min(c0 + per_group, n_chunks)
            for ch in range(c0, c1):
                lo = starts[ch]
                nr = starts[ch + 1] - lo
                g = pid[lo]
                cg = &cols[g, 0]
                do = n_obs[g]
                do1 = do + 1
                dm = d - do
                kdo = K * do
                ido = <int> do
                ido1 = <int> do1
                inr = <int> nr
                ikdo = <int> kdo
                jb[0] = 0
                jb[1] = do
                wc = &w[lo] if weighted else NULL
                for ii in range(nr):
                    x = &X[lo + ii, 0]
                    xr = XO + ii * do1
                    for j in range(do):
                        xr[j] = x[cg[j]] - ref[cg[j]]
                    xr[do] = 1.0
                if own:
                    gmmx_full_transpose(XO, nr, do, ldt, XT)
                if mode != 1 and own and (nr >= 64 or packed_g[t] == g):
                    # copying the factors costs at most 3% of the distances of
                    # 64 rows; smaller chunks (rare patterns) read Ucat as it is
                    if packed_g[t] != g:  # chunks of one pattern are consecutive
                        for k in range(K):
                            for a in range(do):
                                for j in range(do):
                                    UP[(k * do + a) * do + j] = Ucat[g, a, k * do + j]
                        packed_g[t] = g
                    for k in range(K):
                        gmmx_full_tri_logprob(XT, nr, ldt, do, UP + k * do * do, do,
                                              &shift[g, k, 0], cst[g, k], LP + k * nr)
                elif mode != 1 and own:
                    for k in range(K):
                        gmmx_full_tri_logprob(XT, nr, ldt, do, &Ucat[g, 0, k * do], kd,
                                              &shift[g, k, 0], cst[g, k], LP + k * nr)
                elif mode != 1:
                    # Z (column-major nr x K do) = XO Ucat[g]
                    dgemm(b"T", b"T", &inr, &ikdo, &ido, &one, XO, &ido1, &Ucat[g, 0, 0], &ild,
                          &zero, Z, &inr)
                    for k in range(K):
                        gmmx_full_logprob_row(Z, nr, K, k, jb, 1, &shift[g, k, 0], cst[g, k],
                                              LP + k * nr)
                if mode == 2:
                    for ii in range(nr):
                        for k in range(K):
                            out[lo + ii, k] = LP[k * nr + ii]
                    continue
                if mode == 0:
                    ll = gmmx_logsumexp_resp(LP, nr, K, NULL, MX, SS, LN)
                    if not gmmx_all_finite(LN, nr):
                        for ii in range(nr):
                            if not isfinite(LN[ii]):
                                if first_bad[grp] < 0 or lo + ii < first_bad[grp]:
                                    first_bad[grp] = lo + ii
                                break
                    if weighted:
                        ll = gmmx_dot(wc, LN, nr)
                    P[base - 2] += ll
                    if write_norm:
                        for ii in range(nr):
                            norm[lo + ii] = LN[ii]
                    if write_out:
                        for ii in range(nr):
                            for k in range(K):
                                out[lo + ii, k] = LP[k * nr + ii]
                else:
                    for ii in range(nr):
                        for k in range(K):
                            LP[k * nr + ii] = out[lo + ii, k]
                P[base - 1] += gmmx_sum(wc, nr) if weighted else <double> nr
                if not stats_pass:
                    continue
                if weighted:
                    for k in range(K):
                        for ii in range(nr):
                            LP[k * nr + ii] = LP[k * nr + ii] * wc[ii]
                if mode == 1 and not gmmx_all_finite(LP, K * nr):
                    for ii in range(nr):
                        for k in range(K):
                            if not isfinite(LP[k * nr + ii]):
                                if first_bad[grp] < 0:
                                    first_bad[grp] = lo + ii
                for k in range(K):
                    NKC[k] = gmmx_sum(LP + k * nr, nr)
                if pooled:
                    # tied: one regression and conditional covariance for all
                    # components, and only sum_k M_k is used (see _estep's
                    # tied_pooled): ONE scatter under sum_k w r_k, one expansion
                    for ii in range(nr):
                        SS[ii] = LP[ii]
                    for k in range(1, K):
                        for ii in range(nr):
                            SS[ii] += LP[k * nr + ii]
                    if own:
                        for j in range(do * do1):
                            MC[j] = 0.0
                        gmmx_full_scale_rows(SS, XT, nr, GMMX_FULL_PAD(do), ldt, RX)
                        gmmx_full_scatter_upper(XT, RX, nr, do, ldt, MC, do)
                    else:
                        gmmx_full_weighted_rows(SS, XO, nr, 1, do, jb, 1, W)
                        dgemm(b"N", b"T", &ido, &ido1, &inr, &one, W, &ido, XO, &ido1, &zero,
                              MC, &ido)
                    # Z (do x K): each component's sums about ref
                    dgemm(b"N", b"N", &ido, &iK, &inr, &one, XO, &ido1, LP, &inr, &zero, Z, &ido)
                    for a in range(do):
                        for b_ in range(a, do):
                            MO[a * do + b_] = MC[b_ * do + a]
                    n_tot = 0.0
                    for k in range(K):
                        n_ = NKC[k]
                        P[k] += n_
                        n_tot = n_tot + n_
                        # sum_k of M_o about mu_k: minus s delta^T + delta s^T - n delta delta^T
                        for j in range(do):
                            DL[j] = means[k, cg[j]] - ref[cg[j]]
                            SO[j] = Z[k * do + j]
                        for a in range(do):
                            for b_ in range(a, do):
                                MO[a * do + b_] = MO[a * do + b_] - (
                                    SO[a] * DL[b_] + DL[a] * SO[b_] - n_ * DL[a] * DL[b_])
                        for j in range(do):
                            SO[j] = SO[j] - n_ * DL[j]
                        _expand_sums(SO, &B[g, 0, 0, 0], cg, do, d, P + K + k * d)
                    for a in range(do):
                        for b_ in range(a + 1, do):
                            MO[b_ * do + a] = MO[a * do + b_]
                    _expand_scatter(MO, &B[g, 0, 0, 0], &C[g, 0, 0, 0], cg, do, d, n_tot, TT,
                                    P + K + K * d)
                    continue
                # MC (K do x (do + 1), column-major): the scatters about ref (the upper
                # triangle at least), and in the last column the sums
                if own:
                    for j in range(kdo * do1):
                        MC[j] = 0.0
                    for k in range(K):
                        gmmx_full_scale_rows(LP + k * nr, XT, nr, GMMX_FULL_PAD(do), ldt, RX)
                        gmmx_full_scatter_upper(XT, RX, nr, do, ldt, MC + k * do, kdo)
                else:
                    gmmx_full_weighted_rows(LP, XO, nr, K, do, jb, 1, W)
                    dgemm(b"N", b"T", &ikdo, &ido1, &inr, &one, W, &ikdo, XO, &ido1, &zero,
                          MC, &ikdo)
                for k in range(K):
                    n_ = NKC[k]
                    P[k] += n_
                    # about mu_k: s_o = s - n delta, M_o = M - s delta^T - delta s^T
                    # + n delta delta^T
                    for j in range(do):
                        DL[j] = means[k, cg[j]] - ref[cg[j]]
                        SO[j] = MC[do * kdo + k * do + j]
                    for a in range(do):
                        for b_ in range(a, do):
                            MO[a * do + b_] = (MC[b_ * kdo + k * do + a] - SO[a] * DL[b_]
                                               - DL[a] * SO[b_] + n_ * DL[a] * DL[b_])
                            MO[b_ * do + a] = MO[a * do + b_]
                    for j in range(do):
                        SO[j] = SO[j] - n_ * DL[j]
                    bm = &B[g, k, 0, 0]
                    cm = &C[g, k, 0, 0]
                    _expand_scatter(MO, bm, cm, cg, do, d, n_, TT, P + K + K * d + k * d * d)
                    _expand_sums(SO, bm, cg, do, d, P + K + k * d)
    sums = np.zeros(base)
    for grp in range(n_groups):
        sums += np.asarray(part[grp])
    bad = [int(b_) for b_ in np.asarray(first_bad) if b_ >= 0]
    return (sums[:K].copy(), sums[K:K + K * d].reshape(K, d).copy(),
            sums[K + K * d:K + K * d + K * d * d].reshape(K, d, d).copy(),
            float(sums[base - 2]), float(sums[base - 1]), min(bad) if bad else -1)
