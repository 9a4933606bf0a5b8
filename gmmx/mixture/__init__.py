"""Estimators: what a user constructs and fits.

:class:`~gmmx.mixture.base.BaseMixture` owns ``fit``, ``partial_fit``,
``score``, ``predict`` and ``save`` over a few hooks; :class:`GaussianMixture`,
:class:`BayesianGaussianMixture` and :class:`StudentTMixture` fill them in;
:class:`GaussianMixtureIC` fits a grid of them in lockstep and
keeps the best.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_names

from ..exceptions import ConvergenceWarning, RegCovarWarning
from ._sklearn import expected_failed_checks

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .base import BaseMixture
    from .bayesian import BayesianGaussianMixture
    from .gaussian import GaussianMixture
    from .minibatch import fit_minibatch
    from .selection import GaussianMixtureIC
    from .student import StudentTMixture

# The estimators load on first use (PEP 562): the gmmx command needs
# GaussianMixtureIC only, not the variational or mini-batch code (nor the
# scipy.special they import).  name -> module that defines it
_LAZY_ATTRIBUTES = {
    "BaseMixture": "base",
    "BayesianGaussianMixture": "bayesian",
    "GaussianMixture": "gaussian",
    "fit_minibatch": "minibatch",
    "GaussianMixtureIC": "selection",
    "StudentTMixture": "student",
}


# Submodules the package used to import eagerly: still attributes of it.
_SUBMODULES = ("base", "bayesian", "gaussian", "minibatch", "selection", "student")


__getattr__, __dir__ = lazy_names(__name__, globals(), _LAZY_ATTRIBUTES, _SUBMODULES)


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
