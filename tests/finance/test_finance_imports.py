"""gmmx.finance as a package: its import paths, old and new, and its dependencies."""

import importlib

import pytest
from conftest import submodule_names_after_import

# Every public name the single-file gmmx.finance had, and the module it lives in now.
FINANCE = {
    "UnivariateMixture": "distributions",
    "MixtureMoments": "distributions",
    "mixture_moments": "distributions",
    "mixture_mean_covariance": "distributions",
    "value_at_risk": "risk",
    "expected_shortfall": "risk",
    "StructuredGM2": "gm2",
    "structured_gm2": "gm2",
    "gm2_from_moments": "gm2",
    "fit_gm2": "gm2",
    "log_returns": "returns",
    "full_covariances": "_models",
}
REGIMES = ["RegimeResult", "detect_regimes", "regime_durations", "AssetClusters",
           "asset_features", "cluster_assets"]


@pytest.mark.parametrize("name", sorted(FINANCE))
def test_old_finance_import_path_still_works(name):
    ns = {}
    exec(f"from gmmx.finance import {name}", ns)
    home = importlib.import_module(f"gmmx.finance.{FINANCE[name]}")
    assert ns[name] is getattr(home, name)


def test_finance_all_still_lists_every_name_of_0_1():
    import gmmx.finance

    assert set(FINANCE) <= set(gmmx.finance.__all__)
    # names added after 0.1: the multivariate mixture and the Student-t distributions
    assert set(gmmx.finance.__all__) - set(FINANCE) == {
        "MultivariateMixture", "MultivariateTMixture", "UnivariateTMixture"}


@pytest.mark.parametrize("name", REGIMES)
def test_old_regimes_import_path_still_works(name):
    import gmmx.finance.regimes

    ns = {}
    exec(f"from gmmx.regimes import {name}", ns)
    assert ns[name] is getattr(gmmx.finance.regimes, name)


def test_import_gmmx_regimes_gives_the_shim_of_gmmx_finance_regimes():
    import gmmx
    import gmmx.finance.regimes
    import gmmx.regimes

    assert gmmx.regimes is gmmx.__getattr__("regimes")
    assert sorted(gmmx.regimes.__all__) == sorted(gmmx.finance.regimes.__all__) == sorted(REGIMES)
    assert gmmx.regimes.detect_regimes is gmmx.finance.regimes.detect_regimes
    assert gmmx.finance is gmmx.__getattr__("finance")


def test_importing_finance_regimes_and_plotting_needs_only_numpy_and_scipy(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    import gmmx

    # Run outside the source tree, on the gmmx this test imports.
    env = dict(os.environ, PYTHONPATH=str(Path(gmmx.__file__).resolve().parents[1]))
    code = ("import sys, gmmx.finance, gmmx.regimes, gmmx.plotting; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pandas', 'matplotlib'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=tmp_path, env=env)
    assert out.stdout.strip() == "[]"


def test_submodules_stay_attributes_of_the_package_after_its_import():
    # the package imported them before it loaded its names on first use
    modules = ["distributions", "gm2", "multivariate", "returns", "risk", "student_t"]
    expected = [f"gmmx.finance.{m}" for m in modules]
    assert submodule_names_after_import("gmmx.finance", modules) == expected
