/* The SIMD dispatcher (compiled into the _simd module only): CPU feature
 * detection, the compiled targets, and the table the other modules call
 * through.
 *
 * Features: x86-64 by CPUID (GCC/clang <cpuid.h>, MSVC __cpuid/__cpuidex)
 * and XGETBV for the OS's support of the YMM / ZMM register state (macOS
 * enables the AVX-512 state lazily, so there sysctl hw.optional.avx512f is
 * asked); Linux aarch64 by getauxval(AT_HWCAP); other aarch64 systems (Apple,
 * Windows) always have NEON.
 *
 * setup.py defines GMMX_SIMD_HAVE_AVX2 / GMMX_SIMD_HAVE_AVX512_SKX for the x86
 * targets it compiled (the baseline copy is always there).
 */
#ifndef GMMX_SIMD_DISPATCH_H
#define GMMX_SIMD_DISPATCH_H

#include "_simd_table.h"

#if defined(__x86_64__) || defined(_M_X64) || defined(_M_AMD64)
#define GMMX_DISPATCH_X86 1
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#if defined(__APPLE__)
#include <sys/sysctl.h>
#endif
#define GMMX_SIMD_ARCH "x86_64"
#elif defined(__aarch64__) || defined(_M_ARM64)
#define GMMX_DISPATCH_X86 0
#define GMMX_SIMD_ARCH "aarch64"
#if defined(__linux__)
#include <sys/auxv.h>
#endif
#else
#define GMMX_DISPATCH_X86 0
#define GMMX_SIMD_ARCH "other"
#endif

/* feature bits (names in gmmx_feature_names, same order) */
enum {
    GMMX_F_SSE2 = 1 << 0,
    GMMX_F_AVX = 1 << 1,
    GMMX_F_FMA3 = 1 << 2,
    GMMX_F_AVX2 = 1 << 3,
    GMMX_F_AVX512F = 1 << 4,
    GMMX_F_AVX512CD = 1 << 5,
    GMMX_F_AVX512VL = 1 << 6,
    GMMX_F_AVX512BW = 1 << 7,
    GMMX_F_AVX512DQ = 1 << 8,
    GMMX_F_NEON = 1 << 9,
    GMMX_F_SVE = 1 << 10,
    GMMX_F_COUNT = 11
};

static const char *const gmmx_feature_names[GMMX_F_COUNT] = {
    "SSE2", "AVX", "FMA3", "AVX2", "AVX512F", "AVX512CD", "AVX512VL", "AVX512BW",
    "AVX512DQ", "NEON", "SVE"};

static const char *gmmx_feature_name(int i)
{
    return i >= 0 && i < GMMX_F_COUNT ? gmmx_feature_names[i] : NULL;
}

/* features of this architecture (those that can be detected / disabled) */
static unsigned gmmx_arch_features(void)
{
#if GMMX_DISPATCH_X86
    return (1u << 9) - 1; /* SSE2 .. AVX512DQ */
#elif defined(__aarch64__) || defined(_M_ARM64)
    return GMMX_F_NEON | GMMX_F_SVE;
#else
    return 0;
#endif
}

/* features every CPU of this architecture has: the baseline copy's */
static unsigned gmmx_baseline_features(void)
{
#if GMMX_DISPATCH_X86
    return GMMX_F_SSE2;
#elif defined(__aarch64__) || defined(_M_ARM64)
    return GMMX_F_NEON;
#else
    return 0;
#endif
}

#if GMMX_DISPATCH_X86
static void gmmx_cpuid(unsigned leaf, unsigned sub, unsigned r[4])
{
#if defined(_MSC_VER) && !defined(__clang__)
    int v[4];
    __cpuidex(v, (int)leaf, (int)sub);
    r[0] = (unsigned)v[0]; r[1] = (unsigned)v[1]; r[2] = (unsigned)v[2]; r[3] = (unsigned)v[3];
#else
    r[0] = r[1] = r[2] = r[3] = 0;
    __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}

static unsigned long long gmmx_xgetbv0(void)
{
#if defined(_MSC_VER) && !defined(__clang__)
    return (unsigned long long)_xgetbv(0);
#else
    unsigned lo, hi;
    __asm__ __volatile__(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
#endif
}
#endif

/* The features of the CPU this process runs on, as usable by this process
 * (the OS must save the wider registers). */
static unsigned gmmx_cpu_features(void)
{
#if GMMX_DISPATCH_X86
    unsigned r[4], f = GMMX_F_SSE2, max_leaf;
    int os_ymm = 0, os_zmm = 0;
    gmmx_cpuid(0, 0, r);
    max_leaf = r[0];
    if (max_leaf < 1) return f;
    gmmx_cpuid(1, 0, r);
    if (r[2] & (1u << 27)) { /* OSXSAVE: XGETBV is there */
        unsigned long long xcr0 = gmmx_xgetbv0();
        os_ymm = (xcr0 & 0x6) == 0x6;     /* XMM and YMM state */
        os_zmm = (xcr0 & 0xe6) == 0xe6;   /* and opmask, ZMM0-15 hi, ZMM16-31 */
    }
#if defined(__APPLE__)
    if (os_ymm && !os_zmm) { /* macOS gives the ZMM state on first use */
        int v = 0;
        size_t len = sizeof(v);
        if (sysctlbyname("hw.optional.avx512f", &v, &len, NULL, 0) == 0 && v) os_zmm = 1;
    }
#endif
    if (!os_ymm) return f;
    if (r[2] & (1u << 28)) f |= GMMX_F_AVX;
    if (r[2] & (1u << 12)) f |= GMMX_F_FMA3;
    if (max_leaf < 7) return f;
    gmmx_cpuid(7, 0, r);
    if (r[1] & (1u << 5)) f |= GMMX_F_AVX2;
    if (os_zmm) {
        if (r[1] & (1u << 16)) f |= GMMX_F_AVX512F;
        if (r[1] & (1u << 17)) f |= GMMX_F_AVX512DQ;
        if (r[1] & (1u << 28)) f |= GMMX_F_AVX512CD;
        if (r[1] & (1u << 30)) f |= GMMX_F_AVX512BW;
        if (r[1] & (1u << 31)) f |= GMMX_F_AVX512VL;
    }
    return f;
#elif defined(__aarch64__) || defined(_M_ARM64)
    unsigned f = GMMX_F_NEON; /* part of ARMv8-A */
#if defined(__linux__)
    unsigned long hw = getauxval(AT_HWCAP);
    if (hw & (1ul << 22)) f |= GMMX_F_SVE; /* HWCAP_SVE */
#endif
    return f;
#else
    return 0;
#endif
}

/* ---- the compiled targets, lowest first --------------------------------- */

extern const gmmx_simd_table gmmx_simd_table_baseline;
#if GMMX_DISPATCH_X86 && defined(GMMX_SIMD_HAVE_AVX2)
extern const gmmx_simd_table gmmx_simd_table_avx2;
#define GMMX_SIMD_AVX2_TABLE (&gmmx_simd_table_avx2)
#else
#define GMMX_SIMD_AVX2_TABLE NULL
#endif
#if GMMX_DISPATCH_X86 && defined(GMMX_SIMD_HAVE_AVX512_SKX)
extern const gmmx_simd_table gmmx_simd_table_avx512_skx;
#define GMMX_SIMD_AVX512_SKX_TABLE (&gmmx_simd_table_avx512_skx)
#else
#define GMMX_SIMD_AVX512_SKX_TABLE NULL
#endif

typedef struct {
    const char *name;             /* as shown and as given to _set_target */
    const gmmx_simd_table *table; /* NULL: not compiled into this build */
    unsigned requires;            /* features the copy was compiled for */
} gmmx_simd_target;

static const gmmx_simd_target gmmx_simd_targets[] = {
    {"baseline", &gmmx_simd_table_baseline, 0},
#if GMMX_DISPATCH_X86
    {"AVX2", GMMX_SIMD_AVX2_TABLE, GMMX_F_AVX | GMMX_F_FMA3 | GMMX_F_AVX2},
    {"AVX512_SKX", GMMX_SIMD_AVX512_SKX_TABLE,
     GMMX_F_AVX | GMMX_F_FMA3 | GMMX_F_AVX2 | GMMX_F_AVX512F | GMMX_F_AVX512CD |
         GMMX_F_AVX512VL | GMMX_F_AVX512BW | GMMX_F_AVX512DQ},
#endif
};

#define GMMX_SIMD_N_TARGETS ((int)(sizeof(gmmx_simd_targets) / sizeof(gmmx_simd_targets[0])))

static const char *gmmx_simd_target_name(int i) { return gmmx_simd_targets[i].name; }
static int gmmx_simd_target_compiled(int i) { return gmmx_simd_targets[i].table != NULL; }
static unsigned gmmx_simd_target_requires(int i) { return gmmx_simd_targets[i].requires; }

/* The table every kernel call goes through (shared with the other modules
 * by a capsule). */
static gmmx_simd_table gmmx_simd_active;

/* Fill table t with target i's copies; -1 if it is not compiled in. */
static int gmmx_simd_fill(int i, gmmx_simd_table *t)
{
    if (i < 0 || i >= GMMX_SIMD_N_TARGETS || gmmx_simd_targets[i].table == NULL) return -1;
    *t = *gmmx_simd_targets[i].table;
    return 0;
}

/* Make target i's copies the ones every kernel call runs. */
static int gmmx_simd_select(int i) { return gmmx_simd_fill(i, &gmmx_simd_active); }

#endif /* GMMX_SIMD_DISPATCH_H */
