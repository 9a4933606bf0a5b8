cdef extern from "_vmath.h" nogil:
    double gmmx_exp1(double x) noexcept
    double gmmx_log1(double x) noexcept
    void gmmx_vexp(double *a, Py_ssize_t n) noexcept
    void gmmx_vlog(double *a, Py_ssize_t n) noexcept
    double gmmx_sum(const double *a, Py_ssize_t n) noexcept
    double gmmx_dot(const double *a, const double *b, Py_ssize_t n) noexcept
    void gmmx_uni_stats(const double *x, const double *r, double c, Py_ssize_t n,
                        double *out) noexcept
