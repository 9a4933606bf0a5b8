"""Fits of every covariance type, float32/float64, d=1 and d>1, on every SIMD
target this CPU runs, saved to compare builds (GCC against clang) and targets.

    python ci/simd_fits.py save OUT.npz
    python ci/simd_fits.py compare A.npz B.npz [--rtol 1e-12]

``save`` also checks that every target gives the same fit as the default one
(to --rtol); ``compare`` checks that two builds give the same fits.
"""

import argparse
import sys
import warnings

import numpy as np


def _fits():
    from gmmx import GaussianMixture
    from gmmx._kernels import _simd

    warnings.simplefilter("ignore")  # 20 iterations at tol=0: ConvergenceWarning
    rng = np.random.default_rng(7)
    data = {}
    for d in (1, 5):
        centres = rng.normal(scale=4.0, size=(3, d))
        data[d] = np.concatenate([rng.normal(c, 1.0, (1500, d)) for c in centres])
    out = {}
    for target in _simd.runnable_targets():
        _simd._set_target(target)
        for d, X in data.items():
            for dtype in (np.float64, np.float32):
                for cov in ("full", "tied", "diag", "spherical"):
                    m = GaussianMixture(3, covariance_type=cov, random_state=0, max_iter=20,
                                        tol=0.0, n_threads=2).fit(X.astype(dtype))
                    for name in ("weights_", "means_", "covariances_"):
                        out[f"{target}/{cov}/d{d}/{np.dtype(dtype).name}/{name}"] = getattr(m, name)
    _simd._set_target(None)
    return out


def _close(a, b, rtol):
    scale = max(np.abs(b).max(), 1e-300)
    return np.all(np.abs(a - b) <= rtol * scale)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["save", "compare"])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--rtol", type=float, default=1e-12)
    args = ap.parse_args(argv)
    if args.mode == "save":
        from gmmx._kernels import _simd

        fits = _fits()
        np.savez(args.files[0], **fits)
        bad = []
        default = _simd.default_target()
        for key, value in fits.items():
            ref = fits[default + key[key.index("/"):]]
            if not _close(value, ref, args.rtol):
                bad.append(key)
        print(f"simd_fits: targets {_simd.runnable_targets()}; {len(fits)} arrays; "
              f"{'all agree' if not bad else 'DISAGREE: ' + ', '.join(bad)}")
        return 1 if bad else 0
    a, b = (np.load(f) for f in args.files[:2])
    keys = sorted(a.files)
    assert keys == sorted(b.files), "the builds ran different targets"
    bad = [k for k in keys if not _close(a[k], b[k], args.rtol)]
    same = sum(np.array_equal(a[k], b[k]) for k in keys)
    print(f"simd_fits: {len(keys)} arrays, {same} bit-identical, "
          f"{'all within' if not bad else 'NOT within'} rtol {args.rtol}"
          + ("" if not bad else ": " + ", ".join(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
