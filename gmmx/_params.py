"""Constructor-parameter plumbing as scikit-learn's, for estimators without scikit-learn.

:class:`ParamsMixin` gives ``get_params``, ``set_params`` and ``__repr__``
from the ``__init__`` signature.  ``GaussianHMM`` uses it, and so does
``GaussianMixture`` when scikit-learn is not installed (with it, scikit-learn's
``BaseEstimator`` provides the same methods).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from typing_extensions import Self

import numpy as np

__all__ = ["ParamsMixin"]


class ParamsMixin:
    """``get_params`` / ``set_params`` / ``__repr__`` as scikit-learn's."""

    @classmethod
    def _get_param_names(cls):
        sig = inspect.signature(cls.__init__)
        return sorted(p for p in sig.parameters if p != "self")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters, as scikit-learn's ``get_params``."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params: Any) -> Self:
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

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        changed = []
        for name, p in list(sig.parameters.items())[1:]:
            value = getattr(self, name, p.default)
            try:
                same = value is p.default or bool(np.all(value == p.default))
            except (TypeError, ValueError):
                same = False
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"
