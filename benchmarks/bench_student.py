"""Time one EM iteration of gmmx's StudentTMixture against studenttmixture and gmmx's Gaussian.

The issue's case: N = 200,000 rows, d = 8, K = 4, full scales, ν estimated.
An "iteration" is one E-step plus one M-step from the same parameters:

* gmmx t: :func:`gmmx.core.em.em_step` with StudentTMixture's hooks (one
  native pass: log-densities, t weights and statistics under r*u per chunk;
  the M-step with the ν root);
* gmmx Gaussian: the same with GaussianMixture's hooks (one fused kernel pass);
* studenttmixture 1.11: ``EMStudentMixture.Estep`` + ``Mstep`` (``fixed_df=False``).

Targets: gmmx t >= 20x faster than studenttmixture, and at most 1.5x gmmx's
Gaussian iteration.  The script also times gmmx's t E-step as the one
native pass it uses (per cache-sized chunk: log-densities, t arithmetic,
statistics under r*u) against the former three passes over a materialised
(n, K) array (kernel log-densities, the fused t arithmetic, statistics).  Medians over repeats, in one
process, the cases interleaved so that a load burst hits all of them.  Run::

    python benchmarks/bench_student.py            # the issue's case
    python benchmarks/bench_student.py --quick    # small smoke run
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np


def cpu_model():
    """The CPU's model name (Linux /proc/cpuinfo, else platform)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def make_data(n, d, k, seed=0):
    """A K-component t mixture (ν = 5) with well separated locations."""
    rng = np.random.default_rng(seed)
    locs = rng.normal(scale=4.0, size=(k, d))
    labels = rng.integers(0, k, n)
    g = rng.chisquare(5.0, n) / 5.0
    X = locs[labels] + rng.normal(size=(n, d)) / np.sqrt(g)[:, None]
    return np.ascontiguousarray(X)


def timed(fn, repeats):
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run")
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    n, d, k, repeats = args.n, 8, 4, args.repeats
    if args.quick:
        n, repeats = 5_000, 2

    from gmmx import GaussianMixture, StudentTMixture
    from gmmx.core import kernel
    from gmmx.core.em import em_step

    X = make_data(n, d, k)
    print(f"CPU: {cpu_model()}")
    print(f"N={n} d={d} K={k} full, nu estimated; median of {repeats} repeats")
    start = GaussianMixture(k, random_state=0, max_iter=3, n_threads=args.threads).fit(X)
    init = dict(weights_init=start.weights_, means_init=start.means_,
                precisions_init=start.precisions_)
    t_model = StudentTMixture(k, n_threads=args.threads, max_iter=0, **init)
    g_model = GaussianMixture(k, n_threads=args.threads, max_iter=0, **init)
    n_threads = kernel.resolve_n_threads(args.threads, n * k * (d + 1))
    cases = {}
    for name, model in (("gmmx t", t_model), ("gmmx Gaussian", g_model)):
        from gmmx.drivers import ArrayDriver
        params = model._initial_params(ArrayDriver(X, None, n_threads), np.random.RandomState(0))
        steps = model._em_steps()

        def one(steps=steps, params=params):
            em_step(lambda kp: kernel.accumulate(X, None, kp, n_threads), steps, params)
        cases[name] = one
    estep = t_model._kernel_params(t_model._initial_params(
        ArrayDriver(X, None, n_threads), np.random.RandomState(0)))

    parts = {}

    def split():
        # the previous three-pass E-step (kernel log-densities, the fused t
        # arithmetic on the materialised (n, K) array, statistics under r*u)
        # against the one-pass native E-step gmmx now uses
        from gmmx._kernels import _student
        t0 = time.perf_counter()
        g = kernel.log_densities(X, estep.gauss, n_threads)
        t1 = time.perf_counter()
        tpar = estep._tpar(d)
        _student.t_block(g, estep.gauss.cst, estep.dof, tpar[1].copy(), tpar[2].copy(),
                         np.empty(0), np.empty(n), n_threads)
        t2 = time.perf_counter()
        kernel.accumulate_resp(X, None, g, estep.gauss, n_threads)
        t3 = time.perf_counter()
        estep.accumulate(X, None, n_threads, 0, "")
        t4 = time.perf_counter()
        for key, v in (("3 passes: log-densities", t1 - t0),
                       ("3 passes: t arithmetic", t2 - t1),
                       ("3 passes: statistics under r*u", t3 - t2),
                       ("3 passes: total", t3 - t0),
                       ("one native pass (used)", t4 - t3)):
            parts.setdefault(key, []).append(v)

    cases["(t E-step split)"] = split
    try:
        from studenttmixture import EMStudentMixture
    except ImportError:
        EMStudentMixture = None
    if EMStudentMixture is not None:
        ref = EMStudentMixture(k, fixed_df=False, reg_covar=1e-6)
        loc = start.means_.copy()
        scale = np.transpose(start.covariances_, (1, 2, 0)).copy()
        chol = np.stack([np.linalg.cholesky(c) for c in start.covariances_], axis=2)
        df = np.full(k, 10.0)
        sq = np.empty((n, k))

        def reference():
            resp, E_gamma, _ = ref.Estep(X, df, loc, chol, start.weights_, sq)
            ref.Mstep(X, resp, E_gamma, scale.copy(), chol.copy(), df.copy())
        cases["studenttmixture"] = reference
    times = {name: [] for name in cases}
    with kernel.blas_held_to_one_thread():
        for name, fn in cases.items():  # warm-up
            fn()
        parts.clear()
        for _ in range(repeats):
            for name, fn in cases.items():
                times[name].extend(timed(fn, 1))
    med = {name: statistics.median(v) for name, v in times.items()}
    for name in ("gmmx t", "gmmx Gaussian", "studenttmixture"):
        if name in med:
            print(f"  {name:<18} {1e3 * med[name]:9.2f} ms / iteration")
    print("  gmmx t E-step parts:")
    for key, v in parts.items():
        print(f"    {key:<32} {1e3 * statistics.median(v):8.2f} ms")
    ratio_g = med["gmmx t"] / med["gmmx Gaussian"]
    print(f"gmmx t / gmmx Gaussian: {ratio_g:.2f}x (target <= 1.5x)")
    if "studenttmixture" in med:
        speedup = med["studenttmixture"] / med["gmmx t"]
        print(f"studenttmixture / gmmx t: {speedup:.1f}x (target >= 20x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
