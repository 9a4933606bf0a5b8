"""SIMD dispatch: the targets compiled in, the choice at import, the override by
GMMX_DISABLE_CPU_FEATURES, and fits that agree on every target the CPU runs."""

import io
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gmmx
from gmmx import GaussianHMM
from gmmx._kernels import _simd

from conftest import GaussianMixture, blobs

SWITCHES_SIMD_TARGETS = True  # conftest: these tests pick their targets themselves

ROOT = Path(gmmx.__file__).resolve().parent.parent
X86 = _simd.ARCH == "x86_64"


def _run_python(code, **env):
    """stdout, stderr of ``code`` in a fresh interpreter with ``env`` added."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    proc = subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True,
                          text=True, timeout=120, check=True)
    return proc.stdout, proc.stderr


@pytest.fixture
def restore_target():
    previous = _simd.current_target()
    yield
    _simd._set_target(previous)


def test_compiled_targets_carry_their_instruction_sets():
    compiled = _simd.compiled_targets()
    assert compiled[0] == "baseline"
    expected = {"baseline": ["SSE2"] if X86 else [],
                "AVX2": ["AVX", "FMA3", "AVX2"],
                "AVX512_SKX": ["AVX2", "AVX512F", "AVX512CD", "AVX512VL", "AVX512BW", "AVX512DQ"]}
    for name in compiled:
        isa, compiler = _simd.target_build(name)
        assert set(expected[name]) <= set(isa.split()), (name, isa)
        assert compiler
    if X86:  # a build for x86-64 with GCC, clang or MSVC has every target
        assert compiled == ["baseline", "AVX2", "AVX512_SKX"]
        assert "AVX512F" not in _simd.target_build("AVX2")[0].split()


@pytest.mark.skipif(not (X86 and sys.platform.startswith("linux")), reason="/proc/cpuinfo on x86")
def test_detected_features_match_the_kernel():
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    linux_name = {"SSE2": "sse2", "AVX": "avx", "FMA3": "fma", "AVX2": "avx2",
                  "AVX512F": "avx512f", "AVX512CD": "avx512cd", "AVX512VL": "avx512vl",
                  "AVX512BW": "avx512bw", "AVX512DQ": "avx512dq"}
    detected = _simd.cpu_features()
    assert set(detected) == set(linux_name)
    for feature, have in detected.items():
        assert have == (linux_name[feature] in flags), feature


def test_default_target_is_the_highest_runnable():
    runnable = _simd.runnable_targets()
    assert runnable[0] == "baseline"
    assert set(runnable) <= set(_simd.compiled_targets())
    if not os.environ.get("GMMX_DISABLE_CPU_FEATURES"):
        assert _simd.default_target() == runnable[-1]
    features = _simd.cpu_features()
    if X86 and "AVX2" in _simd.compiled_targets():
        assert ("AVX2" in runnable) == (features["AVX2"] and features["FMA3"])


def test_set_target_switches_and_refuses(restore_target):
    for name in _simd.runnable_targets():
        _simd._set_target(name)
        assert _simd.current_target() == name
    with pytest.raises(ValueError, match="unknown SIMD target 'AVX3'"):
        _simd._set_target("AVX3")
    not_runnable = [t for t in _simd.compiled_targets() if t not in _simd.runnable_targets()]
    for name in not_runnable:
        with pytest.raises(ValueError, match="this CPU cannot run"):
            _simd._set_target(name)
    _simd._set_target(None)
    assert _simd.current_target() == _simd.default_target()


@pytest.mark.skipif(not X86, reason="x86 features")
def test_disable_cpu_features_forces_a_lower_target():
    code = ("from gmmx._kernels import _simd; "
            "print(_simd.current_target(), _simd.default_target(), *_simd.disabled_features())")
    out, _ = _run_python(code, GMMX_DISABLE_CPU_FEATURES="AVX512F AVX2")
    assert out.split() == ["baseline", "baseline", "AVX2", "AVX512F"]
    out, _ = _run_python(code, GMMX_DISABLE_CPU_FEATURES="avx512f")
    expected = "AVX2" if "AVX2" in _simd.runnable_targets() else "baseline"
    assert out.split()[:2] == [expected, expected]
    # a target's name works too, FMA is FMA3
    out, _ = _run_python(code, GMMX_DISABLE_CPU_FEATURES="AVX512_SKX,fma")
    assert out.split()[0] == "baseline"


def test_disable_cpu_features_warns_about_names_it_cannot_honour():
    code = "from gmmx._kernels import _simd; print(_simd.current_target())"
    baseline = "SSE2" if X86 else "NEON"
    _, err = _run_python(code, GMMX_DISABLE_CPU_FEATURES=f"AVX9000 {baseline}")
    assert "unknown CPU feature 'AVX9000' ignored" in err
    assert f"'{baseline}' cannot be disabled" in err


def test_show_config_names_the_running_target(restore_target):
    for name in _simd.runnable_targets():
        _simd._set_target(name)
        buf = io.StringIO()
        gmmx.show_config(file=buf)
        text = buf.getvalue()
        for family in ("E-step (mixtures)", "k-means initialisation", "HMM forward-backward"):
            assert f"{family}" in text
            line = next(ln for ln in text.splitlines() if family in ln)
            assert line.split()[-1] == name
        for compiled in _simd.compiled_targets():
            assert compiled in text
        assert "compiler" in text and "OpenMP" in text and "BLAS" in text
    info = gmmx._kernels.config.config_info()
    assert info["simd"]["cpu_features"] == _simd.cpu_features()
    assert info["openmp"]["max_threads"] >= 1


def _fit_on(target, X, cov, **kw):
    _simd._set_target(target)
    return GaussianMixture(3, covariance_type=cov, random_state=0, max_iter=30, tol=0.0,
                           **kw).fit(X)


@pytest.mark.filterwarnings("ignore::gmmx.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [1, 4])
@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_fits_agree_on_every_target(restore_target, cov, d, dtype):
    """Same bits on targets that run the same algorithm (no FMA contraction in
    any copy); within 1e-12 where AVX2 or AVX-512 picks the full kernel's own
    loops over BLAS."""
    targets = _simd.runnable_targets()
    if len(targets) < 2:
        pytest.skip("this CPU runs one SIMD target only")
    X, _, _ = blobs(3000, d, 3, seed=1, dtype=dtype)
    fits = {t: _fit_on(t, X, cov) for t in targets}
    ref = fits["baseline"]
    for t, m in fits.items():
        _simd._set_target(t)
        estep = gmmx._kernels._estep
        same_algorithm = cov not in ("full", "tied") or d == 1 or not (
            estep.full_tri_distances(d, cov == "tied", 3) or estep.full_direct_scatter(d))
        assert m.n_iter_ == ref.n_iter_
        for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
            a, b = getattr(m, name), getattr(ref, name)
            if same_algorithm:
                np.testing.assert_array_equal(a, b, err_msg=f"{t} {name}")
            else:
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * np.abs(b).max())
        if same_algorithm:
            assert m.lower_bound_ == ref.lower_bound_


def test_kmeans_and_hmm_agree_on_every_target(restore_target):
    targets = _simd.runnable_targets()
    if len(targets) < 2:
        pytest.skip("this CPU runs one SIMD target only")
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(-1, 1, (700, 2)), rng.normal(2, 0.5, (700, 2))])
    results, own_loops = {}, {}
    for t in targets:
        _simd._set_target(t)
        # the full emissions' own loops (AVX2, AVX-512) against BLAS: 1e-12
        own_loops[t] = gmmx._kernels._estep.full_tri_distances(2)
        h = GaussianHMM(2, covariance_type="full", random_state=0, n_iter=10, n_threads=1).fit(X)
        results[t] = (h.means_, h.transmat_, h.score(X), h.predict_proba(X))
    for t, res in results.items():
        for a, b in zip(res, results["baseline"]):
            if own_loops[t]:
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * np.abs(b).max(),
                                           err_msg=t)
            else:
                np.testing.assert_array_equal(a, b, err_msg=t)


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86 objects")
def test_avx2_copy_uses_ymm_registers():
    objdump = subprocess.run(["objdump", "--version"], capture_output=True).returncode == 0 \
        if sys.platform.startswith("linux") else False
    if not objdump:
        pytest.skip("objdump (Linux) needed")
    so = Path(_simd.__file__)
    text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(so)], capture_output=True,
                          text=True, check=True).stdout
    assert text.count("ymm") > 1000
