/* The dispatched kernels, compiled once per SIMD target (numpy's way: the
 * same source built with each target's flags, every copy linked into the
 * _simd extension, one chosen at import; no compiler-specific extension).
 *
 * setup.py compiles this file with -DGMMX_SIMD_TARGET=<suffix> and the
 * target's flags (x86-64: none = SSE2, -mavx2 -mfma, -mavx512f ... ; MSVC:
 * /arch:AVX2, /arch:AVX512; aarch64: none = NEON).  Each copy defines one
 * external symbol, the constant gmmx_simd_table_<suffix>: a gmmx_simd_table
 * (_simd_table.h) holding the addresses of its (static) functions.
 *
 * x86 targets are built with -DGMMX_SIMD_X86_ONLY: in a macOS universal2
 * build the arm64 slice of such an object is left empty (the dispatcher never
 * asks for it there).
 */
#if defined(GMMX_SIMD_STANDALONE) /* ci/simd/driver.c: no Python headers (cross builds) */
#include <stddef.h>
typedef ptrdiff_t Py_ssize_t;
#else
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#endif

#if !defined(GMMX_SIMD_TARGET)
#error "compile with -DGMMX_SIMD_TARGET=<suffix> (setup.py does)"
#endif

#if defined(__x86_64__) || defined(_M_X64) || defined(_M_AMD64)
#define GMMX_SIMD_ON_X86 1
#else
#define GMMX_SIMD_ON_X86 0
#endif

#if defined(GMMX_SIMD_X86_ONLY) && !GMMX_SIMD_ON_X86
#if defined(__APPLE__)
typedef int gmmx_simd_empty_slice; /* the arm64 slice of an x86 target */
#else
#error "an x86 SIMD target compiled for another architecture"
#endif
#else

#include "_vmath.h"
#include "_kmeans_core.h"
#include "_hmm_core.h"

#define GMMX_SIMD_STR_(x) #x
#define GMMX_SIMD_STR(x) GMMX_SIMD_STR_(x)
#define GMMX_SIMD_CAT_(a, b) a##b
#define GMMX_SIMD_CAT(a, b) GMMX_SIMD_CAT_(a, b)

/* The instruction sets the compiler was told it may use for this copy (its
 * predefined macros): shown by gmmx.show_config() and checked by the tests,
 * so a target whose flags did not take effect is seen. */
static const char gmmx_simd_isa[] = ""
#if defined(__SSE2__) || GMMX_SIMD_ON_X86
    " SSE2"
#endif
#if defined(__AVX__)
    " AVX"
#endif
#if defined(__FMA__)
    " FMA3"
#endif
#if defined(__AVX2__)
    " AVX2"
#endif
#if defined(__AVX512F__)
    " AVX512F"
#endif
#if defined(__AVX512CD__)
    " AVX512CD"
#endif
#if defined(__AVX512VL__)
    " AVX512VL"
#endif
#if defined(__AVX512BW__)
    " AVX512BW"
#endif
#if defined(__AVX512DQ__)
    " AVX512DQ"
#endif
#if defined(__ARM_NEON) || defined(__ARM_NEON__) || defined(_M_ARM64)
    " NEON"
#endif
#if defined(__ARM_FEATURE_SVE)
    " SVE"
#endif
#if defined(GMMX_VECEXT)
    " +vector-extensions"
#endif
    ;

#if defined(__clang__)
#define GMMX_SIMD_COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define GMMX_SIMD_COMPILER "GCC " __VERSION__
#elif defined(_MSC_VER)
#define GMMX_SIMD_COMPILER "MSVC " GMMX_SIMD_STR(_MSC_FULL_VER)
#else
#define GMMX_SIMD_COMPILER "unknown compiler"
#endif

/* Data, not code: the dispatcher copies this table in baseline code, so no
 * instruction of a target the CPU may lack runs before the target is chosen. */
#define GMMX_SIMD_PTR(RET, NAME, PARAMS) NAME,
#if defined(__GNUC__) && !defined(_WIN32) && !defined(__CYGWIN__)
__attribute__((visibility("hidden")))
#endif
const gmmx_simd_table GMMX_SIMD_CAT(gmmx_simd_table_, GMMX_SIMD_TARGET) = {
    GMMX_SIMD_ABI,
    GMMX_SIMD_STR(GMMX_SIMD_TARGET),
    gmmx_simd_isa,
    GMMX_SIMD_COMPILER,
    GMMX_SIMD_FUNCS(GMMX_SIMD_PTR)
};
#undef GMMX_SIMD_PTR

#endif
