"""Sphinx configuration of the gmmx documentation.

Build with ``python -m pip install ".[docs]" && python -m sphinx -W --keep-going
-b html docs docs/_build/html`` from the repository root.  The gallery runs
the scripts in ``examples/`` at build time; no network access is needed (the
S&P 500 data ship with the ``arch`` package).
"""

import importlib
import os
import sys
import warnings

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def _import_compiled_gmmx():
    """Import gmmx with its compiled kernels.

    ``python -m sphinx`` from the repository root puts the checkout first on
    ``sys.path``; its ``gmmx/`` has no compiled kernels unless built in
    place, so fall back to the installed package.
    """
    try:
        importlib.import_module("gmmx._kernels._estep")
        return importlib.import_module("gmmx")
    except ImportError:
        for name in [m for m in sys.modules if m == "gmmx" or m.startswith("gmmx.")]:
            del sys.modules[name]
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != ROOT]
        return importlib.import_module("gmmx")


gmmx = _import_compiled_gmmx()

os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")

project = "gmmx"
author = "gmmx developers"
copyright = "gmmx developers"
release = gmmx.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5", "auto_examples/*.json"]
templates_path = ["_templates"]

autosummary_generate = True
# Quotes and ellipses only: "--out" must stay two hyphens, not become an en dash.
smartquotes_action = "qe"
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# No intersphinx inventories are fetched (the build runs without network);
# references to numpy/scipy/sklearn objects stay plain text.
intersphinx_mapping = {}
nitpicky = False

GALLERY_OUT = os.path.join(ROOT, "docs", "_build", "gallery-files")


def _example_argv(gallery_conf, script_vars):
    """Arguments for an example script: figures it saves go under docs/_build."""
    with open(script_vars["src_file"], encoding="utf-8") as f:
        takes_out = '"--out"' in f.read()
    os.makedirs(GALLERY_OUT, exist_ok=True)
    return ["--out", GALLERY_OUT] if takes_out else []


sphinx_gallery_conf = {
    "examples_dirs": os.path.join(ROOT, "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r".*\.py$",
    "ignore_pattern": r"__init__\.py",
    "download_all_examples": False,
    "remove_config_comments": True,
    "reset_argv": _example_argv,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "plot_gallery": "True",
}

html_theme = "pydata_sphinx_theme"
html_title = f"gmmx {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_show_sourcelink = False
suppress_warnings = ["config.cache"]  # sphinx-gallery's reset_argv is a function


def _skip_sklearn_request_methods(app, what, name, obj, skip, options):
    """scikit-learn generates ``set_*_request`` methods (metadata routing) on every
    estimator; their docstrings point into scikit-learn's own glossary."""
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_sklearn_request_methods)
