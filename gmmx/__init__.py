"""gmmx: fast Gaussian mixture models by EM.

The EM core is a native (Cython + OpenMP + BLAS) kernel that computes an
iteration's sufficient statistics in one pass over the data; in-memory,
out-of-core, online and Dask fitting are drivers of that one kernel.

The estimators and the subpackages load on first use (PEP 562): ``import
gmmx`` needs only numpy and scipy and stays light, and scikit-learn (whose
``BaseEstimator`` the estimators inherit when it is installed) is imported
only when an estimator is.
"""

import importlib
from typing import TYPE_CHECKING

from . import io
from ._version import __version__
from .core.priors import ConjugatePrior
from .core.stats import SufficientStats
from .exceptions import (CacheWarning, DegreesOfFreedomWarning, IllDefinedCovarianceError,
                         ProgressWarning, RegCovarWarning)
from .io import load

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .exceptions import ConvergenceWarning, NotFittedError
    from .hmm import GaussianHMM
    from ._kernels.config import show_config
    from .mixture import (BayesianGaussianMixture, GaussianMixture, GaussianMixtureIC,
                          StudentTMixture)

# name -> module that defines it
_LAZY_ATTRIBUTES = {
    "BayesianGaussianMixture": "gmmx.mixture",
    "GaussianMixture": "gmmx.mixture",
    "GaussianMixtureIC": "gmmx.mixture",
    "StudentTMixture": "gmmx.mixture",
    "GaussianHMM": "gmmx.hmm",
    "ConvergenceWarning": "gmmx.exceptions",
    "NotFittedError": "gmmx.exceptions",
    "show_config": "gmmx._kernels.config",
}
_LAZY_MODULES = ("core", "dask", "drivers", "finance", "hmm", "impute", "mixture", "plotting",
                 "regimes", "sources", "streaming")
# Saved models name their class; gmmx.io imports the module that registers it.
io.register_model_module("GaussianMixture", "gmmx.mixture.gaussian")
io.register_model_module("BayesianGaussianMixture", "gmmx.mixture.bayesian")
io.register_model_module("GaussianHMM", "gmmx.hmm")
io.register_model_module("StudentTMixture", "gmmx.mixture.student")
io.register_model_module("StudentTHMM", "gmmx.hmm")


def __getattr__(name):
    if name in _LAZY_ATTRIBUTES:
        return getattr(importlib.import_module(_LAZY_ATTRIBUTES[name]), name)
    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'gmmx' has no attribute {name!r}")


__all__ = [
    "BayesianGaussianMixture",
    "CacheWarning",
    "ConjugatePrior",
    "ConvergenceWarning",
    "DegreesOfFreedomWarning",
    "GaussianHMM",
    "GaussianMixture",
    "GaussianMixtureIC",
    "IllDefinedCovarianceError",
    "NotFittedError",
    "ProgressWarning",
    "RegCovarWarning",
    "StudentTMixture",
    "SufficientStats",
    "__version__",
    "load",
    "show_config",
]
