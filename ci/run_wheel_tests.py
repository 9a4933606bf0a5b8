"""Run the gmmx test suite against an *installed* gmmx, never the source tree.

Usage (from any directory outside the source tree)::

    python ci/run_wheel_tests.py PROJECT_DIR [pytest args ...]

Used by ``ci/test_wheel.sh`` and by cibuildwheel's ``test-command``.

Why a runner instead of a bare ``pytest PROJECT/tests``: pytest's default
"prepend" import mode puts the first directory above the tests that has no
``__init__.py`` (the project root, as soon as ``tests/__init__.py`` or a
root ``conftest.py`` exists) at the front of ``sys.path``, and then
``import gmmx`` silently picks up the uncompiled source tree. This runner
imports the installed ``gmmx`` *before* pytest touches ``sys.path``; from
then on every ``import gmmx`` (and its submodules, found through the
package's ``__path__``) resolves to the installed copy. It checks that, and
checks again after the run that nobody replaced it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _fail(msg: str) -> None:
    print(f"run_wheel_tests: {msg}", file=sys.stderr)
    sys.exit(3)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def main(argv: list[str]) -> int:
    """Import the installed gmmx, verify where it lives, then run pytest.

    Parameters
    ----------
    argv : list of str
        ``[PROJECT_DIR, *pytest_args]``.

    Returns
    -------
    int
        pytest's exit code (3 when the installed package is not the one
        that would be tested).
    """
    if not argv:
        _fail("usage: run_wheel_tests.py PROJECT_DIR [pytest args ...]")
    project = Path(argv[0]).resolve()
    tests = project / "tests"
    if not tests.is_dir():
        _fail(f"no tests/ directory in {project}")

    # Nothing on sys.path may point into the source tree (the script's own
    # directory ci/ is harmless: it holds no gmmx package).
    sys.path[:] = [
        p for p in sys.path
        if not (p in ("", ".") or (Path(p).exists() and Path(p).resolve() == project))
    ]
    if _inside(Path.cwd(), project):
        _fail(f"run me from outside the source tree (cwd is {Path.cwd()})")
    # Keep the checkout clean: no __pycache__ / .pytest_cache written into it.
    sys.dont_write_bytecode = True

    import gmmx
    import gmmx._kernels._estep as estep

    gmmx_file = Path(gmmx.__file__)
    if _inside(gmmx_file, project):
        _fail(f"gmmx was imported from the source tree: {gmmx_file}")
    expected_prefix = os.environ.get("GMMX_EXPECT_PREFIX", sys.prefix)
    if not _inside(gmmx_file, Path(expected_prefix)):
        _fail(f"gmmx ({gmmx_file}) is not installed under {expected_prefix}")
    print(f"run_wheel_tests: gmmx {gmmx.__version__} from {gmmx_file.parent}")
    print(f"run_wheel_tests: kernel {Path(estep.__file__).name}")
    print(f"run_wheel_tests: python {sys.version.split()[0]} at {sys.executable}")

    import pytest

    args = [str(tests), "-p", "no:cacheprovider", *argv[1:]]
    print("run_wheel_tests: pytest " + " ".join(args), flush=True)
    rc = pytest.main(args)

    if sys.modules.get("gmmx") is not gmmx:
        _fail("the tests re-imported gmmx from somewhere else")
    return int(rc)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
