"""Multivariate normal mixtures as distributions: portfolios, marginals, scenarios.

:class:`MultivariateMixture` is ``sum_k pi_k N(mu_k, Sigma_k)`` in d dimensions,
built from raw parameters (any ``covariance_type``) or from a fitted model.
Everything a risk desk does with it by hand is a closed form:

- a portfolio ``w'x`` is the univariate mixture with weights ``pi_k``, means
  ``w'mu_k`` and variances ``w'Sigma_k w`` (:meth:`~MultivariateMixture.portfolio`);
- a marginal keeps the weights and takes sub-vectors and sub-matrices
  (:meth:`~MultivariateMixture.marginal`);
- conditioning on some coordinates ``x_A = a`` (scenario analysis) conditions
  every component, ``mu_B + S_BA S_AA^-1 (a - mu_A)`` and
  ``S_BB - S_BA S_AA^-1 S_AB``, and re-weights the components by their marginal
  density at ``a`` (:meth:`~MultivariateMixture.conditional`).

All linear algebra goes through Cholesky factors and triangular solves; no
matrix is inverted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np
from scipy import linalg, special

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import ArrayLike, NDArray

    # A feature by position or by name, or several of them.
    Features = Union[int, str, Sequence[Union[int, str]], ArrayLike]

from ._models import _check_weights, _model_params, full_covariances
from .distributions import UnivariateMixture

__all__ = ["MultivariateMixture"]

_LOG_2PI = np.log(2.0 * np.pi)
# Covariances may be asymmetric by rounding, relative to sqrt(S_ii S_jj).
_SYMMETRY_RTOL = 1e-8
# A conditioning block is singular when the smallest eigenvalue of its
# correlation matrix is below this: the solve would lose most of its digits.
SINGULAR_TOL = 1e-10


def _gauss_logpdf(x, mean, chol):
    """log N(x; mean, L L^T) for rows of ``x`` (n, d), with ``chol`` = L lower."""
    z = linalg.solve_triangular(chol, (x - mean).T, lower=True, check_finite=False)
    half_logdet = np.sum(np.log(np.diagonal(chol)))
    return -0.5 * (chol.shape[0] * _LOG_2PI + np.sum(z * z, axis=0)) - half_logdet


def _check_means(means, n_components):
    m = np.asarray(means, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != n_components or m.shape[1] == 0:
        raise ValueError(
            f"means must have shape (K, d) with one row per component (K = {n_components}), "
            f"got shape {m.shape}"
        )
    if not np.all(np.isfinite(m)):
        raise ValueError("means contain NaN or inf; pass finite component means")
    return m


def _check_covariances(c):
    """Symmetrised (K, d, d) covariances and their lower Cholesky factors."""
    if not np.all(np.isfinite(c)):
        raise ValueError("covariances contain NaN or inf; pass finite covariance matrices")
    diag = np.diagonal(c, axis1=1, axis2=2)
    for k in np.flatnonzero(np.any(diag <= 0, axis=1)):
        raise ValueError(
            f"covariances[{k}] has a non-positive variance on its diagonal "
            f"({diag[k].tolist()}); every variance must be positive"
        )
    ct = np.swapaxes(c, 1, 2)
    asym = np.abs(c - ct) / np.sqrt(diag[:, :, None] * diag[:, None, :])
    for k in np.flatnonzero(np.any(asym > _SYMMETRY_RTOL, axis=(1, 2))):
        raise ValueError(
            f"covariances[{k}] is not symmetric (largest relative difference "
            f"{asym[k].max():.3g}); pass symmetric matrices, e.g. (S + S.T) / 2"
        )
    c = 0.5 * (c + ct)
    chol = np.empty_like(c)
    for k in range(c.shape[0]):
        try:
            chol[k] = linalg.cholesky(c[k], lower=True, check_finite=False)
        except linalg.LinAlgError:
            raise ValueError(
                f"covariances[{k}] is not positive definite: some combination of the "
                "features has zero or negative variance in that component; drop redundant "
                "features or add a small ridge to the diagonal (reg_covar when fitting)"
            ) from None
    return c, chol


def _check_feature_names(names, n_features):
    if names is None:
        return None
    names = tuple(names.tolist() if hasattr(names, "tolist") else names)
    if len(names) != n_features:
        raise ValueError(f"feature_names has {len(names)} names for {n_features} features")
    if not all(isinstance(n, str) for n in names):
        raise ValueError(
            f"feature_names must be strings (integers always mean positions), got {list(names)}"
        )
    if len(set(names)) != n_features:
        raise ValueError(f"feature_names contain duplicates: {list(names)}")
    return names


class MultivariateMixture:
    """A multivariate normal mixture ``sum_k pi_k N(mu_k, Sigma_k)``.

    Parameters
    ----------
    weights : array_like of shape (K,)
        Non-negative mixing weights summing to 1.
    means : array_like of shape (K, d)
    covariances : array_like
        Laid out as ``covariance_type`` says: (K, d, d) 'full', (d, d) 'tied',
        (K, d) 'diag', (K,) 'spherical'.  Each must be symmetric positive
        definite.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    feature_names : sequence of str, optional
        Names that :meth:`marginal`, :meth:`conditional` and :meth:`portfolio`
        accept in place of positions.

    Attributes
    ----------
    weights : ndarray of shape (K,)
    means : ndarray of shape (K, d)
    covariances : ndarray of shape (K, d, d)
        Full matrices whatever the input ``covariance_type``.
    feature_names : tuple of str or None

    The arrays are read-only: build a new mixture to change parameters.

    Examples
    --------
    >>> mix = MultivariateMixture([0.8, 0.2], [[0.0, 0.0], [-0.02, -0.03]],
    ...                           [[[1e-4, 8e-5], [8e-5, 2e-4]], [[4e-4, 3e-4], [3e-4, 9e-4]]],
    ...                           feature_names=["index", "book"])
    >>> book = mix.conditional("index", -0.03)   # the book given the index falls 3 %
    >>> round(book.mean(), 4), round(float(book.weights[1]), 2)  # the stress state dominates
    (-0.0363, 0.91)
    """

    weights: NDArray[np.float64]
    means: NDArray[np.float64]
    covariances: NDArray[np.float64]
    feature_names: Optional[tuple[str, ...]]

    def __init__(self, weights: ArrayLike, means: ArrayLike, covariances: ArrayLike, *,
                 covariance_type: str = "full",
                 feature_names: Optional[Sequence[str]] = None) -> None:
        w = _check_weights(weights)
        m = _check_means(means, w.size)
        c = full_covariances(covariances, covariance_type, w.size, m.shape[1])
        c, chol = _check_covariances(c)
        for a in (w, m, c, chol):
            a.setflags(write=False)
        self.weights, self.means, self.covariances, self._chol = w, m, c, chol
        self.feature_names = _check_feature_names(feature_names, m.shape[1])
        with np.errstate(divide="ignore"):  # zero weights give log 0 = -inf, on purpose
            self._logw = np.log(w)

    @classmethod
    def from_model(cls, model: Any,
                   feature_names: Optional[Sequence[str]] = None) -> MultivariateMixture:
        """Build from a fitted mixture model of any ``covariance_type``.

        Parameters
        ----------
        model : fitted GaussianMixture-like object
        feature_names : sequence of str, optional
            Default: the model's ``feature_names_in_`` if it has one.

        Returns
        -------
        MultivariateMixture
        """
        w, m, c = _model_params(model)
        if feature_names is None:
            feature_names = getattr(model, "feature_names_in_", None)
        return cls(w, m, c, feature_names=feature_names)

    @property
    def n_components(self) -> int:
        """Number of components K."""
        return self.weights.size

    @property
    def n_features(self) -> int:
        """Dimension d."""
        return self.means.shape[1]

    def __repr__(self) -> str:
        names = "" if self.feature_names is None else f", feature_names={list(self.feature_names)}"
        return (f"MultivariateMixture(n_components={self.n_components}, "
                f"n_features={self.n_features}{names})")

    # -- features by position or name --------------------------------------

    def _label(self, j):
        return repr(self.feature_names[j]) if self.feature_names else str(j)

    def _feature_index(self, features, what="features"):
        """Positions (1-D int array, in the order given) of features named or numbered."""
        d = self.n_features
        single = isinstance(features, (str, int, np.integer))
        items = [features] if single else list(np.atleast_1d(np.asarray(features, dtype=object)))
        if not items:
            raise ValueError(f"{what} is empty; pass at least one feature position or name")
        idx = []
        for f in items:
            if isinstance(f, str):
                if self.feature_names is None:
                    raise ValueError(
                        f"feature {f!r} is given by name, but this mixture has no "
                        f"feature_names; pass positions 0..{d - 1} or build it with "
                        "feature_names="
                    )
                if f not in self.feature_names:
                    raise ValueError(f"unknown feature {f!r}; the features are "
                                     f"{list(self.feature_names)}")
                idx.append(self.feature_names.index(f))
            elif isinstance(f, (int, np.integer)) and not isinstance(f, (bool, np.bool_)):
                if not -d <= f < d:
                    raise ValueError(
                        f"feature index {int(f)} is out of range for a mixture of {d} "
                        f"features (valid positions: 0..{d - 1})"
                    )
                idx.append(int(f) % d)
            else:
                raise ValueError(f"{what} must be integer positions or names, got {f!r}")
        idx = np.asarray(idx, dtype=np.intp)
        uniq, counts = np.unique(idx, return_counts=True)
        if np.any(counts > 1):
            raise ValueError(f"feature {self._label(uniq[counts > 1][0])} is listed more "
                             f"than once in {what}")
        return idx

    def _subset(self, weights, means, covariances, idx):
        """A UnivariateMixture for one feature, else a MultivariateMixture with its names."""
        if idx.size == 1:
            return UnivariateMixture(weights, means[:, 0], variances=covariances[:, 0, 0])
        names = None if self.feature_names is None else [self.feature_names[j] for j in idx]
        return MultivariateMixture(weights, means, covariances, feature_names=names)

    # -- densities and sampling ----------------------------------------------

    def _points(self, x: Any) -> NDArray[np.float64]:
        """``x`` as a float64 array with the features on its last axis; NaN refused."""
        if hasattr(x, "columns") and self.feature_names is not None:
            missing = [n for n in self.feature_names if n not in list(x.columns)]
            if missing:
                raise ValueError(f"x lacks the columns {missing} of this mixture's features")
            x = x[list(self.feature_names)]
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 0 or x.shape[-1] != self.n_features:
            raise ValueError(
                f"x must have the {self.n_features} features on its last axis "
                f"(shape (..., {self.n_features})), got shape {x.shape}"
            )
        if np.any(np.isnan(x)):
            raise ValueError("x contains NaN; drop or fill missing values first")
        return x

    def _component_logpdf(self, x):
        """(n, K) array of ``log pi_k + log N(x_i; mu_k, Sigma_k)`` for finite rows ``x``."""
        out = np.empty((x.shape[0], self.n_components))
        for k in range(self.n_components):
            out[:, k] = self._logw[k] + _gauss_logpdf(x, self.means[k], self._chol[k])
        return out

    def logpdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """Log density, a log-sum-exp over components of Cholesky-solved Gaussians.

        Parameters
        ----------
        x : array_like of shape (..., d)
            Points with the features on the last axis (a DataFrame is matched to
            ``feature_names`` by column).  Infinite coordinates give ``-inf``.

        Returns
        -------
        ndarray of shape ``x.shape[:-1]``
        """
        x = self._points(x)
        flat = x.reshape(-1, self.n_features)
        out = np.full(flat.shape[0], -np.inf)
        finite = np.all(np.isfinite(flat), axis=1)
        if np.any(finite):
            out[finite] = special.logsumexp(self._component_logpdf(flat[finite]), axis=1)
        return out.reshape(x.shape[:-1])

    def pdf(self, x: ArrayLike) -> NDArray[np.float64]:
        """Density.

        Parameters
        ----------
        x : array_like of shape (..., d)

        Returns
        -------
        ndarray of shape ``x.shape[:-1]``
        """
        return np.exp(self.logpdf(x))

    def rvs(self, size: Union[int, tuple[int, ...]] = 1,
            random_state: Union[None, int, np.random.Generator] = None) -> NDArray[np.float64]:
        """Draw samples: component k with probability pi_k, then ``mu_k + L_k z``.

        Parameters
        ----------
        size : int or tuple of int
        random_state : None, int or numpy.random.Generator

        Returns
        -------
        ndarray of shape ``size + (d,)``
        """
        rng = np.random.default_rng(random_state)
        sizes: Any = size  # an int, or a tuple of them
        shape = (sizes,) if np.ndim(sizes) == 0 else tuple(sizes)
        n = int(np.prod(shape))
        labels = rng.choice(self.n_components, size=n, p=self.weights)
        z = rng.standard_normal((n, self.n_features))
        out = np.empty((n, self.n_features))
        for k in range(self.n_components):
            rows = labels == k
            out[rows] = self.means[k] + z[rows] @ self._chol[k].T
        return out.reshape(shape + (self.n_features,))

    def mean(self) -> NDArray[np.float64]:
        """Mixture mean ``sum_k pi_k mu_k``.

        Returns
        -------
        ndarray of shape (d,)
        """
        return self.weights @ self.means

    def covariance(self) -> NDArray[np.float64]:
        """Mixture covariance ``sum_k pi_k (Sigma_k + (mu_k - mu)(mu_k - mu)^T)``.

        Returns
        -------
        ndarray of shape (d, d)
        """
        dev = self.means - self.mean()
        return (np.einsum("k,kij->ij", self.weights, self.covariances)
                + np.einsum("k,ki,kj->ij", self.weights, dev, dev))

    # -- portfolios, marginals, scenarios --------------------------------------

    def _portfolio_vector(self, weights):
        """Portfolio weights as a length-d vector; labelled weights are matched by name."""
        d = self.n_features
        labelled = hasattr(weights, "keys") and hasattr(weights, "to_numpy")  # a Series
        if isinstance(weights, Mapping) or labelled:
            keys = list(weights.keys())
            values = np.asarray([weights[k] for k in keys], dtype=np.float64)
            idx = self._feature_index(keys, "the portfolio weights' labels")
            if idx.size != d:
                missing = [self._label(j) for j in sorted(set(range(d)) - set(idx.tolist()))]
                raise ValueError(
                    f"portfolio weights label {idx.size} of the {d} features; missing: "
                    f"{', '.join(missing)} (give them weight 0 explicitly)"
                )
            w = np.empty(d)
            w[idx] = values
        else:
            w = np.asarray(weights, dtype=np.float64)
            if w.ndim != 1 or w.size != d:
                raise ValueError(
                    f"portfolio weights must be a 1-D array with one weight per feature "
                    f"({d}), got shape {w.shape}"
                )
        if not np.all(np.isfinite(w)):
            raise ValueError("portfolio weights contain NaN or inf")
        if not np.any(w):
            raise ValueError("portfolio weights are all zero; the portfolio has no risk to measure")
        return w

    def portfolio(self, weights: Union[ArrayLike, Mapping[Any, float]]) -> UnivariateMixture:
        """The distribution of the portfolio return ``w'x``, a univariate mixture.

        With weights ``pi_k``, means ``w'mu_k`` and standard deviations
        ``||L_k^T w||`` (``Sigma_k = L_k L_k^T``).  With ``w`` in fractions of
        the portfolio's value, ``w'x`` is its return; with holdings in
        currency, its profit and loss.

        Parameters
        ----------
        weights : array_like of shape (d,), dict or pandas.Series
            One weight per feature; a dict or a Series labelled by feature name
            (or position) is matched by label and must cover every feature.

        Returns
        -------
        UnivariateMixture
        """
        w = self._portfolio_vector(weights)
        stds = np.linalg.norm(np.einsum("kij,i->kj", self._chol, w), axis=1)
        return UnivariateMixture(self.weights, self.means @ w, stds=stds)

    def marginal(self, features: Features) -> Union[UnivariateMixture, MultivariateMixture]:
        """The mixture of some features, the others integrated out.

        Parameters
        ----------
        features : int, str or sequence of them
            Positions or names, in the order wanted.

        Returns
        -------
        UnivariateMixture for one feature, else MultivariateMixture
        """
        idx = self._feature_index(features)
        return self._subset(self.weights, self.means[:, idx],
                            self.covariances[:, idx[:, None], idx], idx)

    def conditional(self, features: Features,
                    values: ArrayLike) -> Union[UnivariateMixture, MultivariateMixture]:
        """The mixture of the other features given ``x[features] = values``.

        Each component is conditioned in closed form (Cholesky solves), and its
        weight becomes ``pi_k N(values; mu_kA, Sigma_kAA)`` renormalised:
        components that make the scenario likely gain weight.

        Parameters
        ----------
        features : int, str or sequence of them
            The conditioning features (positions or names); not all of them.
        values : float or array_like
            One finite value per conditioning feature, in the same order.

        Returns
        -------
        UnivariateMixture if one feature remains, else MultivariateMixture
            Over the remaining features in their original order.

        Raises
        ------
        ValueError
            For every feature conditioned on, NaN or infinite values, or a
            singular conditioning block (a conditioning feature that is a
            linear combination of the others in some component).
        """
        a, b, v = self._conditioning_split(features, values)
        K = self.n_components
        log_w = np.empty(K)
        means = np.empty((K, b.size))
        covs = np.empty((K, b.size, b.size))
        for k in range(K):
            S, mu = self.covariances[k], self.means[k]
            L = self._conditioning_cholesky(S[a[:, None], a], k, a)
            z = linalg.solve_triangular(L, v - mu[a], lower=True, check_finite=False)
            W = linalg.solve_triangular(L, S[a[:, None], b], lower=True, check_finite=False).T
            means[k] = mu[b] + W @ z
            covs[k] = S[b[:, None], b] - W @ W.T
            log_w[k] = (self._logw[k] - 0.5 * (a.size * _LOG_2PI + z @ z)
                        - np.sum(np.log(np.diag(L))))
        weights = self._conditional_weights(log_w, v)
        covs = 0.5 * (covs + np.swapaxes(covs, 1, 2))
        self._check_conditional_covariances(covs, a)
        return self._subset(weights, means, covs, b)

    def _conditioning_split(self, features, values):
        """The conditioning positions ``a``, the remaining ones ``b`` and the values
        ``v`` of :meth:`conditional`, validated."""
        a = self._feature_index(features)
        if a.size == self.n_features:
            raise ValueError(
                "cannot condition on every feature: no feature would be left; condition on "
                "fewer features (the density at a full point is pdf)"
            )
        v = np.asarray(values, dtype=np.float64).reshape(-1)
        if v.size != a.size:
            raise ValueError(
                f"values must hold one value per conditioning feature ({a.size}), got {v.size}"
            )
        if not np.all(np.isfinite(v)):
            raise ValueError(f"values contain NaN or inf ({v.tolist()}); pass finite values")
        return a, np.setdiff1d(np.arange(self.n_features), a), v

    @staticmethod
    def _conditional_weights(log_w, v):
        """Normalised conditional weights from their logs; refuses values no component reaches."""
        norm = special.logsumexp(log_w)
        if not np.isfinite(norm):
            raise ValueError(f"values {v.tolist()} are too far out for every component to "
                             "give them a positive density")
        return np.exp(log_w - norm)

    def _conditioning_cholesky(self, S_aa, k, a):
        """Lower Cholesky factor of a conditioning block, refusing (near-)singular ones."""
        sd = np.sqrt(np.diag(S_aa))
        lam = np.linalg.eigvalsh(S_aa / np.outer(sd, sd))[0] if a.size > 1 else 1.0
        try:
            if lam >= SINGULAR_TOL:
                return linalg.cholesky(S_aa, lower=True, check_finite=False)
        except linalg.LinAlgError:
            pass
        labels = ", ".join(self._label(j) for j in a)
        raise ValueError(
            f"cannot condition on features {labels}: their covariance block in component {k} "
            f"is singular (smallest eigenvalue of their correlation matrix {lam:.3g} < "
            f"{SINGULAR_TOL:g}), so one of them is (almost) a linear combination of the "
            "others; condition on fewer of them"
        )

    def _check_conditional_covariances(self, covs, a):
        for k in range(covs.shape[0]):
            try:
                linalg.cholesky(covs[k], lower=True, check_finite=False)
            except linalg.LinAlgError:
                labels = ", ".join(self._label(j) for j in a)
                raise ValueError(
                    f"given features {labels}, the remaining features are (almost) fully "
                    f"determined in component {k}: their conditional covariance is singular; "
                    "drop redundant features"
                ) from None
