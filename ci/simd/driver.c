/* A standalone test driver of the dispatched kernels (no Python): runs a set
 * of kernels of one target's copy (_simd_kernels.c compiled with
 * -DGMMX_SIMD_STANDALONE -DGMMX_SIMD_TARGET=<suffix>) on fixed pseudo-random
 * inputs and prints every output as a hexadecimal float, one per line.
 * ci/check_aarch64.sh compares the aarch64 (NEON) output, run under qemu,
 * with the x86-64 targets' outputs.
 *
 *   cc -O2 -DGMMX_SIMD_STANDALONE -DGMMX_SIMD_TABLE=gmmx_simd_table_baseline \
 *      -Igmmx/_kernels ci/simd/driver.c kernels.o -lm -o driver && ./driver
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
typedef ptrdiff_t Py_ssize_t;
#include "_simd_table.h"

#ifndef GMMX_SIMD_TABLE
#define GMMX_SIMD_TABLE gmmx_simd_table_baseline
#endif
extern const gmmx_simd_table GMMX_SIMD_TABLE;

static unsigned long long state = 0x9e3779b97f4a7c15ULL;
static double uniform(void) /* [0, 1), 53 bits, xorshift64* */
{
    state ^= state >> 12; state ^= state << 25; state ^= state >> 27;
    return (double)((state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}
static double normalish(void) { return (uniform() + uniform() + uniform() - 1.5) * 2.0; }

static void put(const char *name, const double *a, Py_ssize_t n)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++) printf("%s[%ld] %a\n", name, (long)i, a[i]);
}
static void putf(const char *name, const float *a, Py_ssize_t n)
{
    Py_ssize_t i;
    for (i = 0; i < n; i++) printf("%s[%ld] %a\n", name, (long)i, (double)a[i]);
}

#define N 1003 /* not a multiple of any lane count: tails run too */

int main(void)
{
    const gmmx_simd_table *t = &GMMX_SIMD_TABLE;
    static double x[N], y[N], lp[3 * N], mx[N], ssum[N], lnorm[N], out[64], xt[8 * (N + 16)],
        rx[8 * (N + 16)], G[8 * 9], U[8 * 8], row[N], dist[N * 8], cb[3 * 8];
    static float xf[N], lpf[3 * N], mxf[N], ssumf[N], r0f[N], r1f[N];
    static double dscr[2 * N];
    double cst[3] = {-1.1, -0.7, -2.3}, mu[3] = {-1.0, 0.5, 2.0}, p[3] = {1.3, 0.8, 2.1};
    double shift[8] = {0.1, -0.2, 0.3, 0.0, 0.5, -0.6, 0.7, 0.2};
    double B[50 * 3], alpha[50 * 3], scratch[64], xi[9], A[9], pi[3] = {0.5, 0.3, 0.2}, logs;
    Py_ssize_t i, j, ld = N + 16, d = 7;
    double v;

    printf("target %s isa %s\n", t->target, t->isa);
    for (i = 0; i < N; i++) {
        x[i] = 3.0 * normalish();
        y[i] = uniform();
        xf[i] = (float)x[i];
    }
    memcpy(lp, x, sizeof x);
    t->gmmx_vexp(lp, N); put("vexp", lp, N);
    memcpy(lp, y, sizeof y);
    for (i = 0; i < N; i++) lp[i] += 1e-3;
    t->gmmx_vlog(lp, N); put("vlog", lp, N);
    v = t->gmmx_sum(x, N); put("sum", &v, 1);
    v = t->gmmx_dot(x, y, N); put("dot", &v, 1);
    memset(out, 0, sizeof out);
    t->gmmx_uni_stats(x, y, 0.25, N, out); put("uni_stats", out, 3);
    for (int K = 2; K <= 3; K++) {
        char name[32];
#define PUTK(F, what, a, n) (snprintf(name, sizeof name, "%s_K%d", what, K), F(name, a, n))
        t->gmmx_uni_logprob(x, N, K, cst, mu, p, lp);
        v = t->gmmx_logsumexp_resp(lp, N, K, NULL, mx, ssum, NULL);
        PUTK(put, "lse_ll", &v, 1); PUTK(put, "lse_resp", lp, K * N);
        t->gmmx_uni_logprob(x, N, K, cst, mu, p, lp);
        v = t->gmmx_logsumexp_resp(lp, N, K, y, mx, ssum, lnorm);
        PUTK(put, "lse_ll_w", &v, 1); PUTK(put, "lse_lnorm", lnorm, N);
        t->gmmx_f32_uni_logprob(xf, N, K, cst, mu, p, lpf);
        v = t->gmmx_f32_logsumexp(lpf, N, K, NULL, mxf, ssumf, dscr);
        PUTK(put, "f32_ll", &v, 1); PUTK(putf, "f32_resp", lpf, K * N);
    }
    {   /* Student-t E-step arithmetic: 3 components, weighted, with responsibilities */
        static double tscr[3 * 3 * N + 3 * N], resp[3 * N];
        double tpar[9] = {4.0, 7.5, 30.0, -1.2, -0.9, -1.6, 2.5, 4.25, 15.5}, tsum[9] = {0};
        int rc;
        t->gmmx_uni_logprob(x, N, 3, cst, mu, p, lp);
        rc = t->gmmx_t_resp(lp, N, 3, cst, tpar, y, tscr, tsum, lnorm, resp, &v);
        if (rc == 0) {
            put("t_ll", &v, 1); put("t_sums", tsum, 9); put("t_wru", lp, 3 * N);
            put("t_norm", lnorm, N); put("t_resp", resp, 3 * N);
        }
    }
    t->gmmx_f32_uni_resp2(xf, N, cst, mu, p, r0f, r1f, mxf, ssumf);
    putf("f32_r0", r0f, N); putf("f32_r1", r1f, N);
    memset(out, 0, sizeof out);
    v = t->gmmx_f32_uni_stats2(xf, r0f, r1f, y, 0.1, -0.2, mxf, N, out);
    put("f32_stats2", out, 6); put("f32_stats2_mx", &v, 1);
    /* full kernels: xt (pad(d), n) */
    memset(xt, 0, sizeof xt);
    for (j = 0; j < d; j++)
        for (i = 0; i < N; i++) xt[j * ld + i] = normalish();
    t->gmmx_full_scale_rows(y, xt, N, GMMX_FULL_PAD(d), ld, rx);
    memset(G, 0, sizeof G);
    t->gmmx_full_scatter_upper(xt, rx, N, d, ld, G, d);
    put("scatter", G, d * (d + 1));
    memset(U, 0, sizeof U);
    for (j = 0; j < d; j++)
        for (i = 0; i <= j; i++) U[i * 8 + j] = i == j ? 1.0 + uniform() : 0.3 * normalish();
    t->gmmx_full_tri_logprob(xt, N, ld, d, U, 8, shift, -1.5, row);
    put("tri_logprob", row, N);
    /* centred and transposed in one pass: (N/7 rows of 7 features) - shift */
    memset(rx, 0, sizeof rx);
    t->gmmx_full_center_t_f64(x, shift, N / 7, d, ld, rx);
    put("center_t_f64", rx, GMMX_FULL_PAD(d) * ld);
    memset(rx, 0, sizeof rx);
    t->gmmx_full_center_t_f32(xf, shift, N / 7, d, ld, rx);
    put("center_t_f32", rx, GMMX_FULL_PAD(d) * ld);
    /* row-major rows (N/7 rows of 7 features) - shift, and their scatter under
       two components' weights (y, lp) */
    {
        static double xr[(N / 7) * GMMX_FULL_RLD(7)], rscr[GMMX_FULL_RSCR(7, 2)], wk[2 * (N / 7)],
            G2[2 * 7 * 8];
        memset(xr, 0, sizeof xr);
        t->gmmx_full_center_r_f64(x, shift, N / 7, 7, xr);
        put("center_r_f64", xr, (N / 7) * GMMX_FULL_RLD(7));
        t->gmmx_full_center_r_f32(xf, shift, N / 7, 7, xr);
        put("center_r_f32", xr, (N / 7) * GMMX_FULL_RLD(7));
        for (i = 0; i < N / 7; i++) { wk[i] = y[i]; wk[N / 7 + i] = lp[i]; }
        memset(G2, 0, sizeof G2);
        t->gmmx_full_scatter_rows(xr, N / 7, 7, wk, 2, rscr, G2, 2 * 7);
        put("scatter_rows", G2, 2 * 7 * 8);
    }
    /* k-means distances: 3 centres in one block of 8 */
    memset(cb, 0, sizeof cb);
    for (j = 0; j < 3; j++)
        for (i = 0; i < 3; i++) cb[j * 8 + i] = normalish();
    t->kmx_distances_f64(x, N / 3, 3, cb, 1, 0.5, dist);
    put("kmx_dist", dist, (N / 3) * 8);
    /* HMM: 3 states, 50 steps */
    for (i = 0; i < 9; i++) A[i] = (i % 4 == 0) ? 0.8 : 0.1;
    for (i = 0; i < 150; i++) B[i] = 0.05 + uniform();
    if (t->gmmx_hmm_forward(B, 50, 3, pi, A, alpha, scratch, &logs) == 0) {
        put("hmm_logs", &logs, 1); put("hmm_alpha", alpha, 150);
        memset(xi, 0, sizeof xi);
        if (t->gmmx_hmm_backward(B, 50, 3, A, alpha, xi, scratch) == 0) {
            put("hmm_gamma", alpha, 150); put("hmm_xi", xi, 9);
        }
    }
    return 0;
}
