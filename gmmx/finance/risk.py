"""Value at risk and expected shortfall of a normal mixture of returns or of a portfolio.

Both accept a fitted d = 1 mixture model, a :class:`~gmmx.finance.UnivariateMixture`
or raw parameters, and one tail probability ``alpha`` (0.01 for 99 % VaR) or an
array of them.  For a multivariate model (fitted, or a
:class:`~gmmx.finance.MultivariateMixture`) ``weights=w`` are portfolio
weights, and the risk is that of ``w'x``, itself a univariate mixture.
Losses are reported as *positive numbers*: for a long position ``VaR =
-q_alpha``, where ``q_alpha`` is the alpha-quantile of the mixture return
distribution, i.e. the root of ``F(x) = alpha`` (not the weighted sum of
component quantiles), and expected shortfall is the closed-form mean loss
beyond it; a short position (``position < 0``) loses in the upper tail.

Student-t mixtures (a fitted :class:`~gmmx.StudentTMixture`, a
:class:`~gmmx.finance.UnivariateTMixture` or a
:class:`~gmmx.finance.MultivariateTMixture`) are measured exactly as t
mixtures: the quantile is the root of the t-mixture CDF and ES has its own
closed form (:meth:`UnivariateTMixture.expected_shortfall`); a portfolio of
a multivariate t mixture is a univariate t mixture with the same ν.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional, Union, overload

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import ArrayLike, NDArray

from ._models import _is_model
from ._tail_risk import _check_alpha, _expected_shortfall, _value_at_risk
from .distributions import UnivariateMixture, _as_univariate
from .multivariate import MultivariateMixture
from .student_t import MultivariateTMixture, UnivariateTMixture, is_t_model

__all__ = ["value_at_risk", "expected_shortfall"]


def _risk_distribution(mixture, weights, means, stds, variances, log_returns=False):
    """The UnivariateMixture whose tail is measured: the mixture itself, or the portfolio w'x.

    With a fitted model or a MultivariateMixture, ``weights`` are portfolio
    weights; otherwise they are the mixing weights of raw parameters.
    """
    if mixture is None:
        return _as_univariate(None, weights, means, stds, variances)
    if any(p is not None for p in (means, stds, variances)):
        raise ValueError("pass either a mixture or raw parameters, not both")
    if is_t_model(mixture):  # a fitted Student-t mixture: exact t-mixture risk
        mixture = MultivariateTMixture.from_model(mixture)
    if isinstance(mixture, (UnivariateMixture, UnivariateTMixture)):
        if weights is not None:
            raise ValueError(
                "pass either a mixture or raw parameters, not both; weights= are portfolio "
                "weights only with a multivariate model, and a UnivariateMixture already is "
                "the distribution of one return (scale it with position=)"
            )
        return mixture
    if weights is None:
        d = mixture.n_features if isinstance(mixture, MultivariateMixture) else (
            np.shape(mixture.means_)[1] if _is_model(mixture) else 1)
        if d > 1:
            raise ValueError(
                f"the model has {d} features; pass portfolio weights=w (one per feature) for "
                "the risk of the portfolio return w'x, or pick one feature with "
                "MultivariateMixture.from_model(model).marginal(j) (its mean and covariance: "
                "mixture_mean_covariance)"
            )
        if isinstance(mixture, MultivariateMixture):
            return mixture.marginal(0)
        return _as_univariate(mixture)
    if log_returns:
        raise ValueError(
            "log_returns=True cannot be combined with portfolio weights: a portfolio's log "
            "return is not the weighted sum of its assets' log returns; fit the model on "
            "simple returns (np.expm1 of log returns) for portfolio VaR and ES"
        )
    if not isinstance(mixture, MultivariateMixture):
        mixture = MultivariateMixture.from_model(mixture)
    return mixture.portfolio(weights)


@overload
def value_at_risk(
    mixture: Any = ..., alpha: float = ..., *, position: Optional[float] = ...,
    log_returns: bool = ..., weights: Union[ArrayLike, Mapping[Any, float], None] = ...,
    means: Optional[ArrayLike] = ..., stds: Optional[ArrayLike] = ...,
    variances: Optional[ArrayLike] = ...,
) -> float: ...


@overload
def value_at_risk(
    mixture: Any = ..., alpha: ArrayLike = ..., *, position: Optional[float] = ...,
    log_returns: bool = ..., weights: Union[ArrayLike, Mapping[Any, float], None] = ...,
    means: Optional[ArrayLike] = ..., stds: Optional[ArrayLike] = ...,
    variances: Optional[ArrayLike] = ...,
) -> NDArray[np.float64]: ...


def value_at_risk(
    mixture: Any = None, alpha: ArrayLike = 0.05, *, position: Optional[float] = None,
    log_returns: bool = False, weights: Union[ArrayLike, Mapping[Any, float], None] = None,
    means: Optional[ArrayLike] = None, stds: Optional[ArrayLike] = None,
    variances: Optional[ArrayLike] = None,
) -> Union[float, NDArray[np.float64]]:
    """Value at risk of a normal mixture of returns, or of a portfolio ``w'x``.

    Sign convention: the result is a **positive number for a loss**.  ``alpha``
    is the tail probability (0.01 for 99 % VaR).  For a long position
    ``VaR = -q_alpha``, where ``q_alpha`` is the alpha-quantile of the mixture,
    the root of ``F(x) = alpha`` (it is not the weighted sum of component
    quantiles).  A short position (``position < 0``) loses when returns rise
    and its VaR comes from the upper quantile ``q_{1-alpha}``.

    Parameters
    ----------
    mixture : fitted model, UnivariateMixture or MultivariateMixture, optional
    alpha : float or array_like of floats in (0, 0.5]
        Tail probability; an array gives one VaR per level.
    position : float, optional
        Position value in currency; negative for a short.  Without it the
        result is in return units (a long unit position, ``-q_alpha``).
    log_returns : bool
        With ``position``: the mixture models log returns, so the currency
        loss is ``V (1 - exp(R))`` rather than ``-V R``.
    weights : array_like, dict or pandas.Series, optional
        With a fitted model or a MultivariateMixture: **portfolio weights**, one
        per feature (required when there are several), and the result is the
        risk of the portfolio return ``w'x`` (``log_returns`` must be False).
        Without ``mixture``: the mixing weights of raw parameters.
    means, stds, variances : array_like, optional
        Raw parameters instead of ``mixture``.

    Returns
    -------
    float, or ndarray of the shape of ``alpha``
    """
    a = _check_alpha(alpha)
    dist = _risk_distribution(mixture, weights, means, stds, variances, log_returns)
    if isinstance(dist, UnivariateTMixture):
        return dist.value_at_risk(a, position, log_returns)
    return _value_at_risk(dist, a, position, log_returns)


@overload
def expected_shortfall(
    mixture: Any = ..., alpha: float = ..., *, position: Optional[float] = ...,
    log_returns: bool = ..., weights: Union[ArrayLike, Mapping[Any, float], None] = ...,
    means: Optional[ArrayLike] = ..., stds: Optional[ArrayLike] = ...,
    variances: Optional[ArrayLike] = ...,
) -> float: ...


@overload
def expected_shortfall(
    mixture: Any = ..., alpha: ArrayLike = ..., *, position: Optional[float] = ...,
    log_returns: bool = ..., weights: Union[ArrayLike, Mapping[Any, float], None] = ...,
    means: Optional[ArrayLike] = ..., stds: Optional[ArrayLike] = ...,
    variances: Optional[ArrayLike] = ...,
) -> NDArray[np.float64]: ...


def expected_shortfall(
    mixture: Any = None, alpha: ArrayLike = 0.05, *, position: Optional[float] = None,
    log_returns: bool = False, weights: Union[ArrayLike, Mapping[Any, float], None] = None,
    means: Optional[ArrayLike] = None, stds: Optional[ArrayLike] = None,
    variances: Optional[ArrayLike] = None,
) -> Union[float, NDArray[np.float64]]:
    """Expected shortfall (CVaR) of a normal mixture or a portfolio ``w'x``, in closed form.

    Same sign convention as :func:`value_at_risk`: a positive number for a
    loss.  For a long position ``ES = -E[R | R <= q_alpha]`` with

    ``E[R 1{R <= q}] = sum_k w_k (mu_k Phi(z_k) - sigma_k phi(z_k))``,
    ``z_k = (q - mu_k) / sigma_k``.

    With ``log_returns=True`` and a position, the currency loss is
    ``V (1 - exp(R))`` and ``E[exp(R) 1{R <= q}] =
    sum_k w_k exp(mu_k + sigma_k^2 / 2) Phi(z_k - sigma_k)``.

    Parameters
    ----------
    mixture : fitted model, UnivariateMixture or MultivariateMixture, optional
    alpha : float or array_like of floats in (0, 0.5]
        Tail probability; an array gives one ES per level.
    position : float, optional
        Position value in currency; negative for a short.
    log_returns : bool
        With ``position``: the mixture models log returns.
    weights : array_like, dict or pandas.Series, optional
        With a fitted model or a MultivariateMixture: **portfolio weights**, one
        per feature (required when there are several), and the result is the
        risk of the portfolio return ``w'x`` (``log_returns`` must be False).
        Without ``mixture``: the mixing weights of raw parameters.
    means, stds, variances : array_like, optional
        Raw parameters instead of ``mixture``.

    Returns
    -------
    float, or ndarray of the shape of ``alpha``
    """
    a = _check_alpha(alpha)
    dist = _risk_distribution(mixture, weights, means, stds, variances, log_returns)
    if isinstance(dist, UnivariateTMixture):
        return dist.expected_shortfall(a, position, log_returns)
    return _expected_shortfall(dist, a, position, log_returns)
