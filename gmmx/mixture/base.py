"""`BaseMixture`: fit, partial_fit, score, predict and save over a few hooks.

A subclass fills in the model:

``_kernel_params(params)``
    its parameters packed for the native kernel;
``_m_step(stats, params)``
    new parameters from sufficient statistics (maximum likelihood, MAP, ...);
``_lower_bound(stats, params)``
    the per-sample objective EM reports and stops on;
``_n_parameters()``
    free parameters, for BIC and AIC;

plus ``_check_parameters`` (which calls ``_check_common_parameters`` for the
parameters every family shares), ``_initial_params``, ``_get_parameters`` /
``_set_parameters`` and the archive hooks ``_archive_arrays`` /
``_restore_arrays``.  The EM loop itself is :func:`gmmx.core.em.run_em`; the
data reach it through a driver (:func:`gmmx.drivers.make_driver`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Union

if TYPE_CHECKING:  # pragma: no cover
    import os

    from numpy.typing import ArrayLike, NDArray
    from typing_extensions import Self

import time

import numpy as np

from .. import io
from .._validation import (apply_nan_policy, as_float_array, check_chunk_size_and_threads,
                           check_float, check_int, check_nan_policy, check_not_sparse,
                           check_random_state, check_sample_weight, feature_names,
                           missing_rows)
from ..core import kernel
from ..core.covariance import get_covariance
from ..core.init import INIT_PARAMS
from ..core.em import EMSteps, em_step, run_em
from ..core.online import OnlineEM, check_step_exponent
from ..drivers import ArrayDriver, DriverOptions, FilledInitSample, make_driver, warn_omitted
from ..exceptions import ConvergenceWarning, NotFittedError, warn_user
from ._sklearn import BaseEstimator, DensityMixin

__all__ = ["BaseMixture"]

_MAX_LOWER_BOUNDS = 10_000


def _fits_float32(*arrays):
    """True if float32 holds every value of ``arrays`` (no overflow, no underflow to 0)."""
    info = np.finfo(np.float32)
    for a in arrays:
        mag = np.abs(np.asarray(a, dtype=np.float64))
        if np.any(mag > info.max) or np.any((mag > 0) & (mag < info.smallest_normal)):
            return False
    return True


def _better(best, result):
    """The EM run to keep: the higher lower bound (``result`` over a ``-inf`` best)."""
    if best is None or result.lower_bound > best.lower_bound or best.lower_bound == -np.inf:
        return result
    return best


class BaseMixture(DensityMixin, BaseEstimator):
    """Base class of gmmx's mixture estimators (scikit-learn conventions).

    A scikit-learn ``BaseEstimator`` and ``DensityMixin`` when scikit-learn is
    installed (``get_params``, ``set_params``, ``clone``, the HTML repr,
    metadata routing), a local stand-in with the same methods otherwise.
    """

    #: Constructor parameters that are arrays (stored as ``param_<name>`` arrays).
    _array_params: tuple = ()
    #: Object-valued constructor parameters: name -> class with ``to_archive``
    #: / ``from_archive`` (stored as JSON plus ``param_<name>.<key>`` arrays).
    _object_params: dict = {}

    # Constructor parameters every mixture has (set by the subclass's __init__).
    n_components: int
    max_iter: int
    n_init: int
    n_threads: Optional[int]
    chunk_size: Optional[int]
    progress: bool
    random_state: Any
    warm_start: bool
    step_exponent: float
    verbose: int
    verbose_interval: int

    # Fitted attributes (set by fit / partial_fit).
    #: Mixing weights, shape (n_components,).
    weights_: NDArray[np.floating[Any]]
    #: Component means, shape (n_components, n_features).
    means_: NDArray[np.floating[Any]]
    #: Whether the best EM run converged.
    converged_: bool
    #: EM iterations of the best run.
    n_iter_: int
    #: The objective of the best run per unit of weight.
    lower_bound_: float
    #: The objective after each iteration of the best run.
    lower_bounds_: list[float]
    #: Number of features seen in fit.
    n_features_in_: int
    #: Column names seen in fit (when all are strings).
    feature_names_in_: NDArray[np.object_]

    if TYPE_CHECKING:  # the hooks a model family defines (see the module docstring)
        def _kernel_params(self, params: Any) -> Any: ...
        def _m_step(self, stats: Any, params: Any) -> Any: ...
        def _n_parameters(self) -> int: ...
        def _get_parameters(self) -> Any: ...
        def _set_parameters(self, params: Any) -> None: ...
        def _check_parameters(self, n_features: int) -> None: ...
        def _initial_params(self, driver: Any, random_state: Any) -> Any: ...
        def _archive_arrays(self) -> dict[str, Any]: ...

    def _attribute_dtype(self, *arrays):
        """The fitted attributes' float type: the data's (float32 stays float32),
        unless float32 cannot hold ``arrays`` (data near float32's maximum):
        then float64, for this model from here on."""
        dtype = np.dtype(getattr(self, "_dtype", np.float64))
        if dtype == np.float32 and not _fits_float32(*arrays):
            dtype = self._dtype = np.dtype(np.float64)
        return dtype

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        io.register_model_class(cls.__name__, cls._from_archive)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "density_estimator"
        tags.input_tags.allow_nan = getattr(self, "nan_policy", "raise") != "raise"
        tags.input_tags.sparse = False
        return tags

    # ------------------------------------------------------------ hooks
    def _check_common_parameters(self):
        """Check the constructor parameters every family shares (EM, init, threads, callback)."""
        check_int(self.n_components, "n_components", 1)
        get_covariance(self.covariance_type)
        check_float(self.tol, "tol", 0.0)
        check_float(self.reg_covar, "reg_covar", 0.0)
        check_int(self.max_iter, "max_iter", 0)
        check_int(self.n_init, "n_init", 1)
        if self.init_params not in INIT_PARAMS:
            raise ValueError(f"init_params must be one of {INIT_PARAMS}, got {self.init_params!r}")
        check_int(self.verbose_interval, "verbose_interval", 1)
        check_chunk_size_and_threads(self.chunk_size, self.n_threads)
        if self.callback is not None and not callable(self.callback):
            raise ValueError("callback must be callable as callback(n_iter, lower_bound)")

    def _init_sample(self, driver, random_state):
        """The driver's initialisation sample ``(X, weights)``; at least n_components rows."""
        K = self.n_components
        Xs, ws = driver.init_sample(random_state)
        if Xs.shape[0] < K:
            raise ValueError(
                f"Expected n_samples >= n_components but got n_components = {K}, "
                f"n_samples = {Xs.shape[0]}"
            )
        return Xs, ws

    def _em_steps(self):
        return EMSteps(self._estep_params, self._m_step, self._lower_bound)

    def _nan_policy(self):
        """The validated ``nan_policy`` (``"raise"`` for a family without the parameter)."""
        return check_nan_policy(getattr(self, "nan_policy", "raise"))

    def _estep_params(self, params):
        """What the drivers' E-step runs: ``_kernel_params``, marginalizing NaN if asked.

        Under ``nan_policy='marginalize'`` a family whose ``_kernel_params``
        is a plain :class:`~gmmx.core.kernel.KernelParams` gets a
        :class:`~gmmx.core.missing.MissingEStep` around it; a family with its
        own :class:`~gmmx.core.kernel.BlockEStep` must marginalize NaN itself
        (and say so with ``marginalizes_nan = True``).
        """
        kp = self._kernel_params(params)
        if self._nan_policy() != "marginalize":
            return kp
        if isinstance(kp, kernel.KernelParams):
            from ..core.missing import MissingEStep  # on use: off the CLI's import path

            return MissingEStep(kp)
        if not getattr(kp, "marginalizes_nan", False):
            raise ValueError(
                f"{type(self).__name__} does not support nan_policy='marginalize' yet; "
                "pass nan_policy='omit' (drop rows with missing values) or impute them"
            )
        return kp

    def _init_driver(self, driver):
        """The driver to initialise from (its sample's NaN filled when marginalizing)."""
        return FilledInitSample(driver) if self._nan_policy() == "marginalize" else driver

    def _lower_bound(self, stats, params):
        """Weighted mean log-likelihood per sample."""
        return stats.log_likelihood / stats.weight_sum

    def _map_needs_totals(self):
        """True if ``_m_step`` needs counts, not per-row averages (priors; online EM)."""
        return False

    def _n_threads(self, X=None):
        work = None
        if X is not None:
            work = X.shape[0] * self.n_components * (X.shape[1] + 1)
        return kernel.resolve_n_threads(self.n_threads, work)

    def _driver_options(self):
        max_passes = None
        if isinstance(self.max_iter, int) and isinstance(self.n_init, int):
            max_passes = self.max_iter * self.n_init
        return DriverOptions(n_threads=self.n_threads, n_components=self.n_components,
                             chunk_size=self.chunk_size, progress=bool(self.progress),
                             max_passes=max_passes, nan_policy=self._nan_policy())

    # ------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any = None, sample_weight: Optional[ArrayLike] = None) -> Self:
        """Estimate the parameters by EM.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or a chunk source
            Arrays, lists, pandas DataFrames/Series (1-D means one feature),
            memmaps; or any source accepted by :func:`gmmx.sources.as_source`
            (.npy / Parquet / CSV paths, iterables of blocks) for out-of-core
            fitting, or a dask array / DataFrame.
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights; integer weights equal repeating rows.

        Returns
        -------
        self
        """
        names = feature_names(X)
        driver = make_driver(X, sample_weight, self._driver_options())
        try:
            with kernel.blas_held_to_one_thread():
                self._fit_driver(driver, names=names)
        finally:
            driver.close()
        return self

    def fit_predict(self, X: Any, y: Any = None,
                    sample_weight: Optional[ArrayLike] = None) -> NDArray:
        """Fit, then return the component label of every row of ``X``."""
        self.fit(X, y, sample_weight=sample_weight)
        return self.predict(X)

    def _fit_driver(self, driver, warm=None, max_iter=None, names=None, tol=None):
        """EM over ``driver`` (``n_init`` starts, or one warm start); sets the fitted attributes.

        ``warm``, ``max_iter`` and ``tol`` override ``warm_start``,
        ``max_iter`` and ``tol`` for this call (mini-batch polishing, a
        variational first batch) without touching the parameters.
        ``names`` are the data's column names (``feature_names_in_``).

        The fitted attributes change only together (:meth:`_set_fit_result`):
        if the fit fails before any parameters for the new data exist, the
        estimator is left as it was; if it is interrupted or fails during EM,
        it keeps the best of the completed restarts and the interrupted
        restart's last completed iteration.
        """
        d = driver.n_features
        self._check_parameters(d)
        has_fit = hasattr(self, "precisions_cholesky_")
        if warm is None:
            warm = self.warm_start and has_fit
        if warm and has_fit and getattr(self, "n_features_in_", d) != d:
            raise ValueError(
                f"X has {d} features, but the warm-started model was fitted with "
                f"{self.n_features_in_}; refit with warm_start=False"
            )
        max_iter = self.max_iter if max_iter is None else max_iter
        n_init = 1 if warm else self.n_init
        random_state = check_random_state(self.random_state)
        best, aborted = None, []
        try:
            for init in range(n_init):
                if self.verbose:
                    print(f"Initialization {init}")
                    init_time = time.time()
                params = (self._get_parameters() if warm
                          else self._initial_params(self._init_driver(driver), random_state))
                result = run_em(
                    driver.accumulate, self._em_steps(), params,
                    self.lower_bound_ if warm else -np.inf,
                    max_iter=max_iter, tol=self.tol if tol is None else tol,
                    callback=self.callback,
                    verbose=self.verbose, verbose_interval=self.verbose_interval,
                    on_abort=aborted.append,
                )
                best = _better(best, result)
                if self.verbose:
                    state = "converged" if result.converged else "did not converge"
                    print(
                        f"Initialization {state}. time lapse "
                        f"{time.time() - init_time:.5f}s\t lower bound {result.lower_bound:.5f}"
                    )
        except BaseException:
            if aborted:  # the interrupted restart's last completed iteration
                aborted[0].converged = False
                best = _better(best, aborted[0])
            if best is not None:
                self._set_fit_result(best, d, names, driver)
            raise
        self._set_fit_result(best, d, names, driver)
        if best.collapsed:
            warn_user(
                f"EM stopped at iteration {best.n_iter}: a component collapsed (its "
                "covariance is no longer positive definite). The parameters of the last "
                "valid iteration are kept and converged_ is False. Increase reg_covar "
                "(e.g. to 1e-6 times the data's smallest variance) to keep every "
                "covariance positive definite.",
                ConvergenceWarning,
            )
        elif not self.converged_ and max_iter > 0:
            warn_user(
                "Best performing initialization did not converge. Try different "
                "init parameters, or increase max_iter, tol, or check for "
                "degenerate data.",
                ConvergenceWarning,
            )
        return self

    def _set_feature_names(self, names):
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _check_feature_names(self, X):
        """Compare the column names of ``X`` with those seen at fit, as scikit-learn does."""
        names = feature_names(X)
        fitted = getattr(self, "feature_names_in_", None)
        cls = type(self).__name__
        if fitted is None and names is None:
            return
        if fitted is None:
            warn_user(f"X has feature names, but {cls} was fitted without feature names",
                      UserWarning)
            return
        if names is None:
            warn_user(f"X does not have valid feature names, but {cls} was fitted with "
                      "feature names", UserWarning)
            return
        if len(names) == len(fitted) and np.all(names == fitted):
            return
        message = "The feature names should match those that were passed during fit.\n"
        unseen = [n for n in names if n not in set(fitted)]
        missing = [n for n in fitted if n not in set(names)]
        if unseen:
            message += "Feature names unseen at fit time:\n" + "".join(
                f"- {n}\n" for n in unseen[:5]) + ("- ...\n" if len(unseen) > 5 else "")
        if missing:
            message += "Feature names seen at fit time, yet now missing:\n" + "".join(
                f"- {n}\n" for n in missing[:5]) + ("- ...\n" if len(missing) > 5 else "")
        if not unseen and not missing:
            message += "Feature names must be in the same order as they were in fit.\n"
        raise ValueError(message)

    def _set_fit_result(self, result, n_features, names=None, driver=None):
        """Set the parameters and the record of one EM run, all together.

        The parameters take the data's float type (``driver.dtype``: float32
        data give float32 parameters) and ``feature_names_in_`` its names.
        """
        self._dtype = np.dtype(getattr(driver, "dtype", np.float64))
        self._set_parameters(result.params)
        self.n_features_in_ = n_features
        self._set_feature_names(names)
        self.converged_ = result.converged
        self.n_iter_ = result.n_iter
        self.lower_bound_ = result.lower_bound
        self.lower_bounds_ = result.lower_bounds

    # ------------------------------------------------------------ online
    def partial_fit(self, X: ArrayLike, y: Any = None,
                    sample_weight: Optional[ArrayLike] = None) -> Self:
        """One step of online (stepwise) EM on a batch of rows.

        The first call initialises the model from its batch (or from
        ``weights_init``/``means_init``/``precisions_init``); every call then
        updates running sufficient statistics with step size
        ``b ** -step_exponent`` for the b-th batch and runs the M-step (see
        :class:`gmmx.core.online.OnlineEM`). One batch equal to the whole data
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
        rows, w, names = self._partial_fit_batch(X, sample_weight)
        return self._online_step(rows, w, names=names)

    def _partial_fit_batch(self, X, sample_weight):
        """``(rows, weights, column names)`` of a ``partial_fit`` batch, validated
        (column names checked against the fit's, ``nan_policy`` applied)."""
        names = feature_names(X)
        if hasattr(self, "precisions_cholesky_"):
            self._check_feature_names(X)
        policy = self._nan_policy()
        rows = as_float_array(X, ensure_min_samples=1, nan_policy=policy)
        w = check_sample_weight(sample_weight, rows.shape[0])
        rows, w, dropped = apply_nan_policy(rows, w, policy)
        warn_omitted(dropped, "the batch")
        if rows.shape[0] == 0:
            raise ValueError("nan_policy='omit' dropped every row of the batch; nothing to fit")
        return rows, w, names

    def _online_state_for_step(self, X, w, where, random_state, n_threads, names=None):
        """The running state and current parameters; initialises an unfitted model."""
        d = X.shape[1]
        if hasattr(self, "precisions_cholesky_"):
            state = getattr(self, "_online_state", None)
            params = self._get_parameters()
            if state is None or not state.matches(params[0], params[1]):
                state = OnlineEM()
            return state, params
        if X.shape[0] < self.n_components:
            raise ValueError(
                f"{where}the first batch has {X.shape[0]} rows but n_components = "
                f"{self.n_components}; the first batch must have at least n_components rows"
            )
        rs = check_random_state(self.random_state) if random_state is None else random_state
        params = self._initial_params(self._init_driver(ArrayDriver(X, w, n_threads)), rs)
        self.n_features_in_ = d
        self._set_feature_names(names)
        self._dtype = X.dtype
        self.lower_bounds_ = []
        return OnlineEM(), params

    def _online_step(self, X, w, where="partial_fit batch: ", random_state=None,
                     step_exponent=None, names=None):
        """One stepwise-EM update with a validated block ``(X, w)``."""
        kappa = check_step_exponent(self.step_exponent if step_exponent is None else step_exponent)
        d = X.shape[1]
        if hasattr(self, "precisions_cholesky_") and d != self.n_features_in_:
            prefix = "" if where == "partial_fit batch: " else where
            raise ValueError(
                f"{prefix}X has {d} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input (every batch must have the "
                "same columns as the first)"
            )
        self._check_parameters(d)
        n_threads = self._n_threads(X)
        state, params = self._online_state_for_step(X, w, where, random_state, n_threads,
                                                    names)
        return self._online_update(state, params, X, w, kappa, where, n_threads)

    def _online_update(self, state, params, X, w, kappa, where, n_threads, average=False):
        """Fold the validated block ``(X, w)`` into ``state`` from ``params``; set the
        model to the new parameters (``state.update`` with ``average``)."""
        def accumulate(kp):
            return kernel.accumulate(X, w, kp, n_threads, where=where)

        totals = self._map_needs_totals()
        new, _, lower_bound = em_step(
            accumulate, self._em_steps(), params,
            absorb=lambda stats: state.update(stats, kappa, totals, average=average))
        self._set_parameters(new)
        self._record_online(state, lower_bound)
        return self

    def _record_online(self, state, lower_bound):
        """After an online step to the parameters now set: its bound, the count of
        steps, the running ``state`` anchored at them, then the callback."""
        self.lower_bound_ = lower_bound
        bounds = getattr(self, "lower_bounds_", None)
        if not isinstance(bounds, list):
            bounds = self.lower_bounds_ = [] if bounds is None else list(bounds)
        bounds.append(lower_bound)
        if len(bounds) > _MAX_LOWER_BOUNDS:
            del bounds[:-_MAX_LOWER_BOUNDS]
        self.n_iter_ = state.n_updates
        self.converged_ = False
        state.anchor(self.weights_, self.means_)
        self._online_state = state
        if self.callback is not None:
            self.callback(state.n_updates, lower_bound)

    # ------------------------------------------------------------ inference
    def _check_is_fitted(self):
        if not hasattr(self, "precisions_cholesky_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' "
                "with appropriate arguments before using this estimator."
            )

    def _validate_predict_X(self, X, nan_policy=None):
        self._check_is_fitted()
        check_not_sparse(X)
        self._check_feature_names(X)
        one_d = np.ndim(X) == 1
        X = as_float_array(X, nan_policy=nan_policy or self._nan_policy())
        if X.shape[1] != self.n_features_in_:
            if one_d:
                raise ValueError(
                    f"X is 1-D, which gmmx reads as one feature, but {type(self).__name__} "
                    f"is expecting {self.n_features_in_} features as input. Reshape your "
                    "data either using array.reshape(-1, 1) if your data has a single "
                    "feature or array.reshape(1, -1) if it contains a single sample."
                )
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        return X

    def _output(self, values, X):
        """Per-row outputs in the data's float type (float32 in, float32 out)."""
        return values.astype(np.float32) if X.dtype == np.float32 else values

    def score_samples(self, X: ArrayLike) -> NDArray:
        """Log-density ``log p(x)`` of every row.

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        X = self._validate_predict_X(X)
        return self._per_row(kernel.log_prob_norm, X)

    def score(self, X: ArrayLike, y: Any = None,
              sample_weight: Optional[ArrayLike] = None) -> float:
        """Mean (optionally weighted) log-likelihood per sample."""
        ll, n = self._weighted_log_likelihood(X, sample_weight)
        return ll / n

    def score_data(self, X: Any) -> float:
        """Mean (weighted) log-likelihood per row of any data ``fit`` accepts.

        One kernel pass over ``X`` under the fitted parameters: an array, a
        chunk source (weights from its ``(X, w)`` pairs or weight column) or
        a dask collection.  For BIC/AIC on data larger than memory:
        ``-2 * score * n + n_params * log(n)``.

        Returns
        -------
        float
        """
        self._check_is_fitted()
        driver = make_driver(X, None, self._driver_options())
        try:
            if driver.n_features != self.n_features_in_:
                raise ValueError(
                    f"X has {driver.n_features} features, but {type(self).__name__} is "
                    f"expecting {self.n_features_in_} features as input"
                )
            stats = driver.accumulate(self._estep_params(self._get_parameters()))
        finally:
            driver.close()
        return float(stats.log_likelihood / stats.weight_sum)

    def predict_proba(self, X: ArrayLike) -> NDArray:
        """Posterior probability of each component for every row, (n, K)."""
        X = self._validate_predict_X(X)
        return self._per_row(kernel.responsibilities, X)

    def _per_row(self, fn, X):
        """``fn(X, estep params, threads)`` per row; NaN for the rows ``nan_policy='omit'`` drops."""
        params = self._estep_params(self._get_parameters())
        rows = missing_rows(X, "omit") if self._nan_policy() == "omit" else None
        if rows is None:
            return self._output(fn(X, params, self._n_threads(X)), X)
        keep = np.flatnonzero(~rows)
        kept = fn(np.ascontiguousarray(X[keep]), params, self._n_threads(X))
        out = np.full((X.shape[0],) + kept.shape[1:], np.nan)
        out[keep] = kept
        return self._output(out, X)

    def _missing_step(self):
        """The fitted model's :class:`~gmmx.core.missing.MissingEStep` (any ``nan_policy``)."""
        kp = self._kernel_params(self._get_parameters())
        if isinstance(kp, kernel.KernelParams):
            from ..core.missing import MissingEStep  # on use: off the CLI's import path

            return MissingEStep(kp)
        if getattr(kp, "marginalizes_nan", False) and hasattr(kp, "impute"):
            return kp
        raise ValueError(f"{type(self).__name__} cannot impute missing values yet")

    def impute(self, X: ArrayLike) -> NDArray:
        """``X`` with every missing entry replaced by its conditional mean under the model.

        ``E[x_m | x_o] = sum_k P(k | x_o) (mu_km + S_k,mo S_k,oo^-1 (x_o - mu_ko))``
        for the NaN (or masked) entries ``m`` of each row given its observed
        entries ``o``; observed entries are returned as they are. Works
        whatever ``nan_policy`` the model was fitted with.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows with NaN or masked entries (each with at least one observed value).

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        X = self._validate_predict_X(X, nan_policy="marginalize")
        return self._output(self._missing_step().impute(X, self._n_threads(X)), X)

    def sample_missing(self, X: ArrayLike, n_draws: int = 1,
                       random_state: Union[None, int, np.random.RandomState] = None) -> NDArray:
        """Draws of the missing entries of ``X`` given its observed entries (scenarios).

        Each draw picks a component from the row's posterior given its
        observed entries, then the missing entries from that component's
        conditional Gaussian; observed entries are kept.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        n_draws : int, default=1
        random_state : int, RandomState or None

        Returns
        -------
        ndarray of shape (n_draws, n_samples, n_features)
        """
        n_draws = check_int(n_draws, "n_draws", 1)
        X = self._validate_predict_X(X, nan_policy="marginalize")
        rng = check_random_state(random_state)
        return self._missing_step().sample_missing(X, rng, n_draws, self._n_threads(X))

    def predict(self, X: ArrayLike) -> NDArray:
        """Most probable component of every row (-1 for rows ``nan_policy='omit'`` drops)."""
        proba = self.predict_proba(X)
        labels = proba.argmax(axis=1)
        if self._nan_policy() == "omit":
            labels[np.isnan(proba[:, 0])] = -1
        return labels

    def _weighted_log_likelihood(self, X, sample_weight):
        """``(sum_i w_i log p(x_i), sum_i w_i)`` on ``X``."""
        ll = self.score_samples(X)
        w = None if sample_weight is None else check_sample_weight(sample_weight, ll.shape[0])
        keep = ~np.isnan(ll)  # rows nan_policy='omit' dropped
        if not keep.all():
            ll = ll[keep]
            w = None if w is None else w[keep]
        if sample_weight is None:
            return float(ll.sum()), float(ll.shape[0])
        return float(np.dot(w, ll)), float(w.sum())

    def bic(self, X: ArrayLike, sample_weight: Optional[ArrayLike] = None) -> float:
        """Bayesian information criterion on ``X`` (lower is better).

        ``-2 log L + p log n`` with ``log L = sum_i w_i log p(x_i)`` and
        ``n = sum_i w_i`` (the number of rows without weights), so integer
        weights equal repeated rows. Likelihood-based, also with a prior.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        float
        """
        ll, n = self._weighted_log_likelihood(X, sample_weight)
        return -2.0 * ll + self._n_parameters() * np.log(n)

    def aic(self, X: ArrayLike, sample_weight: Optional[ArrayLike] = None) -> float:
        """Akaike information criterion ``-2 log L + 2 p`` on ``X`` (lower is better).

        ``log L`` is weighted as in :meth:`bic`.
        """
        ll, _ = self._weighted_log_likelihood(X, sample_weight)
        return -2.0 * ll + 2.0 * self._n_parameters()

    def icl(self, X: ArrayLike, sample_weight: Optional[ArrayLike] = None) -> float:
        """Integrated completed likelihood ``BIC + 2 EN`` on ``X`` (lower is better).

        ``EN = -sum_i w_i sum_k g_ik log g_ik`` is the entropy of the posterior
        component probabilities ``g_ik`` (soft assignments; R mclust's ``icl``
        uses hard ones), so ICL favours well-separated components.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        float
        """
        from scipy.special import xlogy  # on use: off the CLI's import path

        resp = self.predict_proba(X)
        ent = -np.sum(xlogy(resp, resp), axis=1)
        if sample_weight is not None:
            ent = check_sample_weight(sample_weight, resp.shape[0]) * ent
        return self.bic(X, sample_weight) + 2.0 * float(np.nansum(ent))

    # ------------------------------------------------------------ persistence
    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """Save the model (and any online-EM state) to ``path``, atomically.

        Stores the fitted attributes, the JSON-able constructor parameters (a
        callback or a ``RandomState`` instance is skipped and listed in the
        metadata), array-valued parameters and the online-EM state, so that
        ``partial_fit`` can resume after :func:`gmmx.load` exactly where it
        stopped.  Nothing is pickled.

        Parameters
        ----------
        path : str or os.PathLike
            Written as given (no suffix is added); ``.npz`` is conventional.
        """
        arrays: dict[str, Any] = {}
        params: dict[str, Any] = {}
        skipped: list[str] = []
        for name, value in self.get_params(deep=False).items():
            if name in self._array_params:
                if value is not None:
                    arrays["param_" + name] = np.asarray(value, dtype=np.float64)
                params[name] = None
                continue
            if name in self._object_params and value is not None:
                meta_value, obj_arrays = value.to_archive()
                params[name] = {"class": type(value).__name__, **meta_value}
                arrays.update({f"param_{name}.{k}": a for k, a in obj_arrays.items()})
                continue
            try:
                params[name] = io.json_value(value)
            except TypeError:
                skipped.append(name)
        fitted: dict[str, Any] = {}
        is_fitted = hasattr(self, "precisions_cholesky_")
        if is_fitted:
            arrays.update(self._archive_arrays())
            arrays["fit_lower_bounds_"] = np.asarray(getattr(self, "lower_bounds_", []),
                                                     dtype=np.float64)
            lb = float(getattr(self, "lower_bound_", -np.inf))
            names = getattr(self, "feature_names_in_", None)
            fitted = {
                "converged_": bool(getattr(self, "converged_", False)),
                "n_iter_": int(getattr(self, "n_iter_", 0)),
                "lower_bound_": lb if np.isfinite(lb) else None,
                "n_features_in_": int(self.n_features_in_),
                "dtype": str(self.weights_.dtype),
            }
            if names is not None:
                fitted["feature_names_in_"] = [str(n) for n in names]
        state = getattr(self, "_online_state", None)
        online = is_fitted and state is not None and state.matches(self.weights_, self.means_)
        if online and state is not None:
            arrays.update(state.to_arrays())
        meta = {"params": params, "skipped_params": skipped, "fitted": fitted,
                "online": bool(online)}
        io.write_archive(path, type(self).__name__, meta, arrays)

    @classmethod
    def _from_archive(cls, meta, arrays, path):
        """Rebuild a model from :func:`gmmx.io.read_archive`'s output (see :meth:`save`).

        Every array is read with the shape the metadata implies (checked
        before its data are read) and every value is validated; any problem
        is a ``ValueError`` from :func:`gmmx.io.invalid` naming the entry.
        """
        params = _archived_scalar_params(cls, meta, arrays, path)
        fitted = _archived_fitted(meta, path)
        model = cls(**params)
        d = fitted.get("n_features_in_")
        model._check_archived_params(path, d)
        shapes = model._archive_shapes(d)
        for name in cls._array_params:
            if "param_" + name in arrays:
                setattr(model, name, io.check_array(arrays, "param_" + name, path,
                                                    shape=shapes[name]))
        model._check_archived_init(path, d)
        if fitted:
            model._restore_arrays(arrays, fitted, path, shapes)
            model.lower_bounds_ = list(io.check_array(arrays, "fit_lower_bounds_", path, ndim=1))
            lb = fitted.get("lower_bound_")
            model.lower_bound_ = -np.inf if lb is None else float(lb)
            model.converged_ = fitted.get("converged_", False)
            model.n_iter_ = fitted.get("n_iter_", 0)
            model._set_feature_names(fitted.get("feature_names_in_"))
            model._dtype = fitted["dtype"]
            if model._dtype == np.float32:  # saved as float64 numbers; restore the type
                for name in getattr(model, "_fitted_arrays", ()):
                    setattr(model, name, getattr(model, name).astype(np.float32))
            if meta.get("online"):
                model._restore_online_state(arrays, path)
        return model

    @classmethod
    def _object_from_archive(cls, name, value, arrays, path):
        """Rebuild an object-valued parameter (``_object_params``) from the archive."""
        kind = cls._object_params[name]
        if value.get("class") != kind.__name__:
            raise io.invalid(path, f"parameter {name!r} is not a {kind.__name__}")
        prefix = f"param_{name}."
        own = {k[len(prefix):]: io.check_array(arrays, k, path)
               for k in arrays if k.startswith(prefix)}
        try:
            return kind.from_archive({k: v for k, v in value.items() if k != "class"}, own)
        except (ValueError, TypeError) as exc:
            raise io.invalid(path, f"parameter {name!r} is malformed ({exc})") from None

    def _restore_online_state(self, arrays, path):
        """The online-EM state of the archive, every statistic checked."""
        n = io.check_array(arrays, "online_n_updates", path, shape=(1,))[0]
        if not (n == int(n) and 0 <= n <= 2**53):
            raise io.invalid(path, f"array 'online_n_updates' must be a count >= 0, got {n:g}")
        checked = {"online_n_updates": np.array([n])}
        shapes = self._online_archive_shapes()
        keys = {name: "online_stats_" + name for name in shapes}
        present = [k for k in keys.values() if k in arrays]
        if present:
            missing = sorted(set(keys.values()) - set(present))
            if missing:
                raise io.invalid(path, f"the online-EM state is incomplete: arrays {missing} "
                                       "are missing")
            values = {key: io.check_array(arrays, key, path, shape=shapes[name])
                      for name, key in keys.items()}
            _check_online_values(values, path)
            checked.update(values)
            # a model family's own additive statistics (SufficientStats.extra)
            checked.update({k: io.check_array(arrays, k, path) for k in arrays
                            if k.startswith("online_stats_extra_")})
        if "online_weight_seen" in arrays:  # the total weight absorbed (MAP steps scale by it)
            seen = io.check_array(arrays, "online_weight_seen", path, shape=(1,))[0]
            if not seen >= 0:
                raise io.invalid(path, "array 'online_weight_seen' must be a total weight >= 0, "
                                       f"got {seen:g}")
            checked["online_weight_seen"] = np.array([seen])
        state = OnlineEM.from_arrays(self.covariance_type, checked)
        if state.stats is not None:
            self._check_online_stats(state.stats, path)
        state.anchor(self.weights_, self.means_)
        self._online_state = state


def _archived_scalar_params(cls, meta, arrays, path):
    """The constructor's parameters from the metadata (types checked); object-valued
    ones (``cls._object_params``, e.g. a prior) rebuilt from their JSON and arrays."""
    params = meta.get("params")
    if not isinstance(params, dict):
        raise io.invalid(path, "the parameters are missing")
    unknown = sorted(set(params) - set(cls._get_param_names()))
    if unknown:
        raise io.invalid(path, f"unknown parameters {unknown[:10]}")
    for name, value in params.items():
        if name in cls._object_params and isinstance(value, dict):
            params[name] = cls._object_from_archive(name, value, arrays, path)
            continue
        if value is not None and not isinstance(value, (bool, int, float, str)):
            raise io.invalid(path, f"parameter {name!r} has a non-scalar value")
        if isinstance(value, str) and len(value) > 100:
            raise io.invalid(path, f"parameter {name!r} is a {len(value)}-character string")
    return {name: value for name, value in params.items() if name not in cls._array_params}


def _archived_fitted(meta, path):
    """The ``fitted`` scalars of the metadata, each checked for type and range."""
    fitted = meta.get("fitted") or {}
    if not isinstance(fitted, dict):
        raise io.invalid(path, "the fitted section is malformed")
    if not fitted:
        return {}

    def count(name, minimum):
        value = fitted.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise io.invalid(path, f"fitted entry {name!r} must be an integer >= {minimum}, "
                                   f"got {value!r:.60}")
        return value

    out = {"n_features_in_": count("n_features_in_", 1), "n_iter_": count("n_iter_", 0)}
    converged = fitted.get("converged_", False)
    if not isinstance(converged, bool):
        raise io.invalid(path, f"fitted entry 'converged_' must be true or false, "
                               f"got {converged!r:.60}")
    lb = fitted.get("lower_bound_")
    if lb is not None and (isinstance(lb, bool) or not isinstance(lb, (int, float))
                           or not np.isfinite(lb)):
        raise io.invalid(path, f"fitted entry 'lower_bound_' must be a finite number or "
                               f"null, got {lb!r:.60}")
    out.update(converged_=converged, lower_bound_=lb)
    names = fitted.get("feature_names_in_")
    if names is not None:
        if (not isinstance(names, list) or len(names) != out["n_features_in_"]
                or not all(isinstance(n, str) and len(n) <= 1000 for n in names)):
            raise io.invalid(path, "fitted entry 'feature_names_in_' must be a list of "
                                   "n_features_in_ column names")
        out["feature_names_in_"] = np.asarray(names, dtype=object)
    dtype = fitted.get("dtype", "float64")
    if dtype not in ("float32", "float64"):
        raise io.invalid(path, f"fitted entry 'dtype' must be 'float32' or 'float64', "
                               f"got {dtype!r:.40}")
    out["dtype"] = np.dtype(dtype)
    return out


def _check_online_values(values, path):
    """Counts and weights of saved online statistics are >= 0; n_samples is whole."""
    nk = values["online_stats_nk"]
    if np.any(nk < 0):
        raise io.invalid(path, "array 'online_stats_nk' has negative entries (component "
                               "weights are >= 0)")
    log_likelihood, weight_sum, n_samples = values["online_stats_scalars"]
    if weight_sum < 0 or n_samples < 0 or n_samples != int(n_samples):
        raise io.invalid(path, "array 'online_stats_scalars' holds a negative weight or a "
                               "row count that is not a whole number >= 0")
    Mk = values["online_stats_Mk"]
    diag = np.diagonal(Mk, axis1=1, axis2=2) if Mk.ndim == 3 else Mk
    if np.any(diag < 0):
        raise io.invalid(path, "array 'online_stats_Mk' has negative second moments")
