#!/usr/bin/env bash
# Check that the sdist builds from PyPI packages alone: in a fresh virtualenv,
# `pip wheel` the sdist with build isolation (pip fetches setuptools, Cython and
# SciPy itself), install the result and fit a small model with it.
#
#   ci/check_sdist.sh [WHEELHOUSE]    (default: ./wheelhouse, holding the
#                                      gmmx_em-*.tar.gz of ci/build_wheel.sh)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHEELHOUSE="$(cd "${1:-$ROOT/wheelhouse}" && pwd)"
PYTHON="${PYTHON:-python3}"
SDIST="$(ls "$WHEELHOUSE"/gmmx_em-*.tar.gz | head -n 1)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gmmx-sdist.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

echo "==> pip wheel $(basename "$SDIST") in a fresh virtualenv"
if "$PYTHON" -m virtualenv --version >/dev/null 2>&1; then
    "$PYTHON" -m virtualenv -q "$WORK/venv"
else
    "$PYTHON" -m venv "$WORK/venv"
fi
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install -q --upgrade pip
# --no-binary gmmx-em: never substitute a wheel for the sdist under test.
GMMX_CYTHON_JOBS=2 "$VPY" -m pip wheel -q --no-deps --no-binary gmmx-em \
    -w "$WORK/wheels" "$SDIST"
"$VPY" -m pip install -q "$WORK"/wheels/gmmx_em-*.whl

cd "$WORK"   # away from the source tree: import the installed package
"$VPY" - "$ROOT" <<'PY'
import sys
from pathlib import Path

import numpy as np

import gmmx

root = Path(sys.argv[1]).resolve()
where = Path(gmmx.__file__).resolve()
assert root not in where.parents, f"imported the source tree: {where}"
rng = np.random.default_rng(0)
X = np.concatenate([rng.normal(-2, 0.5, 2000), rng.normal(3, 1.0, 2000)])[:, None]
gm = gmmx.GaussianMixture(2, random_state=0).fit(X)
means = np.sort(gm.means_.ravel())
assert np.allclose(means, [-2, 3], atol=0.1), means
print(f"sdist OK: gmmx {gmmx.__version__} from {where.parent}, means {means.round(3)}")
PY
