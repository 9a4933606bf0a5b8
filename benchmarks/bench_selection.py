"""Model-selection benchmark: a grid of candidates over a .npy source costs one fit's I/O.

A ``.npy`` file of 100,000,000 float32 rows (d = 2, a three-component
mixture; 800 MB) is read chunk by chunk (NpySource, memory-mapped) by

(1) one ``GaussianMixture`` fit (K = 3, full),
(2) ``GaussianMixtureIC`` over K = 1..9 x {full, tied, diag, spherical}
    (36 candidates), all advanced together: one read per EM iteration for the
    whole grid, one shared initialisation sample,

each for the same fixed number of EM passes (``tol = 0``), so the I/O of the
two is directly comparable.  Reported: passes over the file, bytes read,
wall time, the time of a bare read pass (the I/O floor) and the time the
same 36 candidates would need one fit at a time (extrapolated from (1):
36 x its passes).  The page cache is dropped-or-warm as the machine has it;
run twice to see both.

Usage::

    python benchmarks/bench_selection.py            # 10^8 rows (800 MB in --tmpdir)
    python benchmarks/bench_selection.py --quick    # 10^6 rows, a few seconds

The file is deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import warnings

import numpy as np

try:
    import gmmx
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import gmmx
from gmmx import GaussianMixture, GaussianMixtureIC
from gmmx.sources import NpySource

MB = 1024 * 1024


class CountingNpySource(NpySource):
    """NpySource that counts the rows (and so the bytes) it hands out."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows_read = 0

    def read_chunk(self, i):
        item = super().read_chunk(i)
        self.rows_read += (item[0] if isinstance(item, tuple) else item).shape[0]
        return item

    @property
    def bytes_read(self):
        return self.rows_read * self._row_bytes


def write_npy(path, n, rng, chunk=5_000_000):
    """Three 2-D Gaussians (weights .5/.3/.2), float32, written chunk by chunk."""
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, 2))
    means = np.array([[0.0, 0.0], [3.0, 1.0], [-2.0, 4.0]])
    chol = np.array([[[1.0, 0.0], [0.5, 0.8]], [[0.6, 0.0], [0.0, 0.6]],
                     [[1.5, 0.0], [-0.7, 0.5]]])
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        lab = rng.choice(3, m, p=[0.5, 0.3, 0.2])
        z = rng.standard_normal((m, 2))
        out[s:s + m] = (means[lab] + np.einsum("nij,nj->ni", chol[lab], z)).astype(np.float32)
    out.flush()
    del out


def bare_pass(path, chunk_rows):
    """Seconds to read every chunk once and touch it (the I/O floor of a pass)."""
    src = NpySource(path, chunk_size=chunk_rows)
    t = time.perf_counter()
    total = 0.0
    for block in src.chunks():
        total += float(block[::4096].sum())
    return time.perf_counter() - t


def run(path, passes, chunk_rows, grid_ks, covs):
    res = {}
    src = CountingNpySource(path, chunk_size=chunk_rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gmmx.ConvergenceWarning)
        t = time.perf_counter()
        one = GaussianMixture(3, init_params="hierarchical", max_iter=passes, tol=0.0,
                              random_state=0).fit(src)
        res["one"] = (time.perf_counter() - t, src.bytes_read, one)
        src = CountingNpySource(path, chunk_size=chunk_rows)
        t = time.perf_counter()
        sel = GaussianMixtureIC(grid_ks, covs, max_iter=passes, tol=0.0,
                                random_state=0).fit(src)
        res["grid"] = (time.perf_counter() - t, src.bytes_read, sel)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="10^6 rows instead of 10^8")
    ap.add_argument("--rows", type=int, default=None, help="rows of the .npy file")
    ap.add_argument("--passes", type=int, default=5, help="EM passes per candidate")
    ap.add_argument("--chunk-rows", type=int, default=1 << 22)
    ap.add_argument("--tmpdir", default=tempfile.gettempdir())
    args = ap.parse_args()
    n = args.rows or (1_000_000 if args.quick else 100_000_000)
    chunk_rows = min(args.chunk_rows, max(n // 8, 1))
    grid_ks, covs = range(1, 10), ("full", "tied", "diag", "spherical")
    n_cand = len(grid_ks) * len(covs)
    tmp = tempfile.mkdtemp(prefix="gmmx-bench-sel-", dir=args.tmpdir)
    print(f"gmmx {gmmx.__version__}, {os.cpu_count()} CPUs, threads per kernel call: "
          f"{GaussianMixture()._n_threads()}, load average {os.getloadavg()[0]:.2f}")
    try:
        path = os.path.join(tmp, "ticks.npy")
        t = time.perf_counter()
        write_npy(path, n, np.random.default_rng(0))
        size = os.path.getsize(path)
        print(f"wrote {n:,} x 2 float32 rows ({size / MB:.0f} MB) in "
              f"{time.perf_counter() - t:.1f}s; {args.passes} EM passes per candidate, "
              f"chunks of {chunk_rows:,} rows")
        t_read = bare_pass(path, chunk_rows)
        res = run(path, args.passes, chunk_rows, grid_ks, covs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    t1, b1, one = res["one"]
    tg, bg, sel = res["grid"]
    print()
    head = f"{'case':<52} {'passes':>7} {'MB read':>10} {'seconds':>9}"
    print(head)
    print("-" * len(head))
    print(f"{'bare read pass (I/O floor)':<52} {1:>7} {size / MB:>10.0f} {t_read:>9.2f}")
    print(f"{'one GaussianMixture fit (K=3 full)':<52} {b1 / size:>7.2f} {b1 / MB:>10.0f} "
          f"{t1:>9.2f}")
    print(f"{f'GaussianMixtureIC, {n_cand} candidates in lockstep':<52} {bg / size:>7.2f} "
          f"{bg / MB:>10.0f} {tg:>9.2f}")
    print(f"{f'{n_cand} separate fits (extrapolated from one fit)':<52} "
          f"{n_cand * b1 / size:>7.2f} {n_cand * b1 / MB:>10.0f} {n_cand * t1:>9.2f}")
    print()
    print(f"selected: K={sel.n_components_} {sel.covariance_type_} (the data have K=3); "
          f"GaussianMixtureIC n_passes_ = {sel.n_passes_}")
    print(f"grid I/O / one fit's I/O: {bg / b1:.2f}x (target: about 1x)")
    io_floor = (bg / size) * t_read
    print(f"grid time: {tg:.1f}s, of which reading at most ~{io_floor:.1f}s; the rest is the "
          f"{n_cand} candidates' kernel work, which I/O no longer multiplies")


if __name__ == "__main__":
    main()
