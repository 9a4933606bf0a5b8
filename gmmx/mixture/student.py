"""The :class:`StudentTMixture` estimator: multivariate t components on the Gaussian kernel.

A subclass of :class:`~gmmx.mixture.base.BaseMixture` on its hooks: the
E-step is :class:`gmmx.core.student.StudentTEStep` (one native pass of the
E-step kernel: Gaussian log-densities, t arithmetic and statistics under
r·u per chunk of rows), the M-step :func:`gmmx.core.student.student_m_step`, so
every driver (arrays, chunk sources, Dask, ``partial_fit``) fits it
unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional, Union

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import ArrayLike, NDArray

import numbers

import numpy as np

from .. import io
from .._validation import check_float, check_random_state
from ..core.covariance import get_covariance, n_mixture_parameters
from ..core.student import (DOF_MAX, StudentTEStep, StudentTParams, student_m_step,
                            t_covariances, warn_dof_floor)
from ..core.student_missing import StudentTMissingEStep
from ..exceptions import DegreesOfFreedomWarning, warn_user
from .base import BaseMixture
from .gaussian import GaussianMixture, _check_saved_covariances

__all__ = ["StudentTMixture"]

#: ν of a fresh start when ν is estimated (a moderately heavy tail; EM moves it).
DOF_INIT = 10.0


def _check_dof(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or not value > 0:
        raise ValueError(
            f"degrees_of_freedom must be a finite number > 0 (the same ν for every "
            f"component) or None (estimate ν per component), got {value!r}")
    return float(value)


class StudentTMixture(BaseMixture):
    """Mixture of multivariate Student-t distributions fitted by EM (ECM).

    Each component has a location ``mu_k``, a scale matrix ``Sigma_k`` and
    degrees of freedom ``nu_k``: ``t(x | mu, Sigma, nu)`` has heavier tails
    than a Gaussian and a single outlier cannot capture a component (Peel &
    McLachlan 2000).  The constructor, methods and data sources are those
    of :class:`~gmmx.GaussianMixture` (``sample_weight``, chunk sources,
    Dask, ``partial_fit``, ``save``/``load``, ``bic``/``aic``/``icl``).

    Parameters
    ----------
    n_components : int, default=1
    degrees_of_freedom : float > 0 or None, default=None
        None estimates ν per component (the ECM step of Peel & McLachlan's
        eq. 30, a 1-D root by Brent's method each iteration, capped at
        ``dof_max``); a number fixes ν for every component.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Form of the scale matrices.
    tol : float, default=1e-3
        Convergence threshold on the change of the mean log-likelihood.
    reg_covar : float, default=1e-6
        Added to the diagonal of every scale matrix.
    max_iter : int, default=100
    n_init : int, default=1
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', 'hierarchical'}, \
default='kmeans'
        The Gaussian starts (the initial scales are the start's covariances).
    weights_init, means_init : array-like, optional
    precisions_init : array-like, optional
        Inverses of the initial scale matrices.
    dof_init : float > 0, default=10
        Initial ν when ν is estimated.
    dof_max : float > 0, default=1000
        Cap on estimated ν.  A component whose estimate reaches it is
        practically Gaussian; a :class:`~gmmx.DegreesOfFreedomWarning` names it.
    random_state, warm_start, verbose, verbose_interval, n_threads, chunk_size, \
callback, progress, step_exponent
        As for :class:`~gmmx.GaussianMixture`.
    nan_policy : {'raise', 'omit', 'marginalize'}, default='raise'
        What missing values (NaN, or masked entries) mean, as for
        :class:`~gmmx.GaussianMixture`.  Under ``'marginalize'`` each row's
        density is the t marginal of its observed entries (same ν, location
        ``mu_o``, scale ``Sigma_oo``), ``u = (nu + d_o) / (nu + delta_o)``, and
        the M-step takes the expected complete-data statistics (Liu & Rubin
        1995; see :mod:`gmmx.core.student_missing`).

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
        The locations.
    scales_ : ndarray
        The scale matrices Sigma: (K, d, d) full, (d, d) tied, (K, d) diag,
        (K,) spherical.
    degrees_of_freedom_ : ndarray of shape (n_components,)
    covariances_ : ndarray
        ``nu / (nu - 2) * Sigma``, infinite where ``nu <= 2``; as ``scales_``
        but (K, d, d) for tied (each component has its own ν).
    precisions_ : ndarray
        Inverses of the scale matrices.
    precisions_cholesky_ : ndarray
        Cholesky factors of ``precisions_`` (the shape of ``scales_``).
    converged_, n_iter_, lower_bound_, lower_bounds_, n_features_in_
        As for :class:`~gmmx.GaussianMixture`; the lower bound is the mean
        log-likelihood per unit of weight.

    Notes
    -----
    The E-step computes Gaussian log-densities with unit weights, the
    Mahalanobis distances ``delta`` from them, the t log-densities, the
    responsibilities ``r`` and the weights ``u = (nu + d) / (nu + delta)``,
    then the Gaussian statistics under ``r * u``, all in one pass of the
    E-step kernel over cache-sized chunks of rows (the data are read once
    per iteration); see :mod:`gmmx.core.student` for how the statistics are
    laid out.
    """

    # Fitted attributes (set by fit / partial_fit), beside BaseMixture's.
    scales_: NDArray[np.floating[Any]]
    degrees_of_freedom_: NDArray[np.floating[Any]]
    covariances_: NDArray[np.floating[Any]]
    precisions_: NDArray[np.floating[Any]]
    precisions_cholesky_: NDArray[np.floating[Any]]

    def __init__(
        self,
        n_components: int = 1,
        *,
        degrees_of_freedom: Optional[float] = None,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weights_init: Optional[ArrayLike] = None,
        means_init: Optional[ArrayLike] = None,
        precisions_init: Optional[ArrayLike] = None,
        dof_init: float = DOF_INIT,
        dof_max: float = DOF_MAX,
        random_state: Union[None, int, np.random.RandomState] = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        n_threads: Optional[int] = None,
        chunk_size: Optional[int] = None,
        callback: Optional[Callable[[int, float], Any]] = None,
        progress: bool = False,
        step_exponent: float = 0.6,
        nan_policy: str = "raise",
    ) -> None:
        self.n_components = n_components
        self.degrees_of_freedom = degrees_of_freedom
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.dof_init = dof_init
        self.dof_max = dof_max
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_threads = n_threads
        self.chunk_size = chunk_size
        self.callback = callback
        self.progress = progress
        self.step_exponent = step_exponent
        self.nan_policy = nan_policy

    # The Gaussian-only regularisation, fixed off (GaussianMixture's checks read them).
    prior = None
    weight_concentration = 1.0
    covariance_shrinkage = 0.0
    min_eigenvalue = 0.0

    # ------------------------------------------------------------------ checks
    def _check_parameters(self, n_features):
        GaussianMixture._check_parameters(self, n_features)
        _check_dof(self.degrees_of_freedom)
        for name in ("dof_init", "dof_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                    or not np.isfinite(value) or not value > 0:
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        check_float(self.dof_max, "dof_max", 0.0)

    _check_init_arrays = GaussianMixture._check_init_arrays
    _check_regularisation = GaussianMixture._check_regularisation
    _warn_reg_covar = GaussianMixture._warn_reg_covar
    _check_archived_init = GaussianMixture._check_archived_init

    def _initial_dof(self):
        fixed = _check_dof(self.degrees_of_freedom)
        value = fixed if fixed is not None else min(float(self.dof_init), float(self.dof_max))
        return np.full(self.n_components, value)

    def _initial_params(self, driver, random_state):
        """The Gaussian start's parameters, its covariances as the scales, ν = ``dof_init``."""
        g = GaussianMixture._initial_params(self, driver, random_state)
        return StudentTParams(g.weights, g.means, g.covariances, g.precisions_cholesky,
                              self._initial_dof())

    def _regularisation(self, prior=None):
        return self.reg_covar

    def _sample_prior(self, X, w):
        return None

    # ------------------------------------------------------------------ hooks
    def _get_parameters(self):
        return StudentTParams(self.weights_, self.means_, self.scales_,
                              self.precisions_cholesky_, self.degrees_of_freedom_)

    def _set_parameters(self, params):
        """Set the fitted attributes, in the data's float type."""
        weights, means, scales, prec_chol, dof = params
        cov = get_covariance(self.covariance_type)
        if scales is None:
            scales = cov.covariances_from_cholesky(prec_chol)
        precisions = cov.precisions_from_cholesky(prec_chol)
        covariances = np.asarray(t_covariances(scales, dof, cov.name), dtype=np.float64)
        # covariances are infinite by definition where nu <= 2
        dtype = self._attribute_dtype(scales, precisions, prec_chol,
                                      covariances[np.isfinite(covariances)])
        self.weights_ = np.asarray(weights, dtype=dtype)
        self.means_ = np.asarray(means, dtype=dtype)
        self.scales_ = np.asarray(scales, dtype=dtype)
        self.precisions_cholesky_ = np.asarray(prec_chol, dtype=dtype)
        self.precisions_ = np.asarray(precisions, dtype=dtype)
        self.degrees_of_freedom_ = np.asarray(dof, dtype=np.float64)
        self.covariances_ = covariances.astype(dtype)

    def _kernel_params(self, params):
        step = StudentTEStep.from_params(params, self.covariance_type)
        if self._nan_policy() == "marginalize":
            return StudentTMissingEStep(step)
        return step

    def _missing_step(self):
        """The fitted model's :class:`~gmmx.core.student_missing.StudentTMissingEStep`."""
        return StudentTMissingEStep(StudentTEStep.from_params(self._get_parameters(),
                                                              self.covariance_type))

    def _m_step(self, stats, params):
        return student_m_step(stats, self.reg_covar, params, _check_dof(self.degrees_of_freedom),
                              float(self.dof_max))

    def _n_parameters(self):
        n = n_mixture_parameters(self.covariance_type, *self.means_.shape)
        return n + (self.n_components if self.degrees_of_freedom is None else 0)

    def _stats_entropy(self, stats):
        """``-sum w r log r`` of the pass that produced ``stats`` (for ICL in model selection)."""
        return float(stats.extra["entropy"].sum())

    # ------------------------------------------------------------------ the ν cap
    def _warn_dof_cap(self):
        if self.degrees_of_freedom is not None or not hasattr(self, "degrees_of_freedom_"):
            return
        warn_dof_floor(self.degrees_of_freedom_)
        capped = np.flatnonzero(self.degrees_of_freedom_ >= float(self.dof_max))
        if capped.size:
            warn_user(
                f"the degrees of freedom of component(s) {capped.tolist()} reached dof_max="
                f"{float(self.dof_max):g}: those components are practically Gaussian "
                "(their ν estimate runs off to infinity) and their ν is capped there. "
                "Fit a GaussianMixture, or fix degrees_of_freedom, if that is expected.",
                DegreesOfFreedomWarning)

    def _set_fit_result(self, result, n_features, names=None, driver=None):
        super()._set_fit_result(result, n_features, names, driver)
        self._warn_dof_cap()

    def _online_step(self, X, w, where="partial_fit batch: ", random_state=None,
                     step_exponent=None, names=None):
        out = super()._online_step(X, w, where, random_state, step_exponent, names)
        self._warn_dof_cap()
        return out

    # ------------------------------------------------------------------ archive
    _array_params = ("weights_init", "means_init", "precisions_init")
    _fitted_arrays = ("weights_", "means_", "scales_", "precisions_", "precisions_cholesky_",
                      "degrees_of_freedom_")

    def _archive_arrays(self):
        return {"fit_" + name: np.asarray(getattr(self, name), dtype=np.float64)
                for name in self._fitted_arrays}

    def _check_archived_params(self, path, n_features=None):
        try:
            self._check_parameters(1 if n_features is None else n_features)
        except ValueError as exc:
            raise io.invalid(path, f"bad parameter: {exc}") from None

    def _archive_shapes(self, n_features):
        K, d = self.n_components, n_features
        cshape = get_covariance(self.covariance_type).shape(K, d)
        return {"weights_": (K,), "means_": (K, d), "scales_": cshape, "precisions_": cshape,
                "precisions_cholesky_": cshape, "degrees_of_freedom_": (K,),
                "weights_init": (K,), "means_init": (K, d), "precisions_init": cshape}

    def _online_archive_shapes(self):
        K, d = self.means_.shape
        return {"centers": (K, d), "nk": (K,), "sk": (K, d),
                "Mk": get_covariance(self.covariance_type).stats_shape(K, d), "scalars": (3,),
                "extra_resp": (K,), "extra_log_u_minus_u": (K,), "extra_entropy": (K,)}

    def _check_online_stats(self, stats, path):
        K, d = self.means_.shape
        GaussianMixture._check_online_stats(self, stats, path)
        resp = stats.extra.get("resp")
        if resp is None or resp.shape != (K,) or np.any(~(resp >= 0)):
            raise io.invalid(path, "online-EM statistic extra_resp is malformed")
        lu = stats.extra.get("log_u_minus_u")
        if lu is None or lu.shape != (K,) or not np.all(np.isfinite(lu)):
            raise io.invalid(path, "online-EM statistic extra_log_u_minus_u is malformed")

    def _restore_arrays(self, arrays, fitted, path, shapes):
        """Fitted attributes from the archive, checked to be a valid fitted model."""
        values = {name: io.check_array(arrays, "fit_" + name, path, shape=shapes[name])
                  for name in self._fitted_arrays}
        w = values["weights_"]
        if np.any(w < 0) or not abs(w.sum() - 1.0) <= 1e-6:
            raise io.invalid(path, "array 'fit_weights_' is not a probability vector "
                                   f"(entries >= 0 summing to 1): min {w.min():.6g}, sum "
                                   f"{w.sum():.6g}")
        dof = values["degrees_of_freedom_"]
        if not np.all(np.isfinite(dof)) or np.any(~(dof > 0)):
            raise io.invalid(path, "array 'fit_degrees_of_freedom_' must hold finite "
                                   "numbers > 0")
        check = dict(values, covariances_=values["scales_"])
        _check_saved_covariances(get_covariance(self.covariance_type), check, path,
                                 single=fitted.get("dtype") == np.float32)
        self.n_features_in_ = fitted["n_features_in_"]
        self._set_parameters(StudentTParams(w, values["means_"], values["scales_"],
                                            values["precisions_cholesky_"], dof))

    # ------------------------------------------------------------------ sampling
    def sample(self, n_samples: int = 1) -> tuple[NDArray, NDArray]:
        """Draw samples from the fitted mixture.

        A t draw is ``mu + z / sqrt(g)`` with ``z ~ N(0, Sigma)`` and
        ``g ~ Gamma(nu/2, rate=nu/2)``.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
            Component of each sample.
        """
        self._check_is_fitted()
        if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) \
                or n_samples < 1:
            raise ValueError(
                f"Invalid value for 'n_samples': {n_samples!r} . The sampling requires at "
                "least one sample (n_samples must be an integer >= 1).")
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_)
        K, d = self.means_.shape
        cov = get_covariance(self.covariance_type)
        z = cov.sample(rng, np.zeros((K, d)), np.asarray(self.scales_, dtype=np.float64), counts)
        y = np.concatenate([np.full(int(s), j, dtype=int) for j, s in enumerate(counts)])
        nu = self.degrees_of_freedom_[y]
        g = rng.gamma(0.5 * nu, 2.0 / nu)
        X = self.means_[y] + z / np.sqrt(g)[:, None]
        return X, y
