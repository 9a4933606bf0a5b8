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

GMMX_INLINE double gmmx_exp1(double x)
{
    const double invln2 = 1.44269504088896338700e+00;
    const double ln2hi = 6.93147180369123816490e-01;
    const double ln2lo = 1.90821492927058770002e-10;
    const double shift = 6755399441055744.0;  /* 1.5 * 2^52: round to nearest */
    const double P1 = 1.66666666666666019037e-01;
    const double P2 = -2.77777777770155933842e-03;
    const double P3 = 6.61375632143793436117e-05;
    const double P4 = -1.65339022054652515390e-06;
    const double P5 = 4.13813679705723846039e-08;
    double hi, lo, r, t, c, y, kd;
    gmmx_bits kb, sc;

    /* exp(x) underflows below -708.39 (we return the smallest normal's
       neighbourhood instead of a subnormal) and overflows above 709.78. */
    x = x < -708.39 ? -708.39 : x;
    x = x > 709.78 ? 709.78 : x;
    kb.d = x * invln2 + shift;
    kd = kb.d - shift;
    hi = x - kd * ln2hi;
    lo = kd * ln2lo;
    r = hi - lo;
    t = r * r;
    c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
    sc.u = (kb.u + 1023u) << 52;  /* 2^k: low bits of kb hold k */
    return y * sc.d;
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

/* sum of a[0..n) in eight fixed lanes */
static double gmmx_sum(const double *GMMX_RESTRICT a, Py_ssize_t n)
{
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    Py_ssize_t i = 0, j;
    for (; i + 8 <= n; i += 8)
        for (j = 0; j < 8; j++) acc[j] += a[i + j];
    for (j = 0; i < n; i++, j++) acc[j] += a[i];
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

/* sum of a[i] * b[i] in eight fixed lanes */
static double gmmx_dot(const double *GMMX_RESTRICT a, const double *GMMX_RESTRICT b,
                       Py_ssize_t n)
{
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    Py_ssize_t i = 0, j;
    for (; i + 8 <= n; i += 8)
        for (j = 0; j < 8; j++) acc[j] += a[i + j] * b[i + j];
    for (j = 0; i < n; i++, j++) acc[j] += a[i] * b[i];
    return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

/* Univariate statistics of one component over a chunk, centred at c:
 *   out[0] += sum r,  out[1] += sum r (x - c),  out[2] += sum r (x - c)^2
 * r already includes the sample weight. */
static void gmmx_uni_stats(const double *GMMX_RESTRICT x, const double *GMMX_RESTRICT r,
                           double c, Py_ssize_t n, double *GMMX_RESTRICT out)
{
    double a0[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    double a1[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    double a2[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    Py_ssize_t i = 0, j;
    double d, rd;
    for (; i + 8 <= n; i += 8) {
        for (j = 0; j < 8; j++) {
            d = x[i + j] - c;
            rd = r[i + j] * d;
            a0[j] += r[i + j];
            a1[j] += rd;
            a2[j] += rd * d;
        }
    }
    for (j = 0; i < n; i++, j++) {
        d = x[i] - c;
        rd = r[i] * d;
        a0[j] += r[i];
        a1[j] += rd;
        a2[j] += rd * d;
    }
#define GMMX_FOLD(a) (((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7])))
    out[0] += GMMX_FOLD(a0);
    out[1] += GMMX_FOLD(a1);
    out[2] += GMMX_FOLD(a2);
#undef GMMX_FOLD
}

#endif /* GMMX_VMATH_H */
