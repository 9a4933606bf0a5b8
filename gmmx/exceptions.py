"""Exceptions and warnings that gmmx raises (a leaf: anything may import it)."""

from __future__ import annotations

__all__ = ["ConvergenceWarning", "IllDefinedCovarianceError", "NotFittedError",
           "RegCovarWarning"]


class NotFittedError(ValueError, AttributeError):
    """The estimator is used before ``fit``."""


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before the lower bound converged."""


class RegCovarWarning(UserWarning):
    """``reg_covar`` is large compared with the variance of the data."""


class IllDefinedCovarianceError(ValueError):
    """A covariance is not positive definite (a component collapsed onto a point).

    Raised by the M-step. During EM, ``fit`` catches it and ends that run at
    its last valid iteration (``converged_=False`` and a
    :class:`ConvergenceWarning`), as scikit-learn keeps the best parameters
    of a diverging run; at initialisation, and in ``partial_fit``, it
    propagates.
    """
