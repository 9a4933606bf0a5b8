"""Two-component normal mixtures for fat-tailed returns: the structured GM(2).

:func:`structured_gm2` is the zero-mean scale mixture of Wang (2015) /
fecon235 (``sigma1 = a sigma``, ``sigma2 = b sigma``, weight chosen to match a
kurtosis), :func:`gm2_from_moments` the variant that matches volatility and
kurtosis exactly, both returned as a :class:`StructuredGM2` that splits a
position into two synthetic Gaussian assets; :func:`fit_gm2` fits a
two-component mixture to a return series by the method of moments or by EM
with :class:`gmmx.GaussianMixture`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Optional, Union, cast

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import ArrayLike

from .distributions import UnivariateMixture

__all__ = ["StructuredGM2", "structured_gm2", "gm2_from_moments", "fit_gm2"]


class StructuredGM2(NamedTuple):
    """A two-component normal scale mixture ``p N(mean, sigma1^2) + q N(mean, sigma2^2)``.

    Attributes
    ----------
    p, q : float
        Weights of the calm (sigma1) and the volatile (sigma2) component.
    sigma1, sigma2 : float
        Component volatilities, ``sigma1 = a sigma < sigma < sigma2 = b sigma``.
    sigma, kurtosis : float
        The volatility and kurtosis (not excess) the mixture was built for.
    a, b : float
    mean : float
    """

    p: float
    q: float
    sigma1: float
    sigma2: float
    sigma: float
    kurtosis: float
    a: float
    b: float
    mean: float = 0.0

    def split(self, position: float) -> tuple[float, float]:
        """Split a position into the two synthetic Gaussian assets.

        Parameters
        ----------
        position : float
            Currency value of the leptokurtic asset.

        Returns
        -------
        tuple of float
            ``(p * position, q * position)``, held at volatilities
            ``sigma1`` and ``sigma2``.
        """
        return self.p * position, self.q * position

    def distribution(self) -> UnivariateMixture:
        """The mixture as a :class:`UnivariateMixture`."""
        return UnivariateMixture([self.p, self.q], [self.mean, self.mean],
                                 stds=[self.sigma1, self.sigma2])


def _check_ab(a, b):
    if a is not None and not 0.0 < a < 1.0:
        raise ValueError(f"a must satisfy 0 < a < 1, got {a!r}")
    if b is not None and not b > 1.0:
        raise ValueError(f"b must satisfy b > 1, got {b!r}")


def structured_gm2(sigma: float, kurtosis: float, a: float, b: float,
                   mean: float = 0.0) -> StructuredGM2:
    """Structured zero-mean GM(2) of Wang (2015) / fecon235 (Proposition 2).

    ``sigma1 = a sigma``, ``sigma2 = b sigma`` and
    ``p = (kappa / 3 - b^4) / (a^4 - b^4)`` puts the mixture's fourth moment
    at ``kappa sigma^4``.  Note that the mixture variance is then
    ``(p a^2 + q b^2) sigma^2``, which equals ``sigma^2`` only when
    ``b^2 = (kappa/3 - a^2) / (1 - a^2)``; :func:`gm2_from_moments` picks that
    ``b`` so that variance and kurtosis both match exactly.

    Parameters
    ----------
    sigma : float
        Volatility (> 0).
    kurtosis : float
        Kurtosis, not excess (3 for a normal).
    a, b : float
        ``0 < a < 1 < b``.
    mean : float
        Common mean of both components (an additive shift; shape unchanged).

    Returns
    -------
    StructuredGM2

    Raises
    ------
    ValueError
        If the inputs admit no weight ``0 <= p <= 1``, i.e. unless
        ``a^4 <= kappa / 3 <= b^4``.

    Examples
    --------
    >>> g = structured_gm2(0.20, 4.05, 0.8979, 2.0)
    >>> round(g.p, 4), g.split(100_000)[1] // 1
    (0.9544, 4560.0)
    """
    sigma, kurtosis = float(sigma), float(kurtosis)
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    _check_ab(a, b)
    K = kurtosis / 3.0
    p = (K - b ** 4) / (a ** 4 - b ** 4)
    if not 0.0 <= p <= 1.0:
        raise ValueError(
            f"no valid weight: p = {p:.6g} for kurtosis={kurtosis}, a={a}, b={b}; a weight "
            f"in [0, 1] needs 3 a^4 <= kurtosis <= 3 b^4, i.e. kurtosis in "
            f"[{3 * a ** 4:.6g}, {3 * b ** 4:.6g}]: raise b or lower a"
        )
    return StructuredGM2(p, 1.0 - p, a * sigma, b * sigma, sigma, kurtosis, float(a), float(b),
                         float(mean))


def gm2_from_moments(sigma: float, kurtosis: float, a: Optional[float] = None,
                     b: Optional[float] = None, mean: float = 0.0) -> StructuredGM2:
    """Zero-mean GM(2) that matches a volatility and a kurtosis exactly.

    With ``sigma1 = a sigma`` and ``sigma2 = b sigma``, both
    ``p a^2 + q b^2 = 1`` and ``p a^4 + q b^4 = kappa / 3`` hold when
    ``a^2 + b^2 - a^2 b^2 = kappa / 3``; given one of ``a`` and ``b`` this fixes
    the other, and ``p = (b^2 - 1) / (b^2 - a^2)``.

    Parameters
    ----------
    sigma : float
        Volatility (> 0).
    kurtosis : float
        Kurtosis, not excess; must exceed 3 (a scale mixture is leptokurtic).
    a, b : float, optional
        Exactly one of them: ``0 < a < 1`` or ``b > sqrt(kappa / 3)``.
    mean : float

    Returns
    -------
    StructuredGM2
    """
    sigma, kurtosis = float(sigma), float(kurtosis)
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    if not kurtosis > 3.0:
        raise ValueError(
            f"kurtosis must exceed 3 (a normal scale mixture is fat-tailed), got {kurtosis}; "
            "check you did not pass excess kurtosis"
        )
    if (a is None) == (b is None):
        raise ValueError("pass exactly one of a= and b=")
    _check_ab(a, b)
    K = kurtosis / 3.0
    if a is not None:
        u = a * a
        v = (K - u) / (1.0 - u)
    else:
        v = cast(float, b) ** 2
        if v <= K:
            raise ValueError(
                f"b must exceed sqrt(kurtosis / 3) = {np.sqrt(K):.6g} to match both "
                f"moments, got {b}"
            )
        u = (v - K) / (v - 1.0)
    p = (v - 1.0) / (v - u)
    a, b = float(np.sqrt(u)), float(np.sqrt(v))
    return StructuredGM2(p, 1.0 - p, a * sigma, b * sigma, sigma, kurtosis, a, b, float(mean))


def _sample_moments(x):
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    x = x[np.isfinite(x)]
    if x.size < 4:
        raise ValueError(f"need at least 4 finite returns, got {x.size}")
    m = x.mean()
    d = x - m
    v = np.mean(d ** 2)
    if not v > 0:
        raise ValueError("returns are constant; a mixture cannot be fitted")
    return m, v, np.mean(d ** 4) / v ** 2, np.mean(d ** 6) / v ** 3


def fit_gm2(returns: ArrayLike, method: str = "moments", a: Optional[float] = None,
            b: Optional[float] = None,
            random_state: Union[None, int, np.random.RandomState] = 0) -> UnivariateMixture:
    """Fit a two-component normal mixture to a return series.

    Parameters
    ----------
    returns : array_like or pandas.Series
        One return series (NaNs are dropped).
    method : {'moments', 'em'}
        'moments': a structured GM(2) with a common mean that matches the sample
        mean, variance and kurtosis exactly.  Give ``a`` or ``b`` to fix the
        volatility ratio; with neither, the sixth moment is matched too
        (``E[(x-m)^6] = 15 sum_k w_k sigma_k^6``), which fixes all three
        parameters.  'em': maximum likelihood by :class:`gmmx.GaussianMixture`.
    a, b : float, optional
        For method='moments' only.
    random_state : int, optional
        For method='em'.

    Returns
    -------
    UnivariateMixture
    """
    if method == "em":
        flat = np.asarray(returns, dtype=np.float64).reshape(-1)
        x = flat[np.isfinite(flat)].reshape(-1, 1)
        if x.shape[0] < 4:
            raise ValueError(f"need at least 4 finite returns, got {x.shape[0]}")
        # reg_covar relative to the data and a tight tol: see gmmx.finance.regimes.detect_regimes.
        from ..mixture import GaussianMixture  # imports scikit-learn when installed: load on use
        gm = GaussianMixture(n_components=2, n_init=3, random_state=random_state,
                             tol=1e-8, max_iter=2000, reg_covar=1e-9 * float(x.var()))
        return UnivariateMixture.from_model(gm.fit(x))
    if method != "moments":
        raise ValueError(f"method must be 'moments' or 'em', got {method!r}")
    m, v, kurt, six = _sample_moments(returns)
    sigma = np.sqrt(v)
    if a is not None or b is not None:
        return gm2_from_moments(sigma, kurt, a=a, b=b, mean=m).distribution()
    if not kurt > 3.0:
        raise ValueError(
            f"sample kurtosis {kurt:.4g} is not above 3; a scale mixture cannot fit it"
        )
    # With u = a^2, v = b^2: u + v - uv = K and u^2 + uv + v^2 - uv(u + v) = H.
    K, H = kurt / 3.0, six / 15.0
    s = (H - K) / (K - 1.0)
    t = s - K
    disc = s * s - 4.0 * t
    if not disc > 0:
        raise ValueError(
            "the sample sixth moment is inconsistent with a two-scale mixture; pass a= or b="
        )
    u, vv = (s - np.sqrt(disc)) / 2.0, (s + np.sqrt(disc)) / 2.0
    if not (0.0 < u < 1.0 < vv):
        raise ValueError(
            "the sample moments admit no two-scale mixture with 0 < a < 1 < b; pass a= or b="
        )
    p = (vv - 1.0) / (vv - u)
    return UnivariateMixture([p, 1.0 - p], [m, m], stds=sigma * np.sqrt([u, vv]))
