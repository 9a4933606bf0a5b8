"""gmmx.mixture loads its estimators on first use: every public name still
resolves to the object of its defining module, and a saved model of each class
loads in a fresh process that imported nothing but gmmx."""

import importlib
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import submodule_names_after_import

import gmmx.mixture

HOMES = {
    "BaseMixture": "base",
    "BayesianGaussianMixture": "bayesian",
    "ConvergenceWarning": None,
    "GaussianMixture": "gaussian",
    "GaussianMixtureIC": "selection",
    "RegCovarWarning": None,
    "StudentTMixture": "student",
    "expected_failed_checks": "_sklearn",
    "fit_minibatch": "minibatch",
}


def test_all_lists_every_public_name():
    assert sorted(gmmx.mixture.__all__) == sorted(HOMES)
    assert set(HOMES) <= set(dir(gmmx.mixture))


@pytest.mark.parametrize("name", sorted(HOMES))
def test_name_resolves_to_its_defining_module(name):
    ns = {}
    exec(f"from gmmx.mixture import {name}", ns)
    home = ("gmmx.exceptions" if HOMES[name] is None else f"gmmx.mixture.{HOMES[name]}")
    assert ns[name] is getattr(importlib.import_module(home), name)
    assert getattr(gmmx, name, ns[name]) is ns[name]


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'GausianMixture'"):
        gmmx.mixture.GausianMixture  # noqa: B018


def test_star_import_gives_every_name():
    ns = {}
    exec("from gmmx.mixture import *", ns)
    assert set(HOMES) <= set(ns)


@pytest.mark.parametrize("cls", ["GaussianMixture", "BayesianGaussianMixture",
                                 "StudentTMixture"])
def test_saved_model_loads_in_a_fresh_process(tmp_path, cls):
    X = np.random.default_rng(0).normal(size=(200, 2))
    model = getattr(gmmx.mixture, cls)(n_components=2, random_state=0, n_threads=1).fit(X)
    path = tmp_path / "m.npz"
    model.save(path)
    code = ("import json, sys, gmmx\n"
            f"m = gmmx.load({str(path)!r})\n"
            "print(json.dumps([type(m).__name__, m.means_.tolist()]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    name, means = json.loads(out.stdout)
    assert name == cls
    np.testing.assert_array_equal(means, model.means_)


def test_families_map_each_name_to_its_estimator_class():
    from gmmx.mixture.gaussian import GaussianMixture
    from gmmx.mixture.selection import FAMILIES
    from gmmx.mixture.student import StudentTMixture

    assert dict(FAMILIES) == {"gaussian": GaussianMixture, "student_t": StudentTMixture}
    assert list(FAMILIES) == ["gaussian", "student_t"] and len(FAMILIES) == 2
    assert "student_t" in FAMILIES and "t" not in FAMILIES
    with pytest.raises(KeyError):
        FAMILIES["t"]


def test_submodules_stay_attributes_of_the_package_after_its_import():
    # the package imported them before it loaded its names on first use
    modules = ["base", "bayesian", "gaussian", "minibatch", "selection", "student"]
    expected = [f"gmmx.mixture.{m}" for m in modules]
    assert submodule_names_after_import("gmmx.mixture", modules) == expected
