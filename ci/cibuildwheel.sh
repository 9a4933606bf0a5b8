#!/usr/bin/env bash
# Build and test the binary wheels of this CI runner's platform with
# cibuildwheel (configuration: [tool.cibuildwheel] in pyproject.toml).
# Linux needs Docker or Podman (GitHub's runners have it; this dev machine
# does not: use ci/build_wheel.sh + ci/test_wheel.sh here instead).
#
#   ci/cibuildwheel.sh [OUTDIR]       (default: ./wheelhouse)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUTDIR="${1:-$ROOT/wheelhouse}"
PYTHON="${PYTHON:-python}"
# Pinned so that a new cibuildwheel (new manylinux images, new defaults)
# arrives as a reviewed change, not as a surprise in a release build.
CIBW_VERSION="${CIBW_VERSION:-4.3.5}"

"$PYTHON" -m pip install "cibuildwheel==${CIBW_VERSION}"
"$PYTHON" -m cibuildwheel --output-dir "$OUTDIR" "$ROOT"
ls -l "$OUTDIR"
