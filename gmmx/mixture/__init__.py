"""Estimators: what a user constructs and fits.

:class:`~gmmx.mixture.base.BaseMixture` owns ``fit``, ``partial_fit``,
``score``, ``predict`` and ``save`` over a few hooks; :class:`GaussianMixture`,
:class:`BayesianGaussianMixture` and :class:`StudentTMixture` fill them in;
:class:`GaussianMixtureIC` fits a grid of them in lockstep and
keeps the best.
"""

from ..exceptions import ConvergenceWarning, RegCovarWarning
from ._sklearn import expected_failed_checks
from .base import BaseMixture
from .bayesian import BayesianGaussianMixture
from .gaussian import GaussianMixture
from .minibatch import fit_minibatch
from .selection import GaussianMixtureIC
from .student import StudentTMixture

__all__ = [
    "BaseMixture",
    "BayesianGaussianMixture",
    "ConvergenceWarning",
    "GaussianMixture",
    "GaussianMixtureIC",
    "RegCovarWarning",
    "StudentTMixture",
    "expected_failed_checks",
    "fit_minibatch",
]
