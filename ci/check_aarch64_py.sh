#!/usr/bin/env bash
# The Python extension modules and the kernel tests on aarch64, under qemu-user
# (issue #20): gmmx's extensions cross-built with Debian's gcc-aarch64-linux-gnu,
# run by Debian's arm64 CPython 3.11 with the aarch64 wheels of numpy, scipy,
# scikit-learn, hmmlearn and pytest from PyPI, all under qemu-aarch64-static.
#
#   1. an arm64 sysroot in a temp dir: Debian's arm64 python3.11 and the
#      libraries it needs, fetched with apt-get download (through a private apt
#      state dir: nothing is installed and dpkg's architectures are unchanged)
#      and unpacked with dpkg -x; sysroot/usr/bin/python3 is a wrapper that runs
#      it under qemu (and is what sys.executable names, so the tests'
#      subprocesses run under qemu too);
#   2. the aarch64 cp311 wheels, pip download --platform ..., installed into the
#      sysroot's dist-packages;
#   3. a copy of the sources built with the x86-64 Python (Cython, setuptools)
#      and the cross compiler, with arm64 CPython's sysconfig data
#      (_PYTHON_SYSCONFIGDATA_NAME) and headers: the .cpython-311-aarch64-linux-gnu.so
#      modules with the NEON (baseline) kernels only;
#   4. gmmx.show_config() and the kernel tests (SIMD_TARGET_TESTS of
#      tests/conftest.py, plus the hierarchical-merge, fork, interrupt and
#      BLAS-thread tests of tests/core) under emulation.
#
# About 7 minutes on 2 cores (5-6 of them the tests). The checkout is not
# touched; everything lives in a temp dir removed at exit.
#
#   ci/check_aarch64_py.sh   (installs gcc-aarch64-linux-gnu and qemu-user-static
#                             with apt-get when missing: run as root in CI)
#
# Environment:
#   PYTHON        the x86-64 interpreter that drives the build (default: python3)
#   TEST_TIMEOUT  seconds for the tests under emulation (default: 600)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
CROSS="${CROSS:-aarch64-linux-gnu-gcc}"
QEMU="${QEMU:-qemu-aarch64-static}"
TEST_TIMEOUT="${TEST_TIMEOUT:-600}"
PYVER=3.11  # Debian 12's python3.11 for arm64

if ! command -v "$CROSS" >/dev/null || ! command -v "$QEMU" >/dev/null; then
    echo "==> apt-get install gcc-aarch64-linux-gnu qemu-user-static"
    apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q gcc-aarch64-linux-gnu qemu-user-static >/dev/null
fi
"$CROSS" --version | head -n 1
"$QEMU" --version | head -n 1
QEMU="$(command -v "$QEMU")"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gmmx-aarch64-py.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
SYSROOT="$WORK/sysroot"
SITE="$SYSROOT/usr/lib/python3/dist-packages"  # on the arm64 python's default sys.path
T0=$SECONDS
stamp() { echo "    ($1: $((SECONDS - T0)) s so far)"; }

echo "==> 1. arm64 CPython $PYVER from Debian's arm64 packages (apt-get download, dpkg -x)"
mkdir -p "$WORK/apt/lists/partial" "$WORK/apt/cache/archives/partial" "$WORK/debs" "$SYSROOT"
APT=(-q -o "Dir::State::Lists=$WORK/apt/lists" -o "Dir::Cache=$WORK/apt/cache"
     -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o APT::Sandbox::User=root)
apt-get "${APT[@]}" update >"$WORK/apt.log" 2>&1 || { cat "$WORK/apt.log"; exit 1; }
# python3.11-minimal and the shared libraries of the interpreter and of the
# stdlib modules numpy, scipy and pytest use; libpython3.11-dev for the headers
# (pyconfig.h for aarch64); libgomp1 and libstdc++6 for gmmx and scipy
(cd "$WORK/debs" && apt-get "${APT[@]}" download \
    "python$PYVER-minimal" "libpython$PYVER-minimal" "libpython$PYVER-stdlib" "libpython$PYVER-dev" \
    libc6 libgcc-s1 libstdc++6 libgomp1 zlib1g libexpat1 libffi8 libssl3 libbz2-1.0 liblzma5 \
    libuuid1 libcrypt1 libsqlite3-0 libncursesw6 libtinfo6 libreadline8 >>"$WORK/apt.log" 2>&1) \
    || { cat "$WORK/apt.log"; exit 1; }
for deb in "$WORK"/debs/*.deb; do dpkg -x "$deb" "$SYSROOT"; done
# sys.executable is argv[0] (qemu's -0): this wrapper, so subprocess.run([sys.executable, ...])
# in the tests goes through qemu as well (no binfmt_misc needed)
cat >"$SYSROOT/usr/bin/python3" <<EOF
#!/bin/sh
d="\$(dirname "\$0")"
exec "$QEMU" -L "\$d/../.." -0 "\$0" "\$d/python$PYVER" "\$@"
EOF
chmod +x "$SYSROOT/usr/bin/python3"
APY="$SYSROOT/usr/bin/python3"
"$APY" -c "import platform, sys; print(platform.machine(), sys.version.split()[0], sys.prefix)"
stamp "sysroot"

echo "==> 2. aarch64 cp${PYVER/./} wheels from PyPI"
PLAT=(--only-binary=:all: --platform manylinux2014_aarch64 --platform manylinux_2_17_aarch64
      --platform manylinux_2_28_aarch64 --python-version "$PYVER" --implementation cp
      --abi "cp${PYVER/./}")
"$PYTHON" -m pip download -q --disable-pip-version-check "${PLAT[@]}" -d "$WORK/wheels" \
    numpy scipy "scikit-learn>=1.3" "threadpoolctl>=3.1" "pytest>=7" "hmmlearn>=0.3"
"$PYTHON" -m pip install -q --disable-pip-version-check --no-deps --no-index "${PLAT[@]}" \
    --target "$SITE" "$WORK"/wheels/*.whl
"$APY" -c "import numpy, scipy; print('numpy', numpy.__version__, 'scipy', scipy.__version__)"
stamp "wheels"

echo "==> 3. gmmx's extensions cross-built for aarch64"
GENERATED=()
for pyx in "$ROOT"/gmmx/_kernels/*.pyx; do
    GENERATED+=("--exclude=gmmx/_kernels/$(basename "${pyx%.pyx}").c")
done
mkdir -p "$WORK/src"
tar -C "$ROOT" --exclude=./build --exclude=./dist --exclude=./wheelhouse \
    --exclude='*.so' --exclude='*.pyd' --exclude='./.git' --exclude='./.asv' \
    "${GENERATED[@]}" -cf - . | tar -C "$WORK/src" -xf -
"$PYTHON" -m venv --system-site-packages "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install -q --disable-pip-version-check "setuptools>=77" "Cython>=3.0.11,<3.4"
# arm64 CPython's sysconfig data (CC, EXT_SUFFIX, ...) instead of the x86 one
mkdir -p "$WORK/sysconfig"
cp "$SYSROOT/usr/lib/python$PYVER/_sysconfigdata__aarch64-linux-gnu.py" "$WORK/sysconfig/"
(cd "$WORK/src" && _PYTHON_HOST_PLATFORM=linux-aarch64 \
    _PYTHON_SYSCONFIGDATA_NAME=_sysconfigdata__aarch64-linux-gnu PYTHONPATH="$WORK/sysconfig" \
    CC="$CROSS" LDSHARED="$CROSS -shared" \
    CFLAGS="-I$SYSROOT/usr/include/python$PYVER -I$SYSROOT/usr/include" GMMX_CYTHON_JOBS=2 \
    "$VPY" setup.py build_ext --inplace -j 2 >"$WORK/build.log" 2>&1) \
    || { tail -n 40 "$WORK/build.log"; exit 1; }
grep "SIMD targets compiled" "$WORK/build.log"
grep -q "SIMD targets compiled: baseline$" "$WORK/build.log" \
    || { echo "expected the baseline (NEON) copy only" >&2; exit 1; }
ls "$WORK"/src/gmmx/_kernels/*.so
n_arm="$(ls "$WORK"/src/gmmx/_kernels/*.cpython-*-aarch64-linux-gnu.so | wc -l)"
n_pyx="$(ls "$ROOT"/gmmx/_kernels/*.pyx | wc -l)"
[[ "$n_arm" == "$n_pyx" ]] || { echo "$n_arm aarch64 modules for $n_pyx .pyx" >&2; exit 1; }
stamp "build"

echo "==> 4. gmmx.show_config() and the kernel tests, under $QEMU"
cd "$WORK/src/tests"
export PYTHONPATH="$WORK/src"
"$APY" - <<'PY'
import io
import gmmx
from gmmx._kernels import _simd
buf = io.StringIO()
gmmx.show_config(file=buf)
print(buf.getvalue())
assert _simd.ARCH == "aarch64", _simd.ARCH
assert _simd.default_target() == "baseline", _simd.default_target()
assert "NEON" in buf.getvalue(), "show_config does not name NEON"
PY
# SIMD_TARGET_TESTS (relative to tests/) and the native-kernel tests of tests/core
mapfile -t TESTS < <("$PYTHON" - "$WORK/src/tests/conftest.py" <<'PY'
import ast, sys
tree = ast.parse(open(sys.argv[1]).read())
for node in tree.body:
    if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "SIMD_TARGET_TESTS" for t in node.targets):
        for path in ast.literal_eval(node.value):
            print(path.removeprefix("tests/"))
PY
)
[[ ${#TESTS[@]} -gt 0 ]] || { echo "no SIMD_TARGET_TESTS in tests/conftest.py" >&2; exit 1; }
TESTS+=(core/test_hierarchical_init.py core/test_fork_safety.py core/test_kernel_interrupt.py
        core/test_blas_threads.py core/test_init.py core/test_extreme_values.py
        core/test_degenerate_data.py)
# Deselected (ids relative to the checkout, pytest's rootdir): this test gives a
# 8000-row score_samples 60 s of wall time, and it takes ~50 s under qemu.
DESELECT=(--deselect tests/core/test_kernel_interrupt.py::test_kernel_in_a_worker_thread_ignores_signals_meant_for_the_main_thread)
echo "${TESTS[*]}"
timeout "$TEST_TIMEOUT" "$APY" -m pytest -q -p no:cacheprovider --durations=10 "${DESELECT[@]}" "${TESTS[@]}"
stamp "tests"
echo "check_aarch64_py.sh: OK"
