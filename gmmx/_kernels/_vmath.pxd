# The dispatched kernels (_vmath.h, compiled per SIMD target): each name is a
# call through the table of the _simd module (_simd.h). A module that cimports
# them calls gmmx_simd_import() at import, before any kernel runs.
cdef extern from "_simd.h":
    int gmmx_simd_import() except -1

cdef extern from "_simd.h" nogil:
    void gmmx_vexp(double *a, Py_ssize_t n) noexcept
    void gmmx_vlog(double *a, Py_ssize_t n) noexcept
    double gmmx_sum(const double *a, Py_ssize_t n) noexcept
    double gmmx_dot(const double *a, const double *b, Py_ssize_t n) noexcept
    void gmmx_uni_stats(const double *x, const double *r, double c, Py_ssize_t n,
                        double *out) noexcept
    void gmmx_uni_logprob(const double *x, Py_ssize_t n, Py_ssize_t K, const double *cst,
                          const double *mu, const double *p, double *lp) noexcept
    double gmmx_logsumexp_resp(double *lp, Py_ssize_t n, Py_ssize_t K, const double *sw,
                             double *mx, double *ssum, double *lnorm) noexcept
    void gmmx_acc_sq(const double *row, double b, double scale, Py_ssize_t n,
                     double *acc) noexcept
    void gmmx_center_f64(const double *X, const double *ref, Py_ssize_t n, Py_ssize_t d,
                         double *xc) noexcept
    void gmmx_center_f32(const float *X, const double *ref, Py_ssize_t n, Py_ssize_t d,
                         double *xc) noexcept
    void gmmx_transpose_f64(const double *X, Py_ssize_t n, Py_ssize_t d, double *xt) noexcept
    void gmmx_transpose_f32(const float *X, Py_ssize_t n, Py_ssize_t d, double *xt) noexcept
    void gmmx_finish_logprob(double *row, double c, Py_ssize_t n) noexcept
    int gmmx_all_finite(const double *a, Py_ssize_t n) noexcept
    void gmmx_f32_vexp(float *a, Py_ssize_t n) noexcept
    double gmmx_f32_sum(const float *a, Py_ssize_t n) noexcept
    void gmmx_f32_uni_logprob(const float *x, Py_ssize_t n, Py_ssize_t K, const double *cst,
                              const double *mu, const double *p, float *lp) noexcept
    double gmmx_f32_logsumexp(float *lp, Py_ssize_t n, Py_ssize_t K, const double *sw,
                              float *mx, float *ssum, double *dscr) noexcept
    void gmmx_f32_uni_stats(const float *x, const float *r, const double *sw, double c,
                            Py_ssize_t n, double *out) noexcept
    double gmmx_f32_sum_log(const float *ssum, Py_ssize_t n, double *dscr) noexcept
    double gmmx_f32_weighted_ll(const float *mx, const float *ssum, const double *sw,
                                Py_ssize_t n, double *dscr) noexcept
    void gmmx_f32_uni_resp2(const float *x, Py_ssize_t n, const double *cst, const double *mu,
                            const double *p, float *r0, float *r1, float *mx,
                            float *ssum) noexcept
    double gmmx_f32_uni_stats2(const float *x, const float *r0, const float *r1,
                               const double *sw, double c0, double c1, const float *mx,
                               Py_ssize_t n, double *out) noexcept
    void gmmx_full_weighted_rows(const double *r, const double *xc, Py_ssize_t n,
                                 Py_ssize_t K, Py_ssize_t d, const Py_ssize_t *jb,
                                 Py_ssize_t nb, double *W) noexcept
    void gmmx_full_logprob_row(const double *Y, Py_ssize_t n, Py_ssize_t P, Py_ssize_t p,
                               const Py_ssize_t *jb, Py_ssize_t nb, const double *shift,
                               double cst, double *row) noexcept
    void gmmx_full_transpose(const double *xc, Py_ssize_t n, Py_ssize_t d, Py_ssize_t ld,
                             double *xt) noexcept
    void gmmx_full_center_t_f64(const double *X, const double *ref, Py_ssize_t n, Py_ssize_t d,
                                Py_ssize_t ld, double *xt) noexcept
    void gmmx_full_center_t_f32(const float *X, const double *ref, Py_ssize_t n, Py_ssize_t d,
                                Py_ssize_t ld, double *xt) noexcept
    void gmmx_full_tri_logprob(const double *xt, Py_ssize_t n, Py_ssize_t ld, Py_ssize_t d, const double *U,
                               Py_ssize_t ldu, const double *shift, double cst,
                               double *row) noexcept
    Py_ssize_t GMMX_FULL_PAD(Py_ssize_t d) noexcept
    Py_ssize_t GMMX_FULL_LD(Py_ssize_t n) noexcept
    void gmmx_full_scale_rows(const double *r, const double *xt, Py_ssize_t n, Py_ssize_t m,
                              Py_ssize_t ld, double *rx) noexcept
    void gmmx_full_scatter_upper(const double *xt, const double *rx, Py_ssize_t n,
                                 Py_ssize_t d, Py_ssize_t ld, double *G,
                                 Py_ssize_t ldg) noexcept
    int gmmx_full_wide_simd() noexcept
    int gmmx_full_row_scatter() noexcept
    Py_ssize_t GMMX_FULL_RLD(Py_ssize_t d) noexcept
    Py_ssize_t GMMX_FULL_RSCR(Py_ssize_t d, Py_ssize_t K) noexcept
    void gmmx_full_center_r_f64(const double *X, const double *ref, Py_ssize_t n, Py_ssize_t d,
                                double *xr) noexcept
    void gmmx_full_center_r_f32(const float *X, const double *ref, Py_ssize_t n, Py_ssize_t d,
                                double *xr) noexcept
    void gmmx_full_scatter_rows(const double *xr, Py_ssize_t n, Py_ssize_t d, const double *lp,
                                Py_ssize_t K, double *scr, double *G, Py_ssize_t ldg) noexcept
    void gmmx_center_sq_f64(const double *X, const double *ref, Py_ssize_t n, Py_ssize_t d,
                            double *A) noexcept
    void gmmx_center_sq_f32(const float *X, const double *ref, Py_ssize_t n, Py_ssize_t d,
                            double *A) noexcept
    int gmmx_add_const_finite(double *row, double c, Py_ssize_t n) noexcept
    int gmmx_t_resp(double *lp, Py_ssize_t n, Py_ssize_t K, const double *cst,
                    const double *tpar, const double *sw, double *scr, double *tsum,
                    double *out_norm, double *out_resp, double *ll_out) noexcept
