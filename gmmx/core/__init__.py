"""Model algebra: no I/O, no estimator.

- :mod:`~gmmx.core.covariance`: one object per covariance type;
- :mod:`~gmmx.core.stats`: :class:`SufficientStats` (add, recentre, scale);
- :mod:`~gmmx.core.kernel`: parameters packed for the native kernel, its calls;
- :mod:`~gmmx.core.mstep`: the M-step with a regularisation;
- :mod:`~gmmx.core.em`: the one EM step and loop;
- :mod:`~gmmx.core.online`: stepwise-EM state;
- :mod:`~gmmx.core.priors`: the conjugate prior and its MAP estimates;
- :mod:`~gmmx.core.criteria`: BIC, AIC and ICL from one pass's statistics;
- :mod:`~gmmx.core.init`: k-means, k-means++, random and hierarchical starts
  (:mod:`~gmmx.core.hierarchical`: mclust's model-based agglomeration).
"""

from .covariance import COVARIANCE_TYPES, CovarianceType, get_covariance
from .em import EMResult, EMSteps, em_step, run_em
from .mstep import Params, Regularisation, m_step
from .online import OnlineEM
from .priors import ConjugatePrior, ResolvedPrior
from .stats import SufficientStats

__all__ = [
    "COVARIANCE_TYPES",
    "ConjugatePrior",
    "CovarianceType",
    "EMResult",
    "EMSteps",
    "OnlineEM",
    "Params",
    "Regularisation",
    "ResolvedPrior",
    "SufficientStats",
    "em_step",
    "get_covariance",
    "m_step",
    "run_em",
]
