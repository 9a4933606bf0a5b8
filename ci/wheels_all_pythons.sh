#!/usr/bin/env bash
# Build the repaired wheel and run the test suite against it for every CPython
# this machine has (pyenv's 3.10 and newer, or the interpreters given), the
# local stand-in for cibuildwheel's matrix. Not part of every .ci/run: about
# 5 minutes per interpreter on two cores.
#
#   ci/wheels_all_pythons.sh [PYTHON ...]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ $# -gt 0 ]]; then
    PYTHONS=("$@")
else
    PYTHONS=()
    for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.*; do
        [[ -x "$dir/bin/python" ]] || continue
        minor="$(basename "$dir" | cut -d. -f2)"
        (( minor >= 10 )) && PYTHONS+=("$dir/bin/python")
    done
fi
[[ ${#PYTHONS[@]} -gt 0 ]] || { echo "no CPython >= 3.10 found" >&2; exit 1; }

summary=()
for py in "${PYTHONS[@]}"; do
    version="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    out="$ROOT/wheelhouse/py$version"
    printf '\n######## CPython %s (%s)\n' "$version" "$py"
    if PYTHON="$py" bash "$ROOT/ci/build_wheel.sh" "$out" \
        && PYTHON="$py" bash "$ROOT/ci/test_wheel.sh" "$out" -q; then
        summary+=("CPython $version: wheel built and tested")
    else
        summary+=("CPython $version: FAILED")
    fi
done
printf '\n%s\n' "${summary[@]}"
! printf '%s\n' "${summary[@]}" | grep -q FAILED
