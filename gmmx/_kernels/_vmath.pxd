cdef extern from "_vmath.h" nogil:
    double gmmx_exp1(double x) noexcept
    double gmmx_log1(double x) noexcept
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
    void gmmx_weighted_rows(const double *r, const double *xc, Py_ssize_t n, Py_ssize_t K,
                            Py_ssize_t d, double *W) noexcept
    void gmmx_finish_logprob(double *row, double c, Py_ssize_t n) noexcept
    int gmmx_all_finite(const double *a, Py_ssize_t n) noexcept
    void gmmx_center_sq_f64(const double *X, const double *ref, Py_ssize_t n, Py_ssize_t d,
                            double *A) noexcept
    void gmmx_center_sq_f32(const float *X, const double *ref, Py_ssize_t n, Py_ssize_t d,
                            double *A) noexcept
    int gmmx_add_const_finite(double *row, double c, Py_ssize_t n) noexcept
