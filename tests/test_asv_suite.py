"""Keep the asv benchmark suite (benchmarks/benchmarks/) from rotting.

Each benchmark class is run directly, without asv: ``setup_cache`` (if
any), ``setup`` and every ``time_`` / ``peakmem_`` / ``track_`` method once,
for the first parameter combination, on tiny data (``GMMX_BENCH_TINY=1``).
A renamed argument, a removed API or a broken data helper fails here rather
than in a nightly asv run. Classes whose ``setup`` raises NotImplementedError
(asv's way to skip: missing optional dependency) are skipped.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import math
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SUITE_DIR = REPO / "benchmarks" / "benchmarks"
CONF = REPO / "benchmarks" / "asv.conf.json"
PACKAGE = "_gmmx_asv_suite"
PREFIXES = ("time_", "peakmem_", "track_", "mem_", "timeraw_")

if not SUITE_DIR.is_dir():  # e.g. tests run from an sdist without benchmarks/
    pytest.skip("benchmarks/benchmarks/ not found", allow_module_level=True)


def _load_suite():
    """Import the suite as a package under a private name.

    Loading it by path (not by putting benchmarks/ on sys.path) keeps it from
    shadowing anything, and keeps the installed gmmx the one imported.
    """
    if PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            PACKAGE, SUITE_DIR / "__init__.py", submodule_search_locations=[str(SUITE_DIR)]
        )
        pkg = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = pkg
        spec.loader.exec_module(pkg)
    return {
        path.stem: importlib.import_module(f"{PACKAGE}.{path.stem}")
        for path in sorted(SUITE_DIR.glob("bench_*.py"))
    }


MODULES = _load_suite()


def _benchmark_classes():
    cases = []
    for modname, module in MODULES.items():
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and obj.__module__ == module.__name__
                    and any(m.startswith(PREFIXES) for m in dir(obj))):
                cases.append(pytest.param(modname, name, id=f"{modname}.{name}"))
    return cases


CASES = _benchmark_classes()


def _first_params(cls):
    params = getattr(cls, "params", [])
    names = getattr(cls, "param_names", [])
    if not params:
        return []
    if not isinstance(params[0], (list, tuple)):  # asv's single-parameter shorthand
        params = [params]
    assert len(params) == len(names), f"{cls.__name__}: params and param_names differ in length"
    for values in params:
        assert len(values) > 0, f"{cls.__name__}: an empty parameter list"
    return [values[0] for values in params]


def test_suite_has_every_module():
    expected = {"bench_fit", "bench_predict", "bench_online", "bench_streaming"}
    assert expected <= set(MODULES)
    assert len(CASES) >= 8


def test_asv_conf_is_valid_json_with_comments():
    # asv accepts // comments in asv.conf.json; strip them the same way.
    text = re.sub(r"^\s*//.*$", "", CONF.read_text(), flags=re.MULTILINE)
    conf = json.loads(text)
    assert conf["version"] == 1
    assert conf["benchmark_dir"] == "benchmarks"
    assert conf["environment_type"] in ("existing", "virtualenv")
    assert (CONF.parent / conf["repo"]).resolve() == REPO


def test_large_cases_are_gated(monkeypatch):
    common = importlib.import_module(f"{PACKAGE}.common")
    if common.LARGE:
        pytest.skip("GMMX_BENCH_LARGE=1 in this environment")
    assert common.with_large([1, 2], [99]) == [1, 2]
    assert common.n_rows(50_000, 1_000_000) == 50_000
    monkeypatch.setenv("GMMX_BENCH_TINY", "1")
    assert common.n_rows(50_000, 1_000_000) <= 1_000


@pytest.mark.parametrize("modname,clsname", CASES)
def test_benchmark_class_runs(modname, clsname, monkeypatch, tmp_path):
    monkeypatch.setenv("GMMX_BENCH_TINY", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)  # setup_cache writes its files in the cwd
    cls = getattr(MODULES[modname], clsname)
    params = _first_params(cls)
    bench = cls()

    args = []
    if hasattr(bench, "setup_cache"):
        args.append(bench.setup_cache())
    try:
        if hasattr(bench, "setup"):
            bench.setup(*args, *params)
    except NotImplementedError as exc:
        pytest.skip(f"{clsname} skipped by its setup: {exc}")

    methods = sorted(m for m in dir(bench) if m.startswith(PREFIXES))
    assert methods, f"{clsname} has no benchmark methods"
    try:
        for name in methods:
            result = getattr(bench, name)(*args, *params)
            if name.startswith("track_"):
                assert isinstance(result, (int, float)), f"{name} returned {result!r}"
                assert math.isfinite(result), f"{name} returned {result!r}"
    finally:
        if hasattr(bench, "teardown"):
            bench.teardown(*args, *params)
