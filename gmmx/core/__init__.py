"""Model algebra: no I/O, no estimator.

- :mod:`~gmmx.core.covariance`: one object per covariance type;
- :mod:`~gmmx.core.stats`: :class:`SufficientStats` (add, recentre, scale);
- :mod:`~gmmx.core.kernel`: parameters packed for the native kernel, its calls;
- :mod:`~gmmx.core.mstep`: the M-step with a regularisation;
- :mod:`~gmmx.core.em`: the one EM step and loop;
- :mod:`~gmmx.core.online`: stepwise-EM state;
- :mod:`~gmmx.core.init`: k-means, k-means++ and random starts.
"""

from .covariance import COVARIANCE_TYPES, CovarianceType, get_covariance
from .em import EMResult, EMSteps, em_step, run_em
from .mstep import Params, Regularisation, m_step
from .online import OnlineEM
from .stats import SufficientStats

__all__ = [
    "COVARIANCE_TYPES",
    "CovarianceType",
    "EMResult",
    "EMSteps",
    "OnlineEM",
    "Params",
    "Regularisation",
    "SufficientStats",
    "em_step",
    "get_covariance",
    "m_step",
    "run_em",
]
