/* The table of dispatched kernel functions, shared by the per-target kernel
 * objects (_simd_kernels.c, compiled once per SIMD target), the dispatcher
 * (_simd_dispatch.h, in the _simd module) and the Cython modules (_simd.h).
 *
 * GMMX_SIMD_FUNCS(X) lists every dispatched function as X(return type, name,
 * parameter list); the table has one pointer per entry, named as the
 * function.  Py_ssize_t must be defined before this header (Python.h).
 *
 * Also here: the layout constants the Cython modules share with the kernels.
 */
#ifndef GMMX_SIMD_TABLE_H
#define GMMX_SIMD_TABLE_H

/* d rounded up to a multiple of 4: rows of the transposed chunk */
#define GMMX_FULL_PAD(d) (((d) + 3) / 4 * 4)

/* Row stride of the transposed chunk: n rounded up to 8, plus 8, so that the
 * rows a tile reads together do not share cache sets (measured: d=50, K=10
 * took 1.3x longer with n=512 rows at a stride of exactly n). */
#define GMMX_FULL_LD(n) (((n) + 7) / 8 * 8 + 8)

/* Row stride of the row-major rows of gmmx_full_scatter_rows ([x - ref | 0...]),
 * rows per block it scales at a time, and the doubles of scratch it needs */
#define GMMX_FULL_RLD(d) GMMX_FULL_PAD(d)
#define GMMX_FULL_RIB 64
#define GMMX_FULL_RSCR(d, K) \
    ((K) * GMMX_FULL_RLD(d) * (GMMX_FULL_RLD(d) + 1) + GMMX_FULL_RIB * GMMX_FULL_RLD(d) + 8)

/* k-means: centres per block of the distance loops, rows kept at a time */
#define KMX_LANES 8
#define KMX_SUB 64

/* Version of the table layout: the Cython modules refuse a _simd module
 * built from another list. Bump it whenever GMMX_SIMD_FUNCS changes. */
#define GMMX_SIMD_ABI 4

#define GMMX_SIMD_FUNCS(X)                                                                \
    /* E-step: vector math and the array loops of _vmath.h */                              \
    X(void, gmmx_vexp, (double *a, Py_ssize_t n))                                         \
    X(void, gmmx_vlog, (double *a, Py_ssize_t n))                                         \
    X(double, gmmx_sum, (const double *a, Py_ssize_t n))                                  \
    X(double, gmmx_dot, (const double *a, const double *b, Py_ssize_t n))                 \
    X(void, gmmx_uni_stats, (const double *x, const double *r, double c, Py_ssize_t n,    \
                             double *out))                                                \
    X(void, gmmx_uni_logprob, (const double *x, Py_ssize_t n, Py_ssize_t K,               \
                               const double *cst, const double *mu, const double *p,      \
                               double *lp))                                               \
    X(double, gmmx_logsumexp_resp, (double *lp, Py_ssize_t n, Py_ssize_t K,               \
                                    const double *sw, double *mx, double *ssum,           \
                                    double *lnorm))                                       \
    X(void, gmmx_acc_sq, (const double *row, double b, double scale, Py_ssize_t n,        \
                          double *acc))                                                   \
    X(void, gmmx_center_f64, (const double *X, const double *ref, Py_ssize_t n,           \
                              Py_ssize_t d, double *xc))                                  \
    X(void, gmmx_center_f32, (const float *X, const double *ref, Py_ssize_t n,            \
                              Py_ssize_t d, double *xc))                                  \
    X(void, gmmx_transpose_f64, (const double *X, Py_ssize_t n, Py_ssize_t d, double *xt)) \
    X(void, gmmx_transpose_f32, (const float *X, Py_ssize_t n, Py_ssize_t d, double *xt))  \
    X(void, gmmx_finish_logprob, (double *row, double c, Py_ssize_t n))                   \
    X(int, gmmx_all_finite, (const double *a, Py_ssize_t n))                              \
    X(void, gmmx_f32_vexp, (float *a, Py_ssize_t n))                                      \
    X(double, gmmx_f32_sum, (const float *a, Py_ssize_t n))                               \
    X(void, gmmx_f32_uni_logprob, (const float *x, Py_ssize_t n, Py_ssize_t K,            \
                                   const double *cst, const double *mu, const double *p,  \
                                   float *lp))                                            \
    X(double, gmmx_f32_logsumexp, (float *lp, Py_ssize_t n, Py_ssize_t K,                 \
                                   const double *sw, float *mx, float *ssum,              \
                                   double *dscr))                                         \
    X(void, gmmx_f32_uni_stats, (const float *x, const float *r, const double *sw,        \
                                 double c, Py_ssize_t n, double *out))                    \
    X(double, gmmx_f32_sum_log, (const float *ssum, Py_ssize_t n, double *dscr))          \
    X(double, gmmx_f32_weighted_ll, (const float *mx, const float *ssum,                  \
                                     const double *sw, Py_ssize_t n, double *dscr))       \
    X(void, gmmx_f32_uni_resp2, (const float *x, Py_ssize_t n, const double *cst,         \
                                 const double *mu, const double *p, float *r0,            \
                                 float *r1, float *mx, float *ssum))                      \
    X(double, gmmx_f32_uni_stats2, (const float *x, const float *r0, const float *r1,     \
                                    const double *sw, double c0, double c1,               \
                                    const float *mx, Py_ssize_t n, double *out))          \
    X(void, gmmx_full_weighted_rows, (const double *r, const double *xc, Py_ssize_t n,    \
                                      Py_ssize_t K, Py_ssize_t d, const Py_ssize_t *jb,   \
                                      Py_ssize_t nb, double *W))                          \
    X(void, gmmx_full_logprob_row, (const double *Y, Py_ssize_t n, Py_ssize_t P,          \
                                    Py_ssize_t p, const Py_ssize_t *jb, Py_ssize_t nb,    \
                                    const double *shift, double cst, double *row))        \
    X(void, gmmx_full_transpose, (const double *xc, Py_ssize_t n, Py_ssize_t d,           \
                                  Py_ssize_t ld, double *xt))                             \
    X(void, gmmx_full_center_t_f64, (const double *X, const double *ref, Py_ssize_t n,    \
                                     Py_ssize_t d, Py_ssize_t ld, double *xt))            \
    X(void, gmmx_full_center_t_f32, (const float *X, const double *ref, Py_ssize_t n,     \
                                     Py_ssize_t d, Py_ssize_t ld, double *xt))            \
    X(void, gmmx_full_tri_logprob, (const double *xt, Py_ssize_t n, Py_ssize_t ld,        \
                                    Py_ssize_t d, const double *U, Py_ssize_t ldu,        \
                                    const double *shift, double cst, double *row))        \
    X(void, gmmx_full_scale_rows, (const double *r, const double *xt, Py_ssize_t n,       \
                                   Py_ssize_t m, Py_ssize_t ld, double *rx))              \
    X(void, gmmx_full_scatter_upper, (const double *xt, const double *rx, Py_ssize_t n,   \
                                      Py_ssize_t d, Py_ssize_t ld, double *G,             \
                                      Py_ssize_t ldg))                                    \
    X(int, gmmx_full_wide_simd, (void))                                                   \
    X(int, gmmx_full_row_scatter, (void))                                                 \
    X(void, gmmx_full_center_r_f64, (const double *X, const double *ref, Py_ssize_t n,    \
                                     Py_ssize_t d, double *xr))                           \
    X(void, gmmx_full_center_r_f32, (const float *X, const double *ref, Py_ssize_t n,     \
                                     Py_ssize_t d, double *xr))                           \
    X(void, gmmx_full_scatter_rows, (const double *xr, Py_ssize_t n, Py_ssize_t d,        \
                                     const double *lp, Py_ssize_t K, double *scr,         \
                                     double *G, Py_ssize_t ldg))                          \
    X(void, gmmx_center_sq_f64, (const double *X, const double *ref, Py_ssize_t n,        \
                                 Py_ssize_t d, double *A))                                \
    X(void, gmmx_center_sq_f32, (const float *X, const double *ref, Py_ssize_t n,         \
                                 Py_ssize_t d, double *A))                                \
    X(int, gmmx_add_const_finite, (double *row, double c, Py_ssize_t n))                  \
    X(int, gmmx_t_resp, (double *lp, Py_ssize_t n, Py_ssize_t K, const double *cst,       \
                         const double *tpar, const double *sw, double *scr, double *tsum, \
                         double *out_norm, double *out_resp, double *ll_out))             \
    /* k-means: _kmeans_core.h */                                                         \
    X(void, kmx_distances_f64, (const double *X, Py_ssize_t n, Py_ssize_t d,              \
                                const double *cb, Py_ssize_t nb, double scale,            \
                                double *out))                                             \
    X(void, kmx_distances_f32, (const float *X, Py_ssize_t n, Py_ssize_t d,               \
                                const double *cb, Py_ssize_t nb, double scale,            \
                                double *out))                                             \
    X(void, kmx_nearest_f64, (const double *X, Py_ssize_t n, Py_ssize_t d,                \
                              const double *cb, Py_ssize_t nb, Py_ssize_t K,              \
                              double scale, double *dscr, int *labels, double *bestd))    \
    X(void, kmx_nearest_f32, (const float *X, Py_ssize_t n, Py_ssize_t d,                 \
                              const double *cb, Py_ssize_t nb, Py_ssize_t K,              \
                              double scale, double *dscr, int *labels, double *bestd))    \
    X(void, kmx_gather_f64, (const double *X, const double *w, const int *labels,         \
                             Py_ssize_t n, Py_ssize_t d, const double *centers,           \
                             Py_ssize_t K, Py_ssize_t *pos, double *xt, double *rx,       \
                             Py_ssize_t ld, double *nk))                                  \
    X(void, kmx_gather_f32, (const float *X, const double *w, const int *labels,          \
                             Py_ssize_t n, Py_ssize_t d, const double *centers,           \
                             Py_ssize_t K, Py_ssize_t *pos, double *xt, double *rx,       \
                             Py_ssize_t ld, double *nk))                                  \
    X(void, kmx_runs_stats, (const double *xt, const double *rx, Py_ssize_t ld,           \
                             const Py_ssize_t *pos, Py_ssize_t K, Py_ssize_t d, int full, \
                             double *out))                                                \
    X(void, kmx_rows_1d_f64, (const double *x, const double *sw, const double *c,         \
                              Py_ssize_t K, int *labels, Py_ssize_t n, int assign,        \
                              Py_ssize_t *pos, double *xs, double *ws,                    \
                              const double *ones, double *out))                           \
    X(void, kmx_rows_1d_f32, (const float *x, const double *sw, const double *c,          \
                              Py_ssize_t K, int *labels, Py_ssize_t n, int assign,        \
                              Py_ssize_t *pos, double *xs, double *ws,                    \
                              const double *ones, double *out))                           \
    /* HMM recursions: _hmm_core.h */                                                     \
    X(int, gmmx_hmm_forward, (double *B, Py_ssize_t L, Py_ssize_t K, const double *pi,    \
                              const double *A, double *alpha, double *scratch,            \
                              double *logs))                                              \
    X(int, gmmx_hmm_backward, (const double *B, Py_ssize_t L, Py_ssize_t K,               \
                               const double *A, double *gamma, double *xi,                \
                               double *scratch))                                          \
    X(Py_ssize_t, gmmx_hmm_shift, (const double *lp, const double *w, Py_ssize_t L,       \
                                   Py_ssize_t K, double *B, double *msum))                \
    X(void, gmmx_hmm_normalise_rows, (double *alpha, Py_ssize_t L, Py_ssize_t K))

#define GMMX_SIMD_MEMBER(RET, NAME, PARAMS) RET (*NAME) PARAMS;
typedef struct gmmx_simd_table {
    int abi;            /* GMMX_SIMD_ABI of the code that filled the table */
    const char *target;   /* suffix of the target whose copies the table holds */
    const char *isa;      /* instruction sets that copy was compiled for (" SSE2 AVX ...") */
    const char *compiler; /* the compiler that built it */
    GMMX_SIMD_FUNCS(GMMX_SIMD_MEMBER)
} gmmx_simd_table;
#undef GMMX_SIMD_MEMBER

#endif /* GMMX_SIMD_TABLE_H */
