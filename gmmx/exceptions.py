"""Exceptions and warnings that gmmx raises (a leaf: anything may import it)."""

from __future__ import annotations

__all__ = ["ConvergenceWarning", "NotFittedError", "ProgressWarning", "RegCovarWarning"]


class NotFittedError(ValueError, AttributeError):
    """The estimator is used before ``fit``."""


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before the lower bound converged."""


class RegCovarWarning(UserWarning):
    """``reg_covar`` is large compared with the variance of the data."""


class ProgressWarning(UserWarning):
    """``progress=True`` was asked for, but no progress bar can be drawn."""
