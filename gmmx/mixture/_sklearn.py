"""scikit-learn's estimator base classes when it is installed, a local stand-in otherwise.

With scikit-learn, gmmx's estimators are real ``BaseEstimator`` /
``DensityMixin`` subclasses: ``clone``, ``Pipeline``, grid searches, the
HTML repr and metadata routing work as for scikit-learn's own mixtures.
Without it, :class:`BaseEstimator` below gives the same ``get_params``,
``set_params`` and ``__repr__``.
"""

from __future__ import annotations

import inspect

__all__ = ["HAVE_SKLEARN", "BaseEstimator", "DensityMixin", "expected_failed_checks"]

try:
    from sklearn.base import BaseEstimator, DensityMixin
except ImportError:  # pragma: no cover - exercised in the no-sklearn CI job
    HAVE_SKLEARN = False

    class BaseEstimator:  # type: ignore[no-redef]
        """``get_params`` / ``set_params`` / ``__repr__`` as scikit-learn's."""

        @classmethod
        def _get_param_names(cls):
            sig = inspect.signature(cls.__init__)
            return sorted(p for p in sig.parameters if p != "self")

        def get_params(self, deep=True):
            """Constructor parameters, as scikit-learn's ``get_params``."""
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params):
            """Set constructor parameters; returns ``self``."""
            valid = self._get_param_names()
            for key, value in params.items():
                if key not in valid:
                    raise ValueError(
                        f"Invalid parameter {key!r} for estimator {type(self).__name__}. "
                        f"Valid parameters are: {valid}."
                    )
                setattr(self, key, value)
            return self

        def __repr__(self):
            sig = inspect.signature(type(self).__init__)
            changed = []
            for name, p in sig.parameters.items():
                if name == "self":
                    continue
                value = getattr(self, name, p.default)
                same = value is p.default
                if not same:
                    try:
                        same = bool(value == p.default)
                    except (ValueError, TypeError):
                        same = False
                if not same:
                    changed.append(f"{name}={value!r}")
            return f"{type(self).__name__}({', '.join(changed)})"

    class DensityMixin:  # type: ignore[no-redef]
        """Marks density estimators (scikit-learn's mixin when installed)."""

else:
    HAVE_SKLEARN = True


def expected_failed_checks(estimator=None):
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
