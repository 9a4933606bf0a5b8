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

KERNELS = ["_estep", "_kmeans", "_hmm", "_student", "_missing"]


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


class BuildExt(build_ext):
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
            ext.extra_compile_args = base + omp_c + list(ext.extra_compile_args)
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
