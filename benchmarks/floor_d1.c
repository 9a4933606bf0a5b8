/* The floor of one EM iteration for one feature and two components: the
 * fused pass (log-densities, log-sum-exp, responsibilities, the three
 * statistics per component, the log-likelihood) in plain C, compiled for the
 * machine at hand with -O3 -march=native -ffast-math -fopenmp, so that GCC
 * vectorises exp and log with glibc's vector math library (libmvec), plus the
 * (negligible) M-step.  benchmarks/bench_floor_d1.py builds and runs it next
 * to gmmx.
 *
 *   cc -O3 -march=native -ffast-math -fopenmp floor_d1.c -lm -o floor_d1
 *   ./floor_d1 N REPEATS [float]     prints the median milliseconds per pass
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define PASS(T, EXP, LOG)                                                                 \
    {                                                                                     \
        const T c0 = (T)cst[0], c1 = (T)cst[1], m0 = (T)mu[0], m1 = (T)mu[1];            \
        const T p0 = (T)prec[0], p1 = (T)prec[1];                                        \
        double ll = 0, n0 = 0, n1 = 0, s0 = 0, s1 = 0, q0 = 0, q1 = 0;                    \
        _Pragma("omp parallel for simd reduction(+ : ll, n0, n1, s0, s1, q0, q1)")        \
        for (long i = 0; i < n; i++) {                                                    \
            T xi = X[i], z0 = (xi - m0) * p0, z1 = (xi - m1) * p1;                        \
            T a = c0 - (T)0.5 * z0 * z0, b = c1 - (T)0.5 * z1 * z1;                       \
            T m = a > b ? a : b, e = EXP((a > b ? b : a) - m), s = 1 + e, inv = 1 / s;    \
            T r0 = a > b ? inv : e * inv, r1 = a > b ? e * inv : inv;                     \
            ll += m + LOG(s);                                                             \
            n0 += r0; s0 += r0 * xi; q0 += r0 * xi * xi;                                  \
            n1 += r1; s1 += r1 * xi; q1 += r1 * xi * xi;                                  \
        }                                                                                 \
        /* M-step */                                                                      \
        w[0] = n0 / n; w[1] = n1 / n;                                                     \
        mu[0] = s0 / n0; mu[1] = s1 / n1;                                                 \
        var[0] = q0 / n0 - mu[0] * mu[0]; var[1] = q1 / n1 - mu[1] * mu[1];               \
        total = ll;                                                                       \
    }

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000, i;
    int reps = argc > 2 ? atoi(argv[2]) : 10, r, single = argc > 3 && !strcmp(argv[3], "float");
    double *Xd = malloc(n * sizeof(double)), *times = malloc(reps * sizeof(double));
    float *Xf = malloc(n * sizeof(float));
    double w[2], mu[2], var[2], cst[2], prec[2], total = 0;
    unsigned long long st = 12345;
    for (i = 0; i < n; i++) { /* two regimes: sums of uniforms */
        double u = 0;
        for (int k = 0; k < 4; k++) {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            u += (double)(st >> 11) / 9007199254740992.0;
        }
        Xd[i] = (i % 5 ? 0.01 : 0.04) * (u - 2.0) * 1.7;
        Xf[i] = (float)Xd[i];
    }
    for (r = 0; r < reps; r++) {
        /* the same starting parameters every repeat */
        w[0] = 0.7; w[1] = 0.3; mu[0] = 0.0; mu[1] = 0.001; var[0] = 1e-4; var[1] = 1e-3;
        for (int k = 0; k < 2; k++) {
            prec[k] = 1 / sqrt(var[k]);
            cst[k] = log(w[k]) + log(prec[k]) - 0.5 * log(2 * M_PI);
        }
        double t0 = now();
        if (single) {
            const float *X = Xf;
            PASS(float, expf, logf)
        } else {
            const double *X = Xd;
            PASS(double, exp, log)
        }
        times[r] = now() - t0;
    }
    qsort(times, reps, sizeof(double), cmp);
#ifdef _OPENMP
    int threads = omp_get_max_threads();
#else
    int threads = 1;
#endif
    printf("%.4f ms median of %d, %d threads, %s, ll %.6g\n", 1e3 * times[reps / 2], reps,
           threads, single ? "float32" : "float64", total);
    return 0;
}
