/* Portable, branch-free vector math for the gmmx kernels.
 *
 * exp and log follow fdlibm's reductions and polynomials (< 1 ulp on the
 * ranges used here) but are written without branches or table look-ups so
 * that the compiler vectorises the array loops at whatever SIMD width the
 * target has (SSE2, AVX2, AVX-512, NEON).  _simd_kernels.c includes this
 * header and is compiled once per SIMD target; the _simd module picks one
 * copy at import (see _simd_dispatch.h).  No FMA contraction is allowed
 * (-ffp-contract=off), so every copy computes the same bits, except the full
 * kernels' register-tiled loops and the Student-t arithmetic, which use
 * explicit FMA on AVX2 and AVX-512 (GMMX_V8_MAC, GMMX_FMA1 in gmmx_exp1c and
 * gmmx_log1c: they then agree with the other copies to 1e-12).
 *
 * Reductions use eight fixed lanes combined in a fixed order: deterministic,
 * vectorisable, and independent of the SIMD width that runs them.
 */
#ifndef GMMX_VMATH_H
#define GMMX_VMATH_H

#include <stdint.h>
#include <math.h>
#include <string.h>

#include "_simd_table.h"

#if defined(_MSC_VER)
#define GMMX_INLINE static __inline
#define GMMX_RESTRICT __restrict
#else
#define GMMX_INLINE static inline __attribute__((always_inline))
#define GMMX_RESTRICT __restrict__
#endif

typedef union { double d; uint64_t u; int64_t i; } gmmx_bits;

/* Fixed-order reductions use 16 lanes as two 8-wide accumulators. With GCC or
 * clang vector extensions they compile to whatever SIMD the copy targets;
 * elsewhere the scalar fallback performs the same additions in the same order,
 * so every build and every target's copy returns the same bits. */
#if (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 9)) && !defined(GMMX_NO_VECEXT)
#define GMMX_VECEXT 1
/* An eight-lane vector is GMMX_VN native vectors of the target's width (one
 * 512-bit, two 256-bit or four 128-bit registers): a 64-byte vector_size type
 * is lowered through the stack by GCC where registers are narrower (measured
 * on the AVX2 copy: every accumulator update stored and reloaded). The lanes,
 * and so the order of every sum, are the same on every target. */
#if defined(__AVX512F__)
#define GMMX_VN 1
typedef double gmmx_vn __attribute__((vector_size(64)));
typedef float gmmx_fn __attribute__((vector_size(32)));
#elif defined(__AVX__)
#define GMMX_VN 2
typedef double gmmx_vn __attribute__((vector_size(32)));
typedef float gmmx_fn __attribute__((vector_size(16)));
#else /* SSE2, NEON */
#define GMMX_VN 4
typedef double gmmx_vn __attribute__((vector_size(16)));
typedef float gmmx_fn __attribute__((vector_size(8)));
#endif
#define GMMX_VW (8 / GMMX_VN) /* lanes per native vector */
typedef struct { gmmx_vn p[GMMX_VN]; } gmmx_v8;

#define GMMX_V8_OP(NAME, EXPR)                                         \
    static inline __attribute__((always_inline)) gmmx_v8 NAME(gmmx_v8 a, gmmx_v8 b) \
    {                                                                  \
        int k_;                                                        \
        for (k_ = 0; k_ < GMMX_VN; k_++) a.p[k_] = EXPR;               \
        return a;                                                      \
    }
GMMX_V8_OP(gmmx_v8_add, a.p[k_] + b.p[k_])
GMMX_V8_OP(gmmx_v8_sub, a.p[k_] - b.p[k_])
GMMX_V8_OP(gmmx_v8_mul, a.p[k_] * b.p[k_])
#define GMMX_V8_SOP(NAME, EXPR)                                        \
    static inline __attribute__((always_inline)) gmmx_v8 NAME(gmmx_v8 a, double s) \
    {                                                                  \
        int k_;                                                        \
        for (k_ = 0; k_ < GMMX_VN; k_++) a.p[k_] = EXPR;               \
        return a;                                                      \
    }
GMMX_V8_SOP(gmmx_v8_subs, a.p[k_] - s)   /* a - s */
GMMX_V8_SOP(gmmx_v8_muls, a.p[k_] * s)   /* a * s */
GMMX_V8_SOP(gmmx_v8_rsubs, s - a.p[k_])  /* s - a */
GMMX_V8_SOP(gmmx_v8_smul, s * a.p[k_])   /* s * a */

static inline __attribute__((always_inline)) gmmx_v8 gmmx_v8_load(const double *p)
{
    gmmx_v8 r;
    int k;
    for (k = 0; k < GMMX_VN; k++) memcpy(&r.p[k], p + k * GMMX_VW, sizeof(gmmx_vn));
    return r;
}
static inline __attribute__((always_inline)) void gmmx_v8_store(double *p, gmmx_v8 a)
{
    int k;
    for (k = 0; k < GMMX_VN; k++) memcpy(p + k * GMMX_VW, &a.p[k], sizeof(gmmx_vn));
}
/* eight floats from p, widened to double (exact) */
static inline __attribute__((always_inline)) gmmx_v8 gmmx_v8_widen(const float *p)
{
    gmmx_v8 r;
    gmmx_fn f;
    int k;
    for (k = 0; k < GMMX_VN; k++) {
        memcpy(&f, p + k * GMMX_VW, sizeof(gmmx_fn));
        r.p[k] = __builtin_convertvector(f, gmmx_vn);
    }
    return r;
}
#define GMMX_LOAD8(v, ptr) ((v) = gmmx_v8_load(ptr))
#define GMMX_LANE(a, i) ((a).p[(i) / GMMX_VW][(i) % GMMX_VW])
#define GMMX_V8_ACC(acc, v) ((acc) = gmmx_v8_add((acc), (v)))
#if defined(__FMA__) && (defined(__x86_64__) || defined(_M_X64)) && GMMX_VN <= 2
/* acc + a * b rounded once (the full kernels' products on AVX2 and AVX-512:
 * 10-24% faster per loop on AVX2, measured; -ffp-contract=off keeps every
 * other loop as written).  Results then differ from the baseline copy's in
 * the last bits: the targets agree to 1e-12, not bit for bit. */
#include <immintrin.h>
#define GMMX_V8_HAS_FMA 1
#if GMMX_VN == 1
#define GMMX_VFMA(a, b, c) ((gmmx_vn)_mm512_fmadd_pd((__m512d)(a), (__m512d)(b), (__m512d)(c)))
#define GMMX_VSET1(s) ((gmmx_vn)_mm512_set1_pd(s))
#else
#define GMMX_VFMA(a, b, c) ((gmmx_vn)_mm256_fmadd_pd((__m256d)(a), (__m256d)(b), (__m256d)(c)))
#define GMMX_VSET1(s) ((gmmx_vn)_mm256_set1_pd(s))
#endif
static inline __attribute__((always_inline)) gmmx_v8 gmmx_v8_fma(gmmx_v8 acc, gmmx_v8 a, gmmx_v8 b)
{
    int k;
    for (k = 0; k < GMMX_VN; k++) acc.p[k] = GMMX_VFMA(a.p[k], b.p[k], acc.p[k]);
    return acc;
}
static inline __attribute__((always_inline)) gmmx_v8 gmmx_v8_fmas(gmmx_v8 acc, gmmx_v8 a, double s)
{
    const gmmx_vn sv = GMMX_VSET1(s);
    int k;
    for (k = 0; k < GMMX_VN; k++) acc.p[k] = GMMX_VFMA(a.p[k], sv, acc.p[k]);
    return acc;
}
#define GMMX_V8_MAC(acc, a, b) ((acc) = gmmx_v8_fma((acc), (a), (b)))
#define GMMX_V8_MACS(acc, a, s) ((acc) = gmmx_v8_fmas((acc), (a), (s)))
#define GMMX_FMA1(a, b, c) __builtin_fma((a), (b), (c))
#else
#define GMMX_V8_MAC(acc, a, b) GMMX_V8_ACC(acc, gmmx_v8_mul(a, b))
#define GMMX_V8_MACS(acc, a, s) GMMX_V8_ACC(acc, gmmx_v8_muls(a, s))
#endif
#else
#define GMMX_LANE(a, i) ((a)[i])
#endif

/* ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)) of a + b, lane-wise. */
#define GMMX_FOLD16(a, b) \
    (((GMMX_LANE(a, 0) + GMMX_LANE(b, 0)) + (GMMX_LANE(a, 4) + GMMX_LANE(b, 4))) + \
     ((GMMX_LANE(a, 2) + GMMX_LANE(b, 2)) + (GMMX_LANE(a, 6) + GMMX_LANE(b, 6)))) + \
    (((GMMX_LANE(a, 1) + GMMX_LANE(b, 1)) + (GMMX_LANE(a, 5) + GMMX_LANE(b, 5))) + \
     ((GMMX_LANE(a, 3) + GMMX_LANE(b, 3)) + (GMMX_LANE(a, 7) + GMMX_LANE(b, 7))))

#ifndef GMMX_FMA1
#define GMMX_FMA1(a, b, c) ((a) * (b) + (c))
#endif

/* exp and log with the polynomials' multiply-adds as MADD(a, b, c) = a b + c:
 * separate operations in gmmx_exp1 and gmmx_log1 (the same bits on every
 * target), fused where the target has FMA in gmmx_exp1c and gmmx_log1c (the
 * Student-t arithmetic only). */
#define GMMX_MADD_SEP(a, b, c) ((a) * (b) + (c))

/* exp(x) = 2^k exp(r), |r| <= ln2/2, exp(r) by its Taylor polynomial of
   degree 13 (truncation < 5e-18): no division, so it vectorises cheaply.
   exp(x) underflows below -708.39 (we return ~1e-308 rather than a
   subnormal) and overflows above 709.78. */
#define GMMX_EXP1_BODY(MADD)                                                      \
    const double invln2 = 1.44269504088896338700e+00;                             \
    const double ln2hi = 6.93147180369123816490e-01;                              \
    const double ln2lo = 1.90821492927058770002e-10;                              \
    const double shift = 6755399441055744.0;  /* 1.5 * 2^52: round to nearest */ \
    double r, r2, p, q, kd;                                                       \
    gmmx_bits kb, sc;                                                             \
    x = x < -708.39 ? -708.39 : x;                                                \
    x = x > 709.78 ? 709.78 : x;                                                  \
    kb.d = x * invln2 + shift;                                                    \
    kd = kb.d - shift;                                                            \
    r = (x - kd * ln2hi) - kd * ln2lo;                                            \
    r2 = r * r;                                                                   \
    /* Estrin-style split: odd and even halves evaluated independently. */        \
    p = 2.08767569878681e-09;                                                     \
    p = MADD(p, r2, 2.755731922398589e-07);                                       \
    p = MADD(p, r2, 2.48015873015873e-05);                                        \
    p = MADD(p, r2, 0.001388888888888889);                                        \
    p = MADD(p, r2, 0.041666666666666664);                                        \
    p = MADD(p, r2, 0.5);                                                         \
    p = MADD(p, r2, 1.0);                                                         \
    q = 1.6059043836821613e-10;                                                   \
    q = MADD(q, r2, 2.505210838544172e-08);                                       \
    q = MADD(q, r2, 2.7557319223985893e-06);                                      \
    q = MADD(q, r2, 0.0001984126984126984);                                       \
    q = MADD(q, r2, 0.008333333333333333);                                        \
    q = MADD(q, r2, 0.16666666666666666);                                         \
    q = MADD(q, r2, 1.0);                                                         \
    sc.u = (kb.u + 1023u) << 52;  /* 2^k: low bits of kb hold k */               \
    return MADD(r, q, p) * sc.d;

/* log(x) for positive, finite, normal x (fdlibm's reduction and polynomial) */
#define GMMX_LOG1_BODY(MADD)                                                      \
    const double ln2hi = 6.93147180369123816490e-01;                              \
    const double ln2lo = 1.90821492927058770002e-10;                              \
    const double Lg1 = 6.666666666666735130e-01;                                  \
    const double Lg2 = 3.999999999940941908e-01;                                  \
    const double Lg3 = 2.857142874366239149e-01;                                  \
    const double Lg4 = 2.222219843214978396e-01;                                  \
    const double Lg5 = 1.818357216161805012e-01;                                  \
    const double Lg6 = 1.531383769920937332e-01;                                  \
    const double Lg7 = 1.479819860511658591e-01;                                  \
    gmmx_bits b, kb;                                                              \
    double f, s, z, w, t1, t2, R, hfsq, k;                                        \
    b.d = x;                                                                      \
    /* Scale the mantissa into [sqrt(2)/2, sqrt(2)). */                           \
    b.u += 0x3ff0000000000000ULL - 0x3fe6a09e667f3bcdULL;                         \
    kb.u = (b.u >> 52) | 0x4330000000000000ULL;  /* biased exponent as a double */ \
    k = (kb.d - 4503599627370496.0) - 1023.0;                                     \
    b.u = (b.u & 0x000fffffffffffffULL) + 0x3fe6a09e667f3bcdULL;                  \
    f = b.d - 1.0;                                                                \
    s = f / (2.0 + f);                                                            \
    z = s * s;                                                                    \
    w = z * z;                                                                    \
    t1 = w * MADD(w, MADD(w, Lg6, Lg4), Lg2);                                     \
    t2 = z * MADD(w, MADD(w, MADD(w, Lg7, Lg5), Lg3), Lg1);                       \
    R = t2 + t1;                                                                  \
    hfsq = 0.5 * f * f;                                                           \
    return k * ln2hi - ((hfsq - (s * (hfsq + R) + k * ln2lo)) - f);

GMMX_INLINE double gmmx_exp1(double x) { GMMX_EXP1_BODY(GMMX_MADD_SEP) }

/* log(x) for positive, finite, normal x. */
GMMX_INLINE double gmmx_log1(double x) { GMMX_LOG1_BODY(GMMX_MADD_SEP) }

/* The same with fused multiply-adds on targets that have them (GMMX_FMA1) */
GMMX_INLINE double gmmx_exp1c(double x) { GMMX_EXP1_BODY(GMMX_FMA1) }
GMMX_INLINE double gmmx_log1c(double x) { GMMX_LOG1_BODY(GMMX_FMA1) }

/* a[i] = exp(a[i]) */
static void gmmx_vexp(double *GMMX_RESTRICT a, Py_ssize_t n)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++) a[i] = gmmx_exp1(a[i]);
}

/* a[i] = log(a[i]) for positive normal a[i] */
static void gmmx_vlog(double *GMMX_RESTRICT a, Py_ssize_t n)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++) a[i] = gmmx_log1(a[i]);
}

/* sum of a[0..n): sixteen lanes, fixed fold, sequential tail */
static double gmmx_sum(const double *GMMX_RESTRICT a, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    double tail = 0.0;
#ifdef GMMX_VECEXT
    gmmx_v8 s0 = {0}, s1 = {0}, v;
    for (; i + 16 <= n; i += 16) {
        GMMX_LOAD8(v, a + i); GMMX_V8_ACC(s0, v);
        GMMX_LOAD8(v, a + i + 8); GMMX_V8_ACC(s1, v);
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
static double gmmx_dot(const double *GMMX_RESTRICT a, const double *GMMX_RESTRICT b,
                                   Py_ssize_t n)
{
    Py_ssize_t i = 0;
    double tail = 0.0;
#ifdef GMMX_VECEXT
    gmmx_v8 s0 = {0}, s1 = {0}, u, v;
    for (; i + 16 <= n; i += 16) {
        GMMX_LOAD8(u, a + i); GMMX_LOAD8(v, b + i); GMMX_V8_ACC(s0, gmmx_v8_mul(u, v));
        GMMX_LOAD8(u, a + i + 8); GMMX_LOAD8(v, b + i + 8); GMMX_V8_ACC(s1, gmmx_v8_mul(u, v));
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
static void gmmx_uni_stats(const double *GMMX_RESTRICT x, const double *GMMX_RESTRICT r,
                                       double c, Py_ssize_t n, double *GMMX_RESTRICT out)
{
    Py_ssize_t i = 0;
    double t0 = 0.0, t1 = 0.0, t2 = 0.0, d, rd;
#ifdef GMMX_VECEXT
    gmmx_v8 a0 = {0}, a1 = {0}, a2 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, xv, rv, dv, rdv;
    for (; i + 16 <= n; i += 16) {
        GMMX_LOAD8(xv, x + i); GMMX_LOAD8(rv, r + i);
        dv = gmmx_v8_subs(xv, c); rdv = gmmx_v8_mul(rv, dv);
        GMMX_V8_ACC(a0, rv); GMMX_V8_ACC(a1, rdv); GMMX_V8_ACC(a2, gmmx_v8_mul(rdv, dv));
        GMMX_LOAD8(xv, x + i + 8); GMMX_LOAD8(rv, r + i + 8);
        dv = gmmx_v8_subs(xv, c); rdv = gmmx_v8_mul(rv, dv);
        GMMX_V8_ACC(b0, rv); GMMX_V8_ACC(b1, rdv); GMMX_V8_ACC(b2, gmmx_v8_mul(rdv, dv));
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
static void gmmx_uni_logprob(const double *GMMX_RESTRICT x, Py_ssize_t n,
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
static double gmmx_logsumexp_resp(double *GMMX_RESTRICT lp, Py_ssize_t n,
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
            GMMX_LOAD8(q, ssum + start + 8); p = gmmx_v8_mul(p, q);
            GMMX_LOAD8(q, ssum + start + 16); p = gmmx_v8_mul(p, q);
            GMMX_LOAD8(q, ssum + start + 24); p = gmmx_v8_mul(p, q);
            mx[nb] = ((GMMX_LANE(p, 0) * GMMX_LANE(p, 4)) * (GMMX_LANE(p, 2) * GMMX_LANE(p, 6))) *
                     ((GMMX_LANE(p, 1) * GMMX_LANE(p, 5)) * (GMMX_LANE(p, 3) * GMMX_LANE(p, 7)));
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
static void gmmx_acc_sq(const double *GMMX_RESTRICT row, double b, double scale,
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
static void NAME(const T *GMMX_RESTRICT X, const double *GMMX_RESTRICT ref, \
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
static void NAME(const T *GMMX_RESTRICT X, Py_ssize_t n, Py_ssize_t d,  \
                             double *GMMX_RESTRICT xt)                            \
{                                                                                 \
    Py_ssize_t i, j;                                                              \
    for (j = 0; j < d; j++)                                                       \
        for (i = 0; i < n; i++) xt[j * n + i] = (double)X[i * d + j];             \
}
GMMX_DEFINE_TRANSPOSE(gmmx_transpose_f64, double)
GMMX_DEFINE_TRANSPOSE(gmmx_transpose_f32, float)

/* 1 when every a[i] is finite, else 0 (a - a is 0 only for finite a) */
static int gmmx_all_finite(const double *GMMX_RESTRICT a, Py_ssize_t n)
{
    Py_ssize_t i;
    int ok = 1;
    for (i = 0; i < n; i++) ok &= (a[i] - a[i]) == 0.0;
    return ok;
}

/* row[i] = c - row[i] / 2 */
static void gmmx_finish_logprob(double *GMMX_RESTRICT row, double c, Py_ssize_t n)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++) row[i] = c - 0.5 * row[i];
}

/* ---- float32 lanes for float32 input (prefix gmmx_f32_) ------------------
 *
 * float32 rows are fitted with log-densities, log-sum-exp and exp in float32
 * (twice the SIMD lanes of double, and a shorter exp polynomial), while the
 * responsibilities are widened to double before they enter any statistic:
 * n_k, sums and squares are accumulated in double, in the same fixed lanes
 * and order as the double kernels, so the float32 path is as deterministic. */

typedef union { float f; uint32_t u; } gmmx_bits32;

#if defined(GMMX_VECEXT)
#define GMMX_F32_VECEXT 1
/* eight floats from p, widened to a double vector (exact) */
#define GMMX_F32_WIDEN8(v, ptr) ((v) = gmmx_v8_widen(ptr))
#endif

/* exp(x) in float32 for x <= 0 (the log-sum-exp only needs those; larger x
 * are outside the contract and not clamped, which saves two operations of
 * about fifty per row in the K == 2 loop).  Cephes' expf: exp(x) = 2^k exp(r),
 * |r| <= ln2/2, a degree-7 polynomial (< 1 ulp); no branch or table, so the
 * loops calling it vectorise 16 lanes wide. */
GMMX_INLINE float gmmx_f32_exp1(float x)
{
    const float invln2 = 1.44269504088896341f;
    const float ln2hi = 0.693359375f;          /* few bits: k * ln2hi is exact */
    const float ln2lo = -2.12194440e-4f;
    const float shift = 12582912.0f;           /* 1.5 * 2^23: round to nearest */
    float r, r2, p, kd;
    gmmx_bits32 kb, sc;

    /* Above -87.0 the result is a normal float (>= 1.6e-38); below, callers
     * flush it to zero (GMMX_F32_FLUSH). NaN passes through unchanged. */
    x = x < -87.0f ? -87.0f : x;
    kb.f = x * invln2 + shift;
    kd = kb.f - shift;
    r = (x - kd * ln2hi) - kd * ln2lo;
    r2 = r * r;
    p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = (p * r2 + r) + 1.0f;
    sc.u = (kb.u + 127u) << 23;  /* 2^k: low bits of kb hold k, -126 <= k <= 0 */
    return p * sc.f;
}

/* Relative contributions below this are set to zero. It is the float32
 * counterpart of GMMX_FLUSH: above exp's lower clamp (1.6e-38), so every kept
 * value is a normal float, and far below what any sum can notice: 1 + e is 1
 * in float32 from e < 6e-8, and a component's n_k (accumulated in double)
 * meets the M-step's 10 * eps (2.2e-15) long before 1e-37 per row matters. */
#define GMMX_F32_FLUSH 1e-37f

/* a[i] = exp(a[i]) in float32 (a[i] <= 0; exposed for tests) */
static void gmmx_f32_vexp(float *GMMX_RESTRICT a, Py_ssize_t n)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++) a[i] = gmmx_f32_exp1(a[i]);
}

/* sum in double of float values a[0..n): lanes and order of gmmx_sum */
static double gmmx_f32_sum(const float *GMMX_RESTRICT a, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    double tail = 0.0;
#ifdef GMMX_F32_VECEXT
    gmmx_v8 s0 = {0}, s1 = {0}, v;
    for (; i + 16 <= n; i += 16) {
        GMMX_F32_WIDEN8(v, a + i); GMMX_V8_ACC(s0, v);
        GMMX_F32_WIDEN8(v, a + i + 8); GMMX_V8_ACC(s1, v);
    }
#else
    double s0[8] = {0}, s1[8] = {0};
    int j;
    for (; i + 16 <= n; i += 16)
        for (j = 0; j < 8; j++) { s0[j] += (double)a[i + j]; s1[j] += (double)a[i + 8 + j]; }
#endif
    for (; i < n; i++) tail += (double)a[i];
    return (GMMX_FOLD16(s0, s1)) + tail;
}

/* The mean split into float32 hi + lo: x - hi is exact for x near the mean
 * (Sterbenz), so ((x - hi) - lo) keeps float32 precision relative to the
 * spread, not to the price level. */
GMMX_INLINE void gmmx_f32_split(double m, float *hi, float *lo)
{
    *hi = (float)m;
    *lo = (float)(m - (double)*hi);
}

/* Univariate log-densities in float32: lp[k*n + i] = cst[k] - (((x[i] - mu[k]) p[k])^2) / 2 */
static void gmmx_f32_uni_logprob(const float *GMMX_RESTRICT x, Py_ssize_t n,
                                             Py_ssize_t K, const double *cst, const double *mu,
                                             const double *p, float *GMMX_RESTRICT lp)
{
    Py_ssize_t i, k;
    for (k = 0; k < K; k++) {
        float hi, lo;
        const float pk = (float)p[k], c = (float)cst[k];
        float *GMMX_RESTRICT row = lp + k * n;
        gmmx_f32_split(mu[k], &hi, &lo);
        for (i = 0; i < n; i++) {
            float z = ((x[i] - hi) - lo) * pk;
            row[i] = c - 0.5f * (z * z);
        }
    }
}

/* sum_i log ssum[i] in double for row sums ssum[i] in [1, K]: the logs are
 * taken of products of 32 consecutive row sums (eight lanes folded in a fixed
 * order), then of the tail rows one by one.  dscr: n doubles of scratch. */
static double gmmx_f32_sum_log(const float *GMMX_RESTRICT ssum, Py_ssize_t n,
                                           double *GMMX_RESTRICT dscr)
{
    Py_ssize_t i, nb = 0, start;
    for (start = 0; start + 32 <= n; start += 32, nb++) {
#ifdef GMMX_F32_VECEXT
        gmmx_v8 p = gmmx_v8_mul(gmmx_v8_widen(ssum + start), gmmx_v8_widen(ssum + start + 8));
        p = gmmx_v8_mul(p, gmmx_v8_widen(ssum + start + 16));
        p = gmmx_v8_mul(p, gmmx_v8_widen(ssum + start + 24));
#else
        double p[8];
        int j;
        for (j = 0; j < 8; j++)
            p[j] = (((double)ssum[start + j] * (double)ssum[start + 8 + j]) *
                    (double)ssum[start + 16 + j]) * (double)ssum[start + 24 + j];
#endif
        dscr[nb] = ((GMMX_LANE(p, 0) * GMMX_LANE(p, 4)) * (GMMX_LANE(p, 2) * GMMX_LANE(p, 6))) *
                   ((GMMX_LANE(p, 1) * GMMX_LANE(p, 5)) * (GMMX_LANE(p, 3) * GMMX_LANE(p, 7)));
    }
    for (i = start; i < n; i++) dscr[nb + (i - start)] = (double)ssum[i];
    nb += n - start;
    for (i = 0; i < nb; i++) dscr[i] = gmmx_log1(dscr[i]);
    return gmmx_sum(dscr, nb);
}

/* sum_i sw[i] (log ssum[i] + mx[i]) in double, a log per row.  dscr: n
 * doubles of scratch. */
static double gmmx_f32_weighted_ll(const float *GMMX_RESTRICT mx,
                                               const float *GMMX_RESTRICT ssum,
                                               const double *GMMX_RESTRICT sw, Py_ssize_t n,
                                               double *GMMX_RESTRICT dscr)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++) dscr[i] = gmmx_log1((double)ssum[i]) + (double)mx[i];
    return gmmx_dot(sw, dscr, n);
}

/* One row of the two-component log-sum-exp, from log-densities a and b: one
 * exp and one division, r = (1, e) / (1 + e) with e = exp(-|a - b|) flushed
 * below GMMX_F32_FLUSH; *mx = max(a, b), *ssum = 1 + e. */
GMMX_INLINE void gmmx_f32_resp2_row(float a, float b, float *r0, float *r1, float *mx,
                                    float *ssum)
{
    int first = a > b;
    float e = gmmx_f32_exp1(first ? b - a : a - b), s, q;
    e = e < GMMX_F32_FLUSH ? 0.0f : e;
    *mx = first ? a : b;
    s = 1.0f + e;
    *ssum = s;
    q = 1.0f / s;
    *r0 = first ? q : e * q;
    *r1 = first ? e * q : q;
}

/* The float32 log-sum-exp of log-densities lp (K rows of n, float32): lp
 * becomes the responsibilities r_ik = e_ik / sum_k e_ik in float32, with
 * e_ik = exp(lp_ik - max_k lp_ik) flushed to 0 below GMMX_F32_FLUSH (a kept
 * r_ik >= 1e-37 / K is normal for K <= 8; smaller ones only lose digits that
 * no sum sees).  Returns ll = sum_i w_i log sum_k exp(lp_ik) in double (sw
 * NULL: unit weights); the logs are taken in double of products of 32 row
 * sums (unit weights) or of each row (weights).  mx, ssum (n floats) and
 * dscr (n doubles) are scratch. */
static double gmmx_f32_logsumexp(float *GMMX_RESTRICT lp, Py_ssize_t n, Py_ssize_t K,
                                             const double *GMMX_RESTRICT sw,
                                             float *GMMX_RESTRICT mx, float *GMMX_RESTRICT ssum,
                                             double *GMMX_RESTRICT dscr)
{
    Py_ssize_t i, k;
    double ll;
    if (K == 2) {
        float *GMMX_RESTRICT l0 = lp, *GMMX_RESTRICT l1 = lp + n;
        for (i = 0; i < n; i++)
            gmmx_f32_resp2_row(l0[i], l1[i], l0 + i, l1 + i, mx + i, ssum + i);
    } else {
        for (i = 0; i < n; i++) mx[i] = lp[i];
        for (k = 1; k < K; k++) {
            const float *GMMX_RESTRICT row = lp + k * n;
            for (i = 0; i < n; i++) mx[i] = row[i] > mx[i] ? row[i] : mx[i];
        }
        for (k = 0; k < K; k++) {
            float *GMMX_RESTRICT row = lp + k * n;
            for (i = 0; i < n; i++) {
                float e = gmmx_f32_exp1(row[i] - mx[i]);
                row[i] = e < GMMX_F32_FLUSH ? 0.0f : e;
            }
        }
        for (i = 0; i < n; i++) ssum[i] = lp[i];
        for (k = 1; k < K; k++) {
            const float *GMMX_RESTRICT row = lp + k * n;
            for (i = 0; i < n; i++) ssum[i] = ssum[i] + row[i];
        }
        /* dscr as float scratch for 1 / ssum */
        float *GMMX_RESTRICT q = (float *)dscr;
        for (i = 0; i < n; i++) q[i] = 1.0f / ssum[i];
        for (k = 0; k < K; k++) {
            float *GMMX_RESTRICT row = lp + k * n;
            for (i = 0; i < n; i++) row[i] = row[i] * q[i];
        }
    }
    if (sw != NULL) return gmmx_f32_weighted_ll(mx, ssum, sw, n, dscr);
    ll = gmmx_f32_sum(mx, n);
    return ll + gmmx_f32_sum_log(ssum, n, dscr);
}

#ifdef GMMX_F32_VECEXT
/* one statistics lane group: s0 += r, s1 += r (x - c), s2 += r (x - c)^2 */
GMMX_INLINE void gmmx_f32_stats_lanes(gmmx_v8 xv, gmmx_v8 rv, double c, gmmx_v8 *s0,
                                      gmmx_v8 *s1, gmmx_v8 *s2)
{
    gmmx_v8 dv = gmmx_v8_subs(xv, c), rdv = gmmx_v8_mul(rv, dv);
    *s0 = gmmx_v8_add(*s0, rv);
    *s1 = gmmx_v8_add(*s1, rdv);
    *s2 = gmmx_v8_add(*s2, gmmx_v8_mul(rdv, dv));
}
#endif

/* Univariate statistics of one component over a chunk of float32 rows x,
 * centred at c, from float32 responsibilities r times the sample weights sw
 * (NULL: unit weights), every term widened to double: as gmmx_uni_stats,
 * same sixteen lanes and fold,
 *   out[0] += sum r,  out[1] += sum r (x - c),  out[2] += sum r (x - c)^2 */
static void gmmx_f32_uni_stats(const float *GMMX_RESTRICT x,
                                           const float *GMMX_RESTRICT r,
                                           const double *GMMX_RESTRICT sw, double c,
                                           Py_ssize_t n, double *GMMX_RESTRICT out)
{
    Py_ssize_t i = 0;
    double t0 = 0.0, t1 = 0.0, t2 = 0.0, d, ri, rd;
#ifdef GMMX_F32_VECEXT
    gmmx_v8 a0 = {0}, a1 = {0}, a2 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, xv, rv, wv;
    if (sw != NULL) {
        for (; i + 16 <= n; i += 16) {
            GMMX_F32_WIDEN8(xv, x + i); GMMX_F32_WIDEN8(rv, r + i); GMMX_LOAD8(wv, sw + i);
            rv = gmmx_v8_mul(rv, wv);
            gmmx_f32_stats_lanes(xv, rv, c, &a0, &a1, &a2);
            GMMX_F32_WIDEN8(xv, x + i + 8); GMMX_F32_WIDEN8(rv, r + i + 8);
            GMMX_LOAD8(wv, sw + i + 8);
            rv = gmmx_v8_mul(rv, wv);
            gmmx_f32_stats_lanes(xv, rv, c, &b0, &b1, &b2);
        }
    } else {
        for (; i + 16 <= n; i += 16) {
            GMMX_F32_WIDEN8(xv, x + i); GMMX_F32_WIDEN8(rv, r + i);
            gmmx_f32_stats_lanes(xv, rv, c, &a0, &a1, &a2);
            GMMX_F32_WIDEN8(xv, x + i + 8); GMMX_F32_WIDEN8(rv, r + i + 8);
            gmmx_f32_stats_lanes(xv, rv, c, &b0, &b1, &b2);
        }
    }
#else
    double a0[8] = {0}, a1[8] = {0}, a2[8] = {0}, b0[8] = {0}, b1[8] = {0}, b2[8] = {0};
    int j;
    for (; i + 16 <= n; i += 16)
        for (j = 0; j < 8; j++) {
            ri = sw != NULL ? (double)r[i + j] * sw[i + j] : (double)r[i + j];
            d = (double)x[i + j] - c; rd = ri * d;
            a0[j] += ri; a1[j] += rd; a2[j] += rd * d;
            ri = sw != NULL ? (double)r[i + 8 + j] * sw[i + 8 + j] : (double)r[i + 8 + j];
            d = (double)x[i + 8 + j] - c; rd = ri * d;
            b0[j] += ri; b1[j] += rd; b2[j] += rd * d;
        }
#endif
    for (; i < n; i++) {
        ri = sw != NULL ? (double)r[i] * sw[i] : (double)r[i];
        d = (double)x[i] - c;
        rd = ri * d;
        t0 += ri;
        t1 += rd;
        t2 += rd * d;
    }
    out[0] += (GMMX_FOLD16(a0, b0)) + t0;
    out[1] += (GMMX_FOLD16(a1, b1)) + t1;
    out[2] += (GMMX_FOLD16(a2, b2)) + t2;
}

/* ---- float32 lanes, two components fused (K == 2, the calm / turbulent
 * regime model on one feature: the case the float32 path exists for).
 * The separate functions above make five passes over a chunk: log-densities
 * (writing lp), log-sum-exp (reading lp, writing the responsibilities), a sum
 * of mx, and one statistics pass per component (each widening x again).
 * Their arithmetic is cheap next to the loads, stores and widenings, so here
 * the log-densities are computed in registers inside the log-sum-exp loop,
 * and both components' statistics and the sum of mx come from one pass that
 * widens each x once.  Every value goes through the same float32 and double
 * operations, in the same lanes and order, as in the separate functions, so
 * the results are the same bits (tests/kernels/test_float32_lanes.py). */

/* Responsibilities r0, r1 (float32, n each) of two univariate components,
 * with mx and ssum as gmmx_f32_logsumexp leaves them: gmmx_f32_uni_logprob
 * for K == 2 and the K == 2 log-sum-exp in one loop.
 * A row is one chain of ~50 dependent operations (exp, then a division), too
 * long for the out-of-order window to overlap enough rows of a plain loop:
 * each iteration takes a row from each half of the chunk, and the vectorised
 * loop then interleaves two independent chains (measured 0.73 -> 0.56 ns per
 * row on one AVX-512 core).  Each row's operations are unchanged. */
static void gmmx_f32_uni_resp2(const float *GMMX_RESTRICT x, Py_ssize_t n,
                                           const double *cst, const double *mu,
                                           const double *p, float *GMMX_RESTRICT r0,
                                           float *GMMX_RESTRICT r1, float *GMMX_RESTRICT mx,
                                           float *GMMX_RESTRICT ssum)
{
    Py_ssize_t i, j, h = n / 2;
    float hi0, lo0, hi1, lo1;
    const float p0 = (float)p[0], c0 = (float)cst[0], p1 = (float)p[1], c1 = (float)cst[1];
    gmmx_f32_split(mu[0], &hi0, &lo0);
    gmmx_f32_split(mu[1], &hi1, &lo1);
    for (i = 0; i < h; i++) {
        float zi0 = ((x[i] - hi0) - lo0) * p0, zi1 = ((x[i] - hi1) - lo1) * p1;
        float zj0, zj1;
        j = i + h;
        zj0 = ((x[j] - hi0) - lo0) * p0;
        zj1 = ((x[j] - hi1) - lo1) * p1;
        gmmx_f32_resp2_row(c0 - 0.5f * (zi0 * zi0), c1 - 0.5f * (zi1 * zi1), r0 + i, r1 + i,
                           mx + i, ssum + i);
        gmmx_f32_resp2_row(c0 - 0.5f * (zj0 * zj0), c1 - 0.5f * (zj1 * zj1), r0 + j, r1 + j,
                           mx + j, ssum + j);
    }
    for (i = 2 * h; i < n; i++) {  /* the last row of an odd n */
        float z0 = ((x[i] - hi0) - lo0) * p0, z1 = ((x[i] - hi1) - lo1) * p1;
        gmmx_f32_resp2_row(c0 - 0.5f * (z0 * z0), c1 - 0.5f * (z1 * z1), r0 + i, r1 + i,
                           mx + i, ssum + i);
    }
}

#if defined(GMMX_F32_VECEXT) && GMMX_VN == 1

/* The body of gmmx_f32_uni_stats2, specialised by the constant `weighted`. */
GMMX_INLINE double gmmx_f32_uni_stats2_body(const float *GMMX_RESTRICT x,
                                            const float *GMMX_RESTRICT r0,
                                            const float *GMMX_RESTRICT r1,
                                            const double *GMMX_RESTRICT sw, double c0,
                                            double c1, const float *GMMX_RESTRICT mx,
                                            Py_ssize_t n, double *GMMX_RESTRICT out,
                                            const int weighted)
{
    Py_ssize_t i = 0;
    double t[6] = {0}, tm = 0.0;
    gmmx_v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, a4 = {0}, a5 = {0}, am = {0};
    gmmx_v8 b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0}, b4 = {0}, b5 = {0}, bm = {0};
    gmmx_v8 xv, u, v, wv, mv;
    for (; i + 16 <= n; i += 16) {
        GMMX_F32_WIDEN8(xv, x + i); GMMX_F32_WIDEN8(u, r0 + i); GMMX_F32_WIDEN8(v, r1 + i);
        if (weighted) { GMMX_LOAD8(wv, sw + i); u = gmmx_v8_mul(u, wv); v = gmmx_v8_mul(v, wv); }
        gmmx_f32_stats_lanes(xv, u, c0, &a0, &a1, &a2);
        gmmx_f32_stats_lanes(xv, v, c1, &a3, &a4, &a5);
        GMMX_F32_WIDEN8(mv, mx + i); GMMX_V8_ACC(am, mv);
        GMMX_F32_WIDEN8(xv, x + i + 8); GMMX_F32_WIDEN8(u, r0 + i + 8);
        GMMX_F32_WIDEN8(v, r1 + i + 8);
        if (weighted) { GMMX_LOAD8(wv, sw + i + 8); u = gmmx_v8_mul(u, wv); v = gmmx_v8_mul(v, wv); }
        gmmx_f32_stats_lanes(xv, u, c0, &b0, &b1, &b2);
        gmmx_f32_stats_lanes(xv, v, c1, &b3, &b4, &b5);
        GMMX_F32_WIDEN8(mv, mx + i + 8); GMMX_V8_ACC(bm, mv);
    }
    for (; i < n; i++) {
        double xi = (double)x[i], ri, d, rd;
        ri = weighted ? (double)r0[i] * sw[i] : (double)r0[i];
        d = xi - c0; rd = ri * d;
        t[0] += ri; t[1] += rd; t[2] += rd * d;
        ri = weighted ? (double)r1[i] * sw[i] : (double)r1[i];
        d = xi - c1; rd = ri * d;
        t[3] += ri; t[4] += rd; t[5] += rd * d;
        tm += (double)mx[i];
    }
    out[0] += (GMMX_FOLD16(a0, b0)) + t[0];
    out[1] += (GMMX_FOLD16(a1, b1)) + t[1];
    out[2] += (GMMX_FOLD16(a2, b2)) + t[2];
    out[3] += (GMMX_FOLD16(a3, b3)) + t[3];
    out[4] += (GMMX_FOLD16(a4, b4)) + t[4];
    out[5] += (GMMX_FOLD16(a5, b5)) + t[5];
    return (GMMX_FOLD16(am, bm)) + tm;
}
#endif

/* Statistics of two univariate components in one pass over x: what
 * gmmx_f32_uni_stats(x, r0, sw, c0, n, out) and
 * gmmx_f32_uni_stats(x, r1, sw, c1, n, out + 3) add to out (6), and returns
 * gmmx_f32_sum(mx, n). */
static double gmmx_f32_uni_stats2(const float *GMMX_RESTRICT x,
                                              const float *GMMX_RESTRICT r0,
                                              const float *GMMX_RESTRICT r1,
                                              const double *GMMX_RESTRICT sw, double c0,
                                              double c1, const float *GMMX_RESTRICT mx,
                                              Py_ssize_t n, double *GMMX_RESTRICT out)
{
#if defined(GMMX_F32_VECEXT) && GMMX_VN == 1
    /* its 14 eight-lane accumulators fit 32 registers of 512 bits only;
       narrower targets make the three passes (same bits) */
    if (sw != NULL) return gmmx_f32_uni_stats2_body(x, r0, r1, sw, c0, c1, mx, n, out, 1);
    return gmmx_f32_uni_stats2_body(x, r0, r1, sw, c0, c1, mx, n, out, 0);
#else
    gmmx_f32_uni_stats(x, r0, sw, c0, n, out);
    gmmx_f32_uni_stats(x, r1, sw, c1, n, out + 3);
    return gmmx_f32_sum(mx, n);
#endif
}

/* ---- full / tied kernel: features split in column blocks ----------------
 * Blocks b = 0..nb-1 cover features jb[b] <= j < jb[b+1] (jb[0] = 0,
 * jb[nb] = d). Upper-triangular factors and the upper triangle of the scatter
 * are zero / redundant below a block's end e_b = jb[b+1], so each block works
 * on features 0..e_b only. Column (b, k, jj) of a blocked (n, K*d) array sits
 * at K*jb[b] + k*(jb[b+1] - jb[b]) + jj. */

/* W (n, K*d), blocked columns: W[i, (b, k, jj)] = r[k, i] * xc[i, jb[b] + jj],
 * xc with row stride d+1 */
static void gmmx_full_weighted_rows(const double *GMMX_RESTRICT r,
                                                const double *GMMX_RESTRICT xc, Py_ssize_t n,
                                                Py_ssize_t K, Py_ssize_t d,
                                                const Py_ssize_t *jb, Py_ssize_t nb,
                                                double *GMMX_RESTRICT W)
{
    Py_ssize_t i, j, k, b;
    for (i = 0; i < n; i++) {
        const double *GMMX_RESTRICT xr = xc + i * (d + 1);
        double *GMMX_RESTRICT wr = W + i * K * d;
        for (b = 0; b < nb; b++) {
            const Py_ssize_t j0 = jb[b], bs = jb[b + 1] - jb[b];
            double *GMMX_RESTRICT wb = wr + K * j0;
            for (k = 0; k < K; k++) {
                const double rk = r[k * n + i];
                for (j = 0; j < bs; j++) wb[k * bs + j] = rk * xr[j0 + j];
            }
        }
    }
}

/* row[i] = cst - 1/2 sum_j (Y[(b, p, jj)][i] - shift[j])^2 over j = 0..d-1 in
 * order, Y column-major (n, P*d) with blocked columns; p is the component's
 * precision block (k for full, 0 for tied). */
static void gmmx_full_logprob_row(const double *GMMX_RESTRICT Y, Py_ssize_t n,
                                              Py_ssize_t P, Py_ssize_t p,
                                              const Py_ssize_t *jb, Py_ssize_t nb,
                                              const double *GMMX_RESTRICT shift, double cst,
                                              double *GMMX_RESTRICT row)
{
    Py_ssize_t i, b, j;
    for (i = 0; i < n; i++) row[i] = 0.0;
    for (b = 0; b < nb; b++) {
        const Py_ssize_t j0 = jb[b], bs = jb[b + 1] - jb[b];
        const double *GMMX_RESTRICT yb = Y + n * (P * j0 + p * bs);
        for (j = 0; j < bs; j++) {
            const double *GMMX_RESTRICT col = yb + j * n;
            const double s = shift[j0 + j];
            for (i = 0; i < n; i++) {
                double z = col[i] - s;
                row[i] += z * z;
            }
        }
    }
    for (i = 0; i < n; i++) row[i] = cst - 0.5 * row[i];
}

/* Where the full kernel's own loops (triangular distances, direct scatter)
 * are chosen over BLAS: 2 in the copies built for AVX-512 with vector
 * extensions (distances and scatter, full and tied: their 16 eight-lane
 * accumulators need its 32 vector registers); 1 in the AVX2 copies (12-row
 * distance tiles and 2 x 2 scatter sub-tiles, or the row-major scatter, fit
 * its 16 registers); 0 else.  Tied models take the distances only at small
 * K d (one GEMM serves all their components; measured, see
 * full_tri_distances in _estep.pyx). */
static int gmmx_full_wide_simd(void)
{
#if defined(GMMX_VECEXT) && defined(__AVX512F__)
    return 2;
#elif defined(GMMX_VECEXT) && defined(__AVX2__)
    return 1;
#else
    return 0;
#endif
}

/* xt (GMMX_FULL_PAD(d), n), row stride ld = the first d columns of xc
 * (n, d+1), transposed, then rows of zeros */
static void gmmx_full_transpose(const double *GMMX_RESTRICT xc, Py_ssize_t n,
                                            Py_ssize_t d, Py_ssize_t ld,
                                            double *GMMX_RESTRICT xt)
{
    Py_ssize_t i, j;
    for (j = 0; j < d; j++)
        for (i = 0; i < n; i++) xt[j * ld + i] = xc[i * (d + 1) + j];
    for (j = d; j < GMMX_FULL_PAD(d); j++)
        for (i = 0; i < n; i++) xt[j * ld + i] = 0.0;
}

/* xt (GMMX_FULL_PAD(d), n), row stride ld = (X - ref)^T for a chunk of
 * float64 / float32 rows, then rows of zeros: gmmx_center_* and
 * gmmx_full_transpose in one pass (the same values), eight rows at a time */
#define GMMX_DEFINE_CENTER_T(NAME, T)                                             \
static void NAME(const T *GMMX_RESTRICT X, const double *GMMX_RESTRICT ref,      \
                 Py_ssize_t n, Py_ssize_t d, Py_ssize_t ld,                       \
                 double *GMMX_RESTRICT xt)                                        \
{                                                                                 \
    Py_ssize_t i = 0, j, l;                                                       \
    for (; i + 8 <= n; i += 8)                                                    \
        for (j = 0; j < d; j++)                                                   \
            for (l = 0; l < 8; l++)                                               \
                xt[j * ld + i + l] = (double)X[(i + l) * d + j] - ref[j];         \
    for (; i < n; i++)                                                            \
        for (j = 0; j < d; j++) xt[j * ld + i] = (double)X[i * d + j] - ref[j];   \
    for (j = d; j < GMMX_FULL_PAD(d); j++)                                        \
        for (i = 0; i < n; i++) xt[j * ld + i] = 0.0;                             \
}
GMMX_DEFINE_CENTER_T(gmmx_full_center_t_f64, double)
GMMX_DEFINE_CENTER_T(gmmx_full_center_t_f32, float)

/* rx[j, i] = r[i] * xt[j, i] for the m rows of xt (row stride ld, both) */
static void gmmx_full_scale_rows(const double *GMMX_RESTRICT r,
                                             const double *GMMX_RESTRICT xt, Py_ssize_t n,
                                             Py_ssize_t m, Py_ssize_t ld,
                                             double *GMMX_RESTRICT rx)
{
    Py_ssize_t i, j;
    for (j = 0; j < m; j++)
        for (i = 0; i < n; i++) rx[j * ld + i] = r[i] * xt[j * ld + i];
}

#define GMMX_FOLD8(a) (((GMMX_LANE(a, 0) + GMMX_LANE(a, 4)) + (GMMX_LANE(a, 2) + GMMX_LANE(a, 6))) + \
                       ((GMMX_LANE(a, 1) + GMMX_LANE(a, 5)) + (GMMX_LANE(a, 3) + GMMX_LANE(a, 7))))

/* One component's scatter about ref, upper triangle only, added to G
 * (column-major, leading dimension ldg):
 *   G[l*ldg + j] += sum_i rx[j, i] xt[l, i]   for j <= l < d,
 *   G[d*ldg + j] += sum_i rx[j, i].
 * xt and rx are (GMMX_FULL_PAD(d), n), row stride ld, with zero padding rows. Tiles of 4 x 4
 * pairs; every sum runs over eight fixed lanes of rows folded in a fixed
 * order, then the tail rows in order. */
static void gmmx_full_scatter_upper(const double *GMMX_RESTRICT xt,
                                                const double *GMMX_RESTRICT rx, Py_ssize_t n,
                                                Py_ssize_t d, Py_ssize_t ld,
                                                double *GMMX_RESTRICT G,
                                                Py_ssize_t ldg)
{
    const Py_ssize_t dp = GMMX_FULL_PAD(d);
    Py_ssize_t jt, lt, i, q, t;
    for (jt = 0; jt < dp; jt += 4) {
        for (lt = jt; lt < dp; lt += 4) {
            double out[4][4];
            const double *GMMX_RESTRICT r0 = rx + jt * ld, *GMMX_RESTRICT r1 = r0 + ld;
            const double *GMMX_RESTRICT r2 = r1 + ld, *GMMX_RESTRICT r3 = r2 + ld;
            const double *GMMX_RESTRICT x0 = xt + lt * ld, *GMMX_RESTRICT x1 = x0 + ld;
            const double *GMMX_RESTRICT x2 = x1 + ld, *GMMX_RESTRICT x3 = x2 + ld;
            i = 0;
#if defined(GMMX_VECEXT) && GMMX_VN > 1
            /* 2 x 2 sub-tiles: four accumulators of 8 lanes fill half of the
               16 registers of AVX2 (the 4 x 4 tile's sixteen would spill);
               each output's sum is the same */
            {
                const double *rr[4] = {r0, r1, r2, r3}, *xx[4] = {x0, x1, x2, x3};
                Py_ssize_t qq, tt;
                for (qq = 0; qq < 4; qq += 2)
                    for (tt = 0; tt < 4; tt += 2) {
                        gmmx_v8 c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, p0, p1, w0, w1;
                        if (jt == lt && qq > tt) continue;  /* below the diagonal: never read */
                        const double *GMMX_RESTRICT ra = rr[qq], *GMMX_RESTRICT rb = rr[qq + 1];
                        const double *GMMX_RESTRICT xa = xx[tt], *GMMX_RESTRICT xb = xx[tt + 1];
                        for (i = 0; i + 8 <= n; i += 8) {
                            GMMX_LOAD8(p0, ra + i); GMMX_LOAD8(p1, rb + i);
                            GMMX_LOAD8(w0, xa + i); GMMX_LOAD8(w1, xb + i);
                            GMMX_V8_MAC(c00, p0, w0);
                            GMMX_V8_MAC(c01, p0, w1);
                            GMMX_V8_MAC(c10, p1, w0);
                            GMMX_V8_MAC(c11, p1, w1);
                        }
                        out[qq][tt] = GMMX_FOLD8(c00); out[qq][tt + 1] = GMMX_FOLD8(c01);
                        out[qq + 1][tt] = GMMX_FOLD8(c10); out[qq + 1][tt + 1] = GMMX_FOLD8(c11);
                    }
            }
#elif defined(GMMX_VECEXT)
            {
                gmmx_v8 a00 = {0}, a01 = {0}, a02 = {0}, a03 = {0};
                gmmx_v8 a10 = {0}, a11 = {0}, a12 = {0}, a13 = {0};
                gmmx_v8 a20 = {0}, a21 = {0}, a22 = {0}, a23 = {0};
                gmmx_v8 a30 = {0}, a31 = {0}, a32 = {0}, a33 = {0};
                gmmx_v8 u0, u1, u2, u3, v0, v1, v2, v3;
                for (; i + 8 <= n; i += 8) {
                    GMMX_LOAD8(u0, r0 + i); GMMX_LOAD8(u1, r1 + i);
                    GMMX_LOAD8(u2, r2 + i); GMMX_LOAD8(u3, r3 + i);
                    GMMX_LOAD8(v0, x0 + i); GMMX_LOAD8(v1, x1 + i);
                    GMMX_LOAD8(v2, x2 + i); GMMX_LOAD8(v3, x3 + i);
#define GMMX_MAC(acc, x, y) GMMX_V8_MAC(acc, x, y)
                    GMMX_MAC(a00, u0, v0); GMMX_MAC(a01, u0, v1);
                    GMMX_MAC(a02, u0, v2); GMMX_MAC(a03, u0, v3);
                    GMMX_MAC(a10, u1, v0); GMMX_MAC(a11, u1, v1);
                    GMMX_MAC(a12, u1, v2); GMMX_MAC(a13, u1, v3);
                    GMMX_MAC(a20, u2, v0); GMMX_MAC(a21, u2, v1);
                    GMMX_MAC(a22, u2, v2); GMMX_MAC(a23, u2, v3);
                    GMMX_MAC(a30, u3, v0); GMMX_MAC(a31, u3, v1);
                    GMMX_MAC(a32, u3, v2); GMMX_MAC(a33, u3, v3);
#undef GMMX_MAC
                }
                out[0][0] = GMMX_FOLD8(a00); out[0][1] = GMMX_FOLD8(a01);
                out[0][2] = GMMX_FOLD8(a02); out[0][3] = GMMX_FOLD8(a03);
                out[1][0] = GMMX_FOLD8(a10); out[1][1] = GMMX_FOLD8(a11);
                out[1][2] = GMMX_FOLD8(a12); out[1][3] = GMMX_FOLD8(a13);
                out[2][0] = GMMX_FOLD8(a20); out[2][1] = GMMX_FOLD8(a21);
                out[2][2] = GMMX_FOLD8(a22); out[2][3] = GMMX_FOLD8(a23);
                out[3][0] = GMMX_FOLD8(a30); out[3][1] = GMMX_FOLD8(a31);
                out[3][2] = GMMX_FOLD8(a32); out[3][3] = GMMX_FOLD8(a33);
            }
#else
            {
                double a[4][4][8];
                const double *rr[4] = {r0, r1, r2, r3}, *xx[4] = {x0, x1, x2, x3};
                Py_ssize_t c;
                memset(a, 0, sizeof(a));
                for (; i + 8 <= n; i += 8)
                    for (q = 0; q < 4; q++)
                        for (t = 0; t < 4; t++)
                            for (c = 0; c < 8; c++) a[q][t][c] += rr[q][i + c] * xx[t][i + c];
                for (q = 0; q < 4; q++)
                    for (t = 0; t < 4; t++) out[q][t] = GMMX_FOLD8(a[q][t]);
            }
#endif
            {
                const double *rr[4] = {r0, r1, r2, r3}, *xx[4] = {x0, x1, x2, x3};
                Py_ssize_t i0 = i;
                for (q = 0; q < 4; q++) {
                    for (t = 0; t < 4; t++) {
                        double tail = 0.0;
                        for (i = i0; i < n; i++) tail += rr[q][i] * xx[t][i];
                        if (jt + q < d && lt + t < d && jt + q <= lt + t)
                            G[(lt + t) * ldg + jt + q] += out[q][t] + tail;
                    }
                }
            }
        }
    }
    for (q = 0; q < d; q++) G[d * ldg + q] += gmmx_sum(rx + q * ld, n);
}

/* ---- full / tied scatter from row-major rows (gmmx_full_scatter_rows) ------
 * xr (n, GMMX_FULL_RLD(d)) = [x_i - ref | 0 ...] row-major; lp (K, n) the
 * weighted responsibilities. For every component k, j <= l < d:
 *   G[l*ldg + k*d + j] += sum_i lp[k, i] xr[i, j] xr[i, l]
 *   G[d*ldg + k*d + j] += sum_i lp[k, i] xr[i, j]
 * Every output is one running sum over the rows in order (w = lp[k,i] xr[i,j]
 * rounded, then acc + w xr[i,l], fused where the copy has FMA, or acc + w),
 * started from 0 for the chunk and added to G at the end: the same bits
 * whatever the rows' blocking or the vector tile, and no fold of lanes.
 * The AVX2 copy tiles 4 j (broadcast) x up to 12 l (three vectors) over
 * blocks of GMMX_FULL_RIB rows scaled once per component in L1 (measured on a
 * Zen 3: 1.7-2x the transposed sub-tiles plus their scaling pass, d = 16..50);
 * the other copies run the plain loops (gmmx_full_row_scatter() says 0 there,
 * and the E-step keeps gmmx_full_scatter_upper). */

#define GMMX_DEFINE_CENTER_R(NAME, T)                                             \
static void NAME(const T *GMMX_RESTRICT X, const double *GMMX_RESTRICT ref,      \
                 Py_ssize_t n, Py_ssize_t d, double *GMMX_RESTRICT xr)            \
{                                                                                 \
    const Py_ssize_t rld = GMMX_FULL_RLD(d);                                      \
    Py_ssize_t i, j;                                                              \
    for (i = 0; i < n; i++) {                                                     \
        double *GMMX_RESTRICT r = xr + i * rld;                                   \
        for (j = 0; j < d; j++) r[j] = (double)X[i * d + j] - ref[j];             \
        for (j = d; j < rld; j++) r[j] = 0.0;                                     \
    }                                                                             \
}
GMMX_DEFINE_CENTER_R(gmmx_full_center_r_f64, double)
GMMX_DEFINE_CENTER_R(gmmx_full_center_r_f32, float)

#if defined(__AVX2__) && defined(__FMA__) && !defined(__AVX512F__) && \
    (defined(__GNUC__) || defined(__clang__))
#define GMMX_FULL_AVX2 1
#include <immintrin.h>
#endif

/* The least d from which gmmx_full_scatter_rows is the faster scatter on this
 * copy, 0 where it never is. AVX2 (Zen 3, one thread, per 200k rows, with its
 * centring pass, against gmmx_full_scatter_upper and its scaling pass):
 * d = 4 5.9 vs 2.0 ms, 6 6.7 vs 5.6, 8 5.8 vs 5.8, 10 8.6 vs 11.5,
 * 16 20.6 vs 35.5. */
static int gmmx_full_row_scatter(void)
{
#ifdef GMMX_FULL_AVX2
    return 9;
#else
    return 0;
#endif
}

#ifdef GMMX_FULL_AVX2
#define GMMX_RS_LD(c, q, v) __m256d c##q##v = _mm256_load_pd(S + (q) * rld + 4 * (v))
#define GMMX_RS_ST(c, q, v) _mm256_store_pd(S + (q) * rld + 4 * (v), c##q##v)
#define GMMX_RS_FMA(c, q, v) c##q##v = _mm256_fmadd_pd(b, x##v, c##q##v)
/* S[q*rld + l0 + 4v + e] += sum_{i0<=i<i1} rx[i, j0+q] xr[i, l0+4v+e], NV vectors */
#define GMMX_RS_TILE(NV, FOR)                                                        \
static inline __attribute__((always_inline)) void gmmx_rs_tile##NV(                  \
    const double *GMMX_RESTRICT rx, const double *GMMX_RESTRICT xr, Py_ssize_t rld,   \
    Py_ssize_t m, Py_ssize_t j0, Py_ssize_t l0, double *GMMX_RESTRICT S)              \
{                                                                                    \
    Py_ssize_t i;                                                                    \
    FOR(GMMX_RS_LD)                                                                  \
    for (i = 0; i < m; i++) {                                                        \
        const double *GMMX_RESTRICT x = xr + i * rld + l0, *GMMX_RESTRICT w = rx + i * rld + j0; \
        __m256d b, x0 = _mm256_loadu_pd(x), x1 = x0, x2 = x0;                        \
        if (NV > 1) x1 = _mm256_loadu_pd(x + 4);                                     \
        if (NV > 2) x2 = _mm256_loadu_pd(x + 8);                                     \
        (void)x1; (void)x2;                                                          \
        b = _mm256_broadcast_sd(w); GMMX_RS_Q(NV, 0)                                 \
        b = _mm256_broadcast_sd(w + 1); GMMX_RS_Q(NV, 1)                             \
        b = _mm256_broadcast_sd(w + 2); GMMX_RS_Q(NV, 2)                             \
        b = _mm256_broadcast_sd(w + 3); GMMX_RS_Q(NV, 3)                             \
    }                                                                                \
    FOR(GMMX_RS_ST)                                                                  \
}
#define GMMX_RS_Q(NV, q) GMMX_RS_Q##NV(q)
#define GMMX_RS_Q1(q) GMMX_RS_FMA(c, q, 0);
#define GMMX_RS_Q2(q) GMMX_RS_FMA(c, q, 0); GMMX_RS_FMA(c, q, 1);
#define GMMX_RS_Q3(q) GMMX_RS_FMA(c, q, 0); GMMX_RS_FMA(c, q, 1); GMMX_RS_FMA(c, q, 2);
#define GMMX_RS_FOR1(M) M(c, 0, 0); M(c, 1, 0); M(c, 2, 0); M(c, 3, 0);
#define GMMX_RS_FOR2(M) GMMX_RS_FOR1(M) M(c, 0, 1); M(c, 1, 1); M(c, 2, 1); M(c, 3, 1);
#define GMMX_RS_FOR3(M) GMMX_RS_FOR2(M) M(c, 0, 2); M(c, 1, 2); M(c, 2, 2); M(c, 3, 2);
GMMX_RS_TILE(1, GMMX_RS_FOR1)
GMMX_RS_TILE(2, GMMX_RS_FOR2)
GMMX_RS_TILE(3, GMMX_RS_FOR3)
#endif

/* The scatter above for a chunk of n rows. scr: GMMX_FULL_RSCR(d, K) doubles;
 * xr is best 32-byte aligned. */
static void gmmx_full_scatter_rows(const double *GMMX_RESTRICT xr, Py_ssize_t n, Py_ssize_t d,
                                   const double *GMMX_RESTRICT lp, Py_ssize_t K,
                                   double *GMMX_RESTRICT scr, double *GMMX_RESTRICT G,
                                   Py_ssize_t ldg)
{
    const Py_ssize_t rld = GMMX_FULL_RLD(d), nj = rld / 4;
    /* S[k][j][l] (rld x rld per component), the sums M[k][j], then the
       scaled rows of a block */
    double *GMMX_RESTRICT S = (double *)(((size_t)scr + 31) & ~(size_t)31);
    double *GMMX_RESTRICT M = S + K * rld * rld;
    double *GMMX_RESTRICT rx = M + K * rld;
    Py_ssize_t i0, i, k, jb, j, l, c;
    memset(S, 0, sizeof(double) * (K * rld * rld + K * rld));
    for (i0 = 0; i0 < n; i0 += GMMX_FULL_RIB) {
        const Py_ssize_t m = n - i0 < GMMX_FULL_RIB ? n - i0 : GMMX_FULL_RIB;
        const double *GMMX_RESTRICT xb = xr + i0 * rld;
        for (k = 0; k < K; k++) {
            const double *GMMX_RESTRICT r = lp + k * n + i0;
            double *GMMX_RESTRICT Sk = S + k * rld * rld, *GMMX_RESTRICT Mk = M + k * rld;
            for (i = 0; i < m; i++)
                for (l = 0; l < rld; l++) {
                    const double v = r[i] * xb[i * rld + l];
                    rx[i * rld + l] = v;
                    Mk[l] += v;
                }
#ifdef GMMX_FULL_AVX2
            for (jb = 0; 4 * jb < d; jb++) {
                /* vectors of l from 4 jb to rld, in nc balanced tiles of <= 3 */
                const Py_ssize_t nv = nj - jb, nc = (nv + 2) / 3;
                Py_ssize_t v0 = jb;
                for (c = 0; c < nc; c++) {
                    const Py_ssize_t w = (nj - v0) / (nc - c);
                    double *St = Sk + 4 * jb * rld + 4 * v0;
                    if (w == 3)
                        gmmx_rs_tile3(rx, xb, rld, m, 4 * jb, 4 * v0, St);
                    else if (w == 2)
                        gmmx_rs_tile2(rx, xb, rld, m, 4 * jb, 4 * v0, St);
                    else
                        gmmx_rs_tile1(rx, xb, rld, m, 4 * jb, 4 * v0, St);
                    v0 += w;
                }
            }
#else
            for (j = 0; j < d; j++)
                for (l = j; l < d; l++) {
                    double acc = Sk[j * rld + l];
                    for (i = 0; i < m; i++) acc = GMMX_FMA1(rx[i * rld + j], xb[i * rld + l], acc);
                    Sk[j * rld + l] = acc;
                }
#endif
        }
    }
    for (k = 0; k < K; k++)
        for (j = 0; j < d; j++) {
            for (l = j; l < d; l++) G[l * ldg + k * d + j] += S[(k * rld + j) * rld + l];
            G[d * ldg + k * d + j] += M[k * rld + j];
        }
    (void)jb; (void)c; (void)nj;
}

/* Log-densities of one component straight from its upper-triangular factor U
 * (row stride ldu), xt (d, n) with row stride ld: row[i] = cst - 1/2 sum_j (sum_{l<=j} xt[l, i] U[l, j] - shift[j])^2.
 * Each row's sums run in the same order (l, then j ascending) and with the same
 * roundings (fused where the copy has FMA) in the vector and the scalar code,
 * so a row's value does not depend on its position.
 * Entries below U's diagonal must be zero (they are read in groups of 4). */
static void gmmx_full_tri_logprob(const double *GMMX_RESTRICT xt, Py_ssize_t n,
                                              Py_ssize_t ld, Py_ssize_t d, const double *GMMX_RESTRICT U,
                                              Py_ssize_t ldu, const double *GMMX_RESTRICT shift,
                                              double cst, double *GMMX_RESTRICT row)
{
    Py_ssize_t i = 0, j, l;
#if defined(GMMX_FULL_AVX2)
    /* 12 rows x 4 columns of y: twelve accumulators in the 16 ymm registers
       (the 8-lane pairs below spill there); 1.6-2x faster on a Zen 3 from
       d = 4 (below, where every column is a tail one, 15% slower), same bits */
    for (; d >= 4 && i + 12 <= n; i += 12) {
        __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, z;
        for (j = 0; j < d; j += 4) {
            const Py_ssize_t lend = j + 4 <= d ? j + 4 : d, jw = j + 4 <= d ? 4 : d - j;
            __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0,
                    b3 = a0, c0 = a0, c1 = a0, c2 = a0, c3 = a0;
            const double *GMMX_RESTRICT x = xt + i, *GMMX_RESTRICT u = U + j;
            if (jw == 4) {
                for (l = 0; l < lend; l++, x += ld, u += ldu) {
                    const __m256d x0 = _mm256_loadu_pd(x), x1 = _mm256_loadu_pd(x + 4),
                                  x2 = _mm256_loadu_pd(x + 8);
                    __m256d w = _mm256_broadcast_sd(u);
                    a0 = _mm256_fmadd_pd(x0, w, a0); b0 = _mm256_fmadd_pd(x1, w, b0);
                    c0 = _mm256_fmadd_pd(x2, w, c0);
                    w = _mm256_broadcast_sd(u + 1);
                    a1 = _mm256_fmadd_pd(x0, w, a1); b1 = _mm256_fmadd_pd(x1, w, b1);
                    c1 = _mm256_fmadd_pd(x2, w, c1);
                    w = _mm256_broadcast_sd(u + 2);
                    a2 = _mm256_fmadd_pd(x0, w, a2); b2 = _mm256_fmadd_pd(x1, w, b2);
                    c2 = _mm256_fmadd_pd(x2, w, c2);
                    w = _mm256_broadcast_sd(u + 3);
                    a3 = _mm256_fmadd_pd(x0, w, a3); b3 = _mm256_fmadd_pd(x1, w, b3);
                    c3 = _mm256_fmadd_pd(x2, w, c3);
                }
            } else {
                /* the last columns when 4 does not divide d: one at a time, l <= j */
                Py_ssize_t q;
                for (q = 0; q < jw; q++) {
                    __m256d e0 = _mm256_setzero_pd(), e1 = e0, e2 = e0;
                    x = xt + i;
                    for (l = 0; l <= j + q; l++, x += ld) {
                        const __m256d w = _mm256_broadcast_sd(U + l * ldu + j + q);
                        e0 = _mm256_fmadd_pd(_mm256_loadu_pd(x), w, e0);
                        e1 = _mm256_fmadd_pd(_mm256_loadu_pd(x + 4), w, e1);
                        e2 = _mm256_fmadd_pd(_mm256_loadu_pd(x + 8), w, e2);
                    }
                    z = _mm256_sub_pd(e0, _mm256_set1_pd(shift[j + q])); s0 = _mm256_fmadd_pd(z, z, s0);
                    z = _mm256_sub_pd(e1, _mm256_set1_pd(shift[j + q])); s1 = _mm256_fmadd_pd(z, z, s1);
                    z = _mm256_sub_pd(e2, _mm256_set1_pd(shift[j + q])); s2 = _mm256_fmadd_pd(z, z, s2);
                }
                break;
            }
#define GMMX_TRI_SQ(s, a, q) (z = _mm256_sub_pd(a, _mm256_set1_pd(shift[j + q])), s = _mm256_fmadd_pd(z, z, s))
            GMMX_TRI_SQ(s0, a0, 0); GMMX_TRI_SQ(s1, b0, 0); GMMX_TRI_SQ(s2, c0, 0);
            GMMX_TRI_SQ(s0, a1, 1); GMMX_TRI_SQ(s1, b1, 1); GMMX_TRI_SQ(s2, c1, 1);
            GMMX_TRI_SQ(s0, a2, 2); GMMX_TRI_SQ(s1, b2, 2); GMMX_TRI_SQ(s2, c2, 2);
            GMMX_TRI_SQ(s0, a3, 3); GMMX_TRI_SQ(s1, b3, 3); GMMX_TRI_SQ(s2, c3, 3);
#undef GMMX_TRI_SQ
        }
        {
            const __m256d half = _mm256_set1_pd(0.5), vc = _mm256_set1_pd(cst);
            _mm256_storeu_pd(row + i, _mm256_sub_pd(vc, _mm256_mul_pd(half, s0)));
            _mm256_storeu_pd(row + i + 4, _mm256_sub_pd(vc, _mm256_mul_pd(half, s1)));
            _mm256_storeu_pd(row + i + 8, _mm256_sub_pd(vc, _mm256_mul_pd(half, s2)));
        }
    }
#endif
#if defined(GMMX_VECEXT)
    for (; i + 16 <= n; i += 16) {
        gmmx_v8 s0 = {0}, s1 = {0}, x0, x1, z;
        for (j = 0; j + 4 <= d; j += 4) {
            gmmx_v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
            gmmx_v8 b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
            for (l = 0; l < j + 4; l++) {
                const double *u = U + l * ldu + j;
                const double u0 = u[0], u1 = u[1], u2 = u[2], u3 = u[3];
                GMMX_LOAD8(x0, xt + l * ld + i);
                GMMX_LOAD8(x1, xt + l * ld + i + 8);
                GMMX_V8_MACS(a0, x0, u0); GMMX_V8_MACS(b0, x1, u0);
                GMMX_V8_MACS(a1, x0, u1); GMMX_V8_MACS(b1, x1, u1);
                GMMX_V8_MACS(a2, x0, u2); GMMX_V8_MACS(b2, x1, u2);
                GMMX_V8_MACS(a3, x0, u3); GMMX_V8_MACS(b3, x1, u3);
            }
#define GMMX_SQ_ACC(s, a, c) (z = gmmx_v8_subs(a, c), GMMX_V8_MAC(s, z, z))
            GMMX_SQ_ACC(s0, a0, shift[j]); GMMX_SQ_ACC(s1, b0, shift[j]);
            GMMX_SQ_ACC(s0, a1, shift[j + 1]); GMMX_SQ_ACC(s1, b1, shift[j + 1]);
            GMMX_SQ_ACC(s0, a2, shift[j + 2]); GMMX_SQ_ACC(s1, b2, shift[j + 2]);
            GMMX_SQ_ACC(s0, a3, shift[j + 3]); GMMX_SQ_ACC(s1, b3, shift[j + 3]);
        }
        for (; j < d; j++) {
            gmmx_v8 a0 = {0}, b0 = {0};
            for (l = 0; l <= j; l++) {
                const double u0 = U[l * ldu + j];
                GMMX_LOAD8(x0, xt + l * ld + i);
                GMMX_LOAD8(x1, xt + l * ld + i + 8);
                GMMX_V8_MACS(a0, x0, u0); GMMX_V8_MACS(b0, x1, u0);
            }
            GMMX_SQ_ACC(s0, a0, shift[j]); GMMX_SQ_ACC(s1, b0, shift[j]);
        }
#undef GMMX_SQ_ACC
        s0 = gmmx_v8_rsubs(gmmx_v8_smul(s0, 0.5), cst);
        s1 = gmmx_v8_rsubs(gmmx_v8_smul(s1, 0.5), cst);
        gmmx_v8_store(row + i, s0);
        gmmx_v8_store(row + i + 8, s1);
    }
#endif
    for (; i < n; i++) {
        double s = 0.0;
        for (j = 0; j < d; j++) {
            /* same terms as the vector code: l up to the end of j's group of 4 */
            Py_ssize_t lend = (j / 4) * 4 + 4 <= d ? (j / 4) * 4 + 4 : j + 1;
            double a = 0.0, z;
            for (l = 0; l < lend; l++) a = GMMX_FMA1(xt[l * ld + i], U[l * ldu + j], a);
            z = a - shift[j];
            s = GMMX_FMA1(z, z, s);
        }
        row[i] = cst - 0.5 * s;
    }
}

/* A (n, 2d) = [X - ref | (X - ref)^2] for a chunk of float64 / float32 rows:
 * the operand of the diagonal models' GEMMs (log-densities and statistics). */
#define GMMX_DEFINE_CENTER_SQ(NAME, T)                                            \
static void NAME(const T *GMMX_RESTRICT X, const double *GMMX_RESTRICT ref, \
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
static int gmmx_add_const_finite(double *GMMX_RESTRICT row, double c, Py_ssize_t n)
{
    Py_ssize_t i;
    int ok = 1;
    for (i = 0; i < n; i++) {
        ok &= (row[i] - row[i]) == 0.0;
        row[i] = row[i] + c;
    }
    return ok;
}

/* Student-t E-step arithmetic on one chunk, in place (StudentTMixture's pass,
 * _estep.t_estep).  lp holds K rows of n unit-weight Gaussian log-densities;
 * tpar is (nu_k, c_k, half_k) for k < K with c_k = log w_k + the t constant and
 * half_k = (nu_k + d) / 2.  Per row and component:
 *     delta = max(2 (cst_k - lp), 0),  L = log(nu_k + delta),  j = c_k - half_k L,
 *     norm = log sum_k exp(j),  r = exp(j - norm) (0 below GMMX_FLUSH),
 *     u = 2 half_k / (nu_k + delta),  lp <- w r u.
 * tsum (3K) accumulates sum w r, sum w r L and sum w r (norm - j); ll_out gets
 * sum w norm; out_norm (n) and out_resp (n, K, row-major) are optional.
 * scr is 3 K n + 3 n doubles.  Returns 1, with tsum unchanged, when a distance
 * or a row's norm is not finite. */
static int gmmx_t_resp(double *GMMX_RESTRICT lp, Py_ssize_t n, Py_ssize_t K,
                       const double *cst, const double *tpar, const double *sw,
                       double *GMMX_RESTRICT scr, double *tsum, double *out_norm,
                       double *out_resp, double *ll_out)
{
    const double *dof = tpar, *c = tpar + K, *half = tpar + 2 * K;
    double *GMMX_RESTRICT A = scr;          /* log(nu + delta) */
    double *GMMX_RESTRICT J = scr + K * n;  /* j, then norm - j */
    double *GMMX_RESTRICT E = J + K * n;    /* exp(j - max), then w r */
    double *GMMX_RESTRICT MX = E + K * n;
    double *GMMX_RESTRICT TT = MX + n;
    double *GMMX_RESTRICT TL = TT + n;
    Py_ssize_t i, k;
    int ok = 1;

    /* the row maxima of j and the sums of exp(j - max) kept as the rows are
     * swept, component by component (the same values as separate passes:
     * max(-inf, j) = j, 0 + e = e) */
    for (i = 0; i < n; i++) {
        MX[i] = -INFINITY;
        TT[i] = 0.0;
    }
    for (k = 0; k < K; k++) {
        const double ck = cst[k], nu = dof[k], hk = half[k], cc = c[k], twoh = 2.0 * hk;
        double *GMMX_RESTRICT row = lp + k * n;
        double *GMMX_RESTRICT a = A + k * n;
        double *GMMX_RESTRICT jr = J + k * n;
        for (i = 0; i < n; i++) {
            double delta = 2.0 * (ck - row[i]), s, L, j;
            delta = delta < 0.0 ? 0.0 : delta;
            ok &= (delta - delta) == 0.0;  /* false for inf and NaN */
            s = nu + delta;
            L = gmmx_log1c(s);
            j = cc - hk * L;
            a[i] = L;
            jr[i] = j;
            row[i] = twoh / s;
            MX[i] = j > MX[i] ? j : MX[i];
        }
    }
    if (!ok) return 1;
    for (k = 0; k < K; k++) {
        const double *GMMX_RESTRICT jr = J + k * n;
        double *GMMX_RESTRICT e = E + k * n;
        for (i = 0; i < n; i++) {
            double v = gmmx_exp1c(jr[i] - MX[i]);
            e[i] = v;
            TT[i] = TT[i] + v;
        }
    }
    for (i = 0; i < n; i++) {
        double nrm = MX[i] + gmmx_log1c(TT[i]);
        ok &= (nrm - nrm) == 0.0;
        TL[i] = nrm;
    }
    if (!ok) return 1;
    if (out_norm != NULL) memcpy(out_norm, TL, (size_t)n * sizeof(double));
    ll_out[0] = sw != NULL ? gmmx_dot(sw, TL, n) : gmmx_sum(TL, n);
    if (out_resp != NULL) {
        for (i = 0; i < n; i++)
            for (k = 0; k < K; k++) {
                double r = E[k * n + i] / TT[i];
                out_resp[i * K + k] = r < GMMX_FLUSH ? 0.0 : r;
            }
    }
    for (k = 0; k < K; k++) {
        double *GMMX_RESTRICT row = lp + k * n;
        double *GMMX_RESTRICT e = E + k * n;
        double *GMMX_RESTRICT jr = J + k * n;
        if (sw != NULL) {
            for (i = 0; i < n; i++) {
                double r = e[i] / TT[i];
                r = r < GMMX_FLUSH ? 0.0 : r;
                row[i] = sw[i] * (r * row[i]);
                e[i] = sw[i] * r;
                jr[i] = r > 0.0 ? TL[i] - jr[i] : 0.0;  /* j = -inf where w_k = 0 */
            }
        } else {
            for (i = 0; i < n; i++) {
                double r = e[i] / TT[i];
                r = r < GMMX_FLUSH ? 0.0 : r;
                row[i] = r * row[i];
                e[i] = r;
                jr[i] = r > 0.0 ? TL[i] - jr[i] : 0.0;
            }
        }
        tsum[k] += gmmx_sum(e, n);
        tsum[K + k] += gmmx_dot(e, A + k * n, n);
        tsum[2 * K + k] += gmmx_dot(e, jr, n);
    }
    return 0;
}

#endif /* GMMX_VMATH_H */
