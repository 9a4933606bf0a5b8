#!/usr/bin/env bash
# Smoke-run the asv benchmark suite against the built wheel: every benchmark,
# every parameter combination, once, on tiny data. It checks that the suite
# runs, not how fast gmmx is (that is `asv run` / `asv continuous` on a quiet
# machine, see README).
#
#   ci/asv_smoke.sh [WHEELHOUSE]      (default: ./wheelhouse)
#
# Takes about 3-4 minutes on two cores: asv starts a fresh interpreter for
# every benchmark and parameter combination (~330 of them).
#
# Environment:
#   PYTHON              interpreter for the venv (default: python3)
#   GMMX_BENCH_FULL=1   use the default benchmark sizes instead of tiny ones
#                       (about 9 minutes on two cores)
#   GMMX_ASV_BENCH      only the benchmarks matching this regex (asv --bench)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHEELHOUSE="$(cd "${1:-$ROOT/wheelhouse}" && pwd)"
PYTHON="${PYTHON:-python3}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gmmx-asv.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

WHEEL="$(ls "$WHEELHOUSE"/gmmx_em-*-cp"$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')"-*.whl | head -n 1)"
echo "==> asv smoke run against $(basename "$WHEEL")"

if "$PYTHON" -m virtualenv --version >/dev/null 2>&1; then
    "$PYTHON" -m virtualenv -q "$WORK/venv"
else
    "$PYTHON" -m venv "$WORK/venv"
fi
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install -q --upgrade pip
# bench extra: asv, scikit-learn (comparisons), pyarrow (Parquet), psutil;
# pandas for the CSV source.
"$VPY" -m pip install -q --only-binary=:all: "${WHEEL}[bench]" pandas

cd "$ROOT/benchmarks"
# asv keeps machine descriptions in ~/.asv-machine.json: use a throwaway HOME
# so that a developer's own machine file is neither needed nor touched.
export HOME="$WORK/home"
mkdir -p "$HOME"
"$VPY" -m asv machine --yes --machine gmmx-smoke >/dev/null

# 1. Discovery: every module imports, every benchmark is well formed.
"$VPY" -m asv check --python=same

# 2. Run everything once. "existing" environment = this venv's gmmx, no
# builds; --dry-run keeps no results. asv exits non-zero when a benchmark
# fails; the grep also catches failures it only reports.
if [[ "${GMMX_BENCH_FULL:-0}" != 1 ]]; then
    export GMMX_BENCH_TINY=1
fi
set +e
"$VPY" -m asv run --python=same --quick --dry-run --show-stderr --machine gmmx-smoke \
    ${GMMX_ASV_BENCH:+--bench "$GMMX_ASV_BENCH"} 2>&1 | tee "$WORK/asv.log"
rc=${PIPESTATUS[0]}
set -e
if [[ $rc -ne 0 ]] || grep -Eq '^\[[ 0-9.]+%\] ··· .* failed$' "$WORK/asv.log"; then
    echo "asv_smoke.sh: benchmarks failed (asv exit status $rc)" >&2
    grep -E ' failed$' "$WORK/asv.log" >&2 || true
    exit 1
fi
n_ok="$(grep -Ec '^\[[ 0-9.]+%\] ··· [^ ]+ +ok$' "$WORK/asv.log" || true)"
echo "==> asv smoke run: $n_ok benchmarks ok"
