# R mclust's model-based agglomerative clustering under the VVV criterion
# (Fraley 1998, Fortran `hcvvv`), the tree of init_params="hierarchical".
#
# A cluster of n rows (weighted count) with scatter W costs
#     term(n, W) = n log( det(W / n) + beta (tr W + alpha) / n )   (n > d)
#     term(n, W) = n log( beta (tr W + alpha) / n )                 (n <= d)
# and each step merges the pair whose merge increases the total cost least,
# cost(i, j) = term(i + j) - (term(i) + term(j)) as mclust's Fortran writes
# it: the same bits whichever of the two is the row.
#
# No matrix of costs is kept (it was 32 MB at 2,000 rows, and writing and
# transposing it cost more than recomputing the few rows that are read
# again): each active row has its minimum and the column where it is first
# reached; a merge recomputes the merged cluster's row only (its minimum
# covers every pair with the new cluster; the d = 2 full scan, the tests'
# reference, also lowers the other rows' minima it reaches, see below); a
# row whose minimum pointed at the two merged clusters keeps it as a lower
# bound and is recomputed only when that bound is the cheapest merge
# (Muellner's generic algorithm), so the merges are those of exact minima.
# Above d = 2 a row's lower bounds come from hc_rowlb (vectorised, without
# the determinant).  Ties and slot bookkeeping follow mclust (see
# gmmx.core.hierarchical.hc_vvv); a flag per row says whether its minimum may
# be reached twice, so a merge without a tie is recognised without
# recomputing the two rows.  Single-threaded: the tree is sequential.
#
# One logarithm per merge cost: n log(det(W / n) + q), det 0 when W / n is
# not positive definite, as mclust's formula reads (the NumPy version it
# replaced took logaddexp of a slogdet: the same value up to rounding; tests
# compare the two trees).  At d = 2 the statistics of the active clusters
# are kept in contiguous columns (S), det is the closed form of the 2 x 2
# determinant with one division per cost (1 / n) besides the logarithm's;
# wider data use a Cholesky and take the logarithms in one batch.
# Logarithms are gmmx_log1 (fdlibm's, bit-identical on every SIMD path).
# Costs can differ from an earlier kernel's in the last bits: merges of
# mathematically equal cost reached by different arithmetic may then come in
# another order, as they already could between the NumPy version, this
# kernel and mclust's Fortran.  The cost loops also run as AVX2 without FMA:
# the same bits on every CPU.  The initial minima of singletons of unit
# weight (a cost is then a function of the distance) come from a sweep in
# the order of the first coordinate, with the logarithm only near the
# minimum; other rows by tiles of the upper triangle, folded into the minima
# of their rows and columns.  The row minima are kept in a tournament tree
# (hc_seg_set, updated only along the path that changes), so the cheapest
# merge and the rows at it are found in O(log m) without a pass over the
# rows.  The rows whose minimum a merge may lower take their costs with the
# merged cluster in one batch (hc_costs2_idx: hc_exact2's bits, vectorised).
#
# At d = 2 with unit weights the columns of S stay in place (a merged-away
# cluster's column is retired, term -inf) in spatially coherent blocks of
# HC_BLK rows (strips of the first coordinate, sorted by the second within a
# strip).  Clusters grown by merges leave their block's statistics and are
# scanned apart (few: the tree mostly grows a handful of clusters one row at
# a time).  A block of never-merged rows has a strict lower bound of its
# merge costs with a cluster from the distance of the cluster's mean to the
# block's box (hc_blk_bounds), so a row's minimum and the pairs at a tie
# only cost the blocks whose bound reaches the least cost found; the rows
# pointing at each cluster are kept in lists, so those pointing at the
# merged pair are found without a pass.  This path does not look for the
# rows whose minimum a merge lowers: every pair (a, j) with the merged
# cluster a is covered by row a's exact minimum, at most its cost, and every
# older pair by a row whose minimum (exact, or a lower bound) is at most
# its cost, so the cheapest merge is the least row minimum and every pair at
# it lies in a row at it (a row at the minimum, exact and reaching it once,
# with no other row there, is a unique merge).  The merges are those of the
# full scan, which keeps the other rows' minima up to date.  The blocks are
# grouped HC_SB (8) to a super-block, whose statistics are the least and
# largest of its blocks' (the same bound holds over their union): a scan
# bounds the super-blocks first and only the blocks of those left in (about
# 20 bounds at 2,000 rows instead of 63).  Within a block the columns a scan
# visits (bound at most the least cost so far) are taken from a bit mask
# (AVX2 compares), and the column of least bound is costed once.  The costs
# taken are hc_exact2's bits, so the merges are the same as the full
# scan's.  Measured (callgrind, the tree of 2,000 rows of three blobs):
# 74.2M instructions before the super-blocks, the bit mask, the tree of
# minima and the batched costs, 53.3M after; 27.0M once a merge scans only
# the merged row (4.7 blocks costed per merge instead of 8.6).

import numpy as np

from libc.math cimport INFINITY, sqrt


cdef extern from *:
    """
    #include <math.h>
    #include "_vmath.h"
    #if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
    #include <immintrin.h>
    #endif

    #define GMMX_CLONES

    /* The statistics of the active clusters at d = 2, one row each of
     * HC_NSTAT x stride: count, mean (2), scatter W[0,0], W[1,0], W[1,1],
     * trace, cost term. */
    #define HC_NSTAT 8
    static Py_ssize_t hc_argmin(const double *GMMX_RESTRICT a, Py_ssize_t n);

    /* The two hot loops below are compiled twice on x86 with GCC or clang:
     * at the baseline and for AVX2 *without* FMA (setup.py also turns FMA
     * contraction off), chosen at run time.  Both do the same IEEE
     * operations (+ - * / sqrt and bit manipulation, each correctly
     * rounded), so the costs, and the merges, are the same bits on every
     * CPU; AVX2 only does four at a time. */
    #if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
    #define HC_HAVE_AVX2 1
    #define HC_AVX2 __attribute__((target("avx2")))
    static int hc_avx2_cached = -1;
    static int hc_use_avx2(void)
    {
        if (hc_avx2_cached < 0) {
            __builtin_cpu_init();
            hc_avx2_cached = __builtin_cpu_supports("avx2") ? 1 : 0;
        }
        return hc_avx2_cached;
    }
    #endif

    /* For the tests: 0 runs the baseline loops, 1 AVX2 where the CPU has it;
     * returns whether AVX2 runs. */
    static int hc_set_avx2(int on)
    {
    #ifdef HC_HAVE_AVX2
        hc_avx2_cached = -1;
        if (hc_use_avx2() && !on) hc_avx2_cached = 0;
        return hc_avx2_cached;
    #else
        (void)on;
        return 0;
    #endif
    }

    /* out[k] = cost of cluster A (its HC_NSTAT statistics) merged with the
     * cluster at column k of S, k < n: the operations of _chol_det and _term
     * in the same order, branch-free so that they vectorise (setup.py builds
     * this module with -fno-math-errno: sqrt sets no errno). */
    #define HC_COSTS2_HEAD \
        Py_ssize_t k; \
        HC_COSTS2_VARS
    #define HC_COSTS2_VARS \
        const double *cnt = S, *m0 = S + stride, *m1 = S + 2 * stride, *w0 = S + 3 * stride; \
        const double *w1 = S + 4 * stride, *w3 = S + 5 * stride, *tr = S + 6 * stride; \
        const double *term = S + 7 * stride; \
        const double ni = A[0], ma0 = A[1], ma1 = A[2], wa0 = A[3], wa1 = A[4], wa3 = A[5]; \
        const double ta = A[6], terma = A[7];
    /* nn and x (the logarithm's argument) of the merge with column k */
    #define HC_X2 \
            double nj = cnt[k], nn = ni + nj, rn = 1.0 / nn; \
            double d0 = m0[k] - ma0, d1 = m1[k] - ma1; \
            double dd = d0 * d0 + d1 * d1; \
            double c = ni * nj * rn; \
            double t = ta + tr[k] + c * dd; \
            double x00 = (wa0 + w0[k]) + c * d0 * d0; \
            double x10 = (wa1 + w1[k]) + c * d1 * d0; \
            double x11 = (wa3 + w3[k]) + c * d1 * d1; \
            double g = x00 * x11 - x10 * x10; \
            double det = ((x00 > 0.0) & (g > 0.0)) ? g * (rn * rn) : 0.0; \
            double q = beta * (t + alpha) * rn; \
            double x = nn > 2.0 ? det + q : q;
    #define HC_COSTS2_BODY \
        HC_COSTS2_HEAD \
        for (k = 0; k < n; k++) { \
            HC_X2 \
            out[k] = nn * gmmx_log1(x) - (terma + term[k]); \
        }
    /* lb[k] < the cost (HC_COSTS2_BODY's bits): the logarithm of q alone
     * (x = det + q, det >= 0) with 1 / nn in single precision (relative
     * error under 1.2e-7, so q's under 2.5e-7, well inside hc_log_lo's
     * 1e-6): no double division. */
    #define HC_LB2_ONE(k, out) { \
            double nj = cnt[k], nn = ni + nj; \
            double rn = (double)(1.0f / (float)nn); \
            double d0 = m0[k] - ma0, d1 = m1[k] - ma1; \
            double dd = d0 * d0 + d1 * d1; \
            double t = ta + tr[k] + (ni * nj * rn) * dd; \
            double q = beta * (t + alpha) * rn; \
            out = nn * hc_log_lo(q) - (terma + term[k]); \
        }
    #define HC_LB2_BODY \
        HC_COSTS2_HEAD \
        for (k = 0; k < n; k++) HC_LB2_ONE(k, lb[k])

    /* A lower bound of log(x), x positive and normal, without a division:
     * gmmx_log1's reduction to 2^k (1 + f), f in [sqrt(1/2) - 1, sqrt(2) - 1),
     * a degree-8 fit of log1p(f) (error under 6.3e-8 there, checked on every
     * binade), minus 1e-6.  A cost n log(x) - T computed from it is below the
     * cost from gmmx_log1 by at least n 9e-7 minus the rounding of both
     * (under n 1e-12): a strict lower bound. */
    static inline double hc_log_lo(double x)
    {
        gmmx_bits b, kb;
        double f, k, p;
        b.d = x;
        b.u += 0x3ff0000000000000ULL - 0x3fe6a09e667f3bcdULL;
        kb.u = (b.u >> 52) | 0x4330000000000000ULL;
        k = (kb.d - 4503599627370496.0) - 1023.0;
        b.u = (b.u & 0x000fffffffffffffULL) + 0x3fe6a09e667f3bcdULL;
        f = b.d - 1.0;
        p = -0.098423535385797206;
        p = p * f + 0.1636587995551583;
        p = p * f - 0.17405911832449039;
        p = p * f + 0.19882802594250626;
        p = p * f - 0.24952128487725481;
        p = p * f + 0.33335709737476055;
        p = p * f - 0.50000945285001164;
        p = p * f + 0.99999985715996531;
        return (k * 6.93147180559945286e-01 + p * f) - 1e-6;
    }

    /* NAME(S, stride, idx, n, A, alpha, beta, out): BODY at the columns
     * idx[0..n) of S, compiled for the baseline and (where the compiler
     * can) AVX2, the copy chosen at run time by hc_use_avx2() */
    #ifdef HC_HAVE_AVX2
    #define HC_IDX_KERNEL_AVX2(NAME, BODY) \
        HC_AVX2 static void NAME##_avx2( \
            const double *GMMX_RESTRICT S, Py_ssize_t stride, \
            const Py_ssize_t *GMMX_RESTRICT idx, Py_ssize_t n, \
            const double *GMMX_RESTRICT A, double alpha, double beta, \
            double *GMMX_RESTRICT out) \
        { BODY() }
    #define HC_IDX_KERNEL_PICK(NAME) \
        if (hc_use_avx2()) { NAME##_avx2(S, stride, idx, n, A, alpha, beta, out); return; }
    #else
    #define HC_IDX_KERNEL_AVX2(NAME, BODY)
    #define HC_IDX_KERNEL_PICK(NAME)
    #endif
    #define HC_IDX_KERNEL(NAME, BODY) \
        static void NAME##_base( \
            const double *GMMX_RESTRICT S, Py_ssize_t stride, \
            const Py_ssize_t *GMMX_RESTRICT idx, Py_ssize_t n, \
            const double *GMMX_RESTRICT A, double alpha, double beta, \
            double *GMMX_RESTRICT out) \
        { BODY() } \
        HC_IDX_KERNEL_AVX2(NAME, BODY) \
        static void NAME(const double *S, Py_ssize_t stride, const Py_ssize_t *idx, \
                         Py_ssize_t n, const double *A, double alpha, double beta, \
                         double *out) \
        { HC_IDX_KERNEL_PICK(NAME) NAME##_base(S, stride, idx, n, A, alpha, beta, out); }

    /* hc_lb2 at the columns idx[0..n) of S, into out[0..n) */
    #define HC_LB2_IDX_BODY() \
        Py_ssize_t g; \
        HC_COSTS2_VARS \
        for (g = 0; g < n; g++) { \
            Py_ssize_t k = idx[g]; \
            HC_LB2_ONE(k, out[g]) \
        }

    HC_IDX_KERNEL(hc_lb2_idx, HC_LB2_IDX_BODY)

    /* out[k] < cost(A, cols[k]) at any d (rows of mean by id, d wide): from
     * q alone (det >= 0) with 1 / n from n rounded to single precision, the
     * squared distances first (a row's coordinates are contiguous), then the
     * rest in a loop over k that vectorises (gathers); each column's
     * operations come in the order of the scalar loop they replaced, so the
     * bits are the same on every path.  (Summing a coordinate at a time over
     * all k took 1.2x the time at d = 8.) */
    #define HC_ROWLB_BODY() \
        Py_ssize_t k; \
        int l; \
        for (k = 0; k < n; k++) { \
            const double *mj = mean + cols[k] * d; \
            double dd = 0.0, e; \
            for (l = 0; l < d; l++) { \
                e = mj[l] - ma[l]; \
                dd = dd + e * e; \
            } \
            out[k] = dd; \
        } \
        for (k = 0; k < n; k++) { \
            Py_ssize_t j = cols[k]; \
            double nij = ni + cnt[j]; \
            double rn = 1.0 / (double)(float)nij; \
            double q = beta * (((tra + tr[j]) + ((ni * cnt[j]) * rn) * out[k]) + alpha) * rn; \
            out[k] = nij * hc_log_lo(q) - (terma + term[j]); \
        }
    #define HC_ROWLB_ARGS \
        const double *GMMX_RESTRICT mean, int d, const double *GMMX_RESTRICT cnt, \
        const double *GMMX_RESTRICT tr, const double *GMMX_RESTRICT term, \
        const Py_ssize_t *GMMX_RESTRICT cols, Py_ssize_t n, const double *GMMX_RESTRICT ma, \
        double ni, double tra, double terma, double alpha, double beta, \
        double *GMMX_RESTRICT out
    static void hc_rowlb_base(HC_ROWLB_ARGS) { HC_ROWLB_BODY() }
    #ifdef HC_HAVE_AVX2
    HC_AVX2 static void hc_rowlb_avx2(HC_ROWLB_ARGS) { HC_ROWLB_BODY() }
    #endif
    static void hc_rowlb(HC_ROWLB_ARGS)
    {
    #ifdef HC_HAVE_AVX2
        if (hc_use_avx2()) {
            hc_rowlb_avx2(mean, d, cnt, tr, term, cols, n, ma, ni, tra, terma, alpha, beta, out);
            return;
        }
    #endif
        hc_rowlb_base(mean, d, cnt, tr, term, cols, n, ma, ni, tra, terma, alpha, beta, out);
    }

    static void hc_lb2_base(
        const double *GMMX_RESTRICT S, Py_ssize_t stride, Py_ssize_t n,
        const double *GMMX_RESTRICT A, double alpha, double beta,
        double *GMMX_RESTRICT lb)
    {
        HC_LB2_BODY
    }

    #ifdef HC_HAVE_AVX2
    HC_AVX2 static void hc_lb2_avx2(
        const double *GMMX_RESTRICT S, Py_ssize_t stride, Py_ssize_t n,
        const double *GMMX_RESTRICT A, double alpha, double beta,
        double *GMMX_RESTRICT lb)
    {
        HC_LB2_BODY
    }
    #endif

    /* lb[k]: a strict lower bound of the cost with column k of S */
    static void hc_lb2(
        const double *GMMX_RESTRICT S, Py_ssize_t stride, Py_ssize_t n,
        const double *GMMX_RESTRICT A, double alpha, double beta,
        double *GMMX_RESTRICT lb)
    {
    #ifdef HC_HAVE_AVX2
        if (hc_use_avx2()) { hc_lb2_avx2(S, stride, n, A, alpha, beta, lb); return; }
    #endif
        hc_lb2_base(S, stride, n, A, alpha, beta, lb);
    }

    /* The cost with column k of S (hc_costs2's bits) */
    static inline double hc_exact2(const double *S, Py_ssize_t stride, Py_ssize_t k,
                                   const double *A, double alpha, double beta)
    {
        HC_COSTS2_VARS
        HC_X2
        return nn * gmmx_log1(x) - (terma + term[k]);
    }

    /* the least cost so far, the least id that has it and how many have it */
    static inline void hc_note_min(double e, Py_ssize_t idk, double *cmin, Py_ssize_t *best,
                                   Py_ssize_t *c)
    {
        if (e < *cmin) {
            *cmin = e;
            *best = idk;
            *c = 1;
        } else if (e == *cmin) {
            if (*best < 0 || idk < *best) *best = idk;
            (*c)++;
        }
    }

    /* v[0..n) holds lower bounds: replace them by the costs
     * wherever the bound does not exceed the least cost found so far, so
     * that every entry equal to the least cost is a cost (the others exceed
     * it); that minimum, the least id[k] where it is reached and how many
     * times go to *vmin, *arg, *cnt (inf, -1, 0 if none); skip is left
     * alone (inf). */
    static void hc_refine_min2(const double *S, Py_ssize_t stride, Py_ssize_t n,
                               const double *A, double alpha, double beta, double *v,
                               Py_ssize_t skip, const Py_ssize_t *id, double *vmin,
                               Py_ssize_t *arg, Py_ssize_t *cnt)
    {
        Py_ssize_t k, best = -1, c = 0;
        double thr, e;
        *vmin = INFINITY; *arg = -1; *cnt = 0;
        if (n == 0) return;
        k = hc_argmin(v, n);
        if (k == skip || !(v[k] < INFINITY)) return;
        thr = hc_exact2(S, stride, k, A, alpha, beta);
        for (k = 0; k < n; k++) {
            if (!(v[k] <= thr) || k == skip) continue;
            e = hc_exact2(S, stride, k, A, alpha, beta);
            v[k] = e;
            hc_note_min(e, id[k], &thr, &best, &c);
        }
        *vmin = thr;
        *arg = best;
        *cnt = c;
    }

    /* out[g] = the cost with column idx[g] of S, g < n (HC_COSTS2_BODY's
     * and hc_exact2's bits) */
    #define HC_COSTS2_IDX_BODY() \
        Py_ssize_t gi; \
        HC_COSTS2_VARS \
        for (gi = 0; gi < n; gi++) { \
            Py_ssize_t k = idx[gi]; \
            HC_X2 \
            out[gi] = nn * gmmx_log1(x) - (terma + term[k]); \
        }

    HC_IDX_KERNEL(hc_costs2_idx, HC_COSTS2_IDX_BODY)

    static void hc_costs2_base(
        const double *GMMX_RESTRICT S, Py_ssize_t stride, Py_ssize_t n,
        const double *GMMX_RESTRICT A, double alpha, double beta,
        double *GMMX_RESTRICT out)
    {
        HC_COSTS2_BODY
    }

    #ifdef HC_HAVE_AVX2
    HC_AVX2 static void hc_costs2_avx2(
        const double *GMMX_RESTRICT S, Py_ssize_t stride, Py_ssize_t n,
        const double *GMMX_RESTRICT A, double alpha, double beta,
        double *GMMX_RESTRICT out)
    {
        HC_COSTS2_BODY
    }

    #endif

    static void hc_costs2(
        const double *GMMX_RESTRICT S, Py_ssize_t stride, Py_ssize_t n,
        const double *GMMX_RESTRICT A, double alpha, double beta,
        double *GMMX_RESTRICT out)
    {
    #ifdef HC_HAVE_AVX2
        if (hc_use_avx2()) { hc_costs2_avx2(S, stride, n, A, alpha, beta, out); return; }
    #endif
        hc_costs2_base(S, stride, n, A, alpha, beta, out);
    }

    /* out[k] = nij[k] log(x[k]) - (ta + term[cols[k]]) */
    GMMX_CLONES static void hc_row_finish(
        const double *GMMX_RESTRICT x, const double *GMMX_RESTRICT nij,
        const double *GMMX_RESTRICT term, const Py_ssize_t *GMMX_RESTRICT cols,
        Py_ssize_t n, double ta, double *GMMX_RESTRICT out)
    {
        Py_ssize_t k;
        for (k = 0; k < n; k++) out[k] = nij[k] * gmmx_log1(x[k]) - (ta + term[cols[k]]);
    }

    /* The first index of the minimum of a[0..n) (0 when n == 0): a vectorised
     * minimum, then a search for it eight at a time. */
    static Py_ssize_t hc_argmin_base(const double *GMMX_RESTRICT a, Py_ssize_t n)
    {
        Py_ssize_t j, q = n - n % 8;
        double v0[8], v = INFINITY;
        int l;
        for (l = 0; l < 8; l++) v0[l] = INFINITY;
        for (j = 0; j < q; j += 8)
            for (l = 0; l < 8; l++) v0[l] = a[j + l] < v0[l] ? a[j + l] : v0[l];
        for (l = 0; l < 8; l++) v = v0[l] < v ? v0[l] : v;
        for (j = q; j < n; j++) v = a[j] < v ? a[j] : v;
        for (j = 0; j < q; j += 8) {
            int hit = 0;
            for (l = 0; l < 8; l++) hit |= a[j + l] == v;
            if (hit) break;
        }
        for (; j < n; j++)
            if (a[j] == v) return j;
        return 0;
    }

    #ifdef HC_HAVE_AVX2
    /* hc_argmin_base with AVX2: the same index (vminpd keeps the second
     * operand unless the first is less, as a < v ? a : v; NaNs are passed
     * over alike) */
    HC_AVX2 static Py_ssize_t hc_argmin_avx2(const double *GMMX_RESTRICT a, Py_ssize_t n)
    {
        Py_ssize_t j, q = n - n % 8;
        __m256d v0 = _mm256_set1_pd(INFINITY), v1 = v0, vv;
        __m128d h;
        double v;
        for (j = 0; j < q; j += 8) {
            v0 = _mm256_min_pd(_mm256_loadu_pd(a + j), v0);
            v1 = _mm256_min_pd(_mm256_loadu_pd(a + j + 4), v1);
        }
        v0 = _mm256_min_pd(v1, v0);
        h = _mm_min_pd(_mm256_extractf128_pd(v0, 1), _mm256_castpd256_pd128(v0));
        h = _mm_min_pd(_mm_unpackhi_pd(h, h), h);
        v = _mm_cvtsd_f64(h);
        for (j = q; j < n; j++) v = a[j] < v ? a[j] : v;
        vv = _mm256_set1_pd(v);
        for (j = 0; j + 4 <= n; j += 4) {
            int msk = _mm256_movemask_pd(_mm256_cmp_pd(_mm256_loadu_pd(a + j), vv, _CMP_EQ_OQ));
            if (msk) return j + __builtin_ctz(msk);
        }
        for (; j < n; j++)
            if (a[j] == v) return j;
        return 0;
    }
    #endif

    static Py_ssize_t hc_argmin(const double *GMMX_RESTRICT a, Py_ssize_t n)
    {
    #ifdef HC_HAVE_AVX2
        if (hc_use_avx2()) return hc_argmin_avx2(a, n);
    #endif
        return hc_argmin_base(a, n);
    }

    /* Fold a[0..n), columns off.., into a row's minimum so far (*rmin, at
     * the first column *rarg, reached *rcnt times). */
    static void hc_seg_min(const double *GMMX_RESTRICT a, Py_ssize_t n, Py_ssize_t off,
                           double *rmin, Py_ssize_t *rarg, Py_ssize_t *rcnt)
    {
        Py_ssize_t j, arg = -1, c = 0;
        double v = INFINITY;
        for (j = 0; j < n; j++) v = a[j] < v ? a[j] : v;
        if (v > *rmin) return;
        for (j = 0; j < n; j++)
            if (a[j] == v) {
                if (arg < 0) arg = j;
                c++;
            }
        if (c == 0) return;
        if (v < *rmin) {
            *rmin = v;
            *rarg = off + arg;
            *rcnt = c;
        } else if (v == *rmin) {
            if (off + arg < *rarg) *rarg = off + arg;
            *rcnt += c;
        }
    }

    /* The minimum *v of a[0..n), the least id[k] where it is reached (*arg)
     * and how many times (*cnt); *v = inf, *arg = -1, *cnt = 0 if none. */
    static void hc_min_by_id(const double *GMMX_RESTRICT a, const Py_ssize_t *GMMX_RESTRICT id,
                             Py_ssize_t n, double *v, Py_ssize_t *arg, Py_ssize_t *cnt)
    {
        Py_ssize_t j, c = 0, best = -1;
        double mn = a[0 < n ? hc_argmin(a, n) : 0];
        if (n == 0 || !(mn <= INFINITY)) { *v = INFINITY; *arg = -1; *cnt = 0; return; }
        for (j = 0; j < n; j++)
            if (a[j] == mn) {
                if (best < 0 || id[j] < best) best = id[j];
                c++;
            }
        *v = mn;
        *arg = best;
        *cnt = c;
    }

    /* The minimum cost of row i among m singletons of unit weight (the
     * operations of hc_costs_unit), its first column and its count, without
     * the other m - 1 logarithms: a cost is an increasing function of
     * q = beta (dd / 2 + alpha) / 2 (dd the squared distance), so the rows
     * are scanned outwards in the order of the first coordinate (order,
     * rank) until that coordinate alone puts q above the bound, and only
     * the rows with q within a factor 1 + 1e-9 of the least take the
     * logarithm: the rest have q larger by a factor the < 1-ulp error of
     * gmmx_log1 (and the rounding of the two subtractions, at most 4.5e-13
     * on costs under 3,000 in size) cannot bridge, so their costs are
     * strictly larger.  M: the coordinates in d rows of stride m; cq, ci:
     * scratch of m. */
    static void hc_unit_row_min(const double *GMMX_RESTRICT M, Py_ssize_t m, int d,
                                const Py_ssize_t *GMMX_RESTRICT order,
                                const Py_ssize_t *GMMX_RESTRICT rank, Py_ssize_t i,
                                double alpha, double beta, double t0,
                                double *GMMX_RESTRICT cq, Py_ssize_t *GMMX_RESTRICT ci,
                                double *rmin, Py_ssize_t *rarg, Py_ssize_t *rcnt)
    {
        const double x0 = M[i], y0 = d >= 2 ? M[m + i] : 0.0;
        double qmin = INFINITY, thr = INFINITY, v = INFINITY;
        Py_ssize_t p, k, n = 0, dir, best = -1, c = 0;
        int l;
        for (dir = -1; dir <= 1; dir += 2) {
            for (p = rank[i] + dir; p >= 0 && p < m; p += dir) {
                double e, dd, q;
                k = order[p];
                e = M[k] - x0;
                dd = e * e;
                q = beta * (0.5 * dd + alpha) / 2.0;
                if (q > thr) break;  /* q only grows with dd, dd >= this one */
                if (d == 2) {
                    e = M[m + k] - y0;
                    dd = dd + e * e;
                } else {
                    for (l = 1; l < d; l++) {
                        e = M[l * m + k] - M[l * m + i];
                        dd = dd + e * e;
                    }
                }
                q = beta * (0.5 * dd + alpha) / 2.0;
                if (q > thr) continue;
                cq[n] = q;
                ci[n] = k;
                n++;
                if (q < qmin) {
                    qmin = q;
                    thr = qmin * (1.0 + 1e-9);
                }
            }
        }
        for (p = 0; p < n; p++) {
            double cost;
            if (cq[p] > thr) continue;
            cost = 2.0 * gmmx_log1(cq[p]) - (t0 + t0);
            if (cost < v) {
                v = cost;
                best = ci[p];
                c = 1;
            } else if (cost == v) {
                if (ci[p] < best) best = ci[p];
                c++;
            }
        }
        if (c == 0) return;
        if (v < *rmin) {
            *rmin = v;
            *rarg = best;
            *rcnt = c;
        } else if (v == *rmin) {
            if (best < *rarg) *rarg = best;
            *rcnt += c;
        }
    }

    /* hc_refine_min2 and the search for the rows the merge may change in
     * one pass over the row of a merged cluster (d = 2, the full scan):
     * v[0..n) holds lower bounds of its costs (inf at skip, its own
     * column).  Wherever a bound does not exceed the least cost found so far
     * it is replaced by the cost (hc_exact2's bits), so the minimum, the
     * least id[k] where it is reached and how many times go to *vmin, *arg,
     * *cnt exactly as hc_refine_min2 finds them.  The k != skip where
     * v[k] <= pmin[k] or parg[k] is a or b go to hits (ascending; their
     * number returned): v[k] is then a cost or a lower bound, so they
     * include every row whose minimum the merge lowers or that pointed at a
     * or b (the extra ones have costs above their row's minimum and rows
     * that do not point at a or b: the caller leaves them alone). */
    static Py_ssize_t hc_scan2(const double *S, Py_ssize_t stride, Py_ssize_t n,
                               const double *A, double alpha, double beta, double *v,
                               Py_ssize_t skip, const Py_ssize_t *id,
                               const double *GMMX_RESTRICT pmin,
                               const Py_ssize_t *GMMX_RESTRICT parg, Py_ssize_t a,
                               Py_ssize_t b, Py_ssize_t *GMMX_RESTRICT hits,
                               double *vmin, Py_ssize_t *arg, Py_ssize_t *cnt)
    {
        Py_ssize_t k0, k, h = 0, q = n - n % 8, best = -1, c = 0;
        double thr = -INFINITY, e;
        int l, any, refine = 0;
        if (n > 0) {
            k = hc_argmin(v, n);
            if (k != skip && v[k] < INFINITY) {
                thr = hc_exact2(S, stride, k, A, alpha, beta);
                refine = 1;
            }
        }
        for (k0 = 0; k0 < n; k0 += 8) {
            Py_ssize_t k1 = k0 + 8 <= n ? k0 + 8 : n;
            if (k0 < q) {
                any = 0;
                for (l = 0; l < 8; l++)
                    any |= (v[k0 + l] <= thr) | (v[k0 + l] <= pmin[k0 + l])
                           | (parg[k0 + l] == a) | (parg[k0 + l] == b);
                if (!any) continue;
            }
            for (k = k0; k < k1; k++) {
                if (k == skip) continue;
                if (v[k] <= thr) {
                    e = hc_exact2(S, stride, k, A, alpha, beta);
                    v[k] = e;
                    hc_note_min(e, id[k], &thr, &best, &c);
                }
                if ((v[k] <= pmin[k]) | (parg[k] == a) | (parg[k] == b)) hits[h++] = k;
            }
        }
        if (refine) {
            *vmin = thr; *arg = best; *cnt = c;
        } else {
            *vmin = INFINITY; *arg = -1; *cnt = 0;
        }
        return h;
    }

    /* Spatial pruning at d = 2.  The columns of S are laid out in blocks of
     * HC_BLK, spatially coherent at the start (strips of the first
     * coordinate, sorted by the second within a strip); a merged-away
     * cluster's column is retired in place (term -inf, so its costs and
     * bounds are +inf).  Per block: the least and largest count, the least
     * trace, the largest term, the bounding box of the means and the number
     * of active columns (HC_BS doubles).  For a
     * cluster A and every active column j of a block, with
     * nn = nA + nj, c = nA nj / nn (increasing in nj) and dd >= the squared
     * distance of A's mean to the box:
     *     cost(A, j) >= nn log(beta (t + alpha) / nn) - termA - term_j
     *               >= min over nn in [nA + nlo, nA + nhi] of nn log(Q / nn)
     *                  - termA - term_j,
     *     Q = beta (tA + tlo + alpha + c(nlo) dd_box) <= beta (t + alpha),
     * the minimum of the concave nn log(Q / nn) at an end of the interval;
     * hc_log_lo (1e-6 below the logarithm) and a relative slack keep it a
     * strict bound of the computed costs.  Blocks whose bound exceeds the
     * least cost found need no costs for the row's minimum. */
    #define HC_BLK 32
    #define HC_BS 9
    /* blocks per super-block */
    #define HC_SB 8
    #define HC_NSB(nb) (((nb) + HC_SB - 1) / HC_SB)

    /* The statistics of super-block s (blocks s HC_SB.. of bs, nb of them),
     * after the nb blocks' in bs (HC_BS x HC_NSB(nb), by field): the least
     * and largest of theirs, the count of active columns summed.  The
     * bounds of hc_blk_bounds hold for any set of columns within these. */
    static void hc_sblk_stats(double *bs, Py_ssize_t nb, Py_ssize_t s)
    {
        Py_ssize_t ns = HC_NSB(nb), i, i0 = s * HC_SB, i1 = i0 + HC_SB < nb ? i0 + HC_SB : nb;
        double *ss = bs + HC_BS * nb;
        double lo0 = INFINITY, lo2 = INFINITY, lo4 = INFINITY, lo6 = INFINITY;
        double hi1 = -INFINITY, hi3 = -INFINITY, hi5 = -INFINITY, hi7 = -INFINITY;
        double na = 0.0, x;
        for (i = i0; i < i1; i++) {
            x = bs[i]; lo0 = x < lo0 ? x : lo0;
            x = bs[nb + i]; hi1 = x > hi1 ? x : hi1;
            x = bs[2 * nb + i]; lo2 = x < lo2 ? x : lo2;
            x = bs[3 * nb + i]; hi3 = x > hi3 ? x : hi3;
            x = bs[4 * nb + i]; lo4 = x < lo4 ? x : lo4;
            x = bs[5 * nb + i]; hi5 = x > hi5 ? x : hi5;
            x = bs[6 * nb + i]; lo6 = x < lo6 ? x : lo6;
            x = bs[7 * nb + i]; hi7 = x > hi7 ? x : hi7;
            na += bs[8 * nb + i];
        }
        ss[s] = lo0; ss[ns + s] = hi1; ss[2 * ns + s] = lo2; ss[3 * ns + s] = hi3;
        ss[4 * ns + s] = lo4; ss[5 * ns + s] = hi5; ss[6 * ns + s] = lo6;
        ss[7 * ns + s] = hi7; ss[8 * ns + s] = na;
    }

    static void hc_blk_stats(const double *S, Py_ssize_t stride, Py_ssize_t m,
                             const char *grown, Py_ssize_t blk, double *bs, Py_ssize_t nb)
    {
        const double *cnt = S, *m0 = S + stride, *m1 = S + 2 * stride, *tr = S + 6 * stride;
        const double *term = S + 7 * stride;
        Py_ssize_t k, k0 = blk * HC_BLK, k1 = k0 + HC_BLK < m ? k0 + HC_BLK : m;
        double nlo = INFINITY, nhi = -INFINITY, tlo = INFINITY, termhi = -INFINITY;
        double x0lo = INFINITY, x0hi = -INFINITY, x1lo = INFINITY, x1hi = -INFINITY;
        double na = 0.0;
        for (k = k0; k < k1; k++) {
            if (term[k] == -INFINITY || grown[k]) continue;
            na += 1.0;
            nlo = cnt[k] < nlo ? cnt[k] : nlo;
            nhi = cnt[k] > nhi ? cnt[k] : nhi;
            tlo = tr[k] < tlo ? tr[k] : tlo;
            termhi = term[k] > termhi ? term[k] : termhi;
            x0lo = m0[k] < x0lo ? m0[k] : x0lo;
            x0hi = m0[k] > x0hi ? m0[k] : x0hi;
            x1lo = m1[k] < x1lo ? m1[k] : x1lo;
            x1hi = m1[k] > x1hi ? m1[k] : x1hi;
        }
        bs[blk] = nlo; bs[nb + blk] = nhi; bs[2 * nb + blk] = tlo;
        bs[3 * nb + blk] = termhi; bs[4 * nb + blk] = x0lo; bs[5 * nb + blk] = x0hi;
        bs[6 * nb + blk] = x1lo; bs[7 * nb + blk] = x1hi; bs[8 * nb + blk] = na;
        hc_sblk_stats(bs, nb, blk / HC_SB);
    }

    /* bthr[i]: a strict lower bound of block i's costs with A (inf for a
     * block without active columns).
     * Branch-free, block statistics by field (bs[f nb + i]): vectorised. */
    #define HC_BOUNDS_BODY \
        const double ni = A[0], ma0 = A[1], ma1 = A[2], ta = A[6], terma = A[7]; \
        double detA = A[3] * A[5] - A[4] * A[4]; \
        Py_ssize_t i; \
        /* one count (the block's rows never merged, of one weight): \
         * det(W_A + c d d^T) >= det(W_A) where W_A is positive definite, \
         * added only where its rounding cannot make the cost's det 0 */ \
        detA = (A[3] > 0.0 && detA > 1e-6 * (A[3] * A[5])) ? detA * (1.0 - 1e-9) : 0.0; \
        for (i = i0; i < i1; i++) { \
            double nlo = bs[i], nhi = bs[ns + i], tlo = bs[2 * ns + i]; \
            double termhi = bs[3 * ns + i]; \
            double dx = bs[4 * ns + i] - ma0, dx2 = ma0 - bs[5 * ns + i]; \
            double dy = bs[6 * ns + i] - ma1, dy2 = ma1 - bs[7 * ns + i]; \
            double dd, n1, c, Q, x1, g, slack, th; \
            dx = dx > dx2 ? dx : dx2; \
            dy = dy > dy2 ? dy : dy2; \
            dx = dx > 0.0 ? dx : 0.0; \
            dy = dy > 0.0 ? dy : 0.0; \
            dd = dx * dx + dy * dy; \
            n1 = ni + nlo; \
            c = ni * nlo / n1; \
            Q = beta * (ta + tlo + alpha + c * dd) * (1.0 - 1e-12); \
            x1 = Q / n1 + (n1 > 2.0 ? detA / (n1 * n1) : 0.0); \
            g = n1 * hc_log_lo(x1); \
            /* one count per block (unit weights): nhi == nlo */ \
            g = nhi == nlo ? g : -INFINITY; \
            slack = 1e-9 * (fabs(g) + fabs(terma) + fabs(termhi)); \
            th = g - (terma + termhi) - slack; \
            bthr[i] = bs[8 * ns + i] > 0.0 ? th : INFINITY; \
        }

    static void hc_blk_bounds_base(const double *GMMX_RESTRICT bs, Py_ssize_t ns,
                                   Py_ssize_t i0, Py_ssize_t i1,
                                   const double *GMMX_RESTRICT A, double alpha, double beta,
                                   double *GMMX_RESTRICT bthr)
    {
        HC_BOUNDS_BODY
    }

    #ifdef HC_HAVE_AVX2
    HC_AVX2 static void hc_blk_bounds_avx2(const double *GMMX_RESTRICT bs, Py_ssize_t ns,
                                           Py_ssize_t i0, Py_ssize_t i1,
                                           const double *GMMX_RESTRICT A, double alpha,
                                           double beta, double *GMMX_RESTRICT bthr)
    {
        HC_BOUNDS_BODY
    }
    #endif

    static void hc_blk_bounds(const double *bs, Py_ssize_t ns, Py_ssize_t i0, Py_ssize_t i1,
                              const double *A, double alpha, double beta, double *bthr)
    {
    #ifdef HC_HAVE_AVX2
        if (hc_use_avx2()) {
            hc_blk_bounds_avx2(bs, ns, i0, i1, A, alpha, beta, bthr);
            return;
        }
    #endif
        hc_blk_bounds_base(bs, ns, i0, i1, A, alpha, beta, bthr);
    }

    /* the index of the lowest set bit of x != 0 */
    static inline int hc_ctz(unsigned int x)
    {
    #if defined(__GNUC__) || defined(__clang__)
        return __builtin_ctz(x);
    #else
        int i = 0;
        while (!(x & 1u)) { x >>= 1; i++; }
        return i;
    #endif
    }

    /* Bit l of the result (l < n <= 32): v[l] <= thr. */
    static unsigned int hc_cand_mask_base(const double *GMMX_RESTRICT v, Py_ssize_t n,
                                          double thr)
    {
        unsigned int msk = 0;
        Py_ssize_t l;
        for (l = 0; l < n; l++) msk |= (unsigned int)(v[l] <= thr) << l;
        return msk;
    }

    #ifdef HC_HAVE_AVX2
    HC_AVX2 static unsigned int hc_cand_mask_avx2(const double *GMMX_RESTRICT v, Py_ssize_t n,
                                                  double thr)
    {
        unsigned int msk = 0;
        Py_ssize_t l = 0;
        __m256d t = _mm256_set1_pd(thr);
        for (; l + 4 <= n; l += 4)
            msk |= (unsigned int)_mm256_movemask_pd(
                _mm256_cmp_pd(_mm256_loadu_pd(v + l), t, _CMP_LE_OQ)) << l;
        if (l < n) msk |= hc_cand_mask_base(v + l, n - l, thr) << l;
        return msk;
    }
    #endif

    /* The refinement of hc_refine_min2 over columns [k0, k1)
     * (k1 - k0 <= 32): costs where a bound is at most *thr_io (a cost
     * found, or inf), the least cost counted in *cmin_io, *best_io, *c_io,
     * all carried across blocks.  The columns whose bound is above the
     * threshold (which only falls) are passed over by a mask; kx, if not
     * -1, already holds its cost. */
    static void hc_refine2_part(const double *S, Py_ssize_t stride, Py_ssize_t k0,
                              Py_ssize_t k1, const double *A, double alpha, double beta,
                              double *v, Py_ssize_t skip, const Py_ssize_t *id,
                              const char *grown, Py_ssize_t kx, double *thr_io,
                              double *cmin_io, Py_ssize_t *best_io, Py_ssize_t *c_io)
    {
        Py_ssize_t k, best = *best_io, c = *c_io;
        double thr = *thr_io, cmin = *cmin_io, e;
        unsigned int msk;
    #ifdef HC_HAVE_AVX2
        if (hc_use_avx2())
            msk = hc_cand_mask_avx2(v + k0, k1 - k0, thr);
        else
    #endif
            msk = hc_cand_mask_base(v + k0, k1 - k0, thr);
        while (msk) {
            k = k0 + hc_ctz(msk);
            msk &= msk - 1;
            if (k == skip || (grown != NULL && grown[k])) continue;
            if (v[k] <= thr && v[k] < INFINITY) {
                e = k == kx ? v[k] : hc_exact2(S, stride, k, A, alpha, beta);
                v[k] = e;
                thr = e < thr ? e : thr;
                hc_note_min(e, id[k], &cmin, &best, &c);
            }
        }
        *thr_io = thr; *cmin_io = cmin; *best_io = best; *c_io = c;
    }

    /* parg[k] = t, keeping head[t] -> nxt -> ... the columns that point at
     * row t (prv: the links back); t = -1 points nowhere */
    static inline void hc_plink(Py_ssize_t *parg, Py_ssize_t *head, Py_ssize_t *nxt,
                                Py_ssize_t *prv, Py_ssize_t k, Py_ssize_t t)
    {
        Py_ssize_t o = parg[k];
        if (o == t) return;
        if (o >= 0) {
            if (prv[k] >= 0) nxt[prv[k]] = nxt[k]; else head[o] = nxt[k];
            if (nxt[k] >= 0) prv[nxt[k]] = prv[k];
        }
        parg[k] = t;
        if (t >= 0) {
            prv[k] = -1;
            nxt[k] = head[t];
            if (head[t] >= 0) prv[head[t]] = k;
            head[t] = k;
        }
    }

    static void hc_blk_lb(const double *S, Py_ssize_t stride, Py_ssize_t m, Py_ssize_t i,
                          const double *A, double alpha, double beta, double *v,
                          Py_ssize_t skip)
    {
        Py_ssize_t k0 = i * HC_BLK, k1 = k0 + HC_BLK < m ? k0 + HC_BLK : m;
        hc_lb2(S + k0, stride, k1 - k0, A, alpha, beta, v + k0);
        if (skip >= k0 && skip < k1) v[skip] = INFINITY;
    }

    /* hc_refine_min2 over the m columns of S in blocks, skipping the
     * blocks the bounds rule out: the same minimum, least id and count.
     * The clusters grown by merges (glist[:ng], outside the blocks'
     * statistics) go first, then the block of least bound, then the others
     * in order, each only if its bound reaches the least cost found so far:
     * a block left out has all costs above the final minimum.  v[k] is left
     * a cost or a lower bound of it where costed; bthr: scratch of
     * nb + HC_NSB(nb); done (1 bounds taken, 2 costed), lst: of nb; gv: of
     * ng. */
    static void hc_row2_blocks(const double *S, Py_ssize_t stride, Py_ssize_t m,
                               const double *blk, Py_ssize_t nb, const double *A,
                               double alpha, double beta, double *v, Py_ssize_t skip,
                               const Py_ssize_t *id, double *bthr, char *done,
                               const char *grown, const Py_ssize_t *glist, Py_ssize_t ng,
                               double *gv, Py_ssize_t *lst, double *vmin, Py_ssize_t *arg,
                               Py_ssize_t *cnt)
    {
        Py_ssize_t i, j, k, k0, k1, best = -1, c = 0, first = -1, g, nl, ns, fs, kx;
        double thr = INFINITY, cmin = INFINITY, e, *sthr;
        hc_lb2_idx(S, stride, glist, ng, A, alpha, beta, gv);
        for (j = 0; j < ng; j++) {
            k = glist[j];
            if (k == skip) continue;
            v[k] = gv[j];
            if (v[k] <= thr) {
                e = hc_exact2(S, stride, k, A, alpha, beta);
                v[k] = e;
                thr = e < thr ? e : thr;
                hc_note_min(e, id[k], &cmin, &best, &c);
            }
        }
        /* super-blocks first: the bounds of a block only where its
         * super-block's leave it in */
        ns = HC_NSB(nb);
        sthr = bthr + nb;
        hc_blk_bounds(blk + HC_BS * nb, ns, 0, ns, A, alpha, beta, sthr);
        for (i = 0; i < nb; i++) done[i] = 0;
        /* the block of least bound in the super-block of least bound sets the
         * threshold, then the super-blocks in order */
        fs = hc_argmin(sthr, ns);
        for (g = -1; g < ns; g++) {
            Py_ssize_t s = g < 0 ? fs : g, i0 = s * HC_SB, i1 = i0 + HC_SB < nb ? i0 + HC_SB : nb;
            if (!(sthr[s] <= thr)) continue;
            if (!done[i0]) {
                hc_blk_bounds(blk, nb, i0, i1, A, alpha, beta, bthr);
                for (i = i0; i < i1; i++) done[i] = 1;
            }
            if (g < 0) {
                first = i0 + hc_argmin(bthr + i0, i1 - i0);
                lst[0] = first;
                nl = 1;
            } else {
                nl = 0;
                for (i = i0; i < i1; i++) lst[nl++] = i;
            }
            for (j = 0; j < nl; j++) {
                i = lst[j];
                if (done[i] == 2 || !(bthr[i] <= thr)) continue;  /* inf: no active column */
                k0 = i * HC_BLK;
                k1 = k0 + HC_BLK < m ? k0 + HC_BLK : m;
                hc_lb2(S + k0, stride, k1 - k0, A, alpha, beta, v + k0);
                if (skip >= k0 && skip < k1) v[skip] = INFINITY;
                k = k0 + hc_argmin(v + k0, k1 - k0);
                kx = -1;
                if (k != skip && v[k] < thr) {
                    /* its cost, taken as such below (v[k] <= cost) */
                    e = hc_exact2(S, stride, k, A, alpha, beta);
                    if (e < thr) thr = e;
                    v[k] = e;
                    kx = k;
                }
                hc_refine2_part(S, stride, k0, k1, A, alpha, beta, v, skip, id, grown, kx, &thr,
                              &cmin, &best, &c);
                done[i] = 2;
            }
        }
        if (c > 0) {
            *vmin = cmin; *arg = best; *cnt = c;
        } else {
            *vmin = INFINITY; *arg = -1; *cnt = 0;
        }
    }

    /* The columns k != skip (into out, their number returned) where the cost
     * of A equals best, the least cost of A's row: a column whose bound
     * exceeds best is not one. */
    static Py_ssize_t hc_row_eq2(const double *S, Py_ssize_t stride, Py_ssize_t m,
                                 const double *blk, Py_ssize_t nb, const double *A,
                                 double alpha, double beta, double best, double *v,
                                 Py_ssize_t skip, const char *grown, const Py_ssize_t *glist,
                                 Py_ssize_t ng, double *gv, double *bthr, Py_ssize_t *out)
    {
        Py_ssize_t n = 0, g, i, k, k0, k1;
        hc_lb2_idx(S, stride, glist, ng, A, alpha, beta, gv);
        for (g = 0; g < ng; g++) {
            k = glist[g];
            if (k != skip && gv[g] <= best && hc_exact2(S, stride, k, A, alpha, beta) == best)
                out[n++] = k;
        }
        hc_blk_bounds(blk, nb, 0, nb, A, alpha, beta, bthr);
        for (i = 0; i < nb; i++) {
            if (!(bthr[i] <= best)) continue;
            k0 = i * HC_BLK;
            k1 = k0 + HC_BLK < m ? k0 + HC_BLK : m;
            hc_lb2(S + k0, stride, k1 - k0, A, alpha, beta, v + k0);
            for (k = k0; k < k1; k++)
                if (k != skip && !grown[k] && v[k] <= best
                    && hc_exact2(S, stride, k, A, alpha, beta) == best)
                    out[n++] = k;
        }
        return n;
    }

    /* A tournament tree of the row minima: t[P + r] the minimum of row r
     * (inf past the rows), t[i] = min(t[2 i], t[2 i + 1]), t[1] the least. */
    static void hc_seg_set(double *t, Py_ssize_t P, Py_ssize_t r, double v)
    {
        Py_ssize_t i = P + r;
        double old = t[i], nv;
        t[i] = v;
        i >>= 1;
        if (v < old) {
            /* a node's minimum falls to v where it was above */
            for (; i > 0 && v < t[i]; i >>= 1) t[i] = v;
        } else if (!(v == old)) {
            /* it rises where it was old (row r's), up to where another
             * row's is the least */
            for (; i > 0 && t[i] == old; i >>= 1) {
                nv = t[2 * i + 1] < t[2 * i] ? t[2 * i + 1] : t[2 * i];
                t[i] = nv;
                if (nv == old) break;
            }
        }
    }

    static void hc_seg_build(double *t, Py_ssize_t P)
    {
        Py_ssize_t i;
        for (i = P - 1; i > 0; i--)
            t[i] = t[2 * i + 1] < t[2 * i] ? t[2 * i + 1] : t[2 * i];
    }

    /* The rows r < m whose minimum is v, ascending, into out (their number
     * returned): a descent through the nodes whose minimum is v. */
    static Py_ssize_t hc_seg_find(const double *t, Py_ssize_t P, Py_ssize_t m, double v,
                                  Py_ssize_t *out)
    {
        Py_ssize_t stack[2 * 64 + 2], sp = 0, n = 0, i;
        if (!(t[1] == v)) return 0;
        stack[sp++] = 1;
        while (sp > 0) {
            i = stack[--sp];
            if (i >= P) {
                if (i - P < m) out[n++] = i - P;
                continue;
            }
            /* only the children at v: the left one on top */
            stack[sp] = 2 * i + 1;
            sp += t[2 * i + 1] == v;
            stack[sp] = 2 * i;
            sp += t[2 * i] == v;
        }
        return n;
    }

    /* How many of a[0..n) equal v */
    GMMX_CLONES static Py_ssize_t hc_count_eq(const double *GMMX_RESTRICT a, Py_ssize_t n,
                                              double v)
    {
        Py_ssize_t j, c = 0;
        for (j = 0; j < n; j++) c += a[j] == v;
        return c;
    }
    """
    const int HC_NSTAT
    double gmmx_log1(double x) noexcept nogil
    void hc_costs2(const double* S, Py_ssize_t stride, Py_ssize_t n, const double* A,
                   double alpha, double beta, double* out) noexcept nogil
    void hc_costs2_idx(const double* S, Py_ssize_t stride, const Py_ssize_t* idx, Py_ssize_t n,
                       const double* A, double alpha, double beta, double* out) noexcept nogil
    void hc_lb2(const double* S, Py_ssize_t stride, Py_ssize_t n, const double* A,
                double alpha, double beta, double* lb) noexcept nogil
    double hc_exact2(const double* S, Py_ssize_t stride, Py_ssize_t k, const double* A,
                     double alpha, double beta) noexcept nogil
    void hc_refine_min2(const double* S, Py_ssize_t stride, Py_ssize_t n, const double* A,
                        double alpha, double beta, double* v, Py_ssize_t skip, const Py_ssize_t* id,
                        double* vmin, Py_ssize_t* arg, Py_ssize_t* cnt) noexcept nogil
    void hc_row_finish(const double* x, const double* nij, const double* term,
                       const Py_ssize_t* cols, Py_ssize_t n, double ta,
                       double* out) noexcept nogil
    Py_ssize_t hc_argmin(const double* a, Py_ssize_t n) noexcept nogil
    Py_ssize_t hc_scan2(const double* S, Py_ssize_t stride, Py_ssize_t n, const double* A,
                        double alpha, double beta, double* v, Py_ssize_t skip,
                        const Py_ssize_t* id, const double* pmin, const Py_ssize_t* parg,
                        Py_ssize_t a, Py_ssize_t b, Py_ssize_t* hits, double* vmin,
                        Py_ssize_t* arg, Py_ssize_t* cnt) noexcept nogil
    const int HC_BLK
    const int HC_BS
    const int HC_SB
    void hc_blk_stats(const double* S, Py_ssize_t stride, Py_ssize_t m, const char* grown,
                      Py_ssize_t blk, double* bs, Py_ssize_t nb) noexcept nogil
    void hc_row2_blocks(const double* S, Py_ssize_t stride, Py_ssize_t m, const double* blk,
                        Py_ssize_t nb, const double* A, double alpha, double beta, double* v,
                        Py_ssize_t skip, const Py_ssize_t* id, double* bthr, char* done,
                        const char* grown, const Py_ssize_t* glist, Py_ssize_t ng, double* gv,
                        Py_ssize_t* lst, double* vmin, Py_ssize_t* arg,
                        Py_ssize_t* cnt) noexcept nogil
    Py_ssize_t hc_row_eq2(const double* S, Py_ssize_t stride, Py_ssize_t m, const double* blk,
                          Py_ssize_t nb, const double* A, double alpha, double beta, double best,
                          double* v, Py_ssize_t skip, const char* grown, const Py_ssize_t* glist,
                          Py_ssize_t ng, double* gv, double* bthr, Py_ssize_t* out) noexcept nogil
    void hc_plink(Py_ssize_t* parg, Py_ssize_t* head, Py_ssize_t* nxt, Py_ssize_t* prv,
                  Py_ssize_t k, Py_ssize_t t) noexcept nogil
    void hc_min_by_id(const double* a, const Py_ssize_t* id, Py_ssize_t n, double* v,
                      Py_ssize_t* arg, Py_ssize_t* cnt) noexcept nogil
    void hc_unit_row_min(const double* M, Py_ssize_t m, int d, const Py_ssize_t* order,
                         const Py_ssize_t* rank, Py_ssize_t i, double alpha, double beta,
                         double t0, double* cq, Py_ssize_t* ci, double* rmin,
                         Py_ssize_t* rarg, Py_ssize_t* rcnt) noexcept nogil
    void hc_seg_min(const double* a, Py_ssize_t n, Py_ssize_t off, double* rmin,
                    Py_ssize_t* rarg, Py_ssize_t* rcnt) noexcept nogil
    int hc_set_avx2(int on) noexcept nogil
    double hc_log_lo(double x) noexcept nogil
    void hc_rowlb(const double* mean, int d, const double* cnt, const double* tr,
                  const double* term, const Py_ssize_t* cols, Py_ssize_t n, const double* ma,
                  double ni, double tra, double terma, double alpha, double beta,
                  double* out) noexcept nogil
    Py_ssize_t hc_count_eq(const double* a, Py_ssize_t n, double v) noexcept nogil
    void hc_seg_set(double* t, Py_ssize_t P, Py_ssize_t r, double v) noexcept nogil
    void hc_seg_build(double* t, Py_ssize_t P) noexcept nogil
    Py_ssize_t hc_seg_find(const double* t, Py_ssize_t P, Py_ssize_t m, double v,
                           Py_ssize_t* out) noexcept nogil


# rowmin is kept with a tournament tree of its minima (hc_seg_set), so that
# the cheapest merge and the rows at it are found in O(log m) a step.
cdef enum:
    _TILE = 64  # of the initial matrix


cdef inline void _set_parg(bint blocks, Py_ssize_t* parg, Py_ssize_t* head, Py_ssize_t* nxt,
                           Py_ssize_t* prv, Py_ssize_t k, Py_ssize_t t) noexcept nogil:
    """``parg[k] = t``, with the lists of the columns pointing at each row (d = 2)."""
    if blocks:
        hc_plink(parg, head, nxt, prv, k, t)
    else:
        parg[k] = t


cdef inline void _set_rowmin(double* rowmin, double* seg, Py_ssize_t r, double v,
                             Py_ssize_t P) noexcept nogil:
    """``rowmin[r] = v``, keeping ``seg`` (hc_seg_set) the tournament tree of the rows."""
    rowmin[r] = v
    hc_seg_set(seg, P, r, v)


cdef inline double _term(double cnt, double tr, double det, double alpha, double beta,
                         int d) noexcept nogil:
    """``cnt log(det + beta (tr + alpha) / cnt)``; ``det`` counts only when ``cnt > d``."""
    cdef double q = beta * (tr + alpha) / cnt
    if cnt > d:
        return cnt * gmmx_log1(det + q)
    return cnt * gmmx_log1(q)


cdef inline double _chol_det(double* A, int d) noexcept nogil:
    """det of the symmetric d x d matrix A (overwritten); 0 unless positive definite."""
    cdef int j, k, l
    cdef double s, piv, out = 1.0
    for j in range(d):
        s = A[j * d + j]
        for k in range(j):
            s -= A[j * d + k] * A[j * d + k]
        if not s > 0.0:
            return 0.0
        out *= s
        piv = sqrt(s)
        A[j * d + j] = piv
        for l in range(j + 1, d):
            s = A[l * d + j]
            for k in range(j):
                s -= A[l * d + k] * A[j * d + k]
            A[l * d + j] = s / piv
    return out


cdef class _Tree:
    cdef int m, d
    cdef double alpha, beta
    cdef object _arrays   # keeps the buffers below alive
    cdef double* cnt      # (m,) weighted counts
    cdef double* tr       # (m,) traces of the scatters
    cdef double* term     # (m,) cost terms
    cdef double* mean     # (m, d)
    cdef double* W        # (m, d, d) scatters
    cdef double* buf      # d x d scratch
    cdef double* delta    # d scratch
    cdef double* xbuf     # (m,) log arguments of one row
    cdef double* nbuf     # (m,) merged counts of one row
    cdef double* S        # (HC_NSTAT, m) statistics of the active clusters (d = 2)
    cdef double* A        # (HC_NSTAT,) one cluster's statistics (d = 2)

    def __cinit__(self, double[:, ::1] Z, double[::1] w, double alpha, double beta):
        self.m, self.d = Z.shape[0], Z.shape[1]
        self.alpha, self.beta = alpha, beta
        cnt = np.array(w, dtype=np.float64)
        mean = np.array(Z, dtype=np.float64)
        W = np.zeros((self.m, self.d, self.d))
        tr = np.zeros(self.m)
        term = np.empty(self.m)
        scratch = np.empty(self.d * self.d + self.d)
        rowbuf = np.empty(2 * self.m + HC_NSTAT)
        S = np.empty(HC_NSTAT * self.m if self.d == 2 else 1)
        self._arrays = (cnt, mean, W, tr, term, scratch, rowbuf, S)
        cdef double[::1] v
        v = cnt
        self.cnt = &v[0]
        v = mean.reshape(-1)
        self.mean = &v[0]
        v = W.reshape(-1)
        self.W = &v[0]
        v = tr
        self.tr = &v[0]
        v = term
        self.term = &v[0]
        v = scratch
        self.buf = &v[0]
        self.delta = &v[self.d * self.d]
        v = rowbuf
        self.xbuf = &v[0]
        self.nbuf = &v[self.m]
        self.A = &v[2 * self.m]
        v = S
        self.S = &v[0]
        cdef int i
        for i in range(self.m):
            self.term[i] = _term(self.cnt[i], 0.0, 0.0, alpha, beta, self.d)
            if self.d == 2:
                self.compact_set(i, i)

    cdef void stats2(self, int i, double* out) noexcept nogil:
        """The HC_NSTAT statistics of cluster ``i`` (d = 2)."""
        out[0] = self.cnt[i]
        out[1] = self.mean[2 * i]
        out[2] = self.mean[2 * i + 1]
        out[3] = self.W[4 * i]
        out[4] = self.W[4 * i + 2]
        out[5] = self.W[4 * i + 3]
        out[6] = self.tr[i]
        out[7] = self.term[i]

    cdef void compact_set(self, Py_ssize_t pos, int i) noexcept nogil:
        """Column ``pos`` of S holds cluster ``i`` (d = 2)."""
        cdef int s
        self.stats2(i, self.A)
        for s in range(HC_NSTAT):
            self.S[s * self.m + pos] = self.A[s]

    cdef void compact_move(self, Py_ssize_t src, Py_ssize_t dst) noexcept nogil:
        """Column ``src`` of S to column ``dst`` (d = 2)."""
        cdef int s
        for s in range(HC_NSTAT):
            self.S[s * self.m + dst] = self.S[s * self.m + src]

    cdef void costs(self, int a, const Py_ssize_t* cols, Py_ssize_t lo, Py_ssize_t n,
                    double* out) noexcept nogil:
        """``out[k - lo] = cost(a, cols[k])`` for ``lo <= k < n``, ``cols`` the active
        clusters in the order of S's columns."""
        if n <= lo:
            return
        if self.d == 2:
            self.stats2(a, self.A)
            hc_costs2(self.S + lo, self.m, n - lo, self.A, self.alpha, self.beta, out)
        else:
            self.row_costs(a, cols + lo, n - lo, out)

    cdef double merged_term(self, int i, int j, double* c_out, double* tr_out) noexcept nogil:
        """Cost term of ``i`` merged with ``j`` (delta left in self.delta)."""
        cdef int d = self.d, k, l
        cdef double ni = self.cnt[i], nj = self.cnt[j]
        cdef double nij = ni + nj, c, tr, dd = 0.0, det = 0.0
        cdef const double* mi = self.mean + i * d
        cdef const double* mj = self.mean + j * d
        cdef const double* Wi
        cdef const double* Wj
        cdef double* delta = self.delta
        for k in range(d):
            delta[k] = mj[k] - mi[k]
            dd = dd + delta[k] * delta[k]
        c = ni * nj / nij
        tr = self.tr[i] + self.tr[j] + c * dd
        if nij > d:
            Wi = self.W + i * d * d
            Wj = self.W + j * d * d
            for k in range(d):
                for l in range(d):
                    self.buf[k * d + l] = ((Wi[k * d + l] + Wj[k * d + l])
                                           + c * delta[k] * delta[l]) / nij
            det = _chol_det(self.buf, d)
        c_out[0] = c
        tr_out[0] = tr
        return _term(nij, tr, det, self.alpha, self.beta, d)

    cdef double pair_x(self, int a, int j, double* nij_out) noexcept nogil:
        """The logarithm's argument of the cost of ``a`` merged with ``j`` (its
        count to ``nij_out``)."""
        cdef int d = self.d, l, p
        cdef double ni = self.cnt[a], nij, c, dd = 0.0, q
        cdef const double* ma = self.mean + a * d
        cdef const double* mj = self.mean + j * d
        cdef const double* Wa
        cdef const double* Wj
        nij = ni + self.cnt[j]
        for l in range(d):
            self.delta[l] = mj[l] - ma[l]
            dd = dd + self.delta[l] * self.delta[l]
        c = ni * self.cnt[j] / nij
        q = self.beta * ((self.tr[a] + self.tr[j] + c * dd) + self.alpha) / nij
        nij_out[0] = nij
        if nij > d:
            Wa = self.W + a * d * d
            Wj = self.W + j * d * d
            for l in range(d):
                for p in range(d):
                    self.buf[l * d + p] = ((Wa[l * d + p] + Wj[l * d + p])
                                           + c * self.delta[l] * self.delta[p]) / nij
            return _chol_det(self.buf, d) + q
        return q

    cdef double pair_cost(self, int a, int j) noexcept nogil:
        """The cost of ``a`` merged with ``j``: row_costs's bits."""
        cdef double nij
        cdef double x = self.pair_x(a, j, &nij)
        return nij * gmmx_log1(x) - (self.term[a] + self.term[j])

    cdef void row_costs(self, int a, const Py_ssize_t* cols, Py_ssize_t n,
                        double* out) noexcept nogil:
        """``out[k] = cost(a, cols[k])`` with one batch of logarithms."""
        cdef Py_ssize_t k
        if n <= 0:
            return
        for k in range(n):
            self.xbuf[k] = self.pair_x(a, <int>cols[k], &self.nbuf[k])
        hc_row_finish(self.xbuf, self.nbuf, self.term, cols, n, self.term[a], out)

    cdef void row_lb(self, int a, const Py_ssize_t* cols, Py_ssize_t n,
                     double* out) noexcept nogil:
        """``out[k]`` < cost(a, cols[k]): from q alone (det >= 0), with 1 / n
        from n rounded to single precision, no determinant (hc_rowlb)."""
        hc_rowlb(self.mean, self.d, self.cnt, self.tr, self.term, cols, n,
                 self.mean + a * self.d, self.cnt[a], self.tr[a], self.term[a], self.alpha,
                 self.beta, out)

    cdef void merge(self, int a, int b) noexcept nogil:
        """Merge cluster ``b`` into ``a``."""
        cdef int d = self.d, k, l
        cdef double c, tr, t = self.merged_term(a, b, &c, &tr)
        cdef double nij = self.cnt[a] + self.cnt[b]
        cdef double* Wa = self.W + a * d * d
        cdef const double* Wb = self.W + b * d * d
        cdef double* ma = self.mean + a * d
        cdef const double* mb = self.mean + b * d
        for k in range(d):
            for l in range(d):
                Wa[k * d + l] = (Wa[k * d + l] + Wb[k * d + l]
                                 + c * (self.delta[k] * self.delta[l]))
        for k in range(d):
            ma[k] = (self.cnt[a] * ma[k] + self.cnt[b] * mb[k]) / nij
        self.cnt[a] = nij
        self.tr[a] = tr
        self.term[a] = t


def _set_simd(bint on):
    """Run the merge costs' AVX2 loops (``on``, where the CPU has AVX2) or the
    baseline ones; returns whether AVX2 runs.  For the tests: both give the
    same bits."""
    return bool(hc_set_avx2(on))


def hc_vvv_merges(double[:, ::1] Z not None, double[::1] w not None, double alpha,
                  double beta, *, bint unit_costs=True, bint spatial=True, work=None):
    """The merges of mclust's VVV agglomeration of the rows of ``Z``.

    Parameters
    ----------
    Z : ndarray of shape (m, d), float64, C-contiguous
    w : ndarray of shape (m,), float64
        Row weights (counts).
    alpha, beta : float
        ``alpha`` already scaled (see gmmx.core.hierarchical.hc_vvv).
    unit_costs : bool
        Find the initial minima of unit-weight rows by the shorter route
        (the same minima; False for the tests).
    spatial : bool
        At d = 2 with unit weights, cost only the spatial blocks of rows the
        bounds leave in (the same merges; False for the tests: the
        compacted full scan).
    work : ndarray of shape (2,), int64, optional
        Incremented by the work (for the tests): the blocks of columns the
        spatial path costed, and the row scans: of the merged rows and of
        the rows whose minimum was a lower bound (the d = 2 full scan counts
        only the latter).

    Returns
    -------
    merges : ndarray of shape (m - 1, 2), int64
    """
    cdef int m = Z.shape[0]
    if w.shape[0] != m:
        raise ValueError("w must have one weight per row of Z")
    merges_arr = np.empty((max(m - 1, 0), 2), dtype=np.int64)
    if m < 2:
        return merges_arr
    cdef long long[:, ::1] merges = merges_arr
    cdef _Tree cl = _Tree(Z, w, alpha, beta)
    cdef long long[::1] wk = np.zeros(2, dtype=np.int64) if work is None else work
    cdef bint count_work = work is not None
    cdef double[::1] rowmin = np.empty(m)
    cdef Py_ssize_t[::1] rowarg = np.empty(m, dtype=np.intp)
    cdef Py_ssize_t[::1] rowcnt = np.empty(m, dtype=np.intp)
    cdef Py_ssize_t[::1] slot = np.arange(m, dtype=np.intp)
    cdef Py_ssize_t[::1] at_slot = np.arange(m, dtype=np.intp)
    cdef Py_ssize_t[::1] act = np.arange(m, dtype=np.intp)  # active rows (S's order)
    cdef Py_ssize_t[::1] pos = np.arange(m, dtype=np.intp)  # act[pos[r]] == r
    cdef double[::1] vals = np.empty(m)
    # rowmin and rowarg of the active rows in the order of act, for a scan of
    # the rows a merge may change
    cdef double[::1] pmin = np.empty(m)
    cdef Py_ssize_t[::1] parg = np.empty(m, dtype=np.intp)
    cdef Py_ssize_t n_hit, h
    cdef Py_ssize_t P = 1
    while P < m:
        P *= 2
    cdef double[::1] rtree = np.full(2 * P, INFINITY)
    cdef Py_ssize_t[::1] cand = np.empty(m, dtype=np.intp)
    cdef char[::1] exact = np.ones(m, dtype=np.int8)
    # multi[r]: row r's minimum may be reached more than once (0: certainly
    # once, when exact[r]); the cheap test for a tie at the cheapest merge
    cdef char[::1] multi = np.zeros(m, dtype=np.int8)
    cdef bint unit = unit_costs and cl.d >= 2 and bool(np.all(np.asarray(w) == 1.0))
    cdef double[:, ::1] Mt = np.ascontiguousarray(np.asarray(Z).T)
    cdef double[:, ::1] tile = np.empty((2 * _TILE, _TILE))
    order_arr = np.argsort(Mt[0], kind="stable").astype(np.intp)
    rank_arr = np.empty(m, dtype=np.intp)
    rank_arr[order_arr] = np.arange(m)
    cdef Py_ssize_t[::1] order = order_arr
    cdef Py_ssize_t[::1] rank = rank_arr
    cdef Py_ssize_t i, j, k, a, b, step, last, r, bi, bj, si, sj, key_hi, key_lo
    cdef Py_ssize_t best_hi, best_lo, n_act = m, i0, j0, i1, j1, pa, pb, n_cand, tb, tj, moved
    cdef double v, best
    cdef Py_ssize_t n_rows_at_best
    cdef bint unique
    # d = 2: S's columns in spatially coherent blocks of HC_BLK (strips of
    # the first coordinate, each sorted by the second), retired in place
    # (unit weights: the blocks' bounds are tight where the rows have one count)
    cdef bint blocks = spatial and cl.d == 2 and bool(np.all(np.asarray(w) == 1.0))
    cdef Py_ssize_t nb2 = (m + HC_BLK - 1) // HC_BLK
    # the blocks' statistics, then their super-blocks' (HC_SB blocks each)
    cdef Py_ssize_t nsb2 = (nb2 + HC_SB - 1) // HC_SB
    cdef double[::1] blk = np.empty((nb2 + nsb2) * HC_BS)
    cdef double[::1] bthr = np.empty(nb2 + nsb2)
    cdef Py_ssize_t[::1] blst = np.empty(nb2, dtype=np.intp)
    cdef char[::1] bdone = np.zeros(nb2, dtype=np.int8)
    cdef Py_ssize_t[::1] layout
    # d = 2: the columns whose parg is row t, linked from phead[t]
    cdef Py_ssize_t[::1] phead = np.full(m if blocks else 1, -1, dtype=np.intp)
    cdef Py_ssize_t[::1] pnxt = np.full(m if blocks else 1, -1, dtype=np.intp)
    cdef Py_ssize_t[::1] pprv = np.full(m if blocks else 1, -1, dtype=np.intp)
    # d = 2: the columns of clusters grown by merges (glist[:ng], gpos their
    # places there), outside the blocks' statistics
    cdef char[::1] grown = np.zeros(m if blocks else 1, dtype=np.int8)
    cdef Py_ssize_t[::1] glist = np.empty(m if blocks else 1, dtype=np.intp)
    cdef Py_ssize_t[::1] gpos = np.empty(m if blocks else 1, dtype=np.intp)
    cdef Py_ssize_t ng = 0
    cdef double[::1] gvals = np.empty(m if blocks else 1)
    cdef Py_ssize_t[::1] eqcols = np.empty(m, dtype=np.intp)
    cdef Py_ssize_t n_eq, n_x
    cdef Py_ssize_t[::1] xidx = np.empty(m, dtype=np.intp)
    cdef double[::1] xval = np.empty(m)
    if blocks:
        n_strip = max(1, int(round((nb2) ** 0.5)))
        strip = -(-nb2 // n_strip) * HC_BLK
        layout_arr = order_arr.copy()
        for i0 in range(0, m, strip):
            seg = layout_arr[i0:i0 + strip]
            layout_arr[i0:i0 + strip] = seg[np.argsort(np.asarray(Mt[1])[seg], kind="stable")]
        layout = layout_arr
    with nogil:
        for i in range(m):
            rowmin[i] = INFINITY
            rowarg[i] = i
            rowcnt[i] = 1  # the diagonal, inf
        if unit:
            # singletons of unit weight: a cost is a function of the distance
            # only, so each row's minimum is among its nearest rows
            for i in range(m):
                hc_unit_row_min(&Mt[0, 0], m, cl.d, &order[0], &rank[0], i, cl.alpha,
                                cl.beta, cl.term[0], &vals[0], &cand[0], &rowmin[i],
                                &rowarg[i], &rowcnt[i])
        else:
            # the upper triangle by tiles, folded into the minima of their rows
            # and (transposed) of their columns
            for tb in range((m + _TILE - 1) // _TILE):
                i0 = tb * _TILE
                i1 = min(i0 + _TILE, m)
                for tj in range(tb, (m + _TILE - 1) // _TILE):
                    j0 = tj * _TILE
                    j1 = min(j0 + _TILE, m)
                    for i in range(i0, i1):
                        k = max(j0, i + 1)
                        if k >= j1:
                            continue
                        cl.costs(<int>i, &act[0], k, j1, &tile[0, k - j0])
                        hc_seg_min(&tile[0, k - j0], j1 - k, k, &rowmin[i], &rowarg[i],
                                   &rowcnt[i])
                        for j in range(k, j1):
                            tile[_TILE + j - j0, i - i0] = tile[0, j - j0]
                    for j in range(j0, j1):
                        k = min(i1, j)
                        if k > i0:
                            hc_seg_min(&tile[_TILE + j - j0, 0], k - i0, i0, &rowmin[j],
                                       &rowarg[j], &rowcnt[j])
        if blocks:
            for k in range(m):
                act[k] = layout[k]
                pos[layout[k]] = k
                cl.compact_set(k, <int>layout[k])
        for i in range(m):
            multi[i] = rowcnt[i] > 1
            pmin[pos[i]] = rowmin[i]
            if blocks:
                parg[pos[i]] = -1
                hc_plink(&parg[0], &phead[0], &pnxt[0], &pprv[0], pos[i], rowarg[i])
            else:
                parg[pos[i]] = rowarg[i]
        if blocks:
            for i in range(nb2):
                hc_blk_stats(cl.S, m, m, &grown[0], i, &blk[0], nb2)
        for i in range(m):
            rtree[P + i] = rowmin[i]
        hc_seg_build(&rtree[0], P)
        for step in range(m - 1):
            # the cheapest merge; among exact ties, mclust's choice: the pair with
            # the largest (higher slot, lower slot)
            # rowmin[r] is a lower bound unless exact[r]: rescan the rows whose
            # bound reaches the minimum until the minimum is exact (rowmin is
            # inf at the inactive rows); cand: the rows at the minimum, ascending
            while True:
                best = rtree[1]
                n_cand = hc_seg_find(&rtree[0], P, m, best, &cand[0])
                n_rows_at_best = 0
                for k in range(n_cand):
                    r = cand[k]
                    if not exact[r]:
                        if blocks:
                            cl.stats2(<int>r, cl.A)
                            hc_row2_blocks(cl.S, m, m, &blk[0], nb2, cl.A, cl.alpha, cl.beta,
                                           &vals[0], pos[r], &act[0], &bthr[0], &bdone[0],
                                           &grown[0], &glist[0], ng, &gvals[0], &blst[0], &v,
                                           &rowarg[r], &rowcnt[r])
                            if count_work:
                                _count_blocks(&bdone[0], nb2, &wk[0])
                        else:
                            _row_min_costs(cl, r, act, pos, n_act, vals, &v, &rowarg[r],
                                           &rowcnt[r])
                            wk[1] += 1
                        _set_rowmin(&rowmin[0], &rtree[0], r, v, P)
                        pmin[pos[r]] = v
                        _set_parg(blocks, &parg[0], &phead[0], &pnxt[0], &pprv[0], pos[r],
                                  rowarg[r])
                        multi[r] = rowcnt[r] > 1
                        exact[r] = 1
                        n_rows_at_best += 1
                if n_rows_at_best == 0:
                    break
            # one pair at the minimum (its two rows, each with one entry there):
            # no tie to break (the rows at the minimum are exact here)
            unique = 0
            if n_cand == 1:
                # every pair is covered by a row whose minimum is at most its
                # cost: a pair at the minimum other than (r, rowarg[r]) would
                # put another row at it, or reach row r's minimum twice
                bi = cand[0]
                bj = rowarg[bi]
                unique = not multi[bi] and bj >= 0
            elif n_cand == 2:
                bi, bj = cand[0], cand[1]
                unique = (rowarg[bi] == bj and rowarg[bj] == bi and not multi[bi]
                          and not multi[bj])
            if not unique:
                best_hi = best_lo = -1
                for k in range(n_cand):
                    r = cand[k]
                    if blocks:
                        # only the columns at the minimum
                        cl.stats2(<int>r, cl.A)
                        n_eq = hc_row_eq2(cl.S, m, m, &blk[0], nb2, cl.A, cl.alpha, cl.beta,
                                          best, &vals[0], pos[r], &grown[0], &glist[0], ng,
                                          &gvals[0], &bthr[0], &eqcols[0])
                    else:
                        _row_costs(cl, r, act, pos, n_act, vals)
                        n_eq = 0
                        for i in range(n_act):
                            if vals[i] == best:
                                eqcols[n_eq] = i
                                n_eq += 1
                    for h in range(n_eq):
                        j = act[eqcols[h]]
                        si, sj = slot[r], slot[j]
                        key_hi = si if si > sj else sj
                        key_lo = sj if si > sj else si
                        if key_hi > best_hi or (key_hi == best_hi and key_lo > best_lo):
                            best_hi, best_lo, bi, bj = key_hi, key_lo, r, j
            i, j = bi, bj
            if slot[i] < slot[j]:
                a, b = i, j
            else:
                a, b = j, i
            merges[step, 0] = a if a < b else b
            merges[step, 1] = b if a < b else a
            last = m - 1 - step
            moved = at_slot[last]
            if slot[b] != last:
                at_slot[slot[b]] = moved
                slot[moved] = slot[b]
            if b < a:  # the merged cluster is represented by its lowest row
                a, b = b, a
                slot[a] = slot[b]
                at_slot[slot[a]] = a
            cl.merge(<int>a, <int>b)
            _set_rowmin(&rowmin[0], &rtree[0], b, INFINITY, P)
            if step == m - 2:
                break
            pa = pos[a]
            pb = pos[b]
            if blocks:
                # retire b's column in place; the statistics of the blocks
                # of a row that leaves them (b retired, a grown)
                i0 = -1 if grown[pb] else pb // HC_BLK
                i1 = -1 if grown[pa] else pa // HC_BLK
                cl.S[7 * m + pb] = -INFINITY
                pmin[pb] = -INFINITY
                _set_parg(blocks, &parg[0], &phead[0], &pnxt[0], &pprv[0], pb, -1)
                if grown[pb]:
                    grown[pb] = 0
                    ng -= 1
                    glist[gpos[pb]] = glist[ng]
                    gpos[glist[ng]] = gpos[pb]
                cl.compact_set(pa, <int>a)
                if not grown[pa]:
                    grown[pa] = 1
                    glist[ng] = pa
                    gpos[pa] = ng
                    ng += 1
                if i0 >= 0:
                    hc_blk_stats(cl.S, m, m, &grown[0], i0, &blk[0], nb2)
                if i1 >= 0 and i1 != i0:
                    hc_blk_stats(cl.S, m, m, &grown[0], i1, &blk[0], nb2)
            else:
                # drop b from the active list (the last takes its place)
                n_act -= 1
                act[pb] = act[n_act]
                pos[act[pb]] = pb
                pmin[pb] = pmin[n_act]
                parg[pb] = parg[n_act]
                if cl.d == 2:
                    cl.compact_move(n_act, pb)
                if pa == n_act:
                    pa = pb
                if cl.d == 2:
                    cl.compact_set(pa, <int>a)
            # row a anew (at d = 2 only where the costs can matter: elsewhere
            # vals holds lower bounds above the minima they are compared with)
            if cl.d == 2 and not blocks:
                # the row's minimum and the other rows it may change in one pass
                cl.stats2(<int>a, cl.A)
                hc_lb2(cl.S, cl.m, n_act, cl.A, cl.alpha, cl.beta, &vals[0])
                vals[pa] = INFINITY
                n_hit = hc_scan2(cl.S, cl.m, n_act, cl.A, cl.alpha, cl.beta, &vals[0], pa,
                                 &act[0], &pmin[0], &parg[0], a, b, &cand[0], &v,
                                 &rowarg[a], &rowcnt[a])
            elif blocks:
                # the same over the blocks the bounds leave in
                cl.stats2(<int>a, cl.A)
                hc_row2_blocks(cl.S, m, m, &blk[0], nb2, cl.A, cl.alpha, cl.beta, &vals[0], pa,
                               &act[0], &bthr[0], &bdone[0], &grown[0], &glist[0], ng,
                               &gvals[0], &blst[0], &v, &rowarg[a], &rowcnt[a])
                if count_work:
                    _count_blocks(&bdone[0], nb2, &wk[0])
            else:
                _row_min_costs(cl, a, act, pos, n_act, vals, &v, &rowarg[a], &rowcnt[a])
                wk[1] += 1
            _set_rowmin(&rowmin[0], &rtree[0], a, v, P)
            pmin[pa] = v
            _set_parg(blocks, &parg[0], &phead[0], &pnxt[0], &pprv[0], pa, rowarg[a])
            multi[a] = rowcnt[a] > 1
            exact[a] = 1
            if blocks or cl.d != 2:
                # no other row needs row a's costs: every pair (a, j) is
                # covered by row a's exact minimum (at most its cost), so the
                # cheapest merge and every pair at it are still found; the
                # rows that pointed at a or b keep lower bounds (d = 2 without
                # the blocks keeps the other rows' minima up to date: the
                # tests' reference)
                if blocks:
                    for h in range(2):
                        k = phead[a if h == 0 else b]
                        while k >= 0:
                            if act[k] != a:
                                exact[act[k]] = 0
                            k = pnxt[k]
                else:
                    for k in range(n_act):
                        if (parg[k] == a or parg[k] == b) and act[k] != a:
                            exact[act[k]] = 0
                continue
            # d = 2, the full scan: the other rows whose minimum the new
            # costs can reach or that pointed at a or b change; their costs
            # where the bound reaches the row's minimum come in one batch
            # (hc_exact2's bits; each hit is another row, so the rows'
            # minima do not move before their turn below)
            n_x = 0
            for h in range(n_hit):
                k = cand[h]
                if k != pa and vals[k] <= rowmin[act[k]]:
                    xidx[n_x] = k
                    n_x += 1
            hc_costs2_idx(cl.S, m, &xidx[0], n_x, cl.A, cl.alpha, cl.beta, &xval[0])
            for h in range(n_x):
                vals[xidx[h]] = xval[h]
            for h in range(n_hit):
                k = cand[h]
                if k == pa:
                    continue
                j = act[k]
                v = vals[k]  # cost(j, a): the costs are symmetric
                if v < rowmin[j]:
                    # the new minimum, reached once (the other entries did not
                    # move, and rowmin[j] is at most each of them)
                    rowarg[j] = a
                    _set_rowmin(&rowmin[0], &rtree[0], j, v, P)
                    exact[j] = 1
                    multi[j] = 0
                    pmin[k] = v
                    _set_parg(blocks, &parg[0], &phead[0], &pnxt[0], &pprv[0], k, a)
                elif v == rowmin[j] and exact[j]:
                    # the minimum again: perhaps twice now
                    rowarg[j] = a
                    multi[j] = 1
                    _set_parg(blocks, &parg[0], &phead[0], &pnxt[0], &pprv[0], k, a)
                elif exact[j] and (rowarg[j] == a or rowarg[j] == b):
                    # the minimum moved up: the old one is a lower bound, rescanned
                    # only if it ever reaches the cheapest merge
                    exact[j] = 0
    return merges_arr


cdef inline void _count_blocks(const char* done, Py_ssize_t nb, long long* wk) noexcept nogil:
    """Add the blocks a hc_row2_blocks scan costed (done 2) and the scan to wk."""
    cdef Py_ssize_t i
    for i in range(nb):
        wk[0] += done[i] == 2
    wk[1] += 1


cdef inline void _row_min_costs(_Tree cl, Py_ssize_t r, Py_ssize_t[::1] act,
                                Py_ssize_t[::1] pos, Py_ssize_t n_act, double[::1] out,
                                double* vmin, Py_ssize_t* arg,
                                Py_ssize_t* cnt) noexcept nogil:
    """``out[k]``: the cost of ``r`` with ``act[k]`` (inf at ``r`` itself), at d = 2
    only where it is at most the least cost (a lower bound above it elsewhere;
    ``cl.A`` is left for hc_exact2); the row's minimum, its first
    column and its count to ``vmin``, ``arg``, ``cnt``."""
    cdef Py_ssize_t k, k0
    cdef double thr
    if cl.d != 2:
        # lower bounds, then the costs where a bound reaches the least cost
        cl.row_lb(<int>r, &act[0], n_act, &out[0])
        out[pos[r]] = INFINITY
        k0 = hc_argmin(&out[0], n_act)
        if k0 != pos[r] and out[k0] < INFINITY:
            thr = out[k0] = cl.pair_cost(<int>r, <int>act[k0])
            for k in range(n_act):
                if k == pos[r] or k == k0 or not out[k] <= thr:
                    continue
                out[k] = cl.pair_cost(<int>r, <int>act[k])
                if out[k] < thr:
                    thr = out[k]
        hc_min_by_id(&out[0], &act[0], n_act, vmin, arg, cnt)
        return
    cl.stats2(<int>r, cl.A)
    hc_lb2(cl.S, cl.m, n_act, cl.A, cl.alpha, cl.beta, &out[0])
    out[pos[r]] = INFINITY
    hc_refine_min2(cl.S, cl.m, n_act, cl.A, cl.alpha, cl.beta, &out[0], pos[r], &act[0], vmin,
                   arg, cnt)


cdef inline void _row_costs(_Tree cl, Py_ssize_t r, Py_ssize_t[::1] act, Py_ssize_t[::1] pos,
                            Py_ssize_t n_act, double[::1] out) noexcept nogil:
    """``out[k]`` = the cost of ``r`` with ``act[k]`` (inf at ``r`` itself)."""
    cl.costs(<int>r, &act[0], 0, n_act, &out[0])
    out[pos[r]] = INFINITY


def _log_lower_bound(double[::1] x not None):
    """``(hc_log_lo(x), gmmx_log1(x))`` elementwise, for the tests: the bound
    the lower bounds of the merge costs take."""
    lo = np.empty(x.shape[0])
    ref = np.empty(x.shape[0])
    cdef double[::1] lo_v = lo, ref_v = ref
    cdef Py_ssize_t i
    for i in range(x.shape[0]):
        lo_v[i] = hc_log_lo(x[i])
        ref_v[i] = gmmx_log1(x[i])
    return lo, ref


def _after_fork_in_child():
    """Nothing to do: this module runs no threads (kept for the kernels' fork hook)."""
