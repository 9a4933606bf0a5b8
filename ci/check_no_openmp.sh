#!/usr/bin/env bash
# Build the kernels WITHOUT OpenMP from the same source (GMMX_NO_OPENMP=1, the
# #ifdef _OPENMP shim) and run the core tests against that build: it must
# import, say OpenMP is off, and fit exactly like the OpenMP build (the tests
# asking for several threads then run the same groups on one thread).
#
#   ci/check_no_openmp.sh
#
# Environment:
#   PYTHON   interpreter for the build venv (default: python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gmmx-noomp.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# Sources only: no build products of an in-place development build (the C
# files Cython generates from the .pyx; _simd_kernels.c is a source).
mkdir -p "$WORK/src"
GENERATED=()
for pyx in "$ROOT"/gmmx/_kernels/*.pyx; do
    GENERATED+=("--exclude=gmmx/_kernels/$(basename "${pyx%.pyx}").c")
done
tar -C "$ROOT" --exclude=./build --exclude=./dist --exclude=./wheelhouse \
    --exclude='*.so' --exclude='*.pyd' --exclude='./.git' --exclude='./.asv' \
    "${GENERATED[@]}" -cf - . | tar -C "$WORK/src" -xf -

"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install -q --disable-pip-version-check \
    "setuptools>=77" "Cython>=3.0.11,<3.4" numpy scipy pytest scikit-learn threadpoolctl

echo "==> building without OpenMP"
(cd "$WORK/src" && GMMX_NO_OPENMP=1 GMMX_CYTHON_JOBS=2 "$VPY" setup.py -q build_ext --inplace)
if grep -rq -- "-fopenmp" "$WORK/src/build" 2>/dev/null; then
    echo "check_no_openmp.sh: -fopenmp appears in the build" >&2
    exit 1
fi

cd "$WORK/src/tests"
export PYTHONPATH="$WORK/src"
"$VPY" - <<'PY'
from gmmx._kernels import _estep, _kmeans  # noqa: F401
assert not _estep.OPENMP_ENABLED, "built with OpenMP although GMMX_NO_OPENMP=1"
assert _estep.openmp_max_threads() == 1
print("no-OpenMP build imports; OpenMP off")
PY
echo "==> core tests against the no-OpenMP build"
"$VPY" -m pytest -q -p no:cacheprovider core/test_kernel.py core/test_stats.py \
    core/test_mstep.py core/test_covariance.py core/test_init.py \
    mixture/test_gaussian_mixture.py test_validation.py
