"""Exceptions and warnings that gmmx raises (a leaf: anything may import it).

When scikit-learn is installed, :class:`NotFittedError` and
:class:`ConvergenceWarning` subclass scikit-learn's classes of the same name,
so ``except sklearn.exceptions.NotFittedError`` and
``warnings.filterwarnings("ignore", category=sklearn.exceptions.ConvergenceWarning)``
catch gmmx's too.  Both are built on first use, so that ``import gmmx`` does
not import scikit-learn (which takes about a second and imports pandas).
"""

from __future__ import annotations

import os
import sys
import types
import warnings
from typing import Optional

__all__ = [
    "CacheWarning",
    "ConvergenceWarning",
    "DegreesOfFreedomWarning",
    "IllDefinedCovarianceError",
    "NotFittedError",
    "ProgressWarning",
    "RegCovarWarning",
    "warn_user",
]


class RegCovarWarning(UserWarning):
    """``reg_covar`` is large compared with the variance of the data."""


class DegreesOfFreedomWarning(UserWarning):
    """A Student-t component's estimated degrees of freedom reached their cap (it is Gaussian)."""


class ProgressWarning(UserWarning):
    """``progress=True`` was asked for, but no progress bar can be drawn."""


class CacheWarning(UserWarning):
    """A source's ``cache_dir`` copy could not be written; its passes decode the file instead."""


_DOCS = {
    "NotFittedError": "The estimator is used before ``fit``.",
    "ConvergenceWarning": "EM stopped at ``max_iter`` before the lower bound converged.",
}


#: Set to "0" before gmmx builds its classes to build them without
#: scikit-learn's bases even when it is installed (the ``gmmx`` command does:
#: it never hands its estimators to scikit-learn, and importing it costs more
#: than a small fit).
SKLEARN_ENV = "GMMX_SKLEARN"


def use_sklearn() -> bool:
    """Whether gmmx's classes subclass scikit-learn's (installed and not disabled)."""
    return os.environ.get(SKLEARN_ENV, "1") != "0"


def _sklearn_base(name):
    if not use_sklearn():
        return None
    try:
        from sklearn import exceptions
    except ImportError:
        return None
    return getattr(exceptions, name, None)


def _build(name):
    sk = _sklearn_base(name)
    if name == "NotFittedError":
        bases = (sk,) if sk is not None else (ValueError, AttributeError)
    else:
        bases = (sk,) if sk is not None else (UserWarning,)
    cls = type(name, bases, {"__doc__": _DOCS[name], "__module__": __name__})
    globals()[name] = cls
    return cls


def __getattr__(name):
    if name in _DOCS:
        return _build(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_user(message: str, category: type[Warning]) -> None:
    """Warn with the location of the first caller outside gmmx (the user's line)."""
    level = 2  # warn_user's caller
    frame: Optional[types.FrameType] = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)


class IllDefinedCovarianceError(ValueError):
    """A covariance is not positive definite (a component collapsed onto a point).

    Raised by the M-step. During EM, ``fit`` catches it and ends that run at
    its last valid iteration (``converged_=False`` and a
    :class:`ConvergenceWarning`), as scikit-learn keeps the best parameters
    of a diverging run; at initialisation, and in ``partial_fit``, it
    propagates.
    """
