"""Student-t mixtures as return distributions: exact quantiles, VaR and ES.

:class:`UnivariateTMixture` is ``sum_k w_k t_{nu_k}(mu_k, s_k)`` (location
``mu_k``, scale ``s_k``, degrees of freedom ``nu_k``): densities,
distribution and survival functions, the quantile function (the root of the
mixture CDF), moments where ν allows them, sampling, and value at risk /
expected shortfall in closed form.  :class:`MultivariateTMixture` holds a
multivariate t mixture; a portfolio ``w'x`` of it is exactly a univariate t
mixture with the same ν per component (location ``w'mu_k``, scale
``sqrt(w' Sigma_k w)``), so portfolio VaR and ES are exact too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np
# scipy.stats, .optimize and .integrate are imported where used: scipy.stats alone
# costs ~0.5 s, and the CLI imports gmmx.finance for its printing
from scipy import linalg, special

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import ArrayLike, NDArray

from ._models import _check_weights, full_covariances
from ._tail_risk import _check_alpha, _loss_at_quantile, _scalar_or_array
from .multivariate import MultivariateMixture

__all__ = ["MultivariateTMixture", "UnivariateTMixture", "is_t_model"]


def is_t_model(obj: Any) -> bool:
    """True for a fitted Student-t mixture (it has ``degrees_of_freedom_`` and ``scales_``)."""
    return hasattr(obj, "degrees_of_freedom_") and hasattr(obj, "scales_") \
        and hasattr(obj, "weights_")


def _check_dof(dof, size):
    nu = np.asarray(dof, dtype=np.float64).reshape(-1)
    if nu.size == 1 and size > 1:
        nu = np.full(size, nu[0])
    if nu.size != size:
        raise ValueError(f"dof must have one value per component ({size}), got {nu.size}")
    if not np.all(np.isfinite(nu)) or np.any(~(nu > 0)):
        raise ValueError(f"degrees of freedom must be finite numbers > 0, got {nu.tolist()}")
    return nu


class UnivariateTMixture:
    """A univariate Student-t mixture ``sum_k w_k t_{nu_k}(mu_k, s_k)``.

    Parameters
    ----------
    weights : array_like of shape (K,)
        Non-negative mixing weights summing to 1.
    locs : array_like of shape (K,)
    scales : array_like of shape (K,)
        Scale parameters ``s_k > 0`` (the standard deviation is
        ``s_k sqrt(nu_k / (nu_k - 2))`` for ``nu_k > 2``).
    dof : float or array_like of shape (K,)
        Degrees of freedom ``nu_k > 0``.

    Examples
    --------
    >>> d = UnivariateTMixture([0.8, 0.2], [0.0005, -0.001], [0.007, 0.02], [5.0, 3.0])
    >>> round(float(d.cdf(-d.value_at_risk(0.01))), 12)
    0.01
    """

    weights: NDArray[np.float64]
    locs: NDArray[np.float64]
    scales: NDArray[np.float64]
    dof: NDArray[np.float64]

    def __init__(self, weights: ArrayLike, locs: ArrayLike, scales: ArrayLike,
                 dof: ArrayLike) -> None:
        w = _check_weights(weights)
        m = np.asarray(locs, dtype=np.float64).reshape(-1)
        s = np.asarray(scales, dtype=np.float64).reshape(-1)
        if not (w.size == m.size == s.size):
            raise ValueError(f"weights, locs and scales must have the same length, got "
                             f"{w.size}, {m.size} and {s.size}")
        if not np.all(np.isfinite(m)):
            raise ValueError("locs contain NaN or inf")
        if not np.all(np.isfinite(s)) or np.any(~(s > 0)):
            raise ValueError(f"scales must be positive and finite, got {s.tolist()}")
        self.weights, self.locs, self.scales = w, m, s
        self.dof = _check_dof(dof, w.size)
        with np.errstate(divide="ignore"):
            self._logw = np.log(w)

    @classmethod
    def from_model(cls, model: Any) -> UnivariateTMixture:
        """Build from a fitted one-feature :class:`~gmmx.StudentTMixture`."""
        mv = MultivariateTMixture.from_model(model)
        if mv.n_features != 1:
            raise ValueError(
                f"the model has {mv.n_features} features; univariate functions need a model "
                "fitted on one column, or pass portfolio weights")
        return mv.marginal(0)

    @property
    def n_components(self) -> int:
        """Number of components K."""
        return self.weights.size

    # the names _tail_risk's VaR helper reads
    @property
    def means(self) -> NDArray[np.float64]:
        """The locations (the component means where ``nu > 1``)."""
        return self.locs

    def __repr__(self) -> str:
        return (f"UnivariateTMixture(weights={self.weights.tolist()}, locs={self.locs.tolist()}, "
                f"scales={self.scales.tolist()}, dof={self.dof.tolist()})")

    # -- densities and distribution functions ---------------------------------
    def _z(self, x):
        x = np.asarray(x, dtype=np.float64)
        return (x[..., None] - self.locs) / self.scales

    def logpdf(self, x: ArrayLike) -> Any:
        """Log-density."""
        from scipy import stats
        z = self._z(x)
        return special.logsumexp(self._logw + stats.t.logpdf(z, self.dof) - np.log(self.scales),
                                 axis=-1)

    def pdf(self, x: ArrayLike) -> Any:
        """Density."""
        return np.exp(self.logpdf(x))

    def logcdf(self, x: ArrayLike) -> Any:
        """Log of the distribution function (accurate in the lower tail)."""
        from scipy import stats
        return special.logsumexp(self._logw + stats.t.logcdf(self._z(x), self.dof), axis=-1)

    def logsf(self, x: ArrayLike) -> Any:
        """Log of the survival function (accurate in the upper tail)."""
        from scipy import stats
        return special.logsumexp(self._logw + stats.t.logsf(self._z(x), self.dof), axis=-1)

    def cdf(self, x: ArrayLike) -> Any:
        """Distribution function ``F(x)``."""
        return np.exp(self.logcdf(x))

    def sf(self, x: ArrayLike) -> Any:
        """Survival function ``1 - F(x)``."""
        return np.exp(self.logsf(x))

    def _root(self, p, upper):
        """x with F(x) = p (``upper``: 1 - F(x) = p), by Brent's method on log F (log S)."""
        from scipy import optimize, stats
        zq = stats.t.isf(p, self.dof) if upper else stats.t.ppf(p, self.dof)
        comp = self.locs + self.scales * zq
        live = self.weights > 0
        lo, hi = float(comp[live].min()), float(comp[live].max())
        logp = np.log(p)

        def g(x):
            return float(self.logsf(x)) - logp if upper else float(self.logcdf(x)) - logp

        if lo == hi or g(lo) == 0.0:
            return lo
        if g(hi) == 0.0:
            return hi
        return optimize.brentq(g, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps,
                               maxiter=500)

    def ppf(self, q: ArrayLike) -> NDArray[np.float64]:
        """Quantile function: the root of ``F(x) = q`` (Brent's method between the
        smallest and largest component quantile, on ``log F`` below the median and
        ``log(1 - F)`` above it, to float resolution)."""
        return self._invert(q, False)

    def isf(self, q: ArrayLike) -> NDArray[np.float64]:
        """Inverse survival function: the root of ``1 - F(x) = q``."""
        return self._invert(q, True)

    def _invert(self, q, upper):
        q = np.asarray(q, dtype=np.float64)
        if np.any(np.isnan(q)) or np.any((q < 0) | (q > 1)):
            raise ValueError("probabilities must lie in [0, 1]")
        out = np.empty(q.shape)
        flat, res = q.reshape(-1), out.reshape(-1)
        for i, p in enumerate(flat):
            if p == 0 or p == 1:
                res[i] = (np.inf if (p == 0) == upper else -np.inf)
            elif (p <= 0.5) != upper:  # lower half: solve for p itself
                res[i] = self._root(p, upper)
            else:  # the other half: the complementary tail is the accurate one
                res[i] = self._root(1.0 - p, not upper)
        return out

    # -- moments --------------------------------------------------------------
    def _central(self):
        """(mean, E(X-mu)^2, E(X-mu)^3, E(X-mu)^4) with inf/nan where ν forbids them."""
        nu, s2 = self.dof, self.scales ** 2
        if np.any(nu <= 1):
            return np.nan, np.nan, np.nan, np.nan
        mean = float(self.weights @ self.locs)
        d = self.locs - mean
        with np.errstate(divide="ignore", invalid="ignore"):
            m2 = np.where(nu > 2, s2 * nu / (nu - 2), np.inf)
            m4 = np.where(nu > 4, 3 * s2 ** 2 * nu ** 2 / ((nu - 2) * (nu - 4)), np.inf)
        var = float(self.weights @ (m2 + d * d))
        if not np.all(nu > 2):
            return mean, var, np.nan, np.inf
        third = float(self.weights @ (3 * d * m2 + d ** 3)) if np.all(nu > 3) else np.nan
        fourth = float(self.weights @ (m4 + 6 * d * d * m2 + d ** 4))
        return mean, var, third, fourth

    def mean(self) -> float:
        """Mean ``sum w_k mu_k`` (NaN unless every ``nu_k > 1``)."""
        return self._central()[0]

    def var(self) -> float:
        """Variance ``sum w_k (s_k^2 nu_k / (nu_k - 2) + (mu_k - mu)^2)`` (inf if some
        ``nu_k <= 2``)."""
        return self._central()[1]

    def std(self) -> float:
        """Standard deviation (inf if some ``nu_k <= 2``)."""
        return float(np.sqrt(self.var()))

    def skewness(self) -> float:
        """Skewness (NaN unless every ``nu_k > 3``)."""
        _, v, m3, _ = self._central()
        return float(m3 / v ** 1.5) if np.isfinite(v) else np.nan

    def kurtosis(self) -> float:
        """Kurtosis, not excess (3 for a normal; inf if some ``nu_k <= 4``)."""
        _, v, _, m4 = self._central()
        return float(m4 / v ** 2) if np.isfinite(v) else np.nan

    def excess_kurtosis(self) -> float:
        """``kurtosis - 3``."""
        return self.kurtosis() - 3.0

    def rvs(self, size: Union[int, tuple[int, ...]] = 1,
            random_state: Union[None, int, np.random.Generator] = None) -> NDArray[np.float64]:
        """Draw samples (component k with probability w_k, then its t)."""
        rng = np.random.default_rng(random_state)
        k = rng.choice(self.n_components, size=size, p=self.weights)
        return self.locs[k] + self.scales[k] * rng.standard_t(self.dof[k])

    # -- risk -----------------------------------------------------------------
    def value_at_risk(self, alpha: ArrayLike = 0.05, position: Optional[float] = None,
                      log_returns: bool = False) -> Any:
        """Value at risk, a positive number for a loss: ``-q`` with ``F(q) = alpha``
        (short positions: the upper quantile).  See :func:`gmmx.finance.value_at_risk`."""
        a = _check_alpha(alpha)
        short = position is not None and position < 0
        q = self.isf(a) if short else self.ppf(a)
        return _scalar_or_array(_loss_at_quantile(q, short, position, log_returns), a)

    def expected_shortfall(self, alpha: ArrayLike = 0.05, position: Optional[float] = None,
                           log_returns: bool = False) -> Any:
        """Expected shortfall in closed form, a positive number for a loss.

        With ``z_k = (q - mu_k) / s_k``, the lower tail of a standard t has
        ``E[T 1{T <= z}] = -(nu + z^2) / (nu - 1) f_nu(z)``, so

        ``E[R 1{R <= q}] = sum_k w_k (mu_k F_nu_k(z_k) - s_k (nu_k + z_k^2) /
        (nu_k - 1) f_nu_k(z_k))`` and ``ES = -E[R 1{R <= q}] / alpha``.

        Infinite when some ``nu_k <= 1`` (the tail has no mean).

        With ``log_returns=True`` and a position the currency loss is
        ``V (1 - exp(R))`` (long) or ``V (exp(R) - 1)`` (short).  For a long,
        ``E[exp(R) 1{R <= q}] = sum_k w_k integral_{-inf}^{z_k} exp(mu_k + s_k t)
        f_nu_k(t) dt`` is finite (``exp(R) <= exp(q)`` there) and is computed by
        adaptive quadrature per component (no closed form).  For a short the
        upper tail of ``exp(R)`` has no mean under a t component
        (``E[exp(T)] = inf`` for every ν), so the ES is ``inf``.
        """
        from scipy import stats
        a = _check_alpha(alpha)
        short = position is not None and position < 0
        q = self.isf(a) if short else self.ppf(a)
        if log_returns and position is not None:
            v = abs(float(position))
            if short:
                return _scalar_or_array(np.full(np.shape(q), np.inf), a)
            return _scalar_or_array(v * (1.0 - self._tail_exp_mean(q) / a), a)
        nu, mu, s = self.dof, self.locs, self.scales
        z = (np.asarray(q)[..., None] - mu) / s
        if np.any(nu[self.weights > 0] <= 1):
            tail_mean = np.full(np.shape(q), np.inf if short else -np.inf)
        else:
            with np.errstate(divide="ignore"):
                spread = s * (nu + z * z) / (nu - 1) * stats.t.pdf(z, nu)
            if short:
                tail_mean = (mu * stats.t.sf(z, nu) + spread) @ self.weights / a
            else:
                tail_mean = (mu * stats.t.cdf(z, nu) - spread) @ self.weights / a
        v = 1.0 if position is None else abs(float(position))
        return _scalar_or_array(v * (tail_mean if short else -tail_mean), a)


    def _tail_exp_mean(self, q):
        """``E[exp(R) 1{R <= q}]`` for each entry of ``q``, by quadrature per component.

        Each term is ``exp(mu_k + s_k z_k) integral_{-inf}^{z_k} exp(s_k (t - z_k))
        f_nu(t) dt``: the integrand is at most ``f_nu`` and decays on the left.
        """
        from scipy import integrate, stats
        q = np.asarray(q, dtype=np.float64)
        out = np.zeros(q.shape)
        for idx in np.ndindex(q.shape):
            total = 0.0
            for w, mu, s, nu in zip(self.weights, self.locs, self.scales, self.dof):
                if w == 0:
                    continue
                z = (q[idx] - mu) / s
                value, _ = integrate.quad(
                    lambda t, s=s, z=z, nu=nu: np.exp(s * (t - z)) * stats.t.pdf(t, nu),
                    -np.inf, z, epsabs=0.0, epsrel=1e-12, limit=200)
                total += w * np.exp(mu + s * z) * value
            out[idx] = total
        return out


class MultivariateTMixture(MultivariateMixture):
    """A multivariate Student-t mixture; portfolios ``w'x`` are :class:`UnivariateTMixture`.

    Parameters
    ----------
    weights : array_like of shape (K,)
    locs : array_like of shape (K, d)
    scales : array_like
        Scale matrices in ``covariance_type``'s shape.
    dof : float or array_like of shape (K,)
    covariance_type : str, default='full'
    feature_names : sequence of str, optional

    Notes
    -----
    ``covariances`` (the inherited attribute) holds the **scale** matrices;
    :meth:`covariance` is the mixture's covariance (``nu/(nu-2)`` scaled).
    """

    def __init__(self, weights: ArrayLike, locs: ArrayLike, scales: ArrayLike,
                 dof: ArrayLike, *, covariance_type: str = "full",
                 feature_names: Optional[Any] = None) -> None:
        super().__init__(weights, locs, scales, covariance_type=covariance_type,
                         feature_names=feature_names)
        self.dof = _check_dof(dof, self.weights.size)

    @classmethod
    def from_model(cls, model: Any, feature_names: Optional[Any] = None) -> MultivariateTMixture:
        """Build from a fitted :class:`~gmmx.StudentTMixture` (any covariance type)."""
        if not is_t_model(model):
            raise ValueError(f"expected a fitted Student-t mixture (weights_, means_, "
                             f"scales_, degrees_of_freedom_), got {type(model).__name__}")
        K, d = np.shape(model.means_)
        scales = full_covariances(model.scales_, getattr(model, "covariance_type", "full"), K, d)
        if feature_names is None:
            feature_names = getattr(model, "feature_names_in_", None)
        return cls(model.weights_, model.means_, scales, model.degrees_of_freedom_,
                   feature_names=feature_names)

    def __repr__(self) -> str:
        return (f"MultivariateTMixture(n_components={self.n_components}, "
                f"n_features={self.n_features}, dof={self.dof.tolist()})")

    def portfolio(self, weights: Union[ArrayLike, Mapping[Any, float]]) -> Any:
        """The exact distribution of ``w'x``: a univariate t mixture with the same ν,
        locations ``w'mu_k`` and scales ``sqrt(w' Sigma_k w)``."""
        w = self._portfolio_vector(weights)
        scales = np.linalg.norm(np.einsum("kij,i->kj", self._chol, w), axis=1)
        return UnivariateTMixture(self.weights, self.means @ w, scales, self.dof)

    def marginal(self, features: Any) -> Any:
        """The t mixture of some features (same ν); one feature gives a UnivariateTMixture."""
        idx = self._feature_index(features)
        if idx.size == 1:
            j = int(idx[0])
            return UnivariateTMixture(self.weights, self.means[:, j],
                                      np.sqrt(self.covariances[:, j, j]), self.dof)
        names = None if self.feature_names is None else [self.feature_names[j] for j in idx]
        return MultivariateTMixture(self.weights, self.means[:, idx],
                                    self.covariances[:, idx[:, None], idx], self.dof,
                                    feature_names=names)

    def _component_logpdf(self, x):
        """(n, K) array of ``log pi_k + log t(x_i; mu_k, Sigma_k, nu_k)``."""
        from scipy import stats
        return self._logw + np.column_stack([
            stats.multivariate_t(self.means[k], self.covariances[k], df=self.dof[k])
            .logpdf(x).reshape(-1) for k in range(self.n_components)])

    def covariance(self) -> NDArray[np.float64]:
        """Covariance of the mixture (inf where some ``nu_k <= 2``)."""
        nu = self.dof
        if np.any(nu <= 2):
            return np.full((self.n_features,) * 2, np.inf)
        mean = self.weights @ self.means
        D = self.means - mean
        cov = (nu / (nu - 2))[:, None, None] * self.covariances
        return np.einsum("k,kij->ij", self.weights, cov + D[:, :, None] * D[:, None, :])

    def rvs(self, size: Union[int, tuple[int, ...]] = 1,
            random_state: Union[None, int, np.random.Generator] = None) -> NDArray[np.float64]:
        """Draw ``size`` rows: a component, a Gaussian draw of its scale, divided by
        ``sqrt(g / nu)`` with ``g ~ chi2(nu)``."""
        rng = np.random.default_rng(random_state)
        n = int(np.prod(size))
        k = rng.choice(self.n_components, size=n, p=self.weights)
        z = np.einsum("nij,nj->ni", self._chol[k], rng.standard_normal((n, self.n_features)))
        g = rng.chisquare(self.dof[k]) / self.dof[k]
        out = self.means[k] + z / np.sqrt(g)[:, None]
        return out.reshape(tuple(np.atleast_1d(size)) + (self.n_features,))

    def conditional(self, features: Any, values: Any) -> Any:
        """The t mixture of the other features given ``x[features] = values``.

        A t component conditioned on ``d_o`` observed coordinates is a t with
        ``nu + d_o`` degrees of freedom, location
        ``mu_m + Sigma_mo Sigma_oo^-1 (x_o - mu_o)`` and scale
        ``(nu + delta_o) / (nu + d_o) (Sigma_mm - Sigma_mo Sigma_oo^-1 Sigma_om)``
        with ``delta_o = (x_o - mu_o)' Sigma_oo^-1 (x_o - mu_o)``; its weight
        becomes ``pi_k t(x_o; mu_o, Sigma_oo, nu)`` renormalised.

        Parameters
        ----------
        features : int, str or sequence of them
            The conditioning features (positions or names); not all of them.
        values : float or array_like
            One finite value per conditioning feature, in the same order.

        Returns
        -------
        UnivariateTMixture if one feature remains, else MultivariateTMixture
            Over the remaining features in their original order (per-component ν).

        Raises
        ------
        ValueError
            As :meth:`MultivariateMixture.conditional`.
        """
        a, b, v = self._conditioning_split(features, values)
        K, do = self.n_components, a.size
        log_w = np.empty(K)
        means = np.empty((K, b.size))
        scales = np.empty((K, b.size, b.size))
        for k in range(K):
            S, mu, nu = self.covariances[k], self.means[k], self.dof[k]
            L = self._conditioning_cholesky(S[a[:, None], a], k, a)
            z = linalg.solve_triangular(L, v - mu[a], lower=True, check_finite=False)
            W = linalg.solve_triangular(L, S[a[:, None], b], lower=True, check_finite=False).T
            delta = float(z @ z)
            means[k] = mu[b] + W @ z
            scales[k] = (nu + delta) / (nu + do) * (S[b[:, None], b] - W @ W.T)
            log_w[k] = (self._logw[k] + special.gammaln(0.5 * (nu + do))
                        - special.gammaln(0.5 * nu) - 0.5 * do * np.log(nu * np.pi)
                        - np.sum(np.log(np.diag(L))) - 0.5 * (nu + do) * np.log1p(delta / nu))
        weights = self._conditional_weights(log_w, v)
        scales = 0.5 * (scales + np.swapaxes(scales, 1, 2))
        self._check_conditional_covariances(scales, a)
        dof = self.dof + do
        if b.size == 1:
            return UnivariateTMixture(weights, means[:, 0], np.sqrt(scales[:, 0, 0]), dof)
        names = None if self.feature_names is None else [self.feature_names[j] for j in b]
        return MultivariateTMixture(weights, means, scales, dof, feature_names=names)
