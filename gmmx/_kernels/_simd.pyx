# The SIMD dispatcher of gmmx's kernels (numpy's scheme: one copy of the
# kernel source per target, compiled with that target's flags and linked in
# here; one is chosen at import from the CPU's features).
#
# The table of the chosen copies is shared with _estep, _kmeans and _hmm by
# the capsule `_table` (see _simd.h); they call every kernel through it.
# GMMX_DISABLE_CPU_FEATURES (read once, at import) removes features from the
# detected ones, as numpy's NPY_DISABLE_CPU_FEATURES does, so a lower target
# runs. `_set_target` switches the table at run time, for tests.

import os
import warnings

from cpython.pycapsule cimport PyCapsule_New

cdef extern from "_simd_dispatch.h":
    ctypedef struct gmmx_simd_table:
        int abi
        const char *target
        const char *isa
        const char *compiler
    gmmx_simd_table gmmx_simd_active
    const char *GMMX_SIMD_ARCH
    int GMMX_F_COUNT
    int GMMX_SIMD_N_TARGETS
    const char *gmmx_feature_name(int i)
    unsigned gmmx_arch_features()
    unsigned gmmx_baseline_features()
    unsigned gmmx_cpu_features()
    const char *gmmx_simd_target_name(int i)
    int gmmx_simd_target_compiled(int i)
    unsigned gmmx_simd_target_requires(int i)
    int gmmx_simd_fill(int i, gmmx_simd_table *t)
    int gmmx_simd_select(int i)

ENV_VAR = "GMMX_DISABLE_CPU_FEATURES"

# other spellings accepted in GMMX_DISABLE_CPU_FEATURES (numpy's and Linux's)
_ALIASES = {"FMA": "FMA3", "ASIMD": "NEON"}

ARCH = GMMX_SIMD_ARCH.decode()
_FEATURES = [gmmx_feature_name(i).decode() for i in range(GMMX_F_COUNT)]
TARGETS = [gmmx_simd_target_name(i).decode() for i in range(GMMX_SIMD_N_TARGETS)]


def _bits(unsigned mask):
    return [_FEATURES[i] for i in range(GMMX_F_COUNT) if mask & (1u << i)]


cdef unsigned _detected = gmmx_cpu_features()


def _parse_disabled(str value, unsigned arch, unsigned baseline):
    """(feature mask, target names) that ``value`` of GMMX_DISABLE_CPU_FEATURES
    disables; warns about names it cannot honour."""
    cdef unsigned mask = 0
    targets = set()
    for raw in value.replace(",", " ").split():
        name = _ALIASES.get(raw.upper(), raw.upper())
        if name in _FEATURES:  # before the targets: AVX2 is both
            bit = 1u << _FEATURES.index(name)
            if not bit & arch:
                warnings.warn(f"{ENV_VAR}: {raw!r} is not a CPU feature of {ARCH}; ignored",
                              UserWarning, stacklevel=3)
            elif bit & baseline:
                warnings.warn(f"{ENV_VAR}: {raw!r} cannot be disabled: it is part of the "
                              f"baseline every {ARCH} CPU has; ignored", UserWarning,
                              stacklevel=3)
            else:
                mask |= bit
        elif name in TARGETS[1:]:
            targets.add(name)
        else:
            known = sorted(set(_bits(arch & ~baseline)) | set(TARGETS[1:]))
            warnings.warn(f"{ENV_VAR}: unknown CPU feature {raw!r} ignored; known on {ARCH}: "
                          f"{', '.join(known) or 'none'}", UserWarning, stacklevel=3)
    return mask, targets


_disabled_mask, _disabled_targets = _parse_disabled(
    os.environ.get(ENV_VAR, ""), gmmx_arch_features(), gmmx_baseline_features())


def cpu_features():
    """{feature: detected} for the features of this architecture that gmmx knows."""
    cdef unsigned arch = gmmx_arch_features()
    return {name: bool(_detected & (1u << i))
            for i, name in enumerate(_FEATURES) if arch & (1u << i)}


def disabled_features():
    """Features and targets disabled by GMMX_DISABLE_CPU_FEATURES at import."""
    return sorted(_bits(_disabled_mask)) + sorted(_disabled_targets)


def compiled_targets():
    """Targets whose copies of the kernels are in this build, lowest first."""
    return [TARGETS[i] for i in range(GMMX_SIMD_N_TARGETS) if gmmx_simd_target_compiled(i)]


def _runs(int i, unsigned features):
    cdef unsigned req = gmmx_simd_target_requires(i)
    return bool(gmmx_simd_target_compiled(i)) and (features & req) == req


def runnable_targets():
    """Compiled targets this CPU can run (GMMX_DISABLE_CPU_FEATURES aside), lowest first."""
    return [TARGETS[i] for i in range(GMMX_SIMD_N_TARGETS) if _runs(i, _detected)]


def default_target():
    """The target chosen at import: the highest one the CPU runs, after
    GMMX_DISABLE_CPU_FEATURES."""
    cdef unsigned usable = _detected & ~_disabled_mask
    best = 0
    for i in range(GMMX_SIMD_N_TARGETS):
        if _runs(i, usable) and TARGETS[i] not in _disabled_targets:
            best = i
    return TARGETS[best]


def current_target():
    """The target whose copies the kernels run now."""
    return _current


def target_build(str name):
    """(instruction sets, compiler) the copies of target ``name`` were compiled with."""
    cdef gmmx_simd_table t
    cdef int i = _index(name)
    # filling a table copies pointers only: no code of the target runs
    if gmmx_simd_fill(i, &t) != 0:
        raise ValueError(f"target {name!r} is not compiled into this build of gmmx")
    return t.isa.decode().strip(), t.compiler.decode().strip()


def _index(str name):
    if name not in TARGETS:
        raise ValueError(f"unknown SIMD target {name!r}; targets of {ARCH}: {', '.join(TARGETS)}")
    return TARGETS.index(name)


def _set_target(name):
    """Run every kernel on target ``name`` (None: the default); returns the previous one.

    For tests: switching while a kernel runs in another thread is not safe.
    Raises ValueError when the target is not compiled in or the CPU cannot run it.
    """
    global _current
    if name is None:
        name = default_target()
    i = _index(name)
    if not gmmx_simd_target_compiled(i):
        raise ValueError(f"target {name!r} is not compiled into this build of gmmx; "
                         f"compiled: {', '.join(compiled_targets())}")
    if not _runs(i, _detected):
        raise ValueError(f"this CPU cannot run target {name!r}; it runs: "
                         f"{', '.join(runnable_targets())}")
    previous = _current
    gmmx_simd_select(i)
    _current = name
    return previous


_current = "baseline"
gmmx_simd_select(0)
_set_target(None)

_table = PyCapsule_New(<void *> &gmmx_simd_active, b"gmmx._kernels._simd._table", NULL)
