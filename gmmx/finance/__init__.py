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
