"""What the native kernels of this installation run on: ``gmmx.show_config()``."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from . import _estep, _simd

# kernel families and the extension module of each; every family calls its
# loops through the table of gmmx._kernels._simd
FAMILIES = {
    "E-step (mixtures)": "gmmx._kernels._estep",
    "k-means initialisation": "gmmx._kernels._kmeans",
    "HMM forward-backward": "gmmx._kernels._hmm",
}


def _thread_pools() -> list[dict[str, Any]] | None:
    """threadpoolctl's view of the loaded BLAS and OpenMP libraries, or None
    without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return list(threadpool_info())


def config_info() -> dict[str, Any]:
    """The kernels' build and run-time configuration as a dictionary.

    Returns
    -------
    dict
        ``simd``: the target each kernel family runs (``families``), the
        targets compiled in (``compiled``, with the instruction sets of each),
        the ones this CPU can run (``runnable``), the CPU features detected
        (``cpu_features``) and those disabled by ``GMMX_DISABLE_CPU_FEATURES``;
        ``compiler``; ``openmp``: whether the kernels were built with OpenMP,
        the default thread count and the runtime library; ``blas``: the BLAS
        libraries threadpoolctl sees (None without threadpoolctl).
    """
    target = _simd.current_target()
    compiled = {name: _simd.target_build(name)[0] for name in _simd.compiled_targets()}
    pools = _thread_pools()
    openmp_libs = blas = None
    if pools is not None:
        openmp_libs = [p for p in pools if p.get("user_api") == "openmp"]
        blas = [p for p in pools if p.get("user_api") == "blas"]
    return {
        "simd": {
            "arch": _simd.ARCH,
            "families": {family: target for family in FAMILIES},
            "default": _simd.default_target(),
            "compiled": compiled,
            "runnable": _simd.runnable_targets(),
            "cpu_features": _simd.cpu_features(),
            "disabled": _simd.disabled_features(),
        },
        "compiler": _simd.target_build("baseline")[1],
        "openmp": {
            "enabled": bool(_estep.OPENMP_ENABLED),
            "max_threads": int(_estep.openmp_max_threads()),
            "libraries": openmp_libs,
        },
        "blas": blas,
        "python": sys.version.split()[0],
    }


def _pool_line(pool: dict[str, Any]) -> str:
    parts = [str(pool.get("prefix") or pool.get("internal_api", "?"))]
    if pool.get("version"):
        parts.append(str(pool["version"]))
    if pool.get("architecture"):
        parts.append(f"({pool['architecture']})")
    parts.append(f"{pool.get('num_threads', '?')} threads")
    parts.append(str(pool.get("filepath", "")))
    return " ".join(parts)


def show_config(file: TextIO | None = None) -> None:
    """Print which SIMD target each kernel family runs, and the build.

    Shows, per kernel family, the SIMD target that runs; the targets compiled
    into this build (and the instruction sets of each); the CPU features
    detected; the features disabled by the environment variable
    ``GMMX_DISABLE_CPU_FEATURES``; the compiler; the OpenMP runtime and its
    default thread count; and BLAS (through threadpoolctl, when installed).

    Parameters
    ----------
    file : text stream, optional
        Where to print (default: ``sys.stdout``).
    """
    out = file if file is not None else sys.stdout
    info = config_info()
    simd = info["simd"]
    lines = ["gmmx native kernels", "  SIMD dispatch:"]
    for family, target in simd["families"].items():
        lines.append(f"    {family:<24} {target}")
    lines.append(f"    architecture             {simd['arch']}")
    lines.append("    compiled targets:")
    for name, isa in simd["compiled"].items():
        mark = "runs on this CPU" if name in simd["runnable"] else "not on this CPU"
        lines.append(f"      {name:<11} [{mark}] {isa}")
    found = [f for f, have in simd["cpu_features"].items() if have]
    missing = [f for f, have in simd["cpu_features"].items() if not have]
    lines.append(f"    CPU features found       {' '.join(found) or '-'}")
    lines.append(f"    CPU features not found   {' '.join(missing) or '-'}")
    lines.append(f"    GMMX_DISABLE_CPU_FEATURES {' '.join(simd['disabled']) or '-'}")
    lines.append(f"  compiler                 {info['compiler']}")
    omp = info["openmp"]
    if omp["enabled"]:
        lines.append(f"  OpenMP                   yes, {omp['max_threads']} threads by default")
    else:
        lines.append("  OpenMP                   no (built without it: one thread)")
    if omp["libraries"]:
        for pool in omp["libraries"]:
            lines.append(f"    runtime                {_pool_line(pool)}")
    elif omp["libraries"] is None:
        lines.append("    runtime                (install threadpoolctl to see it)")
    if info["blas"] is None:
        lines.append("  BLAS                     (install threadpoolctl to see it)")
    elif not info["blas"]:
        lines.append("  BLAS                     none loaded yet")
    else:
        for pool in info["blas"]:
            lines.append(f"  BLAS                     {_pool_line(pool)}")
    lines.append(f"  Python                   {info['python']}")
    print("\n".join(lines), file=out)
