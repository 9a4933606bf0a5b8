"""The small-job costs of issue #22 item 3: the hierarchical start against a
k-means start, and the CPU time of ``gmmx fit`` on a 1,000-row CSV.

1. ``initial_parameters`` on 5,000 x 2 rows (three blobs), K = 3, with
   ``init_params="hierarchical"`` (mclust's tree on a 2,000-row subset) and
   ``"kmeans"``, alternated in one process; CPU-time medians and their ratio
   (bar: at most 5).  BLAS runs on one thread here: process CPU time also
   counts the busy-waiting of idle OpenBLAS workers after each small BLAS
   call, which made the k-means start read 2 ms or 24 ms at random.
2. ``gmmx fit`` of a 1,000-row, two-column CSV in fresh processes: user + sys
   CPU seconds (bar: under 0.8 s), and the heavy modules it loaded; beside it
   the same with ``OPENBLAS_NUM_THREADS=1``, the floor (``import numpy,
   scipy.linalg``, which gmmx cannot avoid) and a bare interpreter.

Run::

    python benchmarks/bench_cli_start.py            # 15 repeats, 5 CLI runs
    python benchmarks/bench_cli_start.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def start_ratio(repeats):
    from gmmx.core.init import initial_parameters

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        import contextlib

        limit = contextlib.nullcontext()
    else:
        limit = threadpool_limits(limits=1, user_api="blas")
    with limit:
        return _start_ratio(initial_parameters, repeats)


def _start_ratio(initial_parameters, repeats):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(1667, 2)) + 5 * j for j in range(3)])[:5000]

    def cpu(init):
        t0 = time.process_time()
        initial_parameters(X, None, 3, "full", init, 1e-6, np.random.RandomState(0), 1)
        return time.process_time() - t0

    cpu("kmeans"), cpu("hierarchical")  # warm up
    km, hc = [], []
    for _ in range(repeats):
        km.append(cpu("kmeans"))
        hc.append(cpu("hierarchical"))
    return statistics.median(km), statistics.median(hc)


def _child_cpu(code, env=None):
    """User + sys CPU seconds of ``python -c code`` and its stderr's last line."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = proc.stderr.strip().splitlines()
    return cpu, lines[-1] if lines else ""


def cli_cpu(runs):
    """CPU seconds of ``gmmx fit`` in fresh processes, beside its floor.

    Interleaved per round: the command; the command with
    ``OPENBLAS_NUM_THREADS=1`` (numpy's and scipy's OpenBLAS then start no
    worker threads at import); the floor, ``import numpy, scipy.linalg``
    (gmmx's kernels link SciPy's BLAS, whose package imports scipy.linalg);
    and a bare interpreter.  Returns the per-run lists and the heavy modules
    the command loaded.
    """
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 1, (500, 2)), rng.normal(5, 1, (500, 2))]
    one_thread = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "x.csv")
        np.savetxt(path, X, delimiter=",", header="a,b", comments="", fmt="%.10g")
        code = ("import sys; from gmmx.cli import main; sys.argv = ['gmmx', 'fit', %r]; "
                "rc = main(); print([m for m in ('sklearn', 'pandas', 'pyarrow', "
                "'matplotlib', 'scipy.special') if m in sys.modules], file=sys.stderr)" % path)
        cases = {"cli": (code, None), "cli_openblas_1_thread": (code, one_thread),
                 "floor_numpy_scipy_linalg": ("import numpy, scipy.linalg", None),
                 "bare_python": ("pass", None)}
        out = {name: [] for name in cases}
        loaded = ""
        for _ in range(runs):
            for name, (c, env) in cases.items():
                cpu, last = _child_cpu(c, env)
                out[name].append(cpu)
                loaded = last if name == "cli" else loaded
        return out, loaded


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    km, hc = start_ratio(2 if args.quick else 15)
    print(json.dumps({"kmeans_start_ms": round(km * 1e3, 2),
                      "hierarchical_start_ms": round(hc * 1e3, 2),
                      "ratio": round(hc / km, 1)}))
    runs, loaded = cli_cpu(1 if args.quick else 5)
    print(json.dumps({"cli_fit_cpu_s": [round(r, 3) for r in runs["cli"]],
                      "median": round(statistics.median(runs["cli"]), 3),
                      "heavy_modules": loaded,
                      # gmmx modules compile at every start when bytecode is not written
                      "python_dont_write_bytecode": bool(os.environ.get(
                          "PYTHONDONTWRITEBYTECODE"))}))
    print(json.dumps({f"{name}_median_s": round(statistics.median(r), 3)
                      for name, r in runs.items()}))


if __name__ == "__main__":
    main()
