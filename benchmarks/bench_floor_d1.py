"""gmmx against the floor for one feature and two components.

Builds ``floor_d1.c`` for the machine at hand (``-O3 -march=native
-ffast-math -fopenmp``: glibc's vector exp and log), then times one EM
iteration of gmmx (E-step + M-step) and one pass of the floor program,
alternately, on N rows, in float64 and float32, and prints the CPU model, the
SIMD target gmmx runs, both times and their ratio (the issue's goal: within
1.25x).

    python benchmarks/bench_floor_d1.py [--n 2000000] [--rounds 3] [--threads N]

Needs a C compiler (``CC``, default ``cc``) with OpenMP; Linux or macOS.
"""

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_vs_sklearn import _gmmx_em_iteration, _median_time  # noqa: E402


def cpu_model():
    """The CPU's model name (/proc/cpuinfo on Linux, sysctl on macOS)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name") or line.startswith("Model"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        return subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or platform.machine()


def build_floor(workdir):
    """Compile floor_d1.c; returns the executable's path."""
    cc = os.environ.get("CC", "cc")
    exe = os.path.join(workdir, "floor_d1")
    subprocess.run([cc, "-O3", "-march=native", "-ffast-math", "-fopenmp",
                    os.path.join(HERE, "floor_d1.c"), "-lm", "-o", exe], check=True)
    return exe


def floor_ms(exe, n, threads, dtype, repeats):
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    args = [exe, str(n), str(repeats)] + (["float"] if dtype == np.float32 else [])
    out = subprocess.run(args, env=env, capture_output=True, text=True, check=True).stdout
    return float(re.match(r"([0-9.]+) ms", out).group(1))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2_000_000)
    ap.add_argument("--rounds", type=int, default=3, help="alternations of floor and gmmx")
    ap.add_argument("--repeats", type=int, default=7, help="timed passes per round")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args(argv)

    import gmmx
    from gmmx._kernels import _simd

    print(f"CPU: {cpu_model()}")
    print(f"gmmx {gmmx.__version__} from {os.path.dirname(gmmx.__file__)}; SIMD target "
          f"{_simd.current_target()} (compiled: {', '.join(_simd.compiled_targets())})")
    print(f"N={args.n:,} d=1 K=2, {args.threads} threads, best of {args.rounds} rounds "
          f"of median-of-{args.repeats}")
    rng = np.random.default_rng(0)
    calm = rng.random(args.n) < 0.8
    x = np.where(calm, rng.normal(0, 0.01, args.n), rng.normal(0, 0.04, args.n))
    with tempfile.TemporaryDirectory() as tmp:
        exe = build_floor(tmp)
        for dtype in (np.float64, np.float32):
            X = np.ascontiguousarray(x[:, None], dtype=dtype)
            step, _ = _gmmx_em_iteration(X, 2, "full", n_threads=args.threads)
            fl, gm = [], []
            for _ in range(args.rounds):
                fl.append(floor_ms(exe, args.n, args.threads, dtype, args.repeats))
                gm.append(1e3 * _median_time(step, args.repeats))
            f, g = min(fl), min(gm)
            print(f"  {np.dtype(dtype).name}: gmmx {g:8.2f} ms   floor {f:8.2f} ms   "
                  f"ratio {g / f:5.2f}  (goal <= 1.25)")


if __name__ == "__main__":
    main()
