"""Value at risk and expected shortfall of a univariate normal mixture of returns.

Both accept a fitted d = 1 mixture model, a :class:`~gmmx.finance.UnivariateMixture`
or raw parameters, and one tail probability ``alpha`` (0.01 for 99 % VaR) or an
array of them.  Losses are reported as *positive numbers*: for a long position
``VaR = -q_alpha``, where ``q_alpha`` is the alpha-quantile of the mixture
return distribution, i.e. the root of ``F(x) = alpha`` (not the weighted sum of
component quantiles), and expected shortfall is the closed-form mean loss
beyond it; a short position (``position < 0``) loses in the upper tail.
"""

from __future__ import annotations

from ._tail_risk import _check_alpha, _expected_shortfall, _value_at_risk
from .distributions import _as_univariate

__all__ = ["value_at_risk", "expected_shortfall"]


def value_at_risk(mixture=None, alpha=0.05, *, position=None, log_returns=False,
                  weights=None, means=None, stds=None, variances=None):
    """Value at risk of a univariate normal mixture of returns.

    Sign convention: the result is a **positive number for a loss**.  ``alpha``
    is the tail probability (0.01 for 99 % VaR).  For a long position
    ``VaR = -q_alpha``, where ``q_alpha`` is the alpha-quantile of the mixture,
    the root of ``F(x) = alpha`` (it is not the weighted sum of component
    quantiles).  A short position (``position < 0``) loses when returns rise
    and its VaR comes from the upper quantile ``q_{1-alpha}``.

    Parameters
    ----------
    mixture : fitted d = 1 model or UnivariateMixture, optional
    alpha : float or array_like of floats in (0, 0.5]
        Tail probability; an array gives one VaR per level.
    position : float, optional
        Position value in currency; negative for a short.  Without it the
        result is in return units (a long unit position, ``-q_alpha``).
    log_returns : bool
        With ``position``: the mixture models log returns, so the currency
        loss is ``V (1 - exp(R))`` rather than ``-V R``.
    weights, means, stds, variances : array_like, optional
        Raw parameters instead of ``mixture``.

    Returns
    -------
    float, or ndarray of the shape of ``alpha``
    """
    a = _check_alpha(alpha)
    dist = _as_univariate(mixture, weights, means, stds, variances)
    return _value_at_risk(dist, a, position, log_returns)


def expected_shortfall(mixture=None, alpha=0.05, *, position=None, log_returns=False,
                       weights=None, means=None, stds=None, variances=None):
    """Expected shortfall (CVaR) of a univariate normal mixture, in closed form.

    Same sign convention as :func:`value_at_risk`: a positive number for a
    loss.  For a long position ``ES = -E[R | R <= q_alpha]`` with

    ``E[R 1{R <= q}] = sum_k w_k (mu_k Phi(z_k) - sigma_k phi(z_k))``,
    ``z_k = (q - mu_k) / sigma_k``.

    With ``log_returns=True`` and a position, the currency loss is
    ``V (1 - exp(R))`` and ``E[exp(R) 1{R <= q}] =
    sum_k w_k exp(mu_k + sigma_k^2 / 2) Phi(z_k - sigma_k)``.

    Parameters
    ----------
    mixture : fitted d = 1 model or UnivariateMixture, optional
    alpha : float or array_like of floats in (0, 0.5]
        Tail probability; an array gives one ES per level.
    position : float, optional
        Position value in currency; negative for a short.
    log_returns : bool
        With ``position``: the mixture models log returns.
    weights, means, stds, variances : array_like, optional
        Raw parameters instead of ``mixture``.

    Returns
    -------
    float, or ndarray of the shape of ``alpha``
    """
    a = _check_alpha(alpha)
    dist = _as_univariate(mixture, weights, means, stds, variances)
    return _expected_shortfall(dist, a, position, log_returns)
