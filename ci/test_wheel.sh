#!/usr/bin/env bash
# Install the repaired gmmx-em wheel into a fresh virtualenv and run the test
# suite against it, from outside the source tree.
#
#   ci/test_wheel.sh [WHEELHOUSE] [pytest args ...]   (default: ./wheelhouse)
#
# The venv gets binary wheels only and no working compiler (CC=/bin/false), so
# a wheel that does not match this interpreter fails instead of silently
# falling back to a source build. ci/run_wheel_tests.py imports the installed
# gmmx before pytest runs and fails if it is not the venv's copy.
#
# Environment:
#   PYTHON          interpreter for the venv (default: python3)
#   GMMX_EXTRAS     extras to install with the wheel (default: test)
#   GMMX_KEEP_VENV  directory to create the venv in and keep (default: a
#                   temporary one, removed on exit)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHEELHOUSE="${1:-$ROOT/wheelhouse}"
shift || true
PYTHON="${PYTHON:-python3}"
EXTRAS="${GMMX_EXTRAS:-test}"

WHEELHOUSE="$(cd "$WHEELHOUSE" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gmmx-test.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
VENV="${GMMX_KEEP_VENV:-$WORK/venv}"

# Pick the wheel whose tags this interpreter accepts (there may be several
# in the wheelhouse, for other Python versions).
WHEEL="$("$PYTHON" - "$WHEELHOUSE" <<'PY'
import sys
from pathlib import Path

from packaging.tags import sys_tags
from packaging.utils import parse_wheel_filename

supported = {str(t) for t in sys_tags()}
for whl in sorted(Path(sys.argv[1]).glob("gmmx_em-*.whl")):
    _, _, _, tags = parse_wheel_filename(whl.name)
    if any(str(t) in supported for t in tags):
        print(whl)
        break
else:
    sys.exit(f"test_wheel.sh: no wheel in {sys.argv[1]} fits this Python")
PY
)"
echo "==> testing $(basename "$WHEEL")"

# A fresh virtualenv: nothing from the build environment leaks in.
if "$PYTHON" -m virtualenv --version >/dev/null 2>&1; then
    "$PYTHON" -m virtualenv -q "$VENV"
else
    "$PYTHON" -m venv "$VENV"
fi
VPY="$VENV/bin/python"

# No compiler: any attempt to build something from source fails loudly.
export CC=/bin/false CXX=/bin/false
"$VPY" -m pip install -q --upgrade pip
"$VPY" -m pip install -q --only-binary=:all: "${WHEEL}[${EXTRAS}]"

# Run from an empty directory outside the tree; see ci/run_wheel_tests.py.
mkdir -p "$WORK/run"
cd "$WORK/run"
export GMMX_EXPECT_PREFIX="$VENV"
# Matplotlib must not look for a display (the CLI and plotting tests draw).
export MPLBACKEND=Agg
"$VPY" "$ROOT/ci/run_wheel_tests.py" "$ROOT" "$@"

# The console script declared in pyproject.toml, as a user runs it.
echo "==> gmmx demo (console script of the wheel)"
"$VENV/bin/gmmx" --version
"$VENV/bin/gmmx" demo --n-samples 200000 --plot "$WORK/run/demo.png"
test -s "$WORK/run/demo.png"
