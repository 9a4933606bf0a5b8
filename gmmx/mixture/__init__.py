"""Estimators: what a user constructs and fits.

:class:`~gmmx.mixture.base.BaseMixture` owns ``fit``, ``partial_fit``,
``score``, ``predict`` and ``save`` over a few hooks; :class:`GaussianMixture`
fills them in.
"""

from ..exceptions import ConvergenceWarning, RegCovarWarning
from ._sklearn import expected_failed_checks
from .base import BaseMixture
from .gaussian import GaussianMixture
from .minibatch import fit_minibatch

__all__ = [
    "BaseMixture",
    "ConvergenceWarning",
    "GaussianMixture",
    "RegCovarWarning",
    "expected_failed_checks",
    "fit_minibatch",
]
