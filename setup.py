"""Build the gmmx native kernels (Cython + OpenMP, BLAS through SciPy).

Environment variables
---------------------
GMMX_NO_OPENMP=1
    Build without OpenMP (the kernels then run on one thread). The build also
    falls back to this automatically when the compiler cannot link an OpenMP
    test program.
GMMX_OPENMP_PREFIX=/path
    Where libomp lives on macOS (default: ``brew --prefix libomp`` or the
    usual Homebrew locations).
GMMX_DEBUG=1
    Compile with -O0 -g for debugging.
GMMX_SIMD_TARGETS="baseline avx2"
    Compile only these SIMD targets' copies of the kernels (default: all of
    the architecture's: baseline, avx2 and avx512_skx on x86-64; baseline =
    NEON on aarch64). The baseline copy is always compiled.

SIMD dispatch (numpy's scheme): gmmx/_kernels/_simd_kernels.c is compiled
once per target with that target's flags, every copy is linked into the
gmmx._kernels._simd extension, and the dispatcher there picks one at import
from CPUID / HWCAP. A target the compiler cannot build is left out (with a
message); the dispatcher only offers the copies that were built.
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

KERNELS = ["_simd", "_estep", "_kmeans", "_hmm", "_student", "_hier", "_missing"]
SIMD_SOURCE = "gmmx/_kernels/_simd_kernels.c"
SIMD_DEPENDS = [
    f"gmmx/_kernels/{name}"
    for name in ("_simd_kernels.c", "_simd_table.h", "_vmath.h", "_kmeans_core.h", "_hmm_core.h")
]

# x86-64 targets above the baseline: (suffix, GCC/clang flags, MSVC flags).
# AVX512_SKX is numpy's group of that name (Skylake-X and later, Zen 4).
X86_TARGETS = [
    ("avx2", ["-mavx2", "-mfma"], ["/arch:AVX2"]),
    (
        "avx512_skx",
        ["-mavx512f", "-mavx512cd", "-mavx512vl", "-mavx512bw", "-mavx512dq", "-mavx2", "-mfma"],
        ["/arch:AVX512"],
    ),
]


def _macos_libomp_prefix():
    prefix = os.environ.get("GMMX_OPENMP_PREFIX")
    if prefix:
        return prefix
    if shutil.which("brew"):
        try:
            out = subprocess.run(
                ["brew", "--prefix", "libomp"], capture_output=True, text=True, check=True
            ).stdout.strip()
            if out:
                return out
        except (OSError, subprocess.CalledProcessError):
            pass
    for candidate in ("/opt/homebrew/opt/libomp", "/usr/local/opt/libomp"):
        if os.path.isdir(candidate):
            return candidate
    return None


def _openmp_flags(compiler_type):
    """Return (compile_args, link_args) for OpenMP on this platform."""
    if compiler_type == "msvc":
        return ["/openmp"], []
    if sys.platform == "darwin":
        prefix = _macos_libomp_prefix()
        cflags = ["-Xpreprocessor", "-fopenmp"]
        lflags = ["-lomp"]
        if prefix:
            cflags.append(f"-I{prefix}/include")
            lflags = [f"-L{prefix}/lib", "-lomp", f"-Wl,-rpath,{prefix}/lib"]
        return cflags, lflags
    return ["-fopenmp"], ["-fopenmp"]


def _compiler_supports_openmp(build, cflags, lflags):
    """Compile and link a tiny OpenMP program, as scikit-learn's build does."""
    code = textwrap.dedent(
        """
        #include <omp.h>
        #include <stdio.h>
        int main(void) {
            int n = 0;
            #pragma omp parallel reduction(+:n)
            n += 1;
            printf("%d", n > 0);
            return 0;
        }
        """
    )
    compiler = build.compiler
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "check_openmp.c")
        with open(src, "w") as fh:
            fh.write(code)
        try:
            objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
            compiler.link_executable(
                objs, "check_openmp", output_dir=tmp, extra_postargs=lflags
            )
        except Exception:  # noqa: BLE001 - any compiler failure means "no OpenMP"
            return False
    return True


def _compiles(build, code, cflags):
    """True when the compiler builds ``code`` (a C translation unit) with ``cflags``."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as fh:
            fh.write(code)
        try:
            build.compiler.compile([src], output_dir=tmp, extra_postargs=cflags)
        except Exception:  # noqa: BLE001 - any compiler failure means "no"
            return False
    return True


_X86_PROBE = """
#if !(defined(__x86_64__) || defined(_M_X64) || defined(_M_AMD64))
#error not x86-64
#endif
int gmmx_probe;
"""


def _simd_targets(build, base):
    """[(suffix, flags)] of the SIMD targets to compile for the build's compiler.

    x86 targets need an x86-64 compiler; in a macOS universal2 build (-arch
    x86_64 -arch arm64) their flags are passed with -Xarch_x86_64, and
    _simd_kernels.c leaves the arm64 slice of those objects empty.
    """
    msvc = build.compiler.compiler_type == "msvc"
    targets = [("baseline", [])]
    wanted = os.environ.get("GMMX_SIMD_TARGETS")
    if _compiles(build, _X86_PROBE, base):
        xarch = None
    elif sys.platform == "darwin" and "x86_64" in " ".join(
        build.compiler.compiler_so + [os.environ.get("ARCHFLAGS", ""), os.environ.get("CFLAGS", "")]
    ):
        xarch = "-Xarch_x86_64"
    else:
        return targets
    for suffix, gnu, msvc_flags in X86_TARGETS:
        if wanted is not None and suffix not in wanted.lower().split():
            continue
        flags = msvc_flags if msvc else gnu
        if xarch:
            flags = [f for flag in flags for f in (xarch, flag)]
        targets.append((suffix, flags + (["/DGMMX_SIMD_X86_ONLY"] if msvc else ["-DGMMX_SIMD_X86_ONLY"])))
    return targets


class BuildExt(build_ext):
    def _build_simd_objects(self, ext, base):
        """Compile _simd_kernels.c once per SIMD target into ext.extra_objects."""
        objects, compiled = [], []
        for suffix, flags in _simd_targets(self, base):
            out = os.path.join(self.build_temp, "simd", suffix)
            try:
                objs = self.compiler.compile(
                    [SIMD_SOURCE],
                    output_dir=out,
                    macros=[("GMMX_SIMD_TARGET", suffix)],
                    include_dirs=["gmmx/_kernels"],
                    extra_postargs=base + flags,
                    depends=SIMD_DEPENDS,
                )
            except Exception as exc:  # noqa: BLE001
                if suffix == "baseline":
                    raise
                print(f"gmmx: not building the {suffix} kernels ({exc})", file=sys.stderr)
                continue
            objects += objs
            compiled.append(suffix)
            if suffix != "baseline":
                ext.define_macros.append((f"GMMX_SIMD_HAVE_{suffix.upper()}", "1"))
        print(f"gmmx: SIMD targets compiled: {' '.join(compiled)}", file=sys.stderr)
        ext.extra_objects = list(ext.extra_objects) + objects
        ext.depends = list(ext.depends) + objects + SIMD_DEPENDS

    def build_extensions(self):
        ctype = self.compiler.compiler_type
        if ctype == "msvc":
            base = ["/O2", "/fp:precise"]
        else:
            debug = os.environ.get("GMMX_DEBUG") == "1"
            base = ["-O0", "-g"] if debug else ["-O3"]
            # Keep results identical whichever SIMD path runs: no FMA contraction.
            base += ["-ffp-contract=off", "-fno-trapping-math", "-fno-strict-aliasing"]
            base += ["-Wno-unused-function", "-Wno-unreachable-code"]
            if ctype != "msvc" and "gcc" in os.path.basename(str(self.compiler.compiler_so[0])):
                base += ["-Wno-psabi"]  # GCC's note on 64-byte vector arguments

        use_openmp = os.environ.get("GMMX_NO_OPENMP", "0") not in ("1", "true", "yes")
        omp_c, omp_l = _openmp_flags(ctype)
        if use_openmp and not _compiler_supports_openmp(self, omp_c, omp_l):
            print(
                "gmmx: the compiler cannot build OpenMP code; building the "
                "single-threaded kernels (set GMMX_OPENMP_PREFIX on macOS to use libomp).",
                file=sys.stderr,
            )
            use_openmp = False
        if not use_openmp:
            omp_c, omp_l = [], []
        for ext in self.extensions:
            if ext.name == "gmmx._kernels._simd":
                self._build_simd_objects(ext, base)
            ext.extra_compile_args = base + omp_c + list(ext.extra_compile_args)
            if ctype != "msvc" and ext.name == "gmmx._kernels._hier":
                # sqrt without errno (never set there) vectorises the merge costs
                ext.extra_compile_args.append("-fno-math-errno")
            ext.extra_link_args = omp_l + list(ext.extra_link_args)
        super().build_extensions()


def _extensions():
    from Cython.Build import cythonize

    exts = [
        Extension(
            f"gmmx._kernels.{name}",
            [f"gmmx/_kernels/{name}.pyx"],
            include_dirs=["gmmx/_kernels"],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            depends=SIMD_DEPENDS[1:] + ["gmmx/_kernels/_simd.h", "gmmx/_kernels/_simd_dispatch.h"],
        )
        for name in KERNELS
    ]
    return cythonize(
        exts,
        compiler_directives={
            "language_level": 3,
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
            "initializedcheck": False,
            "nonecheck": False,
        },
        nthreads=int(os.environ.get("GMMX_CYTHON_JOBS", "0")) or None,
    )


if __name__ == "__main__":
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        print("gmmx: building for a free-threaded interpreter", file=sys.stderr)
    setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
