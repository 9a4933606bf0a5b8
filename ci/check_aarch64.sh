#!/usr/bin/env bash
# aarch64 cross-check of the dispatched kernels: cross-compile the kernel
# source (_simd_kernels.c: the aarch64 baseline = NEON copy) with Debian's
# gcc-aarch64-linux-gnu, link the standalone driver ci/simd/driver.c
# statically, run it under qemu-aarch64-static, and compare its outputs with
# those of the x86-64 copies (baseline, AVX2) of the same driver: every value
# to 1e-12 of its array's largest (bit-identical but for the FMA of the full kernels' loops and the t arithmetic on AVX2).
#
# The Python extension modules and the kernel tests on aarch64 (an arm64
# CPython with numpy/scipy under emulation): ci/check_aarch64_py.sh.
#
#   ci/check_aarch64.sh      (installs gcc-aarch64-linux-gnu and
#                             qemu-user-static with apt-get when missing)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
CROSS="${CROSS:-aarch64-linux-gnu-gcc}"
QEMU="${QEMU:-qemu-aarch64-static}"

if ! command -v "$CROSS" >/dev/null || ! command -v "$QEMU" >/dev/null; then
    echo "==> apt-get install gcc-aarch64-linux-gnu qemu-user-static"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q gcc-aarch64-linux-gnu qemu-user-static >/dev/null
fi
"$CROSS" --version | head -n 1

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gmmx-aarch64.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
K="$ROOT/gmmx/_kernels"
# the flags setup.py gives every copy
FLAGS=(-O3 -ffp-contract=off -fno-trapping-math -fno-strict-aliasing -Wall -Wno-unused-function
       -Wno-psabi -DGMMX_SIMD_STANDALONE "-I$K")

build() {  # build CC SUFFIX OUT [target flags...]
    local cc="$1" suffix="$2" out="$3"
    shift 3
    "$cc" "${FLAGS[@]}" "-DGMMX_SIMD_TARGET=$suffix" "$@" -c "$K/_simd_kernels.c" -o "$out.o"
    "$cc" -O2 -ffp-contract=off "-I$K" "-DGMMX_SIMD_TABLE=gmmx_simd_table_$suffix" -static \
        "$ROOT/ci/simd/driver.c" "$out.o" -lm -o "$out"
}

echo "==> aarch64 (NEON) copy, cross-compiled, run under $QEMU"
build "$CROSS" baseline "$WORK/arm"
timeout 300 "$QEMU" "$WORK/arm" >"$WORK/arm.txt"
head -n 1 "$WORK/arm.txt"
grep -q "NEON" "$WORK/arm.txt" || { echo "the aarch64 copy was not built for NEON" >&2; exit 1; }

if [[ "$(uname -m)" == x86_64 ]]; then
    echo "==> x86-64 copies of the same driver"
    build "${CC:-cc}" baseline "$WORK/x86"
    "$WORK/x86" >"$WORK/x86.txt"
    build "${CC:-cc}" avx2 "$WORK/avx2" -mavx2 -mfma -DGMMX_SIMD_X86_ONLY
    if grep -q -w avx2 /proc/cpuinfo; then
        "$WORK/avx2" >"$WORK/avx2.txt"
        "$PYTHON" "$ROOT/ci/simd/compare.py" "$WORK/x86.txt" "$WORK/avx2.txt"
    fi
    "$PYTHON" "$ROOT/ci/simd/compare.py" "$WORK/x86.txt" "$WORK/arm.txt"
fi
echo "check_aarch64.sh: OK"
