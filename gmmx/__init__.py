"""gmmx: fast Gaussian mixture models by EM.

The EM core is a native (Cython + OpenMP + BLAS) kernel that computes an
iteration's sufficient statistics in one pass over the data; in-memory,
out-of-core, online and Dask fitting are drivers of that one kernel.
"""

from ._version import __version__
from .core.stats import SufficientStats
from .exceptions import (ConvergenceWarning, IllDefinedCovarianceError, NotFittedError,
                         RegCovarWarning)
from .io import load
from .mixture import GaussianMixture

_LAZY_MODULES = ("dask", "finance", "io", "plotting", "regimes", "streaming")


def __getattr__(name):
    # gmmx.finance, gmmx.streaming, ... load on first use (PEP 562), so that
    # `import gmmx` stays light and never imports an optional dependency.
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'gmmx' has no attribute {name!r}")


__all__ = [
    "ConvergenceWarning",
    "GaussianMixture",
    "IllDefinedCovarianceError",
    "NotFittedError",
    "RegCovarWarning",
    "SufficientStats",
    "__version__",
    "load",
]
