"""Univariate normal mixtures as distributions, and the moments of any mixture.

:class:`UnivariateMixture` is ``sum_k w_k N(mu_k, sigma_k^2)`` with its log
density, distribution and survival functions (accurate far into both tails),
an exact quantile function, moments, sampling, and value at risk / expected
shortfall methods; it is built from raw parameters or from a fitted d = 1
mixture model of any ``covariance_type``.  :func:`mixture_moments` gives the
mean, variance, skewness and kurtosis of a univariate mixture in closed form,
and :func:`mixture_mean_covariance` the mean vector and covariance matrix of a
multivariate one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Optional, Union, overload

import numpy as np
from scipy import special

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import ArrayLike, NDArray

from ._models import _check_weights, _model_params, _univariate_params, full_covariances
from ._tail_risk import _check_alpha, _expected_shortfall, _value_at_risk

__all__ = ["UnivariateMixture", "MixtureMoments", "mixture_moments", "mixture_mean_covariance"]

_LOG_2PI = np.log(2.0 * np.pi)


class MixtureMoments(NamedTuple):
    """Mean, variance, skewness and kurtosis of a univariate mixture.

    ``kurtosis`` is the plain fourth standardised moment (3 for a normal);
    ``excess_kurtosis`` is ``kurtosis - 3`` (0 for a normal).
    """

    mean: float
    variance: float
    std: float
    skewness: float
    kurtosis: float
    excess_kurtosis: float


class UnivariateMixture:
    """A univariate normal mixture ``sum_k w_k N(mu_k, sigma_k^2)``.

    Parameters
    ----------
    weights : array_like of shape (K,)
        Non-negative mixing weights summing to 1.
    means : array_like of shape (K,)
    stds : array_like of shape (K,), optional
        Component standard deviations.  Pass exactly one of ``stds`` and
        ``variances``.
    variances : array_like of shape (K,), optional

    Examples
    --------
    >>> d = UnivariateMixture([0.9, 0.1], [0.0005, -0.002], stds=[0.008, 0.025])
    >>> round(float(d.cdf(d.ppf(0.01))), 12)
    0.01
    """

    weights: NDArray[np.float64]
    means: NDArray[np.float64]
    stds: NDArray[np.float64]

    def __init__(self, weights: ArrayLike, means: ArrayLike, stds: Optional[ArrayLike] = None,
                 *, variances: Optional[ArrayLike] = None) -> None:
        self.weights, self.means, self.stds = _univariate_params(weights, means, stds, variances)
        with np.errstate(divide="ignore"):  # zero weights give log 0 = -inf, on purpose
            self._logw = np.log(self.weights)

    @classmethod
    def from_model(cls, model: Any) -> UnivariateMixture:
        """Build from a fitted d = 1 mixture model (any ``covariance_type``).

        Parameters
        ----------
        model : fitted GaussianMixture-like object with one feature.

        Returns
        -------
        UnivariateMixture
        """
        w, m, c = _model_params(model)
        if m.shape[1] != 1:
            raise ValueError(
                f"the model has {m.shape[1]} features; univariate functions need a model "
                "fitted on one column (reshape returns with .reshape(-1, 1)), or use "
                "mixture_mean_covariance for multivariate models"
            )
        return cls(w, m[:, 0], variances=c[:, 0, 0])

    @property
    def n_components(self) -> int:
        """Number of components K."""
        return self.weights.size

    @property
    def variances(self) -> NDArray[np.float64]:
        """Component variances ``sigma_k^2``."""
        return self.stds ** 2

    def __repr__(self) -> str:
        return (
            f"UnivariateMixture(weights={self.weights.tolist()}, "
            f"means={self.means.tolist()}, stds={self.stds.tolist()})"
        )

    # -- densities and distribution functions -------------------------------

    def _z(self, x):
        x = np.asarray(x, dtype=np.float64)
        return x, (x[..., None] - self.means) / self.stds

    @overload
    def logpdf(self, x: float) -> float: ...
    @overload
    def logpdf(self, x: ArrayLike) -> NDArray[np.float64]: ...

    def logpdf(self, x: ArrayLike) -> Union[float, NDArray[np.float64]]:
        """Log density at ``x`` (array_like, any shape); computed in log space.

        Parameters
        ----------
        x : array_like

        Returns
        -------
        ndarray of the shape of ``x``
        """
        _, z = self._z(x)
        terms = self._logw - 0.5 * z * z - np.log(self.stds) - 0.5 * _LOG_2PI
        return special.logsumexp(terms, axis=-1)

    @overload
    def pdf(self, x: float) -> float: ...
    @overload
    def pdf(self, x: ArrayLike) -> NDArray[np.float64]: ...

    def pdf(self, x: ArrayLike) -> Union[float, NDArray[np.float64]]:
        """Density at ``x``.

        Parameters
        ----------
        x : array_like

        Returns
        -------
        ndarray of the shape of ``x``
        """
        return np.exp(self.logpdf(x))

    @overload
    def cdf(self, x: float) -> float: ...
    @overload
    def cdf(self, x: ArrayLike) -> NDArray[np.float64]: ...

    def cdf(self, x: ArrayLike) -> Union[float, NDArray[np.float64]]:
        """Cumulative distribution ``F(x) = sum_k w_k Phi((x - mu_k) / sigma_k)``.

        Parameters
        ----------
        x : array_like

        Returns
        -------
        ndarray of the shape of ``x``
        """
        _, z = self._z(x)
        return np.clip(special.ndtr(z) @ self.weights, 0.0, 1.0)

    @overload
    def sf(self, x: float) -> float: ...
    @overload
    def sf(self, x: ArrayLike) -> NDArray[np.float64]: ...

    def sf(self, x: ArrayLike) -> Union[float, NDArray[np.float64]]:
        """Survival function ``1 - F(x)``, accurate in the right tail.

        Parameters
        ----------
        x : array_like

        Returns
        -------
        ndarray of the shape of ``x``
        """
        _, z = self._z(x)
        return np.clip(special.ndtr(-z) @ self.weights, 0.0, 1.0)

    @overload
    def logcdf(self, x: float) -> float: ...
    @overload
    def logcdf(self, x: ArrayLike) -> NDArray[np.float64]: ...

    def logcdf(self, x: ArrayLike) -> Union[float, NDArray[np.float64]]:
        """``log F(x)``, accurate far into the left tail.

        Parameters
        ----------
        x : array_like

        Returns
        -------
        ndarray of the shape of ``x``
        """
        _, z = self._z(x)
        return special.logsumexp(self._logw + special.log_ndtr(z), axis=-1)

    @overload
    def logsf(self, x: float) -> float: ...
    @overload
    def logsf(self, x: ArrayLike) -> NDArray[np.float64]: ...

    def logsf(self, x: ArrayLike) -> Union[float, NDArray[np.float64]]:
        """``log(1 - F(x))``, accurate far into the right tail.

        Parameters
        ----------
        x : array_like

        Returns
        -------
        ndarray of the shape of ``x``
        """
        _, z = self._z(x)
        return special.logsumexp(self._logw + special.log_ndtr(-z), axis=-1)

    def ppf(self, q: ArrayLike) -> NDArray[np.float64]:
        """Quantile function: the root of ``F(x) = q``, vectorised over levels.

        The root is bracketed by the smallest and largest component quantile
        at the same level (F is below ``q`` at the first and above it at the
        second) and refined by Newton steps on ``log F`` (``log(1 - F)`` above
        the median), falling back to bisection whenever a step leaves the
        bracket.  Levels are met to a relative error of about 1e-13 in
        probability (``log F`` or ``log(1 - F)``), far tails (``q = 1e-300``)
        and flat stretches between widely separated components included.  The
        one limit is float resolution: where ``sigma_k`` is tiny against
        ``|x|`` (say a component N(2800, 1e-4^2)) adjacent doubles differ by
        more than that in probability, and the nearest of them is returned.

        Parameters
        ----------
        q : array_like
            Levels in [0, 1]; 0 gives -inf and 1 gives +inf.

        Returns
        -------
        ndarray of the shape of ``q``
        """
        return self._invert(q, upper_tail=False)

    def isf(self, q: ArrayLike) -> NDArray[np.float64]:
        """Inverse survival function: the root of ``1 - F(x) = q``.

        Parameters
        ----------
        q : array_like
            Tail probabilities in [0, 1].

        Returns
        -------
        ndarray of the shape of ``q``
        """
        return self._invert(q, upper_tail=True)

    def _invert(self, q, upper_tail):
        """Roots of F(x) = q, or of 1 - F(x) = q if ``upper_tail``; q = 0 and 1 give +-inf."""
        q = np.asarray(q, dtype=np.float64)
        if np.any(np.isnan(q)) or np.any((q < 0) | (q > 1)):
            what = "tail probabilities" if upper_tail else "quantile levels"
            raise ValueError(f"{what} must lie in [0, 1]")
        out = np.empty(q.shape)
        out[q == 0] = np.inf if upper_tail else -np.inf
        out[q == 1] = -np.inf if upper_tail else np.inf
        inner = (q > 0) & (q < 1)
        if np.any(inner):
            qi = q[inner]
            out[inner] = self._solve(1.0 - qi, upper=qi) if upper_tail else self._solve(qi)
        return out

    def _solve(self, p, upper=None):
        """Solve F(x) = p for 0 < p < 1 (1-D); ``upper`` = 1 - p when known exactly."""
        if upper is None:
            upper = 1.0 - p
        left = p <= 0.5
        # Target in log space: log p on the left side, log(1 - p) on the right.
        target = np.where(left, np.log(np.where(left, p, 0.5)), np.log(np.where(left, 0.5, upper)))
        # Component quantiles at the same level bracket the mixture quantile.
        zq = np.where(left, special.ndtri(np.where(left, p, 0.5)),
                      -special.ndtri(np.where(left, 0.5, upper)))
        comp = self.means + self.stds * zq[:, None]
        live = self.weights > 0
        lo = comp[:, live].min(axis=1)
        hi = comp[:, live].max(axis=1)
        x = 0.5 * (lo + hi)

        def g(x, left, target):
            # Increasing in x, zero at the root: log F - log p, or log(1-p) - log(1-F).
            lc, ls = self.logcdf(x), self.logsf(x)
            val = np.where(left, lc - target, target - ls)
            slope = np.exp(self.logpdf(x) - np.where(left, lc, ls))
            return val, slope

        idx = np.arange(p.size)
        slow = np.zeros(p.size, dtype=bool)
        for _ in range(300):
            xa, la, ha = x[idx], lo[idx], hi[idx]
            val, slope = g(xa, left[idx], target[idx])
            width = ha - la
            la = np.where(val < 0, xa, la)
            ha = np.where(val > 0, xa, ha)
            mid = 0.5 * (la + ha)
            # Stop at a relative error of 1e-13 in probability, or when the
            # bracket is down to adjacent floats and cannot be split further.
            done = (np.abs(val) <= 1e-13) | (mid <= la) | (mid >= ha)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                newton = xa - val / slope
            # A Newton step that leaves the bracket (flat stretches, far tails) or
            # follows a step that failed to halve it is replaced by bisection, so
            # the root stays bracketed and the bracket keeps shrinking.
            ok = np.isfinite(newton) & (newton > la) & (newton < ha) & ~slow[idx]
            slow[idx] = (ha - la) > 0.5 * width
            lo[idx], hi[idx] = la, ha
            x[idx] = np.where(done, xa, np.where(ok, newton, mid))
            idx = idx[~done]
            if idx.size == 0:
                break
        # Where the bracket closed on adjacent floats, keep the best of the three.
        cand = np.stack([x, lo, hi])
        err = np.abs(np.stack([g(c, left, target)[0] for c in cand]))
        return cand[np.argmin(err, axis=0), np.arange(p.size)]

    # -- moments and sampling ------------------------------------------------

    def mean(self) -> float:
        """Mixture mean ``sum_k w_k mu_k``.

        Returns
        -------
        float
        """
        return float(self.weights @ self.means)

    def var(self) -> float:
        """Mixture variance ``sum_k w_k (sigma_k^2 + (mu_k - mu)^2)``.

        Returns
        -------
        float
        """
        d = self.means - self.mean()
        return float(self.weights @ (self.variances + d * d))

    def std(self) -> float:
        """Mixture standard deviation.

        Returns
        -------
        float
        """
        return float(np.sqrt(self.var()))

    def skewness(self) -> float:
        """Skewness (Wang 2015, Proposition 1).

        ``s = sum_k w_k d_k (3 sigma_k^2 + d_k^2) / sigma^3`` with ``d_k = mu_k - mu``.

        Returns
        -------
        float
        """
        d = self.means - self.mean()
        return float(self.weights @ (d * (3 * self.variances + d * d)) / self.var() ** 1.5)

    def kurtosis(self) -> float:
        """Kurtosis, *not* excess: 3 for a normal (Wang 2015, Proposition 1).

        ``kappa = sum_k w_k (3 sigma_k^4 + 6 d_k^2 sigma_k^2 + d_k^4) / sigma^4``.

        Returns
        -------
        float
        """
        d2 = (self.means - self.mean()) ** 2
        v = self.variances
        return float(self.weights @ (3 * v * v + 6 * d2 * v + d2 * d2) / self.var() ** 2)

    def excess_kurtosis(self) -> float:
        """Excess kurtosis ``kurtosis - 3`` (0 for a normal).

        Returns
        -------
        float
        """
        return self.kurtosis() - 3.0

    def moments(self) -> MixtureMoments:
        """All four moments at once.

        Returns
        -------
        MixtureMoments
        """
        v = self.var()
        k = self.kurtosis()
        return MixtureMoments(self.mean(), v, float(np.sqrt(v)), self.skewness(), k, k - 3.0)

    def rvs(self, size: Union[int, tuple[int, ...]] = 1,
            random_state: Union[None, int, np.random.Generator] = None) -> NDArray[np.float64]:
        """Draw samples: pick component k with probability w_k, then draw N(mu_k, sigma_k^2).

        Parameters
        ----------
        size : int or tuple of int
        random_state : None, int or numpy.random.Generator

        Returns
        -------
        ndarray of shape ``size``
        """
        rng = np.random.default_rng(random_state)
        k = rng.choice(self.n_components, size=size, p=self.weights)
        return self.means[k] + self.stds[k] * rng.standard_normal(size)

    @overload
    def value_at_risk(self, alpha: float = ..., position: Optional[float] = ...,
                      log_returns: bool = ...) -> float: ...
    @overload
    def value_at_risk(self, alpha: ArrayLike, position: Optional[float] = ...,
                      log_returns: bool = ...) -> NDArray[np.float64]: ...

    def value_at_risk(self, alpha: ArrayLike = 0.05, position: Optional[float] = None,
                      log_returns: bool = False) -> Union[float, NDArray[np.float64]]:
        """Value at risk, a positive number for a loss; see :func:`~gmmx.finance.value_at_risk`.

        Parameters
        ----------
        alpha : float in (0, 0.5]
            Tail probability (0.01 for 99 % VaR).
        position : float, optional
            Position value; negative for a short.  Without it, return units.
        log_returns : bool
            With ``position``: the mixture models log returns.

        Returns
        -------
        float
        """
        return _value_at_risk(self, _check_alpha(alpha), position, log_returns)

    @overload
    def expected_shortfall(self, alpha: float = ..., position: Optional[float] = ...,
                           log_returns: bool = ...) -> float: ...
    @overload
    def expected_shortfall(self, alpha: ArrayLike, position: Optional[float] = ...,
                           log_returns: bool = ...) -> NDArray[np.float64]: ...

    def expected_shortfall(self, alpha: ArrayLike = 0.05, position: Optional[float] = None,
                           log_returns: bool = False) -> Union[float, NDArray[np.float64]]:
        """Expected shortfall, a positive number for a loss; see
        :func:`~gmmx.finance.expected_shortfall`.

        Parameters
        ----------
        alpha : float in (0, 0.5]
            Tail probability: the mass of the tail averaged over (0.01 for 99 % ES).
        position : float, optional
            Position value; negative for a short.  Without it, return units.
        log_returns : bool
            With ``position``: the mixture models log returns.

        Returns
        -------
        float
        """
        return _expected_shortfall(self, _check_alpha(alpha), position, log_returns)


def _as_univariate(mixture=None, weights=None, means=None, stds=None, variances=None):
    if mixture is None:
        if weights is None or means is None:
            raise ValueError(
                "pass a fitted model / UnivariateMixture, or weights=, means= and stds="
            )
        return UnivariateMixture(weights, means, stds, variances=variances)
    if any(a is not None for a in (weights, means, stds, variances)):
        raise ValueError("pass either a mixture or raw parameters, not both")
    if isinstance(mixture, UnivariateMixture):
        return mixture
    return UnivariateMixture.from_model(mixture)


def mixture_moments(mixture: Any = None, *, weights: Optional[ArrayLike] = None,
                    means: Optional[ArrayLike] = None, stds: Optional[ArrayLike] = None,
                    variances: Optional[ArrayLike] = None) -> MixtureMoments:
    """Mean, variance, skewness, kurtosis and excess kurtosis of a 1-D mixture.

    Uses the closed forms of Wang (2015), Proposition 1, for any number of
    components.

    Parameters
    ----------
    mixture : fitted d = 1 model or UnivariateMixture, optional
    weights, means, stds, variances : array_like, optional
        Raw parameters instead of ``mixture`` (one of stds/variances).

    Returns
    -------
    MixtureMoments
        ``kurtosis`` is 3 for a normal; ``excess_kurtosis`` is 0 for a normal.
    """
    return _as_univariate(mixture, weights, means, stds, variances).moments()


def mixture_mean_covariance(mixture: Any = None, *, weights: Optional[ArrayLike] = None,
                            means: Optional[ArrayLike] = None,
                            covariances: Optional[ArrayLike] = None,
                            covariance_type: str = "full",
                            ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean vector and covariance matrix of a multivariate normal mixture.

    ``mean = sum_k w_k mu_k`` and
    ``cov = sum_k w_k (Sigma_k + (mu_k - mean)(mu_k - mean)^T)``.

    Parameters
    ----------
    mixture : fitted model, optional
        Any ``covariance_type``.
    weights, means, covariances : array_like, optional
        Raw parameters instead of ``mixture``; ``covariances`` laid out as
        ``covariance_type`` says.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}

    Returns
    -------
    mean : ndarray of shape (d,)
    cov : ndarray of shape (d, d)
    """
    if mixture is not None:
        w, m, c = _model_params(mixture)
    else:
        if weights is None or means is None or covariances is None:
            raise ValueError("pass a fitted model, or weights=, means= and covariances=")
        w = _check_weights(weights)
        m = np.atleast_2d(np.asarray(means, dtype=np.float64))
        if m.shape[0] != w.size:
            m = m.reshape(w.size, -1)
        c = full_covariances(covariances, covariance_type, w.size, m.shape[1])
    mean = w @ m
    dev = m - mean
    cov = np.einsum("k,kij->ij", w, c) + np.einsum("k,ki,kj->ij", w, dev, dev)
    return mean, cov
