/* Portable, branch-free vector math for the gmmx kernels.
 *
 * exp and log follow fdlibm's reductions and polynomials (< 1 ulp on the
 * ranges used here) but are written without branches or table look-ups so
 * that the compiler vectorises the array loops at whatever SIMD width the
 * target has (SSE2, AVX2, NEON).  On x86-64 Linux/glibc the array functions
 * are also cloned for AVX2 and picked at load time.  No FMA contraction is
 * allowed (-ffp-contract=off), so every clone computes bit-identical results.
 *
 * Reductions use eight fixed lanes combined in a fixed order: deterministic,
 * vectorisable, and independent of the SIMD width that runs them.
 */
#ifndef GMMX_VMATH_H
#define GMMX_VMATH_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__linux__) && defined(__GLIBC__) && !defined(GMMX_NO_CLONES)
#define GMMX_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define GMMX_CLONES
#endif

#if defined(_MSC_VER)
#define GMMX_INLINE static __inline
#define GMMX_RESTRICT __restrict
#else
#define GMMX_INLINE static inline __attribute__((always_inline))
#define GMMX_RESTRICT __restrict__
#endif

typedef union { double d; uint64_t u; int64_t i; } gmmx_bits;

/* Fixed-order reductions use 16 lanes as two 8-wide accumulators. With GCC or
 * clang vector extensions they compile to whatever SIMD the clone targets;
 * elsewhere the scalar fallback performs the same additions in the same order,
 * so every build and every clone returns the same bits. */
#if (defined(__GNUC__) || defined(__clang__)) && !defined(GMMX_NO_VECEXT)
#define GMMX_VECEXT 1
typedef double gmmx_v8 __attribute__((vector_size(64)));
#define GMMX_LOAD8(v, p) memcpy(&(v), (p), sizeof(gmmx_v8))
#endif

/* ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)) of a + b, lane-wise. */
#define GMMX_FOLD16(a, b) \
    ((((a)[0] + (b)[0]) + ((a)[4] + (b)[4])) + (((a)[2] + (b)[2]) + ((a)[6] + (b)[6]))) + \
    ((((a)[1] + (b)[1]) + ((a)[5] + (b)[5])) + (((a)[3] + (b)[3]) + ((a)[7] + (b)[7])))

GMMX_INLINE double gmmx_exp1(double x)
{
    /* exp(x) = 2^k exp(r), |r| <= ln2/2, exp(r) by its Taylor polynomial of
       degree 13 (truncation < 5e-18): no division, so it vectorises cheaply. */
    const double invln2 = 1.44269504088896338700e+00;
    const double ln2hi = 6.93147180369123816490e-01;
    const double ln2lo = 1.90821492927058770002e-10;
    const double shift = 6755399441055744.0;  /* 1.5 * 2^52: round to nearest */
    double r, r2, p, q, kd;
    gmmx_bits kb, sc;

    /* exp(x) underflows below -708.39 (we return ~1e-308 rather than a
       subnormal) and overflows above 709.78. */
    x = x < -708.39 ? -708.39 : x;
    x = x > 709.78 ? 709.78 : x;
    kb.d = x * invln2 + shift;
    kd = kb.d - shift;
    r = (x - kd * ln2hi) - kd * ln2lo;
    r2 = r * r;
    /* Estrin-style split: odd and even halves evaluated independently. */
    p = 2.08767569878681e-09;
    p = p * r2 + 2.755731922398589e-07;
    p = p * r2 + 2.48015873015873e-05;
    p = p * r2 + 0.001388888888888889;
    p = p * r2 + 0.041666666666666664;
    p = p * r2 + 0.5;
    p = p * r2 + 1.0;
    q = 1.6059043836821613e-10;
    q = q * r2 + 2.505210838544172e-08;
    q = q * r2 + 2.7557319223985893e-06;
    q = q * r2 + 0.0001984126984126984;
    q = q * r2 + 0.008333333333333333;
    q = q * r2 + 0.16666666666666666;
    q = q * r2 + 1.0;
    sc.u = (kb.u + 1023u) << 52;  /* 2^k: low bits of kb hold k */
    return (p + r * q) * sc.d;
}

/* log(x) for positive, finite, normal x. */
GMMX_INLINE double gmmx_log1(double x)
{
    const double ln2hi = 6.93147180369123816490e-01;
    const double ln2lo = 1.90821492927058770002e-10;
    const double Lg1 = 6.666666666666735130e-01;
    const double Lg2 = 3.999999999940941908e-01;
    const double Lg3 = 2.857142874366239149e-01;
    const double Lg4 = 2.222219843214978396e-01;
    const double Lg5 = 1.818357216161805012e-01;
    const double Lg6 = 1.531383769920937332e-01;
    const double Lg7 = 1.479819860511658591e-01;
    gmmx_bits b, kb;
    double f, s, z, w, t1, t2, R, hfsq, k;

    b.d = x;
    /* Scale the mantissa into [sqrt(2)/2, sqrt(2)). */
    b.u += 0x3ff0000000000000ULL - 0x3fe6a09e667f3bcdULL;
    kb.u = (b.u >> 52) | 0x4330000000000000ULL;  /* biased exponent as a double */
    k = (kb.d - 4503599627370496.0) - 1023.0;
    b.u = (b.u & 0x000fffffffffffffULL) + 0x3fe6a09e667f3bcdULL;
    f = b.d - 1.0;
    s = f / (2.0 + f);
    z = s * s;
    w = z * z;
    t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
    t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
    R = t2 + t1;
    hfsq = 0.5 * f * f;
    return k * ln2hi - ((hfsq - (s * (hfsq + R) + k * ln2lo)) - f);
}

/* a[i] = exp(a[i]) */
GMMX_CLONES static void gmmx_vexp(double *GMMX_RESTRICT a, Py_ssize_t n)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++) a[i] = gmmx_exp1(a[i]);
}

/* a[i] = log(a[i]) for positive normal a[i] */
GMMX_CLONES static void gmmx_vlog(double *GMMX_RESTRICT a, Py_ssize_t n)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++) a[i] = gmmx_log1(a[i]);
}

/* sum of a[0..n): sixteen lanes, fixed fold, sequential tail */
GMMX_CLONES static double gmmx_sum(const double *GMMX_RESTRICT a, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    double tail = 0.0;
#ifdef GMMX_VECEXT
    gmmx_v8 s0 = {0}, s1 = {0}, v;
    for (; i + 16 <= n; i += 16) {
        GMMX_LOAD8(v, a + i); s0 += v;
        GMMX_LOAD8(v, a + i + 8); s1 += v;
    }
#else
    double s0[8] = {0}, s1[8] = {0};
    int j;
    for (; i + 16 <= n; i += 16)
        for (j = 0; j < 8; j++) { s0[j] += a[i + j]; s1[j] += a[i + 8 + j]; }
#endif
    for (; i < n; i++) tail += a[i];
    return (GMMX_FOLD16(s0, s1)) + tail;
}

/* sum of a[i] * b[i], same lanes and order as gmmx_sum */
GMMX_CLONES static double gmmx_dot(const double *GMMX_RESTRICT a, const double *GMMX_RESTRICT b,
                                   Py_ssize_t n)
{
    Py_ssize_t i = 0;
    double tail = 0.0;
#ifdef GMMX_VECEXT
    gmmx_v8 s0 = {0}, s1 = {0}, u, v;
    for (; i + 16 <= n; i += 16) {
        GMMX_LOAD8(u, a + i); GMMX_LOAD8(v, b + i); s0 += u * v;
        GMMX_LOAD8(u, a + i + 8); GMMX_LOAD8(v, b + i + 8); s1 += u * v;
    }
#else
    double s0[8] = {0}, s1[8] = {0};
    int j;
    for (; i + 16 <= n; i += 16)
        for (j = 0; j < 8; j++) {
            s0[j] += a[i + j] * b[i + j];
            s1[j] += a[i + 8 + j] * b[i + 8 + j];
        }
#endif
    for (; i < n; i++) tail += a[i] * b[i];
    return (GMMX_FOLD16(s0, s1)) + tail;
}

/* Univariate statistics of one component over a chunk, centred at c:
 *   out[0] += sum r,  out[1] += sum r (x - c),  out[2] += sum r (x - c)^2
 * r already includes the sample weight. */
GMMX_CLONES static void gmmx_uni_stats(const double *GMMX_RESTRICT x, const double *GMMX_RESTRICT r,
                                       double c, Py_ssize_t n, double *GMMX_RESTRICT out)
{
    Py_ssize_t i = 0;
    double t0 = 0.0, t1 = 0.0, t2 = 0.0, d, rd;
#ifdef GMMX_VECEXT
    gmmx_v8 a0 = {0}, a1 = {0}, a2 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, xv, rv, dv, rdv;
    for (; i + 16 <= n; i += 16) {
        GMMX_LOAD8(xv, x + i); GMMX_LOAD8(rv, r + i);
        dv = xv - c; rdv = rv * dv;
        a0 += rv; a1 += rdv; a2 += rdv * dv;
        GMMX_LOAD8(xv, x + i + 8); GMMX_LOAD8(rv, r + i + 8);
        dv = xv - c; rdv = rv * dv;
        b0 += rv; b1 += rdv; b2 += rdv * dv;
    }
#else
    double a0[8] = {0}, a1[8] = {0}, a2[8] = {0}, b0[8] = {0}, b1[8] = {0}, b2[8] = {0};
    int j;
    for (; i + 16 <= n; i += 16)
        for (j = 0; j < 8; j++) {
            d = x[i + j] - c; rd = r[i + j] * d;
            a0[j] += r[i + j]; a1[j] += rd; a2[j] += rd * d;
            d = x[i + 8 + j] - c; rd = r[i + 8 + j] * d;
            b0[j] += r[i + 8 + j]; b1[j] += rd; b2[j] += rd * d;
        }
#endif
    for (; i < n; i++) {
        d = x[i] - c;
        rd = r[i] * d;
        t0 += r[i];
        t1 += rd;
        t2 += rd * d;
    }
    out[0] += (GMMX_FOLD16(a0, b0)) + t0;
    out[1] += (GMMX_FOLD16(a1, b1)) + t1;
    out[2] += (GMMX_FOLD16(a2, b2)) + t2;
}

/* Univariate log-densities: lp[k*n + i] = cst[k] - ((x[i] - mu[k]) p[k])^2 / 2 */
GMMX_CLONES static void gmmx_uni_logprob(const double *GMMX_RESTRICT x, Py_ssize_t n,
                                         Py_ssize_t K, const double *cst, const double *mu,
                                         const double *p, double *GMMX_RESTRICT lp)
{
    Py_ssize_t i, k;
    for (k = 0; k < K; k++) {
        const double m = mu[k], pk = p[k], c = cst[k];
        double *GMMX_RESTRICT row = lp + k * n;
        for (i = 0; i < n; i++) {
            double z = (x[i] - m) * pk;
            row[i] = c - 0.5 * (z * z);
        }
    }
}

/* Relative contributions below this are set to zero: they change no sum at
 * double precision, and left alone they turn into subnormal numbers in the
 * statistics, which the FPU handles ~100x slower (measured: d=50, K=10 full
 * took 2x longer per pass with 2% of responsibilities subnormal). */
#define GMMX_FLUSH 1e-200

/* From log-densities lp (K rows of n): overwrite lp with responsibilities
 * times the sample weight (sw may be NULL for unit weights) and return
 * ll = sum_i w_i log sum_k exp(lp[k,i]).  When lnorm is not NULL it receives
 * log p(x_i) per row; otherwise, with unit weights, logs are taken of products
 * of 32 row sums (each in [1, K]) rather than of every row.
 * mx and ssum are scratch of length n. */
GMMX_CLONES static double gmmx_logsumexp_resp(double *GMMX_RESTRICT lp, Py_ssize_t n,
                                              Py_ssize_t K, const double *GMMX_RESTRICT sw,
                                              double *GMMX_RESTRICT mx,
                                              double *GMMX_RESTRICT ssum,
                                              double *GMMX_RESTRICT lnorm)
{
    Py_ssize_t i, k;
    double ll = 0.0;
    if (K == 2) {
        /* Two components (calm / turbulent): one exp per row, exp(-|a - b|). */
        double *GMMX_RESTRICT l0 = lp, *GMMX_RESTRICT l1 = lp + n;
        for (i = 0; i < n; i++) {
            double a = l0[i], b = l1[i];
            int first = a > b;
            double e = gmmx_exp1(first ? b - a : a - b);
            e = e < GMMX_FLUSH ? 0.0 : e;
            mx[i] = first ? a : b;
            ssum[i] = 1.0 + e;
            l0[i] = first ? 1.0 : e;
            l1[i] = first ? e : 1.0;
        }
    } else {
        for (i = 0; i < n; i++) mx[i] = lp[i];
        for (k = 1; k < K; k++) {
            const double *GMMX_RESTRICT row = lp + k * n;
            for (i = 0; i < n; i++) mx[i] = row[i] > mx[i] ? row[i] : mx[i];
        }
        for (k = 0; k < K; k++) {
            double *GMMX_RESTRICT row = lp + k * n;
            for (i = 0; i < n; i++) {
                double e = gmmx_exp1(row[i] - mx[i]);
                row[i] = e < GMMX_FLUSH ? 0.0 : e;
            }
        }
        for (i = 0; i < n; i++) ssum[i] = lp[i];
        for (k = 1; k < K; k++) {
            const double *GMMX_RESTRICT row = lp + k * n;
            for (i = 0; i < n; i++) ssum[i] = ssum[i] + row[i];
        }
    }
    if (lnorm != NULL || sw != NULL) {
        double *GMMX_RESTRICT ln = lnorm != NULL ? lnorm : mx;
        for (i = 0; i < n; i++) ln[i] = gmmx_log1(ssum[i]) + mx[i];
        ll = sw != NULL ? gmmx_dot(sw, ln, n) : gmmx_sum(ln, n);
    } else {
        /* products of 32 consecutive row sums, written over mx's tail end
           after mx has been summed */
        Py_ssize_t nb = 0, start;
        ll = gmmx_sum(mx, n);
        for (start = 0; start + 32 <= n; start += 32, nb++) {
#ifdef GMMX_VECEXT
            gmmx_v8 p, q;
            GMMX_LOAD8(p, ssum + start);
            GMMX_LOAD8(q, ssum + start + 8); p *= q;
            GMMX_LOAD8(q, ssum + start + 16); p *= q;
            GMMX_LOAD8(q, ssum + start + 24); p *= q;
            mx[nb] = ((p[0] * p[4]) * (p[2] * p[6])) * ((p[1] * p[5]) * (p[3] * p[7]));
#else
            double p[8];
            int j;
            for (j = 0; j < 8; j++)
                p[j] = ((ssum[start + j] * ssum[start + 8 + j]) * ssum[start + 16 + j]) *
                       ssum[start + 24 + j];
            mx[nb] = ((p[0] * p[4]) * (p[2] * p[6])) * ((p[1] * p[5]) * (p[3] * p[7]));
#endif
        }
        for (i = start; i < n; i++) mx[nb + (i - start)] = ssum[i];
        nb += n - start;
        for (i = 0; i < nb; i++) mx[i] = gmmx_log1(mx[i]);
        ll += gmmx_sum(mx, nb);
    }
    if (sw != NULL) {
        for (i = 0; i < n; i++) ssum[i] = sw[i] / ssum[i];
    } else {
        for (i = 0; i < n; i++) ssum[i] = 1.0 / ssum[i];
    }
    for (k = 0; k < K; k++) {
        double *GMMX_RESTRICT row = lp + k * n;
        for (i = 0; i < n; i++) row[i] = row[i] * ssum[i];
    }
    return ll;
}

/* acc[i] += ((row[i] - b) * scale)^2: one feature's contribution to the
 * Mahalanobis distances of a chunk (rows contiguous, so it vectorises). */
GMMX_CLONES static void gmmx_acc_sq(const double *GMMX_RESTRICT row, double b, double scale,
                                    Py_ssize_t n, double *GMMX_RESTRICT acc)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++) {
        double z = (row[i] - b) * scale;
        acc[i] += z * z;
    }
}

/* xc (n, d+1) = [X - ref | 1] for a chunk of float64 / float32 rows */
#define GMMX_DEFINE_CENTER(NAME, T)                                               \
GMMX_CLONES static void NAME(const T *GMMX_RESTRICT X, const double *GMMX_RESTRICT ref, \
                             Py_ssize_t n, Py_ssize_t d, double *GMMX_RESTRICT xc) \
{                                                                                 \
    Py_ssize_t i, j;                                                              \
    for (i = 0; i < n; i++) {                                                     \
        for (j = 0; j < d; j++) xc[i * (d + 1) + j] = (double)X[i * d + j] - ref[j]; \
        xc[i * (d + 1) + d] = 1.0;                                                \
    }                                                                             \
}
GMMX_DEFINE_CENTER(gmmx_center_f64, double)
GMMX_DEFINE_CENTER(gmmx_center_f32, float)

/* xt (d, n) = X^T for a chunk of float64 / float32 rows */
#define GMMX_DEFINE_TRANSPOSE(NAME, T)                                            \
GMMX_CLONES static void NAME(const T *GMMX_RESTRICT X, Py_ssize_t n, Py_ssize_t d,  \
                             double *GMMX_RESTRICT xt)                            \
{                                                                                 \
    Py_ssize_t i, j;                                                              \
    for (j = 0; j < d; j++)                                                       \
        for (i = 0; i < n; i++) xt[j * n + i] = (double)X[i * d + j];             \
}
GMMX_DEFINE_TRANSPOSE(gmmx_transpose_f64, double)
GMMX_DEFINE_TRANSPOSE(gmmx_transpose_f32, float)

/* W (n, K*d): W[i, k*d + j] = r[k, i] * xc[i, j], xc with row stride d+1 */
GMMX_CLONES static void gmmx_weighted_rows(const double *GMMX_RESTRICT r, const double *GMMX_RESTRICT xc,
                                           Py_ssize_t n, Py_ssize_t K, Py_ssize_t d,
                                           double *GMMX_RESTRICT W)
{
    Py_ssize_t i, j, k;
    for (i = 0; i < n; i++) {
        const double *GMMX_RESTRICT xr = xc + i * (d + 1);
        double *GMMX_RESTRICT wr = W + i * K * d;
        for (k = 0; k < K; k++) {
            const double rk = r[k * n + i];
            for (j = 0; j < d; j++) wr[k * d + j] = rk * xr[j];
        }
    }
}

/* 1 when every a[i] is finite, else 0 (a - a is 0 only for finite a) */
GMMX_CLONES static int gmmx_all_finite(const double *GMMX_RESTRICT a, Py_ssize_t n)
{
    Py_ssize_t i;
    int ok = 1;
    for (i = 0; i < n; i++) ok &= (a[i] - a[i]) == 0.0;
    return ok;
}

/* row[i] = c - row[i] / 2 */
GMMX_CLONES static void gmmx_finish_logprob(double *GMMX_RESTRICT row, double c, Py_ssize_t n)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++) row[i] = c - 0.5 * row[i];
}

/* A (n, 2d) = [X - ref | (X - ref)^2] for a chunk of float64 / float32 rows:
 * the operand of the diagonal models' GEMMs (log-densities and statistics). */
#define GMMX_DEFINE_CENTER_SQ(NAME, T)                                            \
GMMX_CLONES static void NAME(const T *GMMX_RESTRICT X, const double *GMMX_RESTRICT ref, \
                             Py_ssize_t n, Py_ssize_t d, double *GMMX_RESTRICT A)  \
{                                                                                 \
    Py_ssize_t i, j;                                                              \
    for (i = 0; i < n; i++) {                                                     \
        const T *GMMX_RESTRICT xr = X + i * d;                                    \
        double *GMMX_RESTRICT ar = A + i * 2 * d;                                 \
        for (j = 0; j < d; j++) {                                                 \
            double z = (double)xr[j] - ref[j];                                    \
            ar[j] = z;                                                            \
            ar[d + j] = z * z;                                                    \
        }                                                                         \
    }                                                                             \
}
GMMX_DEFINE_CENTER_SQ(gmmx_center_sq_f64, double)
GMMX_DEFINE_CENTER_SQ(gmmx_center_sq_f32, float)

/* row[i] += c; returns 1 when every row[i] was finite before, else 0 */
GMMX_CLONES static int gmmx_add_const_finite(double *GMMX_RESTRICT row, double c, Py_ssize_t n)
{
    Py_ssize_t i;
    int ok = 1;
    for (i = 0; i < n; i++) {
        ok &= (row[i] - row[i]) == 0.0;
        row[i] = row[i] + c;
    }
    return ok;
}

#endif /* GMMX_VMATH_H */
