"""Value at risk and expected shortfall of a univariate mixture, the arithmetic.

The closed forms behind :func:`gmmx.finance.value_at_risk` and
:func:`gmmx.finance.expected_shortfall`, written against an already built
:class:`~gmmx.finance.UnivariateMixture` (anything with ``weights``,
``means``, ``stds``, ``ppf`` and ``isf``), together with the check of the tail
probability ``alpha``.  They sit below :mod:`gmmx.finance.distributions` so
that both the public functions in :mod:`gmmx.finance.risk` and the
``UnivariateMixture.value_at_risk`` / ``expected_shortfall`` methods can use
them without an import cycle.  Sign convention: losses are positive.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def _check_alpha(alpha):
    a = np.asarray(alpha, dtype=np.float64)
    if a.size == 0:
        raise ValueError("alpha is empty; pass a tail probability such as 0.01")
    if np.any(~((a > 0.0) & (a < 1.0))):
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    if np.any(a > 0.5):
        big = float(a.max())
        raise ValueError(
            f"alpha is the tail probability (0.01 for 99% VaR), got {alpha!r}; "
            f"pass alpha={1 - big:.6g} for the {big:.6g} confidence level"
        )
    return a


def _scalar_or_array(x, alpha):
    return float(x) if np.ndim(alpha) == 0 else x


def _tail(dist, alpha, position):
    """Loss-tail quantile q, standardised z = (q - mu_k) / sigma_k, and whether short."""
    short = position is not None and position < 0
    q = dist.isf(alpha) if short else dist.ppf(alpha)
    z = (q[..., None] - dist.means) / dist.stds
    return q, z, short


def _value_at_risk(dist, a, position, log_returns):
    """VaR of ``dist`` at the checked tail probabilities ``a`` (see value_at_risk)."""
    q, _, short = _tail(dist, a, position)
    return _scalar_or_array(_loss_at_quantile(q, short, position, log_returns), a)


def _loss_at_quantile(q, short, position, log_returns):
    """The VaR of return quantile ``q``: ``-q`` per unit, or the loss of ``position``
    (``short``: a negative one, whose loss is at the upper quantile)."""
    if position is None:
        return -q
    v = abs(float(position))
    if log_returns:
        return v * (np.expm1(q) if short else -np.expm1(q))
    return v * (q if short else -q)


def _expected_shortfall(dist, a, position, log_returns):
    """ES of ``dist`` at the checked tail probabilities ``a`` (see expected_shortfall)."""
    _, z, short = _tail(dist, a, position)
    w, mu, s = dist.weights, dist.means, dist.stds
    # q solves F(q) = alpha (or 1 - F(q) = alpha) to ~1e-13, so the tail mass
    # in the conditional mean is alpha itself.
    phi = np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)
    if short:
        tail_mean = (mu * special.ndtr(-z) + s * phi) @ w / a
    else:
        tail_mean = (mu * special.ndtr(z) - s * phi) @ w / a
    if position is None:
        return _scalar_or_array(-tail_mean, a)
    v = abs(float(position))
    if log_returns:
        growth = np.exp(mu + 0.5 * s * s)
        if short:
            out = v * ((growth * special.ndtr(s - z)) @ w / a - 1.0)
        else:
            out = v * (1.0 - (growth * special.ndtr(z - s)) @ w / a)
    else:
        out = v * (tail_mean if short else -tail_mean)
    return _scalar_or_array(out, a)
