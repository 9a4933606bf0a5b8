"""The benchmark scripts run from a checkout after `pip install .` (kernels not built there)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gmmx

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "bench_vs_sklearn.py"
INSTALLED = Path(gmmx.__file__).resolve().parents[1]

if not SCRIPT.is_file():  # e.g. tests run from an sdist without benchmarks/
    pytest.skip("benchmarks/ not found", allow_module_level=True)


def _unbuilt_checkout(tmp_path):
    """A copy of the checkout's gmmx/ sources and benchmarks/ without compiled kernels."""
    root = tmp_path / "checkout"
    shutil.copytree(REPO / "gmmx", root / "gmmx",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "*.c", "__pycache__"))
    (root / "benchmarks").mkdir()
    shutil.copy(SCRIPT, root / "benchmarks" / SCRIPT.name)
    return root


def _run(code, cwd):
    env = {**os.environ, "PYTHONPATH": str(INSTALLED)}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_bench_vs_sklearn_uses_the_installed_gmmx_beside_an_unbuilt_checkout(tmp_path):
    root = _unbuilt_checkout(tmp_path)
    script = root / "benchmarks" / SCRIPT.name
    code = ("import runpy, sys; runpy.run_path(sys.argv[1], run_name='bench'); "
            "import gmmx, gmmx.core.kernel; print(gmmx.__file__)")
    out = _run(code.replace("sys.argv[1]", repr(str(script))), tmp_path)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()).resolve().parents[1] == INSTALLED


def test_an_unbuilt_checkout_says_so_on_import(tmp_path):
    root = _unbuilt_checkout(tmp_path)
    out = _run("import gmmx.core.kernel", root)
    assert out.returncode != 0
    assert "compiled kernels are not built in" in out.stderr
    assert "circular import" not in out.stderr.splitlines()[-1]
