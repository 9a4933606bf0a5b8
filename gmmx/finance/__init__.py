"""Gaussian mixtures as return distributions: moments, quantiles and risk.

Everything here works from a fitted mixture model (anything with sklearn's
fitted attributes ``weights_``, ``means_``, ``covariances_`` and
``covariance_type``, such as :class:`gmmx.GaussianMixture`) or from raw
parameters.  Only numpy and scipy are needed; pandas input is accepted and its
index kept where the output lines up with the input.

Loss sign convention
--------------------
Value at risk and expected shortfall are reported as *positive numbers for
losses*.  ``alpha`` is the tail probability (0.01 for 99 % VaR): for a long
position ``VaR = -q_alpha`` where ``q_alpha`` is the alpha-quantile of the
mixture return distribution, i.e. the root of ``F(x) = alpha``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import special

__all__ = [
    "UnivariateMixture",
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

_LOG_2PI = np.log(2.0 * np.pi)


# --------------------------------------------------------------------------
# parameter handling
# --------------------------------------------------------------------------

def _is_model(obj):
    return all(hasattr(obj, a) for a in ("weights_", "means_", "covariances_"))


def full_covariances(covariances, covariance_type, n_components, n_features):
    """Expand covariances of any ``covariance_type`` to shape (K, d, d).

    Parameters
    ----------
    covariances : array_like
        As stored in ``covariances_`` by sklearn-style mixtures: (K, d, d) for
        'full', (d, d) for 'tied', (K, d) for 'diag', (K,) for 'spherical'.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    n_components, n_features : int

    Returns
    -------
    ndarray of shape (n_components, n_features, n_features)
    """
    c = np.asarray(covariances, dtype=np.float64)
    K, d = int(n_components), int(n_features)
    expected = {"full": (K, d, d), "tied": (d, d), "diag": (K, d), "spherical": (K,)}
    if covariance_type not in expected:
        raise ValueError(
            f"covariance_type must be one of {sorted(expected)}, got {covariance_type!r}"
        )
    if c.shape != expected[covariance_type]:
        raise ValueError(
            f"covariances for covariance_type={covariance_type!r} with {K} components "
            f"and {d} features must have shape {expected[covariance_type]}, got {c.shape}"
        )
    if covariance_type == "full":
        return c.copy()
    if covariance_type == "tied":
        return np.broadcast_to(c, (K, d, d)).copy()
    if covariance_type == "diag":
        return c[:, :, None] * np.eye(d)[None]
    return c[:, None, None] * np.eye(d)[None]


def _check_weights(weights):
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"weights must be a non-empty 1-D array, got shape {w.shape}")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights contain NaN or inf; pass finite mixing weights")
    if np.any(w < 0):
        raise ValueError(f"weights must be non-negative, got {w.tolist()}")
    total = w.sum()
    if abs(total - 1.0) > 1e-6:
        raise ValueError(
            f"weights must sum to 1, they sum to {total:.10g}; divide them by their sum"
        )
    return w / total


def _model_params(model):
    """(weights, means (K, d), full covariances (K, d, d)) of a fitted model."""
    if not _is_model(model):
        raise ValueError(
            "expected a fitted mixture model with weights_, means_ and covariances_ "
            f"(call fit first), got {type(model).__name__}"
        )
    weights = _check_weights(model.weights_)
    means = np.asarray(model.means_, dtype=np.float64)
    if means.ndim != 2 or means.shape[0] != weights.size:
        raise ValueError(f"model.means_ must have shape (K, d), got {means.shape}")
    ctype = getattr(model, "covariance_type", "full")
    covs = full_covariances(model.covariances_, ctype, means.shape[0], means.shape[1])
    return weights, means, covs


def _univariate_params(weights, means, stds=None, variances=None):
    w = _check_weights(weights)
    m = np.asarray(means, dtype=np.float64).reshape(-1)
    if (stds is None) == (variances is None):
        raise ValueError("pass exactly one of stds= or variances=")
    if stds is not None:
        s = np.asarray(stds, dtype=np.float64).reshape(-1)
    else:
        v = np.asarray(variances, dtype=np.float64).reshape(-1)
        if np.any(~(v > 0)):
            raise ValueError(f"variances must be positive and finite, got {v.tolist()}")
        s = np.sqrt(v)
    if not (w.size == m.size == s.size):
        raise ValueError(
            f"weights, means and stds must have the same length, got "
            f"{w.size}, {m.size} and {s.size}"
        )
    if not np.all(np.isfinite(m)):
        raise ValueError("means contain NaN or inf")
    if np.any(~(s > 0)) or not np.all(np.isfinite(s)):
        raise ValueError(f"standard deviations must be positive and finite, got {s.tolist()}")
    return w, m, s


# --------------------------------------------------------------------------
# the univariate mixture distribution
# --------------------------------------------------------------------------

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

    def __init__(self, weights, means, stds=None, *, variances=None):
        self.weights, self.means, self.stds = _univariate_params(weights, means, stds, variances)
        with np.errstate(divide="ignore"):  # zero weights give log 0 = -inf, on purpose
            self._logw = np.log(self.weights)

    @classmethod
    def from_model(cls, model):
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
    def n_components(self):
        """Number of components K."""
        return self.weights.size

    @property
    def variances(self):
        """Component variances ``sigma_k^2``."""
        return self.stds ** 2

    def __repr__(self):
        return (
            f"UnivariateMixture(weights={self.weights.tolist()}, "
            f"means={self.means.tolist()}, stds={self.stds.tolist()})"
        )

    # -- densities and distribution functions -------------------------------

    def _z(self, x):
        x = np.asarray(x, dtype=np.float64)
        return x, (x[..., None] - self.means) / self.stds

    def logpdf(self, x):
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

    def pdf(self, x):
        """Density at ``x``.

        Parameters
        ----------
        x : array_like

        Returns
        -------
        ndarray of the shape of ``x``
        """
        return np.exp(self.logpdf(x))

    def cdf(self, x):
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

    def sf(self, x):
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

    def logcdf(self, x):
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

    def logsf(self, x):
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

    def ppf(self, q):
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
        q = np.asarray(q, dtype=np.float64)
        if np.any(np.isnan(q)) or np.any((q < 0) | (q > 1)):
            raise ValueError("quantile levels must lie in [0, 1]")
        out = np.empty(q.shape)
        out[q == 0] = -np.inf
        out[q == 1] = np.inf
        inner = (q > 0) & (q < 1)
        if np.any(inner):
            out[inner] = self._solve(q[inner])
        return out

    def isf(self, q):
        """Inverse survival function: the root of ``1 - F(x) = q``.

        Parameters
        ----------
        q : array_like
            Tail probabilities in [0, 1].

        Returns
        -------
        ndarray of the shape of ``q``
        """
        q = np.asarray(q, dtype=np.float64)
        if np.any(np.isnan(q)) or np.any((q < 0) | (q > 1)):
            raise ValueError("tail probabilities must lie in [0, 1]")
        out = np.empty(q.shape)
        out[q == 0] = np.inf
        out[q == 1] = -np.inf
        inner = (q > 0) & (q < 1)
        if np.any(inner):
            out[inner] = self._solve(1.0 - q[inner], upper=q[inner])
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

    def mean(self):
        """Mixture mean ``sum_k w_k mu_k``.

        Returns
        -------
        float
        """
        return float(self.weights @ self.means)

    def var(self):
        """Mixture variance ``sum_k w_k (sigma_k^2 + (mu_k - mu)^2)``.

        Returns
        -------
        float
        """
        d = self.means - self.mean()
        return float(self.weights @ (self.variances + d * d))

    def std(self):
        """Mixture standard deviation.

        Returns
        -------
        float
        """
        return float(np.sqrt(self.var()))

    def skewness(self):
        """Skewness (Wang 2015, Proposition 1).

        ``s = sum_k w_k d_k (3 sigma_k^2 + d_k^2) / sigma^3`` with ``d_k = mu_k - mu``.

        Returns
        -------
        float
        """
        d = self.means - self.mean()
        return float(self.weights @ (d * (3 * self.variances + d * d)) / self.var() ** 1.5)

    def kurtosis(self):
        """Kurtosis, *not* excess: 3 for a normal (Wang 2015, Proposition 1).

        ``kappa = sum_k w_k (3 sigma_k^4 + 6 d_k^2 sigma_k^2 + d_k^4) / sigma^4``.

        Returns
        -------
        float
        """
        d2 = (self.means - self.mean()) ** 2
        v = self.variances
        return float(self.weights @ (3 * v * v + 6 * d2 * v + d2 * d2) / self.var() ** 2)

    def excess_kurtosis(self):
        """Excess kurtosis ``kurtosis - 3`` (0 for a normal).

        Returns
        -------
        float
        """
        return self.kurtosis() - 3.0

    def moments(self):
        """All four moments at once.

        Returns
        -------
        MixtureMoments
        """
        v = self.var()
        k = self.kurtosis()
        return MixtureMoments(self.mean(), v, float(np.sqrt(v)), self.skewness(), k, k - 3.0)

    def rvs(self, size=1, random_state=None):
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

    def value_at_risk(self, alpha=0.05, position=None, log_returns=False):
        """Value at risk, a positive number for a loss; see :func:`value_at_risk`.

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
        return value_at_risk(self, alpha, position=position, log_returns=log_returns)

    def expected_shortfall(self, alpha=0.05, position=None, log_returns=False):
        """Expected shortfall, a positive number for a loss; see :func:`expected_shortfall`.

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
        return expected_shortfall(self, alpha, position=position, log_returns=log_returns)


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


def mixture_moments(mixture=None, *, weights=None, means=None, stds=None, variances=None):
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


def mixture_mean_covariance(mixture=None, *, weights=None, means=None, covariances=None,
                            covariance_type="full"):
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


# --------------------------------------------------------------------------
# risk
# --------------------------------------------------------------------------

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
    q, _, short = _tail(dist, a, position)
    if position is None:
        out = -q
    else:
        v = abs(float(position))
        if log_returns:
            out = v * (np.expm1(q) if short else -np.expm1(q))
        else:
            out = v * (q if short else -q)
    return _scalar_or_array(out, alpha)


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
        return _scalar_or_array(-tail_mean, alpha)
    v = abs(float(position))
    if log_returns:
        growth = np.exp(mu + 0.5 * s * s)
        if short:
            out = v * ((growth * special.ndtr(s - z)) @ w / a - 1.0)
        else:
            out = v * (1.0 - (growth * special.ndtr(z - s)) @ w / a)
    else:
        out = v * (tail_mean if short else -tail_mean)
    return _scalar_or_array(out, alpha)


# --------------------------------------------------------------------------
# structured zero-mean GM(2)
# --------------------------------------------------------------------------

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

    def split(self, position):
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

    def distribution(self):
        """The mixture as a :class:`UnivariateMixture`."""
        return UnivariateMixture([self.p, self.q], [self.mean, self.mean],
                                 stds=[self.sigma1, self.sigma2])


def _check_ab(a, b):
    if a is not None and not 0.0 < a < 1.0:
        raise ValueError(f"a must satisfy 0 < a < 1, got {a!r}")
    if b is not None and not b > 1.0:
        raise ValueError(f"b must satisfy b > 1, got {b!r}")


def structured_gm2(sigma, kurtosis, a, b, mean=0.0):
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


def gm2_from_moments(sigma, kurtosis, a=None, b=None, mean=0.0):
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
        v = b * b
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


def fit_gm2(returns, method="moments", a=None, b=None, random_state=0):
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
        x = np.asarray(returns, dtype=np.float64).reshape(-1)
        x = x[np.isfinite(x)].reshape(-1, 1)
        if x.shape[0] < 4:
            raise ValueError(f"need at least 4 finite returns, got {x.shape[0]}")
        # reg_covar relative to the data and a tight tol: see detect_regimes.
        gm = _gaussian_mixture_class()(n_components=2, n_init=3, random_state=random_state,
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


def _gaussian_mixture_class():
    # Imported lazily: gmmx.mixture may import this package.
    from ..mixture import GaussianMixture

    return GaussianMixture


# --------------------------------------------------------------------------
# returns
# --------------------------------------------------------------------------

def log_returns(prices, periods=1):
    """Log returns ``log(P_t / P_{t-periods})`` from a price series.

    Parameters
    ----------
    prices : array_like, pandas.Series or pandas.DataFrame
        Positive prices along axis 0 (one column per asset for 2-D input).
    periods : int
        Return horizon in rows.

    Returns
    -------
    ndarray, Series or DataFrame
        ``periods`` rows shorter than ``prices``; pandas input keeps its index
        (the first ``periods`` labels are dropped) and column names.
    """
    periods = int(periods)
    if periods < 1:
        raise ValueError(f"periods must be a positive integer, got {periods}")
    values = np.asarray(prices, dtype=np.float64)
    if values.ndim not in (1, 2):
        raise ValueError(f"prices must be 1-D or 2-D, got shape {values.shape}")
    if values.shape[0] <= periods:
        raise ValueError(f"need more than {periods} prices, got {values.shape[0]}")
    finite = values[np.isfinite(values)]
    if np.any(finite <= 0):
        raise ValueError("prices must be positive to take logs; pass price levels, not returns")
    logp = np.log(values)
    r = logp[periods:] - logp[:-periods]
    if hasattr(prices, "index") and hasattr(prices, "iloc"):
        import pandas as pd

        index = prices.index[periods:]
        if values.ndim == 1:
            return pd.Series(r, index=index, name=getattr(prices, "name", None))
        return pd.DataFrame(r, index=index, columns=prices.columns)
    return r
