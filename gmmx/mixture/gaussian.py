"""The scikit-learn-compatible :class:`GaussianMixture` estimator.

A thin subclass of :class:`~gmmx.mixture.base.BaseMixture`: its parameters,
their validation, the maximum-likelihood M-step and the archive layout.
Everything that depends on the covariance type is the covariance object's
(:mod:`gmmx.core.covariance`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional, Union

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import ArrayLike, NDArray

import numbers

import numpy as np

from .. import io
from .._validation import check_float, check_nan_policy, check_random_state
from ..core import kernel
from ..core.covariance import get_covariance, n_mixture_parameters
from ..core.init import initial_parameters
from ..core.mstep import Params, Regularisation, m_step
from ..core.priors import (ConjugatePrior, ResolvedPrior, log_dirichlet, moments_from_data,
                           moments_from_stats)
from ..exceptions import RegCovarWarning, warn_user
from .base import BaseMixture

__all__ = ["GaussianMixture"]


class GaussianMixture(BaseMixture):
    """Gaussian mixture fitted by EM with gmmx's native OpenMP kernel.

    A drop-in replacement for :class:`sklearn.mixture.GaussianMixture`: the
    same constructor, defaults, methods and fitted attributes, plus
    ``sample_weight``, ``partial_fit``, chunk sources and ``n_threads``.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Form of the component covariances.
    tol : float, default=1e-3
        Convergence threshold on the change of the per-sample lower bound.
    reg_covar : float, default=1e-6
        Non-negative regularisation added to the covariance diagonals. Tick
        returns have variances near 1e-8: scale it (or the data) accordingly;
        a warning says so when it dominates the data's variance. With
        ``reg_covar=0`` a component that collapses onto a point ends that EM
        run at its last valid iteration (``converged_=False``, a
        :class:`~gmmx.ConvergenceWarning`).
    max_iter : int, default=100
        EM iterations per initialisation.
    n_init : int, default=1
        Initialisations; the best lower bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', 'hierarchical'}, \
default='kmeans'
        How initial responsibilities are chosen (gmmx's own k-means).
        ``'hierarchical'`` is R mclust's deterministic start: model-based
        agglomerative clustering (:mod:`gmmx.core.hierarchical`) of at most
        2,000 rows, cut at ``n_components`` clusters (1-D data: quantile
        classes, as mclust).
    weights_init, means_init, precisions_init : array-like, optional
        User-provided initial parameters.
    random_state : int, RandomState or None, default=None
    warm_start : bool, default=False
        Start from the previous fit's parameters (``n_init`` is then 1).
    verbose : int, default=0
        0 silent, 1 per-initialisation messages, 2 per-iteration messages.
    verbose_interval : int, default=10
        Iterations between verbose messages.
    n_threads : int or None, default=None
        OpenMP threads for the kernel; None uses all usable cores (capped by
        ``OMP_NUM_THREADS``), -1 all cores; at most 64. In a process forked
        from one that imported gmmx, kernels run on one thread (libgomp is
        not fork-safe; see the README's "Using gmmx with multiprocessing").
    chunk_size : int or None, default=None
        Rows per block read from a chunk source in out-of-core fits (and per
        mini-batch); None reads about 8 MiB of rows per block (at least 65,536).
    callback : callable, optional
        ``callback(n_iter, lower_bound)`` after every EM iteration.
    progress : bool, default=False
        tqdm progress bars over passes and the rows of each pass, on a terminal
        or in a Jupyter notebook (widgets with ipywidgets, which the
        ``progress`` extra installs; one text line of passes without it); a
        ``ProgressWarning`` says once when none can be drawn (tqdm missing,
        output neither a terminal nor a notebook).
    step_exponent : float in (0.5, 1], default=0.6
        Online EM (``partial_fit``, :func:`gmmx.mixture.fit_minibatch`): the
        b-th batch gets step size ``b ** -step_exponent`` (the first batch
        1); 1 averages all batches equally, smaller values forget faster.
    prior : ConjugatePrior, optional
        Conjugate (normal-inverse-Wishart) prior on the means and covariances:
        the M-step gives MAP estimates (Fraley & Raftery 2007, as R mclust's
        ``priorControl()``). Data-dependent defaults come from the first pass.
    weight_concentration : float >= 1, default=1.0
        Symmetric Dirichlet prior on the weights; MAP weights
        ``(n_k + a - 1) / (n + K (a - 1))`` keep every component alive. 1: none.
    covariance_shrinkage : float in [0, 1], default=0.0
        Every covariance is shrunk toward ``tr(Sigma_k)/d * I`` by this
        fraction after each M-step (diag: toward the mean variance).
    min_eigenvalue : float >= 0, default=0.0
        Floor on every eigenvalue of every covariance after each M-step.
    nan_policy : {'raise', 'omit', 'marginalize'}, default='raise'
        What missing values (NaN, or the masked entries of a numpy masked
        array) mean, in ``fit``, ``partial_fit``, chunk sources, dask
        collections and every predict/score method: ``'raise'`` an error
        naming the row; ``'omit'`` rows with any NaN are dropped (a warning
        counts them; per-row outputs are NaN there and ``predict`` gives -1);
        ``'marginalize'`` the missing entries are latent (missing at random):
        each row's density is its observed entries' marginal and the M-step
        takes the expected complete-data statistics (see :meth:`impute`).
        Infinities are always an error, and so is a row with nothing observed
        under ``'marginalize'``.

    Notes
    -----
    Regularisation order in the M-step: estimate (ML, or MAP with ``prior``),
    ``+ reg_covar`` on the diagonal, shrinkage, eigenvalue floor. With a
    ``prior`` or ``weight_concentration > 1`` the lower bound EM reports and
    stops on is the log-posterior per unit of weight,
    ``(log-likelihood + log prior density) / n``; :meth:`bic`, :meth:`aic`,
    :meth:`icl` and :meth:`score` stay likelihood-based.

    float32 input: with one feature, each EM iteration computes the
    log-densities, exp and responsibilities in float32 and accumulates the
    statistics in float64 (measured 1.5-1.7x faster than float64 input). The fit
    agrees with the fit of the same values as float64 (``X.astype(float64)``)
    to float32 precision: ``weights_``, ``means_``, ``covariances_`` and
    ``lower_bound_`` within 1e-5 relative. Against the original float64 data,
    the rounding of the input itself limits agreement: each value moves by up
    to ``2**-24 * |x|``, so at a price level far above the spread ``sigma``
    weights and covariances may differ by up to ``2**-24 * max|x| / sigma``
    relative (6e-3 for prices near 100 with ``sigma = 0.001``; typically
    ``sqrt(n)`` times less when many distinct values round independently) and
    means by ``2**-24 * max|x|``. Subtract the price level before converting
    to float32 when that matters. ``predict_proba`` and ``score_samples`` of
    float32 input compute in float64 and return float32. Parameters that
    float32 cannot hold (data near float32's maximum, ~3.4e38, have
    covariances beyond it) are kept in float64: then every fitted array is
    float64.

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray
        (K, d, d) full, (d, d) tied, (K, d) diag, (K,) spherical.
    precisions_ : ndarray
    precisions_cholesky_ : ndarray
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Per-sample (weighted mean) log-likelihood of the best fit (the
        log-posterior with a prior).
    lower_bounds_ : list of float
    n_features_in_ : int
    prior_ : ResolvedPrior or None
        The prior with its data-dependent defaults filled in.
    """

    # Fitted attributes (set by fit / partial_fit), beside BaseMixture's.
    covariances_: NDArray[np.floating[Any]]
    precisions_: NDArray[np.floating[Any]]
    precisions_cholesky_: NDArray[np.floating[Any]]
    prior_: Optional[ResolvedPrior]

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weights_init: Optional[ArrayLike] = None,
        means_init: Optional[ArrayLike] = None,
        precisions_init: Optional[ArrayLike] = None,
        random_state: Union[None, int, np.random.RandomState] = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        n_threads: Optional[int] = None,
        chunk_size: Optional[int] = None,
        callback: Optional[Callable[[int, float], Any]] = None,
        progress: bool = False,
        step_exponent: float = 0.6,
        prior: Optional[ConjugatePrior] = None,
        weight_concentration: float = 1.0,
        covariance_shrinkage: float = 0.0,
        min_eigenvalue: float = 0.0,
        nan_policy: str = "raise",
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_threads = n_threads
        self.chunk_size = chunk_size
        self.callback = callback
        self.progress = progress
        self.step_exponent = step_exponent
        self.prior = prior
        self.weight_concentration = weight_concentration
        self.covariance_shrinkage = covariance_shrinkage
        self.min_eigenvalue = min_eigenvalue
        self.nan_policy = nan_policy

    # ------------------------------------------------------------------ checks
    def _check_parameters(self, n_features):
        self._check_common_parameters()
        self._check_regularisation(n_features)
        self._check_init_arrays(n_features)
        check_nan_policy(self.nan_policy)

    def _check_regularisation(self, n_features):
        a = self.weight_concentration
        if isinstance(a, bool) or not isinstance(a, (int, float, np.number)) or not a >= 1 \
                or not np.isfinite(a):
            raise ValueError(
                f"weight_concentration must be a finite number >= 1 (the Dirichlet "
                f"prior's alpha; 1 means no prior on the weights), got {a!r}"
            )
        lam = self.covariance_shrinkage
        if isinstance(lam, bool) or not isinstance(lam, (int, float, np.number)) \
                or not 0.0 <= lam <= 1.0:
            raise ValueError(
                f"covariance_shrinkage must be a number in [0, 1] (0: none, 1: fully "
                f"spherical), got {lam!r}"
            )
        check_float(self.min_eigenvalue, "min_eigenvalue", 0.0)
        if self.prior is not None:
            if not isinstance(self.prior, ConjugatePrior):
                raise ValueError(
                    f"prior must be a gmmx.ConjugatePrior or None, got "
                    f"{type(self.prior).__name__}"
                )
            self.prior.check(n_features, self.covariance_type)

    def _check_init_arrays(self, d):
        K = self.n_components
        if self.weights_init is not None:
            w = np.asarray(self.weights_init, dtype=np.float64)
            if w.shape != (K,):
                raise ValueError(
                    f"The parameter 'weights' should have the shape of ({K},), but got "
                    f"{w.shape}: weights_init must have shape ({K},)"
                )
            if np.any(w < 0) or np.any(w > 1) or not np.all(np.isfinite(w)):
                raise ValueError(
                    # scikit-learn's words, numbers in its order (smallest first)
                    "The parameter 'weights' should be in the range [0, 1], but got max "
                    f"value {np.min(w):.5f}, min value {np.max(w):.5f}: weights_init must "
                    f"be in the range [0, 1] (its smallest value is {np.min(w):.5g}, its "
                    f"largest {np.max(w):.5g})"
                )
            if not np.isclose(w.sum(), 1.0, rtol=0, atol=1e-6):
                raise ValueError(
                    "The parameter 'weights' should be normalized, but got sum(weights) = "
                    f"{w.sum():.5f}: weights_init must sum to 1"
                )
        if self.means_init is not None:
            m = np.asarray(self.means_init, dtype=np.float64)
            if m.shape != (K, d):
                raise ValueError(
                    f"The parameter 'means' should have the shape of ({K}, {d}), but got "
                    f"{m.shape}: means_init must have shape ({K}, {d})"
                )
            if not np.all(np.isfinite(m)):
                raise ValueError("means_init contains NaN or infinity")
        if self.precisions_init is not None:
            get_covariance(self.covariance_type).check_precisions(self.precisions_init, K, d)

    def _initial_params(self, driver, random_state):
        """(weights, means, covariances, prec_chol) for a fresh start."""
        K = self.n_components
        # a fresh start resolves the prior again, from its first pass
        self.prior_ = None
        need_data = (
            self.weights_init is None or self.means_init is None or self.precisions_init is None
        )
        if need_data:
            Xs, ws = self._init_sample(driver, random_state)
            self._warn_reg_covar(Xs)
            weights, means, covariances, prec_chol = initial_parameters(
                Xs, ws, K, self.covariance_type, self.init_params,
                self._regularisation(self._sample_prior(Xs, ws)),
                random_state, driver.n_threads, cache=getattr(driver, "init_cache", None),
            )
        else:
            weights = means = covariances = prec_chol = None
        if self.weights_init is not None:
            weights = np.array(self.weights_init, dtype=np.float64)
        if self.means_init is not None:
            means = np.array(self.means_init, dtype=np.float64)
        if self.precisions_init is not None:
            cov = get_covariance(self.covariance_type)
            prec_chol = cov.precision_cholesky_from_precisions(self.precisions_init)
            covariances = cov.covariances_from_cholesky(prec_chol)
        return Params(weights, means, covariances, prec_chol)

    def _warn_reg_covar(self, X):
        if self.reg_covar <= 0:
            return
        # A strided subset of at most ~200k rows estimates the scale without
        # a float64 temporary of the whole array.
        sub = X[:: max(1, X.shape[0] // 200_000)]
        var = np.var(sub, axis=0, dtype=np.float64)
        # a feature whose values differ is not constant even where its
        # variance underflows float64 to 0 (deviations below ~1e-154)
        var = var[np.ptp(sub, axis=0) > 0] if sub.shape[0] else var[:0]
        if var.size == 0:
            return
        smallest = float(var.min())
        if smallest == 0.0:
            warn_user(
                f"reg_covar={self.reg_covar:g} is large compared with the data's smallest "
                "feature variance, which underflows float64 (its values differ by less "
                "than about 1e-154): the fitted covariances will be reg_covar's, not the "
                "data's. Rescale the data (e.g. multiply it by a power of ten).",
                RegCovarWarning,
            )
        elif self.reg_covar > 1e-2 * smallest:
            warn_user(
                f"reg_covar={self.reg_covar:g} is large compared with the data's "
                f"smallest feature variance ({smallest:.3g}) and will inflate the fitted "
                f"covariances (tick returns have variances near 1e-8). Pass "
                f"reg_covar={1e-6 * smallest:.1e} or smaller, or rescale the data "
                "(e.g. returns in basis points).",
                RegCovarWarning,
            )

    # ------------------------------------------------------------------ hooks
    def _get_parameters(self):
        return Params(self.weights_, self.means_, self.covariances_, self.precisions_cholesky_)

    def _set_parameters(self, params):
        """Set the fitted attributes, in the data's float type (float32 stays float32)."""
        weights, means, covariances, prec_chol = params
        cov = get_covariance(self.covariance_type)
        if covariances is None:
            covariances = cov.covariances_from_cholesky(prec_chol)
        precisions = cov.precisions_from_cholesky(prec_chol)
        dtype = self._attribute_dtype(covariances, precisions, prec_chol)
        self.weights_ = np.asarray(weights, dtype=dtype)
        self.means_ = np.asarray(means, dtype=dtype)
        self.covariances_ = np.asarray(covariances, dtype=dtype)
        self.precisions_cholesky_ = np.asarray(prec_chol, dtype=dtype)
        self.precisions_ = np.asarray(precisions, dtype=dtype)

    def _kernel_params(self, params):
        return kernel.kernel_params(params[0], params[1], params[3], self.covariance_type)

    def _m_step(self, stats, params):
        return m_step(stats, self._regularisation(self._resolved_prior(stats)),
                      prev_covariances=params[2])

    def _lower_bound(self, stats, params):
        """Mean log-likelihood per unit of weight; the log-posterior with a prior."""
        lb = stats.log_likelihood
        prior = self._resolved_prior(stats)
        if prior is not None:
            lb += prior.log_density(params[1], params[3])
        if self.weight_concentration != 1.0:
            lb += log_dirichlet(np.asarray(params[0]), self.weight_concentration)
        return lb / stats.weight_sum

    def _regularisation(self, prior=None):
        return Regularisation(
            reg_covar=self.reg_covar, prior=prior,
            covariance_shrinkage=float(self.covariance_shrinkage),
            min_eigenvalue=float(self.min_eigenvalue),
            weight_concentration=float(self.weight_concentration),
        )

    def _map_needs_totals(self):
        return self.prior is not None or self.weight_concentration != 1.0

    def _resolved_prior(self, stats):
        """``prior_``, resolved from ``stats`` (the first pass) when not yet done."""
        if self.prior is None:
            self.prior_ = None
            return None
        current = getattr(self, "prior_", None)
        if current is None or current.spec != self.prior:
            self.prior_ = self.prior.resolve(self.n_components, self.covariance_type,
                                             moments_from_stats(stats))
        return self.prior_

    def _sample_prior(self, X, w):
        """The prior resolved from the initialisation rows (for the initial M-step only)."""
        if self.prior is None:
            return None
        full = get_covariance(self.covariance_type).is_matrix
        return self.prior.resolve(self.n_components, self.covariance_type,
                                  moments_from_data(X, w, full=full))

    def _n_parameters(self):
        return n_mixture_parameters(self.covariance_type, *self.means_.shape)

    # ------------------------------------------------------------------ archive
    _array_params = ("weights_init", "means_init", "precisions_init")
    _object_params = {"prior": ConjugatePrior}
    _fitted_arrays = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")

    def _archive_arrays(self):
        arrays = {"fit_" + name: np.asarray(getattr(self, name), dtype=np.float64)
                  for name in self._fitted_arrays}
        prior = getattr(self, "prior_", None)
        if prior is not None:
            arrays.update(prior.to_arrays("fit_prior_"))
        return arrays

    def _check_archived_params(self, path, n_features=None):
        """The saved constructor parameters are valid (n_components >= 1, ...).

        ``n_features``: of the fitted model, else of the prior's mean or scale
        when one was given, else 1 (the init arrays are checked later).
        """
        d = n_features
        if d is None and self.prior is not None:
            given = next((np.shape(v) for v in (self.prior.mean, self.prior.scale)
                          if v is not None and np.ndim(v) >= 1), None)
            d = given[-1] if given else None
        try:
            self._check_parameters(1 if d is None else d)
        except ValueError as exc:
            raise io.invalid(path, f"bad parameter: {exc}") from None

    def _archive_shapes(self, n_features):
        """Shape of every archived array for ``n_features`` (None: not known)."""
        K, d = self.n_components, n_features
        cshape = get_covariance(self.covariance_type).shape(K, d)
        return {"weights_": (K,), "means_": (K, d), "covariances_": cshape,
                "precisions_": cshape, "precisions_cholesky_": cshape,
                "weights_init": (K,), "means_init": (K, d), "precisions_init": cshape}

    def _online_archive_shapes(self):
        K, d = self.means_.shape
        return {"centers": (K, d), "nk": (K,), "sk": (K, d),
                "Mk": get_covariance(self.covariance_type).stats_shape(K, d), "scalars": (3,)}

    def _check_archived_init(self, path, n_features):
        """Saved ``weights_init`` / ``means_init`` / ``precisions_init`` are valid."""
        d = n_features
        if d is None:
            for a in (self.means_init, self.precisions_init):
                if a is not None and a.ndim >= 2:
                    d = a.shape[-1]
        try:
            self._check_init_arrays(1 if d is None else d)
        except ValueError as exc:
            raise io.invalid(path, f"bad initial parameter: {exc}") from None

    def _restore_arrays(self, arrays, fitted, path, shapes):
        """Fitted attributes from the archive, checked to be a valid fitted model."""
        d = fitted["n_features_in_"]
        values = {name: io.check_array(arrays, "fit_" + name, path, shape=shapes[name])
                  for name in self._fitted_arrays}
        w = values["weights_"]
        if np.any(w < 0) or not abs(w.sum() - 1.0) <= 1e-6:
            raise io.invalid(path, f"array 'fit_weights_' is not a probability vector "
                                   f"(entries >= 0 summing to 1): min {w.min():.6g}, sum "
                                   f"{w.sum():.6g}")
        _check_saved_covariances(get_covariance(self.covariance_type), values, path,
                                 single=fitted.get("dtype") == np.float32)
        for name, a in values.items():
            setattr(self, name, a)
        self.n_features_in_ = d
        self.prior_ = None
        if self.prior is not None and "fit_prior_scalars" in arrays:
            try:
                self.prior_ = ResolvedPrior.from_arrays(
                    get_covariance(self.covariance_type).name, arrays, "fit_prior_", self.prior)
            except (KeyError, IndexError, ValueError, TypeError) as exc:
                raise io.invalid(path, f"the fitted prior is malformed ({exc})") from None
            p = self.prior_
            scale_ok = p.scale.shape in {"full": [(d, d)], "tied": [(d, d)],
                                         "diag": [(), (d,)], "spherical": [()]}[
                get_covariance(self.covariance_type).name]
            if (p.mean.shape != (d,) or not scale_ok or not np.all(np.isfinite(p.mean))
                    or not np.all(np.isfinite(p.scale)) or not p.dof > 0 or not p.shrinkage >= 0):
                raise io.invalid(path, "the fitted prior is malformed")

    def _check_online_stats(self, stats, path):
        K, d = self.means_.shape
        shapes = {"centers": (K, d), "nk": (K,), "sk": (K, d),
                  "Mk": get_covariance(self.covariance_type).stats_shape(K, d)}
        for name, shape in shapes.items():
            a = getattr(stats, name)
            if a.shape != shape or not np.all(np.isfinite(a)):
                raise io.invalid(path, f"online-EM statistic {name} is malformed")

    # ------------------------------------------------------------------ sampling
    def sample(self, n_samples: int = 1) -> tuple[NDArray, NDArray]:
        """Draw samples from the fitted mixture.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
            Component of each sample.
        """
        return sample_gaussian_components(self, n_samples)


def sample_gaussian_components(model: Any, n_samples: int) -> tuple[NDArray, NDArray]:
    """``(X, y)``: ``n_samples`` draws of a fitted model's Gaussian components
    (``weights_``, ``means_``, ``covariances_``, ``covariance_type``,
    ``random_state``) and the component of each."""
    model._check_is_fitted()
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) \
            or n_samples < 1:
        raise ValueError(
            f"Invalid value for 'n_samples': {n_samples!r} . The sampling requires at "
            "least one sample (n_samples must be an integer >= 1)."
        )
    rng = check_random_state(model.random_state)
    counts = rng.multinomial(n_samples, model.weights_)
    X = get_covariance(model.covariance_type).sample(rng, model.means_, model.covariances_,
                                                      counts)
    y = np.concatenate([np.full(int(s), j, dtype=int) for j, s in enumerate(counts)])
    return X, y


def _check_saved_covariances(cov, values, path, single=False):
    """Saved precision factors are valid and agree with the saved precisions and covariances.

    ``single``: the model was float32, so the arrays agree to float32 rounding.

    The Cholesky factors are what the kernel uses: they must be upper
    triangular with a positive diagonal (full, tied) or positive (diag,
    spherical), so that the precisions are positive definite; the saved
    ``precisions_`` and ``covariances_`` must be the ones they imply.
    """
    U = values["precisions_cholesky_"]
    if cov.is_matrix:
        mats = U if U.ndim == 3 else U[None]
        diag = np.diagonal(mats, axis1=1, axis2=2)
        scale = np.abs(mats).max(axis=(1, 2), initial=0.0)
        below = np.abs(np.tril(mats, -1)).max(axis=(1, 2), initial=0.0)
        ok = np.all(diag > 0) and np.all(below <= 1e-12 * scale)
    else:
        ok = np.all(U > 0)
    if not ok:
        raise io.invalid(path, "array 'fit_precisions_cholesky_' is not a valid Cholesky "
                               "factor of positive-definite precisions (upper triangular with "
                               "a positive diagonal)")
    with np.errstate(all="ignore"):
        try:
            implied = {"precisions_": cov.precisions_from_cholesky(U),
                       "covariances_": cov.covariances_from_cholesky(U)}
        except (ValueError, np.linalg.LinAlgError):
            implied = {}
        tolerances = (("precisions_", 1e-5), ("covariances_", 1e-3)) if single else \
            (("precisions_", 1e-9), ("covariances_", 1e-6))
        for name, rtol in tolerances:
            want = implied.get(name)
            if want is None or not np.all(np.isfinite(want)):
                raise io.invalid(path, "array 'fit_precisions_cholesky_' implies non-finite "
                                       f"{name}; the model is degenerate")
            got = values[name]
            axes = tuple(range(1, got.ndim)) if got.ndim > 1 and cov.name != "tied" else None
            err = np.abs(got - want).max(axis=axes, initial=0.0)
            scale = np.abs(want).max(axis=axes, initial=0.0)
            if np.any(err > rtol * scale):
                raise io.invalid(path, f"array 'fit_{name}' disagrees with "
                                       "'fit_precisions_cholesky_' (tampered or corrupted)")
