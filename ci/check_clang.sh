#!/usr/bin/env bash
# Build the kernels with clang (Debian's clang and libomp) and check what the
# SIMD dispatch promises for it: the AVX2 copy exists and uses ymm registers,
# the kernel tests pass on every target the CPU runs, and fits agree with the
# GCC build to 1e-12 (bit for bit but for the FMA of the full kernels' loops and the t arithmetic on AVX2 and AVX-512).
#
#   ci/check_clang.sh        (installs clang and libomp-dev with apt-get when
#                             missing: run as root in CI)
#
# Environment:
#   PYTHON   interpreter (default: python3)
#   CLANG    compiler (default: clang)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
CLANG="${CLANG:-clang}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gmmx-clang.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

printf '#include <omp.h>\nint main(void) { return omp_get_max_threads() < 1; }\n' >"$WORK/omp.c"
if ! command -v "$CLANG" >/dev/null || ! "$CLANG" -fopenmp "$WORK/omp.c" -o "$WORK/omp" 2>/dev/null; then
    echo "==> apt-get install clang libomp-dev"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q clang libomp-dev >/dev/null
fi
"$CLANG" --version | head -n 1

# two copies of the sources (no build products): one for GCC, one for clang
GENERATED=()
for pyx in "$ROOT"/gmmx/_kernels/*.pyx; do
    GENERATED+=("--exclude=gmmx/_kernels/$(basename "${pyx%.pyx}").c")
done
for build in gcc clang; do
    mkdir -p "$WORK/$build"
    tar -C "$ROOT" --exclude=./build --exclude=./dist --exclude=./wheelhouse \
        --exclude='*.so' --exclude='*.pyd' --exclude='./.git' --exclude='./.asv' \
        "${GENERATED[@]}" -cf - . | tar -C "$WORK/$build" -xf -
done

"$PYTHON" -m venv --system-site-packages "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install -q --disable-pip-version-check "setuptools>=77" "Cython>=3.0.11,<3.4" \
    numpy scipy pytest threadpoolctl scikit-learn

echo "==> GCC build"
(cd "$WORK/gcc" && GMMX_CYTHON_JOBS=2 "$VPY" setup.py -q build_ext --inplace -j 2 >"$WORK/gcc.log" 2>&1) \
    || { tail -n 40 "$WORK/gcc.log"; exit 1; }
echo "==> clang build"
(cd "$WORK/clang" && CC="$CLANG" LDSHARED="$CLANG -shared" GMMX_CYTHON_JOBS=2 \
    "$VPY" setup.py -q build_ext --inplace -j 2 >"$WORK/clang.log" 2>&1) \
    || { tail -n 40 "$WORK/clang.log"; exit 1; }
grep "SIMD targets compiled" "$WORK/clang.log"

echo "==> the clang build's AVX2 and AVX-512 copies use their registers"
if [[ "$(uname -m)" == x86_64 ]]; then
    for target in avx2 avx512_skx; do
        obj="$(find "$WORK/clang/build" -path "*simd/$target/*" -name '_simd_kernels.o')"
        [[ -n "$obj" ]] || { echo "no $target object in the clang build" >&2; exit 1; }
        reg=ymm; [[ $target == avx512_skx ]] && reg=zmm
        n="$(objdump -d --no-show-raw-insn "$obj" | grep -c "%$reg" || true)"
        echo "$target: $n instructions on $reg registers"
        [[ "$n" -gt 0 ]] || { echo "the clang $target copy has no $reg instruction" >&2; exit 1; }
        if [[ $target == avx2 ]]; then
            echo "stack traffic of vector registers in the AVX2 copy's innermost loops:"
            objdump -d --no-show-raw-insn "$obj" >"$WORK/avx2.s"
            "$VPY" "$ROOT/ci/simd/loop_spills.py" "$WORK/avx2.s"
        fi
    done
fi

cd "$WORK/clang/tests"
PYTHONPATH="$WORK/clang" "$VPY" - <<'PY'
import io
import gmmx
from gmmx._kernels import _simd
buf = io.StringIO()
gmmx.show_config(file=buf)
print(buf.getvalue())
assert _simd.target_build("baseline")[1].startswith("clang"), _simd.target_build("baseline")
PY

echo "==> kernel tests against the clang build, on every SIMD target the CPU runs,"
echo "==> and the hierarchical tree's (its AVX2 and baseline loops, the same merges)"
PYTHONPATH="$WORK/clang" "$VPY" -m pytest -q -p no:cacheprovider kernels/ core/test_kernel.py \
    hmm/test_hmm_kernel.py core/test_hierarchical_init.py

echo "==> fits: clang build against GCC build"
PYTHONPATH="$WORK/gcc" "$VPY" "$ROOT/ci/simd_fits.py" save "$WORK/gcc.npz"
PYTHONPATH="$WORK/clang" "$VPY" "$ROOT/ci/simd_fits.py" save "$WORK/clang.npz"
"$VPY" "$ROOT/ci/simd_fits.py" compare "$WORK/gcc.npz" "$WORK/clang.npz" --rtol 1e-12
echo "check_clang.sh: OK"
