"""The scikit-learn-compatible :class:`GaussianMixture` estimator."""

from __future__ import annotations

import inspect
import time
import warnings

import numpy as np

from . import _engine
from ._init import INIT_PARAMS, initial_parameters
from ._stats import (
    COVARIANCE_TYPES,
    compute_precision_cholesky,
    covariances_from_precision_cholesky,
    m_step,
    precision_cholesky_from_precisions,
    precisions_from_cholesky,
)
from ._validation import (
    NotFittedError,
    as_float_array,
    check_float,
    check_int,
    check_random_state,
    check_sample_weight,
)


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before the lower bound converged."""


class RegCovarWarning(UserWarning):
    """``reg_covar`` is large compared with the variance of the data."""


class ArrayDriver:
    """Driver for an in-memory array: one kernel pass per EM iteration.

    Other drivers (out-of-core sources, Dask) provide the same three members:
    ``n_features``, ``accumulate(params, covariance_type)`` and
    ``init_sample(random_state)``.
    """

    def __init__(self, X, sample_weight=None, n_threads=1, chunk_rows=0, progress=None):
        self.X = X
        self.sample_weight = sample_weight
        self.n_threads = n_threads
        self.chunk_rows = chunk_rows
        self.n_features = X.shape[1]
        self.n_samples = X.shape[0]
        self.progress = progress

    def accumulate(self, params, covariance_type):
        """Sufficient statistics of all rows under ``params``."""
        stats = _engine.accumulate(
            self.X, self.sample_weight, params, covariance_type, self.n_threads, self.chunk_rows
        )
        if self.progress is not None:
            self.progress.start_pass()
            self.progress.rows(self.n_samples)
            self.progress.end_pass(stats.log_likelihood / stats.weight_sum)
        return stats

    def close(self):
        """Close the progress bar, if any."""
        if self.progress is not None:
            self.progress.close()

    def init_sample(self, random_state):
        """Rows (and weights) used to initialise: all of them."""
        return self.X, self.sample_weight


class GaussianMixture:
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
        a warning says so when it dominates the data's variance.
    max_iter : int, default=100
        EM iterations per initialisation.
    n_init : int, default=1
        Initialisations; the best lower bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        How initial responsibilities are chosen (gmmx's own k-means).
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
        ``OMP_NUM_THREADS``), -1 all cores.
    chunk_size : int or None, default=None
        Rows per block read from a chunk source in out-of-core fits (and per
        mini-batch); None reads about 8 MiB of rows per block (at least 65,536).
    callback : callable, optional
        ``callback(n_iter, lower_bound)`` after every EM iteration.
    progress : bool, default=False
        A tqdm progress bar over passes and chunks (only if tqdm is installed
        and output is a terminal).
    step_exponent : float in (0.5, 1], default=0.6
        Online EM (``partial_fit``, :func:`gmmx.streaming.fit_minibatch`): the
        b-th batch gets step size ``b ** -step_exponent`` (the first batch
        1); 1 averages all batches equally, smaller values forget faster.

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
        Per-sample (weighted mean) log-likelihood of the best fit.
    lower_bounds_ : list of float
    n_features_in_ : int
    """

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        n_threads=None,
        chunk_size=None,
        callback=None,
        progress=False,
        step_exponent=0.6,
    ):
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

    # ------------------------------------------------------------------ params
    @classmethod
    def _get_param_names(cls):
        sig = inspect.signature(cls.__init__)
        return sorted(p for p in sig.parameters if p != "self")

    def get_params(self, deep=True):
        """Constructor parameters, as scikit-learn's ``get_params``."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        """Set constructor parameters; returns ``self``."""
        valid = self._get_param_names()
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {valid}."
                )
            setattr(self, key, value)
        return self

    def __repr__(self):
        sig = inspect.signature(type(self).__init__)
        changed = []
        for name, p in sig.parameters.items():
            if name == "self":
                continue
            value = getattr(self, name, p.default)
            default = p.default
            same = value is default
            if not same:
                try:
                    same = bool(value == default)
                except (ValueError, TypeError):
                    same = False
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self):
        from sklearn.base import BaseEstimator

        tags = BaseEstimator.__sklearn_tags__(self)
        tags.estimator_type = "density_estimator"
        tags.input_tags.allow_nan = False
        return tags

    def _check_parameters(self, n_features):
        check_int(self.n_components, "n_components", 1)
        if self.covariance_type not in COVARIANCE_TYPES:
            raise ValueError(
                f"covariance_type must be one of {COVARIANCE_TYPES}, got {self.covariance_type!r}"
            )
        check_float(self.tol, "tol", 0.0)
        check_float(self.reg_covar, "reg_covar", 0.0)
        check_int(self.max_iter, "max_iter", 0)
        check_int(self.n_init, "n_init", 1)
        if self.init_params not in INIT_PARAMS:
            raise ValueError(f"init_params must be one of {INIT_PARAMS}, got {self.init_params!r}")
        check_int(self.verbose_interval, "verbose_interval", 1)
        if self.chunk_size is not None:
            check_int(self.chunk_size, "chunk_size", 1)
        if self.n_threads is not None:
            check_int(self.n_threads, "n_threads", -(10**6))
            if self.n_threads == 0:
                raise ValueError("n_threads must be a positive integer, -1 or None, got 0")
        if self.callback is not None and not callable(self.callback):
            raise ValueError("callback must be callable as callback(n_iter, lower_bound)")
        self._check_init_arrays(n_features)

    def _check_init_arrays(self, d):
        K = self.n_components
        if self.weights_init is not None:
            w = np.asarray(self.weights_init, dtype=np.float64)
            if w.shape != (K,):
                raise ValueError(f"weights_init must have shape ({K},), got {w.shape}")
            if np.any(w < 0) or np.any(w > 1) or not np.all(np.isfinite(w)):
                raise ValueError("weights_init must be in the range [0, 1]")
            if not np.isclose(w.sum(), 1.0, rtol=0, atol=1e-6):
                raise ValueError(f"weights_init must sum to 1, got sum {w.sum():.8f}")
        if self.means_init is not None:
            m = np.asarray(self.means_init, dtype=np.float64)
            if m.shape != (K, d):
                raise ValueError(f"means_init must have shape ({K}, {d}), got {m.shape}")
            if not np.all(np.isfinite(m)):
                raise ValueError("means_init contains NaN or infinity")
        if self.precisions_init is not None:
            p = np.asarray(self.precisions_init, dtype=np.float64)
            shapes = {"full": (K, d, d), "tied": (d, d), "diag": (K, d), "spherical": (K,)}
            want = shapes[self.covariance_type]
            if p.shape != want:
                raise ValueError(
                    f"precisions_init must have shape {want} for covariance_type="
                    f"{self.covariance_type!r}, got {p.shape}"
                )
            if not np.all(np.isfinite(p)):
                raise ValueError("precisions_init contains NaN or infinity")
            if self.covariance_type in ("full", "tied"):
                mats = p if p.ndim == 3 else p[None]
                if not np.allclose(mats, np.swapaxes(mats, 1, 2)):
                    raise ValueError("precisions_init must be symmetric")
            elif np.any(p <= 0):
                raise ValueError("precisions_init must be strictly positive")

    def _n_threads(self, X=None):
        work = None
        if X is not None:
            work = X.shape[0] * check_int(self.n_components, "n_components", 1) * (X.shape[1] + 1)
        return _engine.resolve_n_threads(self.n_threads, work)

    # ------------------------------------------------------------- fitting
    def fit(self, X, y=None, sample_weight=None):
        """Estimate the parameters by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a chunk source
            Arrays, lists, pandas DataFrames/Series (1-D means one feature),
            memmaps; or any source accepted by :func:`gmmx.streaming.as_source`
            (.npy / Parquet / CSV paths, iterables of blocks) for out-of-core
            fitting, or a dask array / DataFrame.
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights; integer weights equal repeating rows.

        Returns
        -------
        self
        """
        driver = self._make_driver(X, sample_weight)
        try:
            with _engine.blas_held_to_one_thread():
                self._fit_driver(driver)
        finally:
            if hasattr(driver, "close"):
                driver.close()
        return self

    def partial_fit(self, X, y=None, sample_weight=None):
        """One step of online (stepwise) EM on a batch of rows.

        The first call initialises the model from its batch (or from
        ``weights_init``/``means_init``/``precisions_init``); every call then
        updates running sufficient statistics with step size
        ``b ** -step_exponent`` for the b-th batch and runs the M-step (see
        :class:`gmmx.streaming.OnlineEM`). One batch equal to the whole data
        is one EM iteration. The running state is saved by :meth:`save`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        from .streaming import partial_fit

        return partial_fit(self, X, sample_weight)

    def save(self, path):
        """Save the model (and any online-EM state) to ``path``; see :func:`gmmx.io.save`."""
        from .io import save

        save(self, path)

    def _make_driver(self, X, sample_weight):
        kind = _data_kind(X)
        if kind == "dask":
            from .dask import DaskDriver

            return DaskDriver(X, sample_weight, self)
        if kind == "source":
            from .streaming import SourceDriver

            if sample_weight is not None:
                raise ValueError(
                    "sample_weight cannot be passed with a chunk source; yield "
                    "(X, sample_weight) pairs from the source instead"
                )
            return SourceDriver(X, self)
        X = as_float_array(X, ensure_min_samples=1)
        if X.shape[0] < 2:
            raise ValueError(
                f"Expected n_samples >= 2, got n_samples = {X.shape[0]}; pass more rows"
            )
        if X.shape[0] < check_int(self.n_components, "n_components", 1):
            raise ValueError(
                "Expected n_samples >= n_components but got "
                f"n_components = {self.n_components}, n_samples = {X.shape[0]}"
            )
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        progress = None
        if self.progress:
            from ._progress import PassProgress, progress_enabled

            if progress_enabled(self.progress):
                progress = PassProgress(True, self.max_iter * self.n_init, X.shape[0])
        return ArrayDriver(X, sample_weight, self._n_threads(X), progress=progress)

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the component label of every row of ``X``."""
        self.fit(X, y, sample_weight=sample_weight)
        return self.predict(X)

    def _fit_driver(self, driver):
        d = driver.n_features
        self._check_parameters(d)
        if (
            self.warm_start
            and hasattr(self, "converged_")
            and getattr(self, "n_features_in_", d) != d
        ):
            raise ValueError(
                f"X has {d} features, but the warm-started model was fitted with "
                f"{self.n_features_in_}; refit with warm_start=False"
            )
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        random_state = check_random_state(self.random_state)
        self.n_features_in_ = d
        if not hasattr(self, "converged_"):
            self.converged_ = False

        best = None
        for init in range(n_init):
            if self.verbose:
                print(f"Initialization {init}")
                self._init_time = time.time()
            if do_init:
                params = self._initial_params(driver, random_state)
            else:
                params = self._get_parameters()
            lower_bound = -np.inf if do_init else self.lower_bound_
            result = self._em(driver, params, lower_bound)
            if best is None or result["lower_bound"] > best["lower_bound"] or best["lower_bound"] == -np.inf:
                best = result
            if self.verbose:
                state = "converged" if result["converged"] else "did not converge"
                print(
                    f"Initialization {state}. time lapse "
                    f"{time.time() - self._init_time:.5f}s\t lower bound {result['lower_bound']:.5f}"
                )
        self._set_parameters(best["params"])
        self.converged_ = best["converged"]
        self.n_iter_ = best["n_iter"]
        self.lower_bound_ = best["lower_bound"]
        self.lower_bounds_ = best["lower_bounds"]
        if not self.converged_ and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different "
                "init parameters, or increase max_iter, tol, or check for "
                "degenerate data.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return self

    def _initial_params(self, driver, random_state):
        """(weights, means, covariances, prec_chol) for a fresh start."""
        K = self.n_components
        need_data = (
            self.weights_init is None or self.means_init is None or self.precisions_init is None
        )
        if need_data:
            Xs, ws = driver.init_sample(random_state)
            if Xs.shape[0] < K:
                raise ValueError(
                    f"Expected n_samples >= n_components but got n_components = {K}, "
                    f"n_samples = {Xs.shape[0]}"
                )
            self._warn_reg_covar(Xs)
            weights, means, covariances, prec_chol = initial_parameters(
                Xs, ws, K, self.covariance_type, self.init_params, self.reg_covar,
                random_state, driver_threads(driver),
            )
        else:
            weights = means = covariances = prec_chol = None
        if self.weights_init is not None:
            weights = np.array(self.weights_init, dtype=np.float64)
        if self.means_init is not None:
            means = np.array(self.means_init, dtype=np.float64)
        if self.precisions_init is not None:
            prec_chol = precision_cholesky_from_precisions(
                np.asarray(self.precisions_init, dtype=np.float64), self.covariance_type
            )
            covariances = covariances_from_precision_cholesky(prec_chol, self.covariance_type)
        return weights, means, covariances, prec_chol

    def _warn_reg_covar(self, X):
        if self.reg_covar <= 0:
            return
        # A strided subset of at most ~200k rows estimates the scale without
        # a float64 temporary of the whole array.
        var = np.var(X[:: max(1, X.shape[0] // 200_000)], axis=0, dtype=np.float64)
        var = var[var > 0]
        if var.size == 0:
            return
        smallest = float(var.min())
        if self.reg_covar > 1e-2 * smallest:
            warnings.warn(
                f"reg_covar={self.reg_covar:g} is large compared with the data's "
                f"smallest feature variance ({smallest:.3g}) and will inflate the fitted "
                f"covariances (tick returns have variances near 1e-8). Pass "
                f"reg_covar={1e-6 * smallest:.1e} or smaller, or rescale the data "
                "(e.g. returns in basis points).",
                RegCovarWarning,
                stacklevel=4,
            )

    def _em(self, driver, params, lower_bound):
        """EM iterations from ``params``; returns the result of this start.

        If the driver raises partway (I/O error, bad chunk), the estimator is
        left at the last completed iteration before the error propagates.
        """
        cov_type = self.covariance_type
        lower_bounds = []
        converged = False
        n_iter = 0
        completed = 0
        if self.max_iter == 0:
            return dict(params=params, lower_bound=lower_bound, lower_bounds=[],
                        converged=False, n_iter=0)
        iter_time = time.time()
        try:
            for n_iter in range(1, self.max_iter + 1):
                prev = lower_bound
                kparams = _engine.kernel_params(params[0], params[1], params[3], cov_type)
                stats = driver.accumulate(kparams, cov_type)
                lower_bound = stats.log_likelihood / stats.weight_sum
                params = m_step(stats, self.reg_covar, prev_covariances=params[2])
                completed = n_iter
                lower_bounds.append(lower_bound)
                change = lower_bound - prev
                if self.callback is not None:
                    self.callback(n_iter, lower_bound)
                if self.verbose >= 2 and n_iter % self.verbose_interval == 0:
                    now = time.time()
                    print(f"  Iteration {n_iter}\t time lapse {now - iter_time:.5f}s\t ll change {change:.5f}")
                    iter_time = now
                elif self.verbose == 1 and n_iter % self.verbose_interval == 0:
                    print(f"  Iteration {n_iter}")
                if abs(change) < self.tol:
                    converged = True
                    break
        except BaseException:
            self._set_parameters(params)
            self.n_iter_ = completed
            self.lower_bounds_ = lower_bounds
            self.lower_bound_ = lower_bounds[-1] if lower_bounds else -np.inf
            self.converged_ = False
            raise
        return dict(params=params, lower_bound=lower_bound, lower_bounds=lower_bounds,
                    converged=converged, n_iter=n_iter)

    def _get_parameters(self):
        return (self.weights_, self.means_, self.covariances_, self.precisions_cholesky_)

    def _set_parameters(self, params):
        weights, means, covariances, prec_chol = params
        self.weights_ = np.asarray(weights, dtype=np.float64)
        self.means_ = np.asarray(means, dtype=np.float64)
        if covariances is None:
            covariances = covariances_from_precision_cholesky(prec_chol, self.covariance_type)
        self.covariances_ = covariances
        self.precisions_cholesky_ = prec_chol
        self.precisions_ = precisions_from_cholesky(prec_chol, self.covariance_type)

    # ---------------------------------------------------------- inference
    def _check_is_fitted(self):
        if not hasattr(self, "precisions_cholesky_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' "
                "with appropriate arguments before using this estimator."
            )

    def _validate_predict_X(self, X):
        self._check_is_fitted()
        X = as_float_array(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        return X

    def _kernel_params(self):
        return _engine.kernel_params(
            self.weights_, self.means_, self.precisions_cholesky_, self.covariance_type
        )

    def score_samples(self, X):
        """Log-density ``log p(x)`` of every row.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        X = self._validate_predict_X(X)
        return _engine.log_prob_norm(X, self._kernel_params(), self._n_threads(X))

    def score(self, X, y=None, sample_weight=None):
        """Mean (optionally weighted) log-likelihood per sample."""
        ll = self.score_samples(X)
        if sample_weight is None:
            return float(ll.mean())
        w = check_sample_weight(sample_weight, ll.shape[0])
        return float(np.dot(w, ll) / w.sum())

    def predict_proba(self, X):
        """Posterior probability of each component for every row, (n, K)."""
        X = self._validate_predict_X(X)
        return _engine.responsibilities(X, self._kernel_params(), self._n_threads(X))

    def predict(self, X):
        """Most probable component of every row."""
        return self.predict_proba(X).argmax(axis=1)

    def sample(self, n_samples=1):
        """Draw samples from the fitted mixture.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
            Component of each sample.
        """
        self._check_is_fitted()
        check_int(n_samples, "n_samples", 1)
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_)
        d = self.means_.shape[1]
        K = self.n_components
        if self.covariance_type == "full":
            X = np.vstack([
                rng.multivariate_normal(m, c, int(s))
                for m, c, s in zip(self.means_, self.covariances_, counts)
            ])
        elif self.covariance_type == "tied":
            X = np.vstack([
                rng.multivariate_normal(m, self.covariances_, int(s))
                for m, s in zip(self.means_, counts)
            ])
        else:
            cov = self.covariances_
            sd = np.sqrt(cov) if cov.ndim == 2 else np.sqrt(cov)[:, None] * np.ones((K, d))
            X = np.vstack([
                m + rng.standard_normal(size=(int(s), d)) * sd_k
                for m, sd_k, s in zip(self.means_, sd, counts)
            ])
        y = np.concatenate([np.full(int(s), j, dtype=int) for j, s in enumerate(counts)])
        return X, y

    def _n_parameters(self):
        K, d = self.means_.shape
        if self.covariance_type == "full":
            cov = K * d * (d + 1) / 2.0
        elif self.covariance_type == "diag":
            cov = K * d
        elif self.covariance_type == "tied":
            cov = d * (d + 1) / 2.0
        else:
            cov = K
        return int(cov + K * d + K - 1)

    def bic(self, X):
        """Bayesian information criterion on ``X`` (lower is better)."""
        ll = self.score_samples(X)
        return -2 * ll.mean() * ll.shape[0] + self._n_parameters() * np.log(ll.shape[0])

    def aic(self, X):
        """Akaike information criterion on ``X`` (lower is better)."""
        ll = self.score_samples(X)
        return -2 * ll.mean() * ll.shape[0] + 2 * self._n_parameters()


def driver_threads(driver):
    """OpenMP threads a driver's kernel calls use (1 if it does not say)."""
    return getattr(driver, "n_threads", 1)


def _data_kind(X):
    """'array', 'source' (out-of-core) or 'dask'."""
    mod = type(X).__module__ or ""
    if mod.startswith("dask"):
        return "dask"
    if isinstance(X, np.ndarray):
        return "array"
    if hasattr(X, "__array__") and not isinstance(X, (str, bytes)):
        return "array"
    if isinstance(X, (list, tuple)):
        # A list of numbers/rows is data; a list of 2-D blocks is a source.
        if len(X) and all(getattr(b, "ndim", 0) == 2 or isinstance(b, tuple) for b in X):
            return "source"
        return "array"
    return "source"
