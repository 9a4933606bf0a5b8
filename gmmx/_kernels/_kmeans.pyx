# gmmx's own k-means for initialisation: k-means++ seeding and Lloyd.
#
# Same style as the E-step kernel: chunks of rows in a fixed number of groups,
# one partial-sum row per group, groups taken dynamically by the threads and
# added in group order, so results do not depend on the thread count.
# Sums are centred at the previous centres so price-level data keep digits.
# Distances are those of (x - c) * scale: the caller picks a power of two that
# keeps squared distances of data at any scale (1e-200 ...) away from
# underflow and overflow; a power of two scales them exactly, so labels do
# not depend on it.
#
# `labelled_stats` is the last pass of the k-means initialisation: it labels
# every row by its nearest centre (or takes given labels) and accumulates the
# hard assignment's statistics in the layout of SufficientStats, in the same
# group order, so the initial statistics cost one pass and no row copies.

import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.float cimport DBL_MAX
from libc.stdlib cimport calloc, free, malloc

from ._vmath cimport GMMX_FULL_PAD

# Native loops over chunks of rows (C, cloned for AVX2 / AVX-512 like _vmath.h;
# no FMA contraction, so every clone gives the same bits).
#
# Distances: the centres are packed in blocks of 8, coordinate-major
# (cb[(b * d + j) * 8 + l] = coordinate j of centre 8 b + l, 0 past K), and 4
# rows at a time are compared with a block of 8 centres in vector registers.
# Each distance is still 0 + z_0^2 + z_1^2 + ... in feature order, z = (x - c)
# scale, exactly as the scalar loop `_sqdist` adds it, so labels and
# potentials are those of the scalar loop bit for bit; only the independent
# distances run side by side.
#
# Labelled statistics: a chunk's rows are gathered by label into a transposed
# buffer of centred rows (feature-major, one run of columns per label), then
# each label's scatter is the E-step's fixed-lane scatter of that run
# (gmmx_full_scatter_upper) or, for diagonals, fixed-lane sums and dots.
cdef extern from *:
    """
    #include <float.h>
    #include <math.h>
    #include <string.h>
    #include "_vmath.h"

    #define KMX_LANES 8
    #define KMX_SUB 64   /* rows whose distances are kept at a time */

    #ifdef GMMX_VECEXT
    #define KMX_DIST4(EXPR)                                                         \
        for (b = 0; b < nb; b++) {                                                  \
            const double *GMMX_RESTRICT c = cb + b * d * KMX_LANES;                 \
            gmmx_v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, cv, z;                  \
            for (j = 0; j < d; j++) {                                               \
                GMMX_LOAD8(cv, c + j * KMX_LANES);                                  \
                z = EXPR(x0[j]); a0 = a0 + z * z;                                   \
                z = EXPR(x1[j]); a1 = a1 + z * z;                                   \
                z = EXPR(x2[j]); a2 = a2 + z * z;                                   \
                z = EXPR(x3[j]); a3 = a3 + z * z;                                   \
            }                                                                       \
            memcpy(out + i * W + b * KMX_LANES, &a0, sizeof(a0));                  \
            memcpy(out + (i + 1) * W + b * KMX_LANES, &a1, sizeof(a1));            \
            memcpy(out + (i + 2) * W + b * KMX_LANES, &a2, sizeof(a2));            \
            memcpy(out + (i + 3) * W + b * KMX_LANES, &a3, sizeof(a3));            \
        }
    #define KMX_UNSCALED(xj) ((double) (xj) - cv)
    #define KMX_SCALED(xj) (((double) (xj) - cv) * scale)
    #endif

    /* out (n, 8 nb) row-major: |(x_i - c_k) scale|^2 for every row and centre. */
    #define KMX_DEFINE_DISTANCES(NAME, T)                                           \
    GMMX_CLONES static void NAME(const T *GMMX_RESTRICT X, Py_ssize_t n, Py_ssize_t d, \
                                 const double *GMMX_RESTRICT cb, Py_ssize_t nb,      \
                                 double scale, double *GMMX_RESTRICT out)            \
    {                                                                               \
        const Py_ssize_t W = nb * KMX_LANES;                                        \
        Py_ssize_t i = 0, b, j, l;                                                  \
        KMX_DEFINE_DISTANCES_VEC(T)                                                 \
        for (; i < n; i++) {                                                        \
            const T *GMMX_RESTRICT x = X + i * d;                                   \
            for (b = 0; b < nb; b++)                                                \
                for (l = 0; l < KMX_LANES; l++) {                                   \
                    double acc = 0.0, z;                                            \
                    for (j = 0; j < d; j++) {                                       \
                        z = ((double) x[j] - cb[(b * d + j) * KMX_LANES + l]) * scale; \
                        acc = acc + z * z;                                          \
                    }                                                               \
                    out[i * W + b * KMX_LANES + l] = acc;                           \
                }                                                                   \
        }                                                                           \
    }
    #ifdef GMMX_VECEXT
    #define KMX_DEFINE_DISTANCES_VEC(T)                                             \
        for (; i + 4 <= n; i += 4) {                                                \
            const T *GMMX_RESTRICT x0 = X + i * d, *GMMX_RESTRICT x1 = x0 + d;      \
            const T *GMMX_RESTRICT x2 = x1 + d, *GMMX_RESTRICT x3 = x2 + d;         \
            if (scale == 1.0) { KMX_DIST4(KMX_UNSCALED) }                           \
            else { KMX_DIST4(KMX_SCALED) }                                          \
        }
    #else
    #define KMX_DEFINE_DISTANCES_VEC(T)
    #endif
    KMX_DEFINE_DISTANCES(kmx_distances_f64, double)
    KMX_DEFINE_DISTANCES(kmx_distances_f32, float)

    /* Nearest of the K centres of each row of dist (row stride W), the first
       on ties; bestd (or NULL) gets its distance. */
    static void kmx_argmin(const double *dist, Py_ssize_t n, Py_ssize_t W, Py_ssize_t K,
                           int *labels, double *bestd)
    {
        Py_ssize_t i, k, best;
        double bd;
        for (i = 0; i < n; i++) {
            const double *row = dist + i * W;
            best = 0;
            bd = DBL_MAX;
            for (k = 0; k < K; k++) {  /* branch-free: which centre wins is random */
                const double v = row[k];
                const int closer = v < bd;
                best = closer ? k : best;
                bd = closer ? v : bd;
            }
            labels[i] = (int) best;
            if (bestd) bestd[i] = bd;
        }
    }

    /* Labels (and distances, if bestd) of n rows by their nearest centre;
       dscr holds KMX_SUB * 8 nb doubles. */
    #define KMX_DEFINE_NEAREST(NAME, DIST, T)                                       \
    static void NAME(const T *X, Py_ssize_t n, Py_ssize_t d, const double *cb,      \
                     Py_ssize_t nb, Py_ssize_t K, double scale, double *dscr,       \
                     int *labels, double *bestd)                                    \
    {                                                                               \
        Py_ssize_t s, m;                                                            \
        for (s = 0; s < n; s += KMX_SUB) {                                          \
            m = n - s < KMX_SUB ? n - s : KMX_SUB;                                  \
            DIST(X + s * d, m, d, cb, nb, scale, dscr);                             \
            kmx_argmin(dscr, m, nb * KMX_LANES, K, labels + s,                      \
                       bestd ? bestd + s : NULL);                                   \
        }                                                                           \
    }
    KMX_DEFINE_NEAREST(kmx_nearest_f64, kmx_distances_f64, double)
    KMX_DEFINE_NEAREST(kmx_nearest_f32, kmx_distances_f32, float)

    /* Counting-sort offsets of the labels: pos[k + 1] ends as the number of rows
       labelled 0..k (pos[0] = 0); labels outside [0, K) are left out. */
    static void kmx_label_offsets(const int *labels, Py_ssize_t n, Py_ssize_t K,
                                  Py_ssize_t *pos)
    {
        Py_ssize_t i, k;
        int lab;
        for (k = 0; k <= K; k++) pos[k] = 0;
        for (i = 0; i < n; i++) {
            lab = labels[i];
            if (lab >= 0 && lab < K) pos[lab + 1]++;
        }
        for (k = 0; k < K; k++) pos[k + 1] += pos[k];
    }

    /* Gathers the n rows with a label in 0..K-1 by label into xt (and w * row
       into rx if w): row i with label k becomes column c of the run of k,
       xt[j * ld + c] = x_ij - centers[k, j]. pos[k] ends as the end of k's run
       (its start is pos[k - 1], or 0). nk[k] += w_i in row order. */
    #define KMX_DEFINE_GATHER(NAME, T)                                              \
    GMMX_CLONES static void NAME(const T *GMMX_RESTRICT X, const double *w,         \
                                 const int *labels, Py_ssize_t n, Py_ssize_t d,     \
                                 const double *GMMX_RESTRICT centers, Py_ssize_t K, \
                                 Py_ssize_t *pos, double *GMMX_RESTRICT xt,         \
                                 double *GMMX_RESTRICT rx, Py_ssize_t ld,           \
                                 double *nk)                                        \
    {                                                                               \
        Py_ssize_t i, j, c;                                                         \
        int lab;                                                                    \
        double wi = 1.0, z;                                                         \
        kmx_label_offsets(labels, n, K, pos);                                       \
        for (i = 0; i < n; i++) {                                                   \
            lab = labels[i];                                                        \
            if (lab < 0 || lab >= K) continue;                                      \
            c = pos[lab]++;                                                         \
            if (w) wi = w[i];                                                       \
            nk[lab] += wi;                                                          \
            const T *GMMX_RESTRICT x = X + i * d;                                   \
            const double *GMMX_RESTRICT ck = centers + lab * d;                     \
            for (j = 0; j < d; j++) {                                               \
                z = (double) x[j] - ck[j];                                          \
                xt[j * ld + c] = z;                                                 \
                if (w) rx[j * ld + c] = wi * z;                                     \
            }                                                                       \
        }                                                                           \
    }
    KMX_DEFINE_GATHER(kmx_gather_f64, double)
    KMX_DEFINE_GATHER(kmx_gather_f32, float)

    /* Adds each label's run of gathered rows to its block of out: full, a
       (d + 1, d) block G with the scatter's upper triangle at G[l * d + j]
       (j <= l) and the sums at G[d * d + j]; else a (2, d) block, sums then
       squares. rx is xt for unit weights. */
    static void kmx_runs_stats(const double *xt, const double *rx, Py_ssize_t ld,
                               const Py_ssize_t *pos, Py_ssize_t K, Py_ssize_t d, int full,
                               double *out)
    {
        Py_ssize_t k, j, s, m, blk = full ? (d + 1) * d : 2 * d;
        for (k = 0; k < K; k++) {
            s = k ? pos[k - 1] : 0;
            m = pos[k] - s;
            if (m == 0) continue;
            double *o = out + k * blk;
            if (full) {
                gmmx_full_scatter_upper(xt + s, rx + s, m, d, ld, o, d);
                continue;
            }
            for (j = 0; j < d; j++) {
                o[j] += gmmx_sum(rx + j * ld + s, m);
                o[d + j] += gmmx_dot(rx + j * ld + s, xt + j * ld + s, m);
            }
        }
    }

    /* One-feature rows: labels by |x - c| (no square, so no scale needed; the
       first centre on ties), the rows gathered by label into xs (weights into
       ws), then each label's run summed by the E-step's fixed-lane
       gmmx_uni_stats into out = [nk | sk | Mk] (K each). Scratch: pos (K + 1),
       xs, ws (n), ones (n, all 1.0). */
    #define KMX_DEFINE_ROWS_1D(NAME, T)                                             \
    GMMX_CLONES static void NAME(const T *GMMX_RESTRICT x, const double *sw,        \
                                 const double *GMMX_RESTRICT c, Py_ssize_t K,        \
                                 int *labels, Py_ssize_t n, int assign,              \
                                 Py_ssize_t *pos, double *GMMX_RESTRICT xs,          \
                                 double *GMMX_RESTRICT ws,                           \
                                 const double *GMMX_RESTRICT ones, double *out)     \
    {                                                                               \
        Py_ssize_t i, k, s, m, at;                                                  \
        int lab;                                                                    \
        if (assign)                                                                 \
            for (i = 0; i < n; i++) {                                               \
                const double xi = (double) x[i];                                    \
                double bd = DBL_MAX;                                                \
                Py_ssize_t best = 0;                                                \
                for (k = 0; k < K; k++) {                                           \
                    const double dist = fabs(xi - c[k]);                            \
                    const int closer = dist < bd;                                   \
                    best = closer ? k : best;                                       \
                    bd = closer ? dist : bd;                                        \
                }                                                                   \
                labels[i] = (int) best;                                             \
            }                                                                       \
        if (K <= KMX_LANES) {                                                       \
            /* one branch-free compaction per label: a counter in a register,  \
               where counting into pos[label] chains every row through memory */ \
            for (k = 0; k < K; k++) {                                               \
                at = 0;                                                             \
                if (sw)                                                             \
                    for (i = 0; i < n; i++) {                                       \
                        xs[at] = (double) x[i];                                     \
                        ws[at] = sw[i];                                             \
                        at += labels[i] == k;                                       \
                    }                                                               \
                else                                                                \
                    for (i = 0; i < n; i++) {                                       \
                        xs[at] = (double) x[i];                                     \
                        at += labels[i] == k;                                       \
                    }                                                               \
                if (at == 0) continue;                                              \
                double o[3] = {0.0, 0.0, 0.0};                                      \
                gmmx_uni_stats(xs, sw ? ws : ones, c[k], at, o);                    \
                out[k] += o[0];                                                     \
                out[K + k] += o[1];                                                 \
                out[2 * K + k] += o[2];                                             \
            }                                                                       \
            return;                                                                 \
        }                                                                           \
        kmx_label_offsets(labels, n, K, pos);                                       \
        for (i = 0; i < n; i++) {                                                   \
            lab = labels[i];                                                        \
            if (lab < 0 || lab >= K) continue;                                      \
            at = pos[lab]++;                                                        \
            xs[at] = (double) x[i];                                                 \
            if (sw) ws[at] = sw[i];                                                 \
        }                                                                           \
        for (k = 0; k < K; k++) {                                                   \
            s = k ? pos[k - 1] : 0;                                                 \
            m = pos[k] - s;                                                         \
            if (m == 0) continue;                                                   \
            double o[3] = {0.0, 0.0, 0.0};                                          \
            gmmx_uni_stats(xs + s, sw ? ws + s : ones, c[k], m, o);                 \
            out[k] += o[0];                                                         \
            out[K + k] += o[1];                                                     \
            out[2 * K + k] += o[2];                                                 \
        }                                                                           \
    }
    KMX_DEFINE_ROWS_1D(kmx_rows_1d_f64, double)
    KMX_DEFINE_ROWS_1D(kmx_rows_1d_f32, float)
    """
    void kmx_distances_f64(const double *X, Py_ssize_t n, Py_ssize_t d, const double *cb,
                           Py_ssize_t nb, double scale, double *out) noexcept nogil
    void kmx_distances_f32(const float *X, Py_ssize_t n, Py_ssize_t d, const double *cb,
                           Py_ssize_t nb, double scale, double *out) noexcept nogil
    void kmx_nearest_f64(const double *X, Py_ssize_t n, Py_ssize_t d, const double *cb,
                         Py_ssize_t nb, Py_ssize_t K, double scale, double *dscr,
                         int *labels, double *bestd) noexcept nogil
    void kmx_nearest_f32(const float *X, Py_ssize_t n, Py_ssize_t d, const double *cb,
                         Py_ssize_t nb, Py_ssize_t K, double scale, double *dscr,
                         int *labels, double *bestd) noexcept nogil
    void kmx_gather_f64(const double *X, const double *w, const int *labels, Py_ssize_t n,
                        Py_ssize_t d, const double *centers, Py_ssize_t K, Py_ssize_t *pos,
                        double *xt, double *rx, Py_ssize_t ld, double *nk) noexcept nogil
    void kmx_gather_f32(const float *X, const double *w, const int *labels, Py_ssize_t n,
                        Py_ssize_t d, const double *centers, Py_ssize_t K, Py_ssize_t *pos,
                        double *xt, double *rx, Py_ssize_t ld, double *nk) noexcept nogil
    void kmx_runs_stats(const double *xt, const double *rx, Py_ssize_t ld, const Py_ssize_t *pos,
                        Py_ssize_t K, Py_ssize_t d, int full, double *out) noexcept nogil
    void kmx_rows_1d_f64(const double *x, const double *sw, const double *c, Py_ssize_t K,
                         int *labels, Py_ssize_t n, int assign, Py_ssize_t *pos, double *xs,
                         double *ws, const double *ones, double *out) noexcept nogil
    void kmx_rows_1d_f32(const float *x, const double *sw, const double *c, Py_ssize_t K,
                         int *labels, Py_ssize_t n, int assign, Py_ssize_t *pos, double *xs,
                         double *ws, const double *ones, double *out) noexcept nogil
    enum:
        KMX_LANES
        KMX_SUB

cdef enum:
    CHUNK = 512
    MAX_GROUPS = 64
    # doubles of partial statistics over all groups (32 MB); beyond it fewer groups
    STATS_BUDGET = 4194304

# Set in a forked child (see gmmx._kernels): every call runs on one thread.
cdef int _single_threaded = 0


def _after_fork_in_child():
    """Run every later call of this module on one thread."""
    global _single_threaded
    _single_threaded = 1


def _padded(Py_ssize_t width):
    """Row length of per-group buffers: at least one free cache line (8 doubles)
    between the parts two threads write, so they never share a line."""
    return ((width + 7) // 8 + 1) * 8


cdef inline int _threads(int n_threads, Py_ssize_t G) noexcept:
    return 1 if _single_threaded else <int> max(1, min(n_threads, G))


cdef inline double _sqdist(const floating *x, const double *c, Py_ssize_t d,
                           double scale) noexcept nogil:
    cdef Py_ssize_t j
    cdef double acc = 0.0, z
    for j in range(d):
        z = (x[j] - c[j]) * scale
        acc = acc + z * z
    return acc


def _packed_centers(const double[:, ::1] centers):
    """Centres in blocks of KMX_LANES, coordinate-major, zero past K: (nb, d, KMX_LANES)."""
    cdef Py_ssize_t K = centers.shape[0], d = centers.shape[1]
    cdef Py_ssize_t nb = max(1, (K + KMX_LANES - 1) // KMX_LANES)
    padded = np.zeros((nb * KMX_LANES, d))
    padded[:K] = centers
    return np.ascontiguousarray(padded.reshape(nb, KMX_LANES, d).transpose(0, 2, 1))


cdef inline void _distances(const floating *X, Py_ssize_t n, Py_ssize_t d, const double *cb,
                            Py_ssize_t nb, double scale, double *out) noexcept nogil:
    if floating is float:
        kmx_distances_f32(X, n, d, cb, nb, scale, out)
    else:
        kmx_distances_f64(X, n, d, cb, nb, scale, out)


cdef inline void _nearest_rows(const floating *X, Py_ssize_t n, Py_ssize_t d, const double *cb,
                               Py_ssize_t nb, Py_ssize_t K, double scale, double *dscr,
                               int *labels, double *bestd) noexcept nogil:
    if floating is float:
        kmx_nearest_f32(X, n, d, cb, nb, K, scale, dscr, labels, bestd)
    else:
        kmx_nearest_f64(X, n, d, cb, nb, K, scale, dscr, labels, bestd)


cdef inline void _gather(const floating *X, const double *w, const int *labels, Py_ssize_t n,
                         Py_ssize_t d, const double *centers, Py_ssize_t K, Py_ssize_t *pos,
                         double *xt, double *rx, Py_ssize_t ld, double *nk) noexcept nogil:
    if floating is float:
        kmx_gather_f32(X, w, labels, n, d, centers, K, pos, xt, rx, ld, nk)
    else:
        kmx_gather_f64(X, w, labels, n, d, centers, K, pos, xt, rx, ld, nk)


def candidate_potentials(
    const floating[:, ::1] X,        # IN  (n, d)
    const double[::1] sample_weight, # IN  (n,) or (0,) for unit weights
    const double[:, ::1] candidates, # IN  (T, d)
    const double[::1] closest,       # IN  (n,) current squared distance to nearest centre
    int n_threads,
    double scale=1.0,                # IN  distances are |(x - c) * scale|^2
):
    """Weighted potential ``sum_i w_i min(closest_i, |(x_i - c_t) scale|^2)`` per candidate.

    Returns
    -------
    ndarray of shape (T,)
    """
    cdef:
        Py_ssize_t n = X.shape[0], d = X.shape[1], T = candidates.shape[0]
        Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK, i, t, start, end, g, s, m, r
        Py_ssize_t G = max(1, min(n_chunks, MAX_GROUPS))
        double dist, w
        double *dscr
        bint have_w = sample_weight.shape[0] > 0
    n_threads = _threads(n_threads, G)
    cb_arr = _packed_centers(candidates)
    cdef const double[:, :, ::1] cb = cb_arr
    cdef Py_ssize_t nb = cb.shape[0], W = nb * KMX_LANES
    buf_arr = np.zeros((G, _padded(T)))   # column T: allocation failed
    cdef double[:, ::1] buf = buf_arr
    with nogil, parallel(num_threads=n_threads):
        dscr = <double *> malloc(KMX_SUB * W * sizeof(double))
        for g in prange(G, schedule='dynamic', chunksize=1):
            if dscr == NULL:
                buf[g, T] = 1.0
                continue
            start = ((g * n_chunks) // G) * CHUNK
            end = (((g + 1) * n_chunks) // G) * CHUNK
            end = end if end < n else n
            s = start
            while s < end:
                m = end - s if end - s < KMX_SUB else KMX_SUB
                _distances(&X[s, 0], m, d, &cb[0, 0, 0], nb, scale, dscr)
                for r in range(m):
                    i = s + r
                    w = sample_weight[i] if have_w else 1.0
                    for t in range(T):
                        dist = dscr[r * W + t]
                        if closest[i] < dist:
                            dist = closest[i]
                        buf[g, t] += w * dist
                s = s + m
        free(dscr)
    if buf_arr[:, T].any():
        raise MemoryError("candidate_potentials: out of memory for scratch")
    total = buf_arr[0, :T].copy()
    for t in range(1, G):
        total += buf_arr[t, :T]
    return total


def column_spread(const floating[:, ::1] X):
    """``max_j (max_i x_ij - min_i x_ij)`` in double, NaN if any entry is NaN.

    As ``np.max(X.max(0).astype(float64) - X.min(0))`` (the same value) in one
    pass; (0, d) gives -inf, like an empty maximum would not.
    """
    cdef:
        Py_ssize_t n = X.shape[0], d = X.shape[1], i, j
        double v, spread = -DBL_MAX
        bint nan = False
    lo_arr = np.empty(max(d, 1))
    hi_arr = np.empty(max(d, 1))
    cdef double[::1] lo = lo_arr
    cdef double[::1] hi = hi_arr
    if n == 0 or d == 0:
        return float("-inf")
    with nogil:
        for j in range(d):
            lo[j] = X[0, j]
            hi[j] = X[0, j]
        for i in range(n):
            for j in range(d):
                v = X[i, j]
                nan = nan | (v != v)
                lo[j] = v if v < lo[j] else lo[j]
                hi[j] = v if v > hi[j] else hi[j]
        for j in range(d):
            v = hi[j] - lo[j]
            nan = nan | (v != v)
            spread = v if v > spread else spread
    return float("nan") if nan else spread


def update_closest(
    const floating[:, ::1] X,   # IN  (n, d)
    const double[::1] center,   # IN  (d,)
    double[::1] closest,        # IN/OUT (n,)
    int n_threads,
    double scale=1.0,           # IN  distances are |(x - c) * scale|^2
):
    """``closest_i = min(closest_i, |(x_i - center) scale|^2)`` in place."""
    cdef:
        Py_ssize_t n = X.shape[0], d = X.shape[1], i
        double dist
    n_threads = _threads(n_threads, max(1, min((n + CHUNK - 1) // CHUNK, MAX_GROUPS)))
    with nogil:
        for i in prange(n, schedule='static', num_threads=n_threads):
            dist = _sqdist(&X[i, 0], &center[0], d, scale)
            if dist < closest[i]:
                closest[i] = dist


def lloyd_iter(
    const floating[:, ::1] X,          # IN  (n, d)
    const double[::1] sample_weight,   # IN  (n,) or (0,)
    const double[:, ::1] centers_old,  # IN  (K, d)
    int[::1] labels,                   # OUT (n,)
    double[::1] dist_out,              # OUT (n,) squared distance to own centre
    int n_threads,
    double scale=1.0,                  # IN  distances are |(x - c) * scale|^2
):
    """One Lloyd iteration.

    Returns
    -------
    shift_sums : ndarray of shape (K, d)
        ``sum_i w_i (x_i - c_k)`` over the points assigned to ``k``.
    weights : ndarray of shape (K,)
        Weight assigned to each centre.
    inertia : float
        ``sum_i w_i |(x_i - c_{label_i}) scale|^2``.
    """
    cdef:
        Py_ssize_t n = X.shape[0], d = X.shape[1], K = centers_old.shape[0]
        Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK, i, j, start, end, best, g
        Py_ssize_t G = max(1, min(n_chunks, MAX_GROUPS))
        Py_ssize_t S = K * d + K + 1
        double bestd, w
        double *dscr
        bint have_w = sample_weight.shape[0] > 0
    n_threads = _threads(n_threads, G)
    cb_arr = _packed_centers(centers_old)
    cdef const double[:, :, ::1] cb = cb_arr
    cdef Py_ssize_t nb = cb.shape[0], W = nb * KMX_LANES
    buf_arr = np.zeros((G, _padded(S)))   # column S: allocation failed
    cdef double[:, ::1] buf = buf_arr
    with nogil, parallel(num_threads=n_threads):
        dscr = <double *> malloc(KMX_SUB * W * sizeof(double))
        for g in prange(G, schedule='dynamic', chunksize=1):
            if dscr == NULL:
                buf[g, S] = 1.0
                continue
            start = ((g * n_chunks) // G) * CHUNK
            end = (((g + 1) * n_chunks) // G) * CHUNK
            end = end if end < n else n
            if end > start:
                _nearest_rows(&X[start, 0], end - start, d, &cb[0, 0, 0], nb, K, scale, dscr,
                              &labels[start], &dist_out[start])
            for i in range(start, end):
                best = labels[i]
                bestd = dist_out[i]
                w = sample_weight[i] if have_w else 1.0
                for j in range(d):
                    buf[g, best * d + j] += w * (X[i, j] - centers_old[best, j])
                buf[g, K * d + best] += w
                buf[g, K * d + K] += w * bestd
        free(dscr)
    if buf_arr[:, S].any():
        raise MemoryError("lloyd_iter: out of memory for scratch")
    total = buf_arr[0, :S].copy()
    for t in range(1, G):
        total += buf_arr[t, :S]
    return (total[:K * d].reshape(K, d), total[K * d:K * d + K].copy(),
            float(total[K * d + K]))


cdef inline void _rows_1d(const floating *x, const double *sw, const double *c, Py_ssize_t K,
                          int *labels, Py_ssize_t n, bint assign, Py_ssize_t *pos, double *xs,
                          double *ws, const double *ones, double *out) noexcept nogil:
    if floating is float:
        kmx_rows_1d_f32(x, sw, c, K, labels, n, assign, pos, xs, ws, ones, out)
    else:
        kmx_rows_1d_f64(x, sw, c, K, labels, n, assign, pos, xs, ws, ones, out)


def labelled_stats(
    const floating[:, ::1] X,          # IN  (n, d)
    const double[::1] sample_weight,   # IN  (n,) or (0,) for unit weights
    const double[:, ::1] centers,      # IN  (K, d) the statistics are taken about these
    int[::1] labels,                   # OUT (n,) if assign, else IN (< 0: row left out)
    bint assign,                       # IN  label each row by its nearest centre
    bint full,                         # IN  scatter matrices (full, tied), else diagonals
    int n_threads,
    double scale=1.0,                  # IN  distances are |(x - c) * scale|^2
):
    """Statistics of a hard assignment, about ``centers``, in one pass.

    Returns
    -------
    nk : ndarray of shape (K,)
        ``sum_i w_i [label_i = k]``.
    sk : ndarray of shape (K, d)
        ``sum_i w_i [label_i = k] (x_i - c_k)``.
    Mk : ndarray of shape (K, d, d) if full, else (K, d)
        ``sum_i w_i [label_i = k] (x_i - c_k)(x_i - c_k)^T``, or its diagonal.
    """
    cdef:
        Py_ssize_t n = X.shape[0], d = X.shape[1], K = centers.shape[0]
        Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK, ci, start, m, g, q
        # per label: d > 1 full (d + 1, d) scatter block (see kmx_runs_stats) or
        # (2, d); d == 1 keeps [nk | sk | Mk] (kmx_rows_1d)
        Py_ssize_t blk = (d + 1) * d if full else 2 * d
        Py_ssize_t S = K * (1 + blk)
        Py_ssize_t G = max(1, min(n_chunks, MAX_GROUPS, STATS_BUDGET // max(S, 1)))
        Py_ssize_t ld = CHUNK + 8, dp = GMMX_FULL_PAD(d)
        bint have_w = sample_weight.shape[0] > 0
        const double *sw = NULL
        double *dscr
        double *xt
        double *rx
        Py_ssize_t *pos
    if labels.shape[0] != n or (have_w and sample_weight.shape[0] != n) or centers.shape[1] != d:
        raise ValueError("labels, sample_weight and centers do not match X")
    if have_w:
        sw = &sample_weight[0]
    n_threads = _threads(n_threads, G)
    cb_arr = _packed_centers(centers)
    cdef const double[:, :, ::1] cb = cb_arr
    cdef Py_ssize_t nb = cb.shape[0], W = nb * KMX_LANES
    buf_arr = np.zeros((G, _padded(S)))   # column S: allocation failed
    cdef double[:, ::1] buf = buf_arr
    with nogil, parallel(num_threads=n_threads):
        dscr = NULL
        xt = NULL
        rx = NULL
        pos = NULL
        pos = <Py_ssize_t *> malloc((K + 1) * sizeof(Py_ssize_t))
        if d > 1:
            dscr = <double *> malloc(KMX_SUB * W * sizeof(double))
            # zeroed: the scatter reads the padding rows d..dp-1, never written
            xt = <double *> calloc(dp * ld, sizeof(double))
            rx = <double *> calloc(dp * ld, sizeof(double)) if have_w else xt
        else:  # xt: gathered rows, their weights, ones
            xt = <double *> malloc(3 * CHUNK * sizeof(double))
            if xt != NULL:
                for q in range(CHUNK):
                    xt[2 * CHUNK + q] = 1.0
            dscr = rx = xt
        for g in prange(G, schedule='dynamic', chunksize=1):
            if dscr == NULL or xt == NULL or rx == NULL or pos == NULL:
                buf[g, S] = 1.0
                continue
            for ci in range((g * n_chunks) // G, ((g + 1) * n_chunks) // G):
                start = ci * CHUNK
                m = CHUNK if start + CHUNK <= n else n - start
                if d == 1:
                    _rows_1d(&X[start, 0], sw + start if have_w else NULL, &centers[0, 0], K,
                             &labels[start], m, assign, pos, xt, xt + CHUNK, xt + 2 * CHUNK,
                             &buf[g, 0])
                    continue
                if assign:
                    _nearest_rows(&X[start, 0], m, d, &cb[0, 0, 0], nb, K, scale, dscr,
                                  &labels[start], NULL)
                _gather(&X[start, 0], sw + start if have_w else NULL, &labels[start], m, d,
                        &centers[0, 0], K, pos, xt, rx, ld, &buf[g, 0])
                kmx_runs_stats(xt, rx, ld, pos, K, d, full, &buf[g, K])
        if d > 1:
            free(dscr)
            if rx != xt:
                free(rx)
        free(xt)
        free(pos)
    if buf_arr[:, S].any():
        raise MemoryError("labelled_stats: out of memory for scratch")
    total = buf_arr[0, :S].copy()
    for g in range(1, G):
        total += buf_arr[g, :S]
    nk = total[:K].copy()
    if d == 1:
        return nk, total[K:2 * K].reshape(K, 1), _one_feature_scatter(total[2 * K:], full)
    blocks = total[K:].reshape(K, 2, d) if not full else total[K:].reshape(K, d + 1, d)
    if not full:
        return nk, blocks[:, 0].copy(), blocks[:, 1].copy()
    # blocks[k, l, j] (j <= l) is the scatter's (j, l) entry: its lower triangle
    upper_t = blocks[:, :d]
    Mk = np.tril(upper_t) + np.tril(upper_t, -1).transpose(0, 2, 1)
    return nk, blocks[:, d].copy(), Mk


def _one_feature_scatter(m, full):
    return m.reshape(-1, 1, 1).copy() if full else m.reshape(-1, 1).copy()
