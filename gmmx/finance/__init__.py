"""Gaussian mixtures as return distributions: moments, quantiles, risk and regimes.

Everything here works from a fitted mixture model (anything with sklearn's
fitted attributes ``weights_``, ``means_``, ``covariances_`` and
``covariance_type``, such as :class:`gmmx.GaussianMixture`) or from raw
parameters, needs only numpy and scipy, and accepts pandas input (keeping its
index where the output lines up with the input).  The package re-exports the
public names of :mod:`~gmmx.finance.distributions` (:class:`UnivariateMixture`,
moments), :mod:`~gmmx.finance.multivariate` (:class:`MultivariateMixture`:
portfolios, marginals, scenario conditionals), :mod:`~gmmx.finance.risk`
(value at risk and expected shortfall, positive numbers for losses, of one
return or of a portfolio ``w'x``), :mod:`~gmmx.finance.gm2` (the structured GM(2)
and two-component fits), :mod:`~gmmx.finance.student_t` (Student-t mixtures:
:class:`UnivariateTMixture`, :class:`MultivariateTMixture`, exact t VaR/ES) and :mod:`~gmmx.finance.returns`, plus
:func:`full_covariances`; regime detection and asset clustering live in
:mod:`gmmx.finance.regimes` (also importable as :mod:`gmmx.regimes`).
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_names

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from ._models import full_covariances
    from .distributions import (
        MixtureMoments,
        UnivariateMixture,
        mixture_mean_covariance,
        mixture_moments,
    )
    from .multivariate import MultivariateMixture
    from .gm2 import StructuredGM2, fit_gm2, gm2_from_moments, structured_gm2
    from .returns import log_returns
    from .risk import expected_shortfall, value_at_risk
    from .student_t import MultivariateTMixture, UnivariateTMixture

# The names load on first use (PEP 562): the gmmx command imports
# gmmx.finance._models only, and scipy.special (distributions, risk, Student-t)
# would cost it more than its fit.  name -> module that defines it
_LAZY_ATTRIBUTES = {
    "full_covariances": "_models",
    "MixtureMoments": "distributions",
    "UnivariateMixture": "distributions",
    "mixture_mean_covariance": "distributions",
    "mixture_moments": "distributions",
    "MultivariateMixture": "multivariate",
    "StructuredGM2": "gm2",
    "fit_gm2": "gm2",
    "gm2_from_moments": "gm2",
    "structured_gm2": "gm2",
    "log_returns": "returns",
    "expected_shortfall": "risk",
    "value_at_risk": "risk",
    "MultivariateTMixture": "student_t",
    "UnivariateTMixture": "student_t",
}


# Submodules the package used to import eagerly: still attributes of it.
_SUBMODULES = ("_models", "_tail_risk", "distributions", "gm2", "multivariate", "returns", "risk",
               "student_t")


__getattr__, __dir__ = lazy_names(__name__, globals(), _LAZY_ATTRIBUTES, _SUBMODULES)


__all__ = [
    "UnivariateMixture",
    "MultivariateMixture",
    "UnivariateTMixture",
    "MultivariateTMixture",
    "MixtureMoments",
    "StructuredGM2",
    "mixture_moments",
    "mixture_mean_covariance",
    "full_covariances",
    "value_at_risk",
    "expected_shortfall",
    "structured_gm2",
    "gm2_from_moments",
    "fit_gm2",
    "log_returns",
]
