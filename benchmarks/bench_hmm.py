"""Time one Baum-Welch iteration of gmmx's GaussianHMM and hmmlearn's on the same data.

Both models start from identical parameters (``init_params=""``) on the same
sequences; an "iteration" is one E-step plus one M-step: hmmlearn's
``_do_estep`` + ``_do_mstep``, gmmx's pass over the sequences + its M-step.
Parameters are reset after every timed iteration, so each repeat does the
same work.  hmmlearn is timed with both of its implementations ("log", its
default, and "scaling"); the ratio and target are against the default.
BLAS is held to one thread for both (with threadpoolctl), as GaussianHMM.fit
does: hmmlearn's per-sequence small triangular solves are several times slower
when OpenBLAS wakes its threads for them.  Medians over repeats, in one
process.  Run::

    python benchmarks/bench_hmm.py            # the issue's cases (10^6 rows)
    python benchmarks/bench_hmm.py --quick    # small smoke run

After timing, one iteration of each is compared (largest relative difference
of the updated parameters), to show that both computed the same thing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np


def make_case(n, d, k, n_seq, seed=0):
    """Data from a sticky k-state HMM, and perturbed parameters to start from."""
    from gmmx.hmm import GaussianHMM

    rng = np.random.default_rng(seed)
    A = rng.normal(size=(k, d, d))
    covars = A @ A.transpose(0, 2, 1) / d + 0.5 * np.eye(d)
    truth = GaussianHMM(k, covariance_type="full", init_params="")
    truth.startprob_ = np.full(k, 1.0 / k)
    truth.transmat_ = np.full((k, k), 0.05 / (k - 1)) + (0.95 - 0.05 / (k - 1)) * np.eye(k)
    truth.means_ = rng.normal(scale=2.0, size=(k, d))
    truth.covars_ = covars
    X, _ = truth.sample(n, random_state=seed)
    lengths = np.full(n_seq, n // n_seq)
    lengths[-1] += n - lengths.sum()
    start = dict(startprob=np.full(k, 1.0 / k),
                 transmat=np.full((k, k), 0.2 / (k - 1)) + (0.8 - 0.2 / (k - 1)) * np.eye(k),
                 means=truth.means_ + rng.normal(scale=0.3, size=(k, d)),
                 covars=covars * 1.5)
    return np.ascontiguousarray(X), lengths, start


def _set(model, start):
    model.startprob_ = start["startprob"].copy()
    model.transmat_ = start["transmat"].copy()
    model.means_ = start["means"].copy()
    model.covars_ = start["covars"].copy()
    return model


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def gmmx_iteration(X, lengths, start, n_threads):
    """A callable doing one gmmx Baum-Welch iteration, and the model it updates."""
    from gmmx.hmm import GaussianHMM
    from gmmx.hmm._mstep import EmissionPriors
    from gmmx.hmm._passes import make_pass

    k, d = start["means"].shape
    model = _set(GaussianHMM(k, covariance_type="full", init_params="", n_threads=n_threads),
                 start)
    model._check()
    data = make_pass(X, lengths, None, k, n_threads, None, False, None)
    priors = EmissionPriors(model.means_prior, model.means_weight, model.covars_prior,
                            model.covars_weight, "full", k, d)

    def step():
        _set(model, start)
        params = model._model_params()
        stats = data.accumulate(params)
        model._do_mstep(stats, params, priors)

    return step, model


def hmmlearn_iteration(X, lengths, start, implementation):
    from hmmlearn.hmm import GaussianHMM

    k = start["means"].shape[0]
    model = _set(GaussianHMM(k, covariance_type="full", init_params="", n_iter=0,
                             implementation=implementation), start)
    model.fit(X)                 # n_iter=0: sets n_features and checks the parameters

    def step():
        _set(model, start)
        stats, _ = model._do_estep(X, lengths)
        model._do_mstep(stats)

    return step, model


def max_rel_diff(a, b):
    diffs = []
    for name in ("startprob_", "transmat_", "means_", "covars_"):
        x, y = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        diffs.append(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-12)))
    return max(diffs)


def run_case(n, d, k, n_seq, repeats, hmm_repeats):
    from gmmx.core.kernel import blas_held_to_one_thread, resolve_n_threads

    X, lengths, start = make_case(n, d, k, n_seq)
    results = {}
    with blas_held_to_one_thread():          # as GaussianHMM.fit does
        for label, nt in (("gmmx", None), ("gmmx 1 thread", 1)):
            step, model = gmmx_iteration(X, lengths, start, nt)
            step()                           # warm-up
            results[label] = _median_time(step, repeats)
            if nt is None:
                ours = model
                results["threads"] = resolve_n_threads(None, n * k * (d + 1))
        theirs = None
        for impl in ("log", "scaling"):
            step, model = hmmlearn_iteration(X, lengths, start, impl)
            results[f"hmmlearn {impl}"] = _median_time(step, hmm_repeats)
            theirs = theirs or model
    step, ours = gmmx_iteration(X, lengths, start, None)
    step()
    results["agreement"] = max_rel_diff(ours, theirs)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for smoke runs")
    parser.add_argument("--repeats", type=int, default=9, help="timed gmmx iterations")
    parser.add_argument("--hmmlearn-repeats", type=int, default=3,
                        help="timed hmmlearn iterations")
    args = parser.parse_args(argv)
    scale = 0.02 if args.quick else 1.0
    repeats = 3 if args.quick else args.repeats
    hmm_repeats = 1 if args.quick else args.hmmlearn_repeats

    try:
        import hmmlearn
    except ImportError:
        print("hmmlearn is not installed: pip install hmmlearn")
        return 1
    import gmmx
    from gmmx._kernels import _estep

    print(f"gmmx {gmmx.__version__} (OpenMP={_estep.OPENMP_ENABLED}), hmmlearn "
          f"{hmmlearn.__version__}, numpy {np.__version__}, cores={os.cpu_count()}")
    cases = [
        # (rows, d, K, sequences, target ratio against hmmlearn's default)
        (1_000_000, 1, 3, 100, 20),
        (1_000_000, 8, 4, 100, None),
    ]
    header = (f"{'case (full covariances)':<32}{'hmmlearn log':>13}{'scaling':>9}"
              f"{'gmmx':>8}{'1 thread':>9}{'ratio':>8}{'vs scal.':>9}{'target':>7}"
              f"{'agree':>9}")
    print(f"median ms per Baum-Welch iteration; ratio = hmmlearn / gmmx\n{header}")
    print("-" * len(header))
    ok = True
    for n, d, k, n_seq, target in cases:
        n_eff = max(int(n * scale), 20 * n_seq)
        r = run_case(n_eff, d, k, n_seq, repeats, hmm_repeats)
        ratio = r["hmmlearn log"] / r["gmmx"]
        ratio_s = r["hmmlearn scaling"] / r["gmmx"]
        if args.quick:
            target = None            # the targets are for the full sizes
        if target is not None:
            ok &= ratio >= target
        name = f"N={n_eff:,} d={d} K={k} {n_seq} seq"
        print(f"{name:<32}{r['hmmlearn log'] * 1e3:>13.1f}{r['hmmlearn scaling'] * 1e3:>9.1f}"
              f"{r['gmmx'] * 1e3:>8.2f}{r['gmmx 1 thread'] * 1e3:>9.2f}{ratio:>7.1f}x"
              f"{ratio_s:>8.1f}x{(f'{target}x' if target else '-'):>7}"
              f"{r['agreement']:>9.1e}")
    print(f"gmmx threads: {r['threads']}; agree = largest relative difference of the "
          "parameters after one iteration")
    if args.quick:
        print("--quick: small sizes, overhead-dominated; targets are checked on the full run")
    else:
        print("all targets met" if ok else "some targets missed (see ratio vs target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
