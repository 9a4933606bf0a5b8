/* gmmx's k-means loops over chunks of rows (see _kmeans.pyx for the scheme). */
#ifndef GMMX_KMEANS_CORE_H
#define GMMX_KMEANS_CORE_H

#include <float.h>
#include <math.h>
#include <string.h>
#include "_vmath.h"

/* KMX_LANES (centres per block) and KMX_SUB (rows whose distances are kept at
   a time) are in _simd_table.h, shared with _kmeans.pyx. */

#ifdef GMMX_VECEXT
#define KMX_DIST4(EXPR)                                                         \
    for (b = 0; b < nb; b++) {                                                  \
        const double *GMMX_RESTRICT c = cb + b * d * KMX_LANES;                 \
        gmmx_v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, cv, z;                  \
        for (j = 0; j < d; j++) {                                               \
            GMMX_LOAD8(cv, c + j * KMX_LANES);                                  \
            z = EXPR(x0[j]); a0 = gmmx_v8_add(a0, gmmx_v8_mul(z, z));           \
            z = EXPR(x1[j]); a1 = gmmx_v8_add(a1, gmmx_v8_mul(z, z));           \
            z = EXPR(x2[j]); a2 = gmmx_v8_add(a2, gmmx_v8_mul(z, z));           \
            z = EXPR(x3[j]); a3 = gmmx_v8_add(a3, gmmx_v8_mul(z, z));           \
        }                                                                       \
        gmmx_v8_store(out + i * W + b * KMX_LANES, a0);                        \
        gmmx_v8_store(out + (i + 1) * W + b * KMX_LANES, a1);                  \
        gmmx_v8_store(out + (i + 2) * W + b * KMX_LANES, a2);                  \
        gmmx_v8_store(out + (i + 3) * W + b * KMX_LANES, a3);                  \
    }
#define KMX_UNSCALED(xj) gmmx_v8_rsubs(cv, (double) (xj))
#define KMX_SCALED(xj) gmmx_v8_muls(gmmx_v8_rsubs(cv, (double) (xj)), scale)
#endif

/* out (n, 8 nb) row-major: |(x_i - c_k) scale|^2 for every row and centre. */
#define KMX_DEFINE_DISTANCES(NAME, T)                                           \
static void NAME(const T *GMMX_RESTRICT X, Py_ssize_t n, Py_ssize_t d, \
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
static void NAME(const T *GMMX_RESTRICT X, const double *w,         \
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
static void NAME(const T *GMMX_RESTRICT x, const double *sw,        \
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

#endif /* GMMX_KMEANS_CORE_H */
