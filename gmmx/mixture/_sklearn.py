"""scikit-learn's estimator base classes when it is installed, a local stand-in otherwise.

With scikit-learn, gmmx's estimators are real ``BaseEstimator`` /
``DensityMixin`` subclasses: ``clone``, ``Pipeline``, grid searches, the
HTML repr and metadata routing work as for scikit-learn's own mixtures.
Without it, or with the environment variable ``GMMX_SKLEARN=0`` set before
gmmx's estimators are first imported (the ``gmmx`` command sets it),
:class:`BaseEstimator` below gives the same ``get_params``, ``set_params``
and ``__repr__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._params import ParamsMixin
from ..exceptions import use_sklearn

__all__ = ["HAVE_SKLEARN", "BaseEstimator", "DensityMixin", "expected_failed_checks"]


class _LocalBaseEstimator(ParamsMixin):
    """``get_params`` / ``set_params`` / ``__repr__`` as scikit-learn's."""


class _LocalDensityMixin:
    """Marks density estimators (scikit-learn's mixin when installed)."""


HAVE_SKLEARN: bool
if TYPE_CHECKING:
    # Type checkers see the typed stand-ins: scikit-learn ships no type
    # information, so its classes are ``Any`` to mypy, and a subclass of
    # ``Any`` accepts any attribute (``gm.wieghts_`` would pass unnoticed).
    BaseEstimator = _LocalBaseEstimator
    DensityMixin = _LocalDensityMixin
else:
    try:
        if not use_sklearn():  # GMMX_SKLEARN=0 (the gmmx command): as if not installed
            raise ImportError
        from sklearn.base import BaseEstimator, DensityMixin
    except ImportError:  # pragma: no cover - exercised in the no-sklearn CI job
        HAVE_SKLEARN = False
        BaseEstimator, DensityMixin = _LocalBaseEstimator, _LocalDensityMixin
        BaseEstimator.__name__, DensityMixin.__name__ = "BaseEstimator", "DensityMixin"
    else:
        HAVE_SKLEARN = True


def expected_failed_checks(estimator: Any = None) -> dict[str, str]:
    """scikit-learn common checks that gmmx's mixtures fail on purpose, with the reason.

    Pass it to ``sklearn.utils.estimator_checks.check_estimator(...,
    expected_failed_checks=expected_failed_checks(est))`` or to
    ``parametrize_with_checks(..., expected_failed_checks=expected_failed_checks)``.

    Returns
    -------
    dict of str to str
    """
    return {
        "check_fit1d": (
            "gmmx reads 1-D input as one feature (a column of returns), on purpose: "
            "scikit-learn expects 1-D X to be refused"
        ),
        "check_sample_weight_equivalence_on_dense_data": (
            "the default k-means start depends on the order and multiplicity of rows, so "
            "integer weights and repeated rows give different starting points (scikit-learn "
            "declares the same for its own KMeans); from identical initial parameters the "
            "fits are equal, which gmmx's own tests check"
        ),
    }
