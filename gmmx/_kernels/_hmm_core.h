/* The scaled forward-backward recursions of one HMM sequence (see _hmm.pyx).
 *
 * The recursions are serial in time, so their speed is the latency of one
 * row's arithmetic.  Two choices keep divisions off that chain:
 *
 * - the forward probabilities are renormalised lazily: alpha_t = b_t .*
 *   (alpha_{t-1} A) is kept as is while its sum stays above GMMX_HMM_RENORM
 *   (the sum never grows: b <= 1 and the rows of A sum to 1); below it the row
 *   is divided by its sum s_t, and log s_t is added to the log-likelihood.
 *   The row of shifted emissions b_t is divided by s_t too, so the backward
 *   pass uses the same scale;
 * - the backward vectors may be rescaled freely (posteriors and transition
 *   counts are normalised per row by n_t = sum_i alpha_t(i) beta_t(i)), which
 *   keeps them in range without bookkeeping.
 *
 * Loops over states run with a compile-time K for K <= GMMX_HMM_SMALLK (the
 * switch at the end), so the compiler keeps a row in registers.
 *
 * Return codes: 0 ok, 3 when a row's normaliser falls below GMMX_HMM_RATIO
 * times the previous one or the backward normaliser leaves the floating-point
 * range (the caller redoes the sequence in log space).
 */
#ifndef GMMX_HMM_CORE_H
#define GMMX_HMM_CORE_H

#include <math.h>
#include "_vmath.h"

#define GMMX_HMM_SMALLK 8
#define GMMX_HMM_RENORM 1e-100
#define GMMX_HMM_RATIO 1e-200
#define GMMX_HMM_BACK_LO 1e-50
#define GMMX_HMM_BACK_HI 1e50
#define GMMX_HMM_UNDERFLOW 3

/* Forward pass.  B (L, K) IN shifted emissions, OUT with renormalised rows
   divided by s_t; alpha (L, K) OUT; a, nxt SCRATCH (K); *logs OUT
   sum_t log s_t + log(sum alpha_{L-1}). */
GMMX_INLINE int gmmx_hmm_fwd_body(double *GMMX_RESTRICT B, Py_ssize_t L, Py_ssize_t K,
                                  const double *GMMX_RESTRICT pi,
                                  const double *GMMX_RESTRICT A,
                                  double *GMMX_RESTRICT alpha, double *GMMX_RESTRICT a,
                                  double *GMMX_RESTRICT nxt, double *logs)
{
    Py_ssize_t t, i, j;
    double s, prev = 1.0, acc = 0.0, inv, ai;
    for (j = 0; j < K; j++) a[j] = pi[j] * B[j];
    for (t = 0; t < L; t++) {
        double *GMMX_RESTRICT b = B + t * K;
        if (t > 0) {
            for (j = 0; j < K; j++) nxt[j] = a[0] * A[j];
            for (i = 1; i < K; i++) {
                ai = a[i];
                for (j = 0; j < K; j++) nxt[j] += ai * A[i * K + j];
            }
            for (j = 0; j < K; j++) a[j] = nxt[j] * b[j];
        }
        s = 0.0;
        for (j = 0; j < K; j++) s += a[j];
        if (!(s >= GMMX_HMM_RATIO * prev) || !(s <= 1e300)) return GMMX_HMM_UNDERFLOW;
        if (s < GMMX_HMM_RENORM) {
            inv = 1.0 / s;
            for (j = 0; j < K; j++) {
                a[j] *= inv;
                b[j] *= inv;
            }
            acc += log(s);
            s = 1.0;
        }
        for (j = 0; j < K; j++) alpha[t * K + j] = a[j];
        prev = s;
    }
    *logs = acc + log(prev);
    return 0;
}

/* Backward pass.  B (L, K) IN as left by the forward pass; gamma (L, K) IN
   alpha, OUT posteriors; xi (K, K) OUT accumulated sum_t a_t(i) g_{t+1}(j)
   (times A_ij gives the transition counts), or NULL; beta, nb, g SCRATCH (K). */
GMMX_INLINE int gmmx_hmm_bwd_body(const double *GMMX_RESTRICT B, Py_ssize_t L, Py_ssize_t K,
                                  const double *GMMX_RESTRICT A,
                                  double *GMMX_RESTRICT gamma, double *GMMX_RESTRICT xi,
                                  double *GMMX_RESTRICT beta, double *GMMX_RESTRICT nb,
                                  double *GMMX_RESTRICT g)
{
    Py_ssize_t t, i, j;
    double n, inv, ai;
    double *GMMX_RESTRICT row = gamma + (L - 1) * K;
    n = 0.0;
    for (j = 0; j < K; j++) {
        beta[j] = 1.0;
        n += row[j];
    }
    inv = 1.0 / n;
    for (j = 0; j < K; j++) row[j] *= inv;
    for (t = L - 2; t >= 0; t--) {
        const double *GMMX_RESTRICT b = B + (t + 1) * K;
        row = gamma + t * K;
        for (j = 0; j < K; j++) g[j] = b[j] * beta[j];
        n = 0.0;
        for (i = 0; i < K; i++) {
            double s = A[i * K] * g[0];
            for (j = 1; j < K; j++) s += A[i * K + j] * g[j];
            nb[i] = s;
            n += row[i] * s;
        }
        if (!(n > 0.0) || !(n < INFINITY)) return GMMX_HMM_UNDERFLOW;
        inv = 1.0 / n;
        if (xi != NULL) {
            for (i = 0; i < K; i++) {
                ai = row[i] * inv;
                for (j = 0; j < K; j++) xi[i * K + j] += ai * g[j];
            }
        }
        for (i = 0; i < K; i++) {
            row[i] = row[i] * nb[i] * inv;
            beta[i] = nb[i];
        }
        if (n < GMMX_HMM_BACK_LO || n > GMMX_HMM_BACK_HI) {
            for (i = 0; i < K; i++) beta[i] *= inv;
        }
    }
    return 0;
}

/* Shift each row of w_t * lp_t by its maximum m_t into B (before the vector
   exp); *msum OUT sum_t m_t.  Returns the first non-finite row, or -1. */
GMMX_INLINE Py_ssize_t gmmx_hmm_shift_body(const double *GMMX_RESTRICT lp,
                                           const double *GMMX_RESTRICT w, Py_ssize_t L,
                                           Py_ssize_t K, double *GMMX_RESTRICT B,
                                           double *msum)
{
    Py_ssize_t t, k;
    double m, v, wt, total = 0.0;
    for (t = 0; t < L; t++) {
        wt = w != NULL ? w[t] : 1.0;
        m = -INFINITY;
        for (k = 0; k < K; k++) {
            v = wt * lp[t * K + k];
            if (!(v - v == 0.0)) return t;   /* NaN or infinity */
            B[t * K + k] = v;
            m = v > m ? v : m;
        }
        for (k = 0; k < K; k++) B[t * K + k] -= m;
        total += m;
    }
    *msum = total;
    return -1;
}

#define GMMX_HMM_CASES(CALL) \
    switch (K) { \
    case 1: CALL(1) case 2: CALL(2) case 3: CALL(3) case 4: CALL(4) \
    case 5: CALL(5) case 6: CALL(6) case 7: CALL(7) case 8: CALL(8) \
    default: break; \
    }

static int gmmx_hmm_forward(double *B, Py_ssize_t L, Py_ssize_t K, const double *pi,
                            const double *A, double *alpha, double *scratch, double *logs)
{
    double a[GMMX_HMM_SMALLK], nxt[GMMX_HMM_SMALLK];
#define GMMX_FWD(KK) return gmmx_hmm_fwd_body(B, L, KK, pi, A, alpha, a, nxt, logs);
    GMMX_HMM_CASES(GMMX_FWD)
#undef GMMX_FWD
    return gmmx_hmm_fwd_body(B, L, K, pi, A, alpha, scratch, scratch + K, logs);
}

static int gmmx_hmm_backward(const double *B, Py_ssize_t L, Py_ssize_t K, const double *A,
                             double *gamma, double *xi, double *scratch)
{
    double beta[GMMX_HMM_SMALLK], nb[GMMX_HMM_SMALLK], g[GMMX_HMM_SMALLK];
#define GMMX_BWD(KK) return gmmx_hmm_bwd_body(B, L, KK, A, gamma, xi, beta, nb, g);
    GMMX_HMM_CASES(GMMX_BWD)
#undef GMMX_BWD
    return gmmx_hmm_bwd_body(B, L, K, A, gamma, xi, scratch, scratch + K, scratch + 2 * K);
}

static Py_ssize_t gmmx_hmm_shift(const double *lp, const double *w, Py_ssize_t L,
                                 Py_ssize_t K, double *B, double *msum)
{
#define GMMX_SHIFT(KK) return gmmx_hmm_shift_body(lp, w, L, KK, B, msum);
    GMMX_HMM_CASES(GMMX_SHIFT)
#undef GMMX_SHIFT
    return gmmx_hmm_shift_body(lp, w, L, K, B, msum);
}

/* Normalise the rows of alpha (L, K) to sum to one (filtered probabilities). */
static void gmmx_hmm_normalise_rows(double *alpha, Py_ssize_t L, Py_ssize_t K)
{
    Py_ssize_t t, k;
    double s, inv;
    for (t = 0; t < L; t++) {
        s = 0.0;
        for (k = 0; k < K; k++) s += alpha[t * K + k];
        inv = 1.0 / s;
        for (k = 0; k < K; k++) alpha[t * K + k] *= inv;
    }
}

#endif
