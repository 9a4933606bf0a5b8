"""The scikit-learn-compatible :class:`BayesianGaussianMixture` estimator.

A subclass of :class:`~gmmx.mixture.base.BaseMixture` like
:class:`~gmmx.mixture.gaussian.GaussianMixture`: the variational E-step is the
same kernel call with other per-component constants
(:func:`gmmx.core.variational.log_weight_terms`), the M-step the conjugate
update :func:`gmmx.core.variational.variational_m_step`.  ``partial_fit`` is
stochastic variational inference on the running statistics of
:class:`gmmx.core.online.OnlineEM`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional, Union

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import ArrayLike, NDArray
    from typing_extensions import Self

import numbers

import numpy as np

from .. import io
from .._validation import check_float, check_nan_policy, check_random_state
from ..core import kernel
from ..core.covariance import get_covariance, n_mixture_parameters
from ..core.em import run_em
from ..core.init import initial_stats
from ..core.online import OnlineEM
from ..core.stats import SufficientStats
from ..core.variational import (PRIOR_TYPES, VariationalParams, VariationalPrior,
                                log_weight_terms, lower_bound, prior_moments,
                                responsibility_entropy_sum, scaled_stats,
                                variational_m_step, weights_from_concentration)
from ..drivers import ArrayDriver
from ..exceptions import IllDefinedCovarianceError
from .base import BaseMixture
from .gaussian import GaussianMixture, _check_saved_covariances, sample_gaussian_components

__all__ = ["BayesianGaussianMixture"]

_MOMENT_ROWS = 65_536
#: partial_fit's first batch: rows and iterations of its variational fit.
FIRST_BATCH_ROWS = 2_000
FIRST_BATCH_ITER = 2_000
FIRST_BATCH_TOL = 1e-6
#: Merge moves on the first batch: iterations after a merge, smallest weight tried.
MERGE_ITER = 30
MERGE_MIN_WEIGHT = 1e-3


class _MomentsStep:
    """One-component statistics of every row (``r_i = 1``): the data's mean and scatter.

    A :class:`gmmx.core.kernel.BlockEStep`, so every driver (arrays, chunk
    sources, Dask) computes the prior's data-dependent defaults in one pass.
    Each block is centred at its own mean in float64, so price-level data
    lose no digits.
    """

    def __init__(self, covariance_type, marginalize=False):
        self.covariance_type = "full" if get_covariance(covariance_type).is_matrix else "diag"
        self.marginalizes_nan = bool(marginalize)

    def accumulate(self, X, sample_weight, n_threads, chunk_rows, where):
        """The block's ``SufficientStats`` under one component.

        Marginalizing NaN, ``extra`` also holds the pairwise sums of
        :func:`_observed_moments` (``pair_n``, ``pair_x``, ``pair_xx``) and the
        number of missing entries (``n_missing``).
        """
        total = None
        for start in range(0, X.shape[0], _MOMENT_ROWS):
            x = np.asarray(X[start:start + _MOMENT_ROWS], dtype=np.float64)
            w = (np.ones(x.shape[0]) if sample_weight is None
                 else np.asarray(sample_weight[start:start + _MOMENT_ROWS], dtype=np.float64))
            extra = {}
            if self.marginalizes_nan:
                nan = np.isnan(x)
                o = (~nan).astype(np.float64)
                xz = np.where(nan, 0.0, x)
                extra = {"pair_n": (o * w[:, None]).T @ o, "pair_x": (xz * w[:, None]).T @ o,
                         "pair_xx": (xz * w[:, None]).T @ xz,
                         "n_missing": np.array([float(nan.sum())])}
            if not np.all(np.isfinite(x)):
                bad = np.isinf(x) if self.marginalizes_nan else ~np.isfinite(x)
                if bad.any():
                    row = start + int(np.flatnonzero(bad.any(axis=1))[0])
                    raise kernel.NonFiniteChunkError(
                        f"{where}row {row} contains NaN or infinity; remove or impute "
                        "non-finite values before fitting", row=row)
                x = _filled_by_column_means(x, w)  # (the prior then uses ``extra``)
            n = float(w.sum())
            centre = (w @ x) / n if n > 0 else np.zeros(x.shape[1])
            y = x - centre
            M = (y * w[:, None]).T @ y if self.covariance_type == "full" else w @ (y * y)
            st = SufficientStats(self.covariance_type, centre[None].copy(), np.array([n]),
                                 (w @ y)[None], M[None], 0.0, n, x.shape[0], extra)
            total = st if total is None else total + st
        return total

    def log_prob_norm(self, X, n_threads):  # pragma: no cover - never predicts
        """Not a model: no densities."""
        raise NotImplementedError

    def responsibilities(self, X, n_threads):  # pragma: no cover - never predicts
        """Not a model: no responsibilities."""
        raise NotImplementedError


def _filled_by_column_means(x, w):
    """``x`` with each NaN replaced by its column's weighted mean over the observed rows
    (a block's finite stand-in; with NaN the prior uses :func:`_observed_moments`)."""
    nan = np.isnan(x)
    obs_w = (~nan) * w[:, None]
    total = obs_w.sum(axis=0)
    means = np.where(total > 0, (np.where(nan, 0.0, x) * obs_w).sum(axis=0)
                     / np.where(total > 0, total, 1.0), 0.0)
    return np.where(nan, means, x)


def _observed_moments(moments, covariance_type):
    """Mean and covariance of data with missing entries, from the pairwise sums.

    With ``o`` the observed indicator, ``N = sum w o o^T``,
    ``P_jl = sum w o_j o_l x_j`` and ``M = sum w (o x)(o x)^T``: the mean of each
    column's observed entries ``m_j = P_jj / N_jj``; the scatter of the
    mean-imputed rows ``S = M - m P^T - P m^T + (m m^T) * N``, positive
    semi-definite; the covariance has each column's unbiased observed
    variance ``S_jj / (N_jj - 1)`` on the diagonal and the correlations of
    ``S``.  Independent of how the rows are split into blocks.
    """
    N, P, M = (moments.extra[k] for k in ("pair_n", "pair_x", "pair_xx"))
    nj = np.diagonal(N).copy()
    if np.any(~(nj > 0)):
        col = int(np.flatnonzero(~(nj > 0))[0])
        raise ValueError(f"column {col} has no observed value (every entry is NaN or has "
                         "zero weight): drop the column")
    mean = np.diagonal(P) / nj
    S = M - mean[:, None] * P.T - P * mean[None, :] + np.outer(mean, mean) * N
    sjj = np.maximum(np.diagonal(S), 0.0)
    var = sjj / np.where(nj > 1.0, nj - 1.0, nj)
    if covariance_type != "full":
        return mean, var
    scale = np.sqrt(sjj)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.where(np.outer(scale, scale) > 0, S / np.outer(scale, scale), 0.0)
    np.fill_diagonal(corr, 1.0)
    sd = np.sqrt(var)
    return mean, corr * np.outer(sd, sd)


class _StochasticVI(OnlineEM):
    """Running statistics of stochastic variational inference (Hoffman et al. 2013).

    The natural parameters of the conjugate posterior are affine in the
    statistics, so the natural-gradient step
    ``lambda <- (1 - rho_t) lambda + rho_t (prior + N s_hat_t)`` is the
    stepwise average ``S <- (1 - rho_t) S + rho_t s_hat_t`` of the per-row
    statistics followed by the conjugate update of ``N S``, with
    ``rho_t = (t + learning_offset) ** -learning_decay`` for the t-th step.
    """

    def __init__(self, stats=None, n_updates=0, weight_seen=0.0, offset=10.0):
        super().__init__(stats, n_updates, weight_seen)
        self.offset = float(offset)

    def step_size(self, kappa):
        """``(t + learning_offset) ** -learning_decay`` for the t-th step (t >= 1)."""
        return float((self.n_updates + self.offset) ** -kappa)


def _invalid_param(name, value, kinds="None or a float in the range (0.0, inf)"):
    return ValueError(
        f"The {name!r} parameter of BayesianGaussianMixture must be {kinds}. Got "
        f"{value!r} instead."
    )


def _positive_or_none(value, name):
    if value is None:
        return
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not value > 0 or not np.isfinite(value)):
        raise _invalid_param(name, value)


def _check_shape(a, shape, name):
    if a.shape != shape:
        raise ValueError(f"The parameter {name!r} should have the shape of {shape}, but got "
                         f"{a.shape}")


def _prior_array(value, name):
    if isinstance(value, (str, bytes)):
        raise _invalid_param(name, value, "None or an array-like" if name == "mean_prior"
                             else "None, an array-like or a float in the range (0.0, inf)")
    a = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"Input contains NaN or infinity: {name} must be finite")
    return a


class BayesianGaussianMixture(BaseMixture):
    """Variational Bayesian Gaussian mixture on gmmx's native kernel.

    A drop-in replacement for :class:`sklearn.mixture.BayesianGaussianMixture`
    (scikit-learn 1.9): the same constructor, defaults, validation, methods
    and fitted attributes, plus ``sample_weight``, chunk sources (one pass
    per iteration), Dask, ``n_threads``, ``save`` / :func:`gmmx.load`,
    ``progress``, ``callback`` and ``partial_fit`` (stochastic variational
    inference). A Dirichlet-process prior switches unneeded components off:
    fit with a generous ``n_components`` and count the components whose
    ``weights_`` are not negligible.

    Parameters
    ----------
    n_components : int, default=1
        Upper bound on the number of components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    tol : float, default=1e-3
        Convergence threshold on the change of the lower bound (a total, not
        per sample, as scikit-learn's).
    reg_covar : float, default=1e-6
        Added to the diagonal of the covariance estimates (scale it to the
        data: tick returns have variances near 1e-8).
    max_iter : int, default=100
    n_init : int, default=1
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data', 'hierarchical'}, \
default='kmeans'
        Initial responsibilities (gmmx's own k-means; ``'random'`` draws the
        same responsibilities as scikit-learn from the same ``random_state``).
        The first M-step turns them into the posterior.
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}, \
default='dirichlet_process'
    weight_concentration_prior : float > 0 or None, default=None
        ``gamma_0`` (1 / n_components when None). Small values put the
        weight on few components.
    mean_precision_prior : float > 0 or None, default=None
        ``beta_0`` (1 when None).
    mean_prior : array-like of shape (n_features,) or None, default=None
        ``m_0`` (the data's mean when None).
    degrees_of_freedom_prior : float > n_features - 1 or None, default=None
        ``nu_0`` (n_features when None).
    covariance_prior : float or array-like or None, default=None
        ``W_0^-1``: (d, d) positive definite for full and tied, (d,) positive
        for diag, a positive float for spherical (the data's covariance when
        None).
    random_state : int, RandomState or None, default=None
    warm_start : bool, default=False
    verbose : int, default=0
    verbose_interval : int, default=10
    n_threads : int or None, default=None
        OpenMP threads of the kernel (as :class:`~gmmx.GaussianMixture`).
    chunk_size : int or None, default=None
        Rows per block read from a chunk source.
    callback : callable, optional
        ``callback(n_iter, lower_bound)`` after every iteration.
    progress : bool, default=False
        Progress bars over passes and rows.
    learning_offset : float >= 0, default=10.0
        ``tau`` of the step sizes ``rho_t = (t + tau) ** -kappa`` of
        :meth:`partial_fit` (t = 1 for the second batch).
    learning_decay : float in (0.5, 1], default=0.7
        ``kappa`` of those step sizes.
    total_samples : float > 0 or None, default=None
        Size ``N`` of the data set that :meth:`partial_fit` streams; None
        uses the weight seen so far (the posterior given the stream up to now).
    nan_policy : {'raise', 'omit', 'marginalize'}, default='raise'
        What missing values (NaN, or masked entries) mean, as for
        :class:`~gmmx.GaussianMixture`.  Under ``'marginalize'`` the missing
        entries are latent in the mean-field family: ``q(z, x_m) q(pi, mu,
        Lambda)``.  The optimal ``q(x_m | z = k)`` is Gaussian with the
        regression on ``Lambda_bar = E[Lambda_k] = nu_k W_k``
        (mean ``m_km - Lambda_bar_mm^-1 Lambda_bar_mo (x_o - m_ko)``,
        covariance ``Lambda_bar_mm^-1``), the E-step's log-weights are those of
        the observed block (``E[log pi_k] + (E[log|Lambda_k|] - log|Lambda_bar_mm|)/2
        - d/(2 beta_k) - delta_o/2 - d_o/2 log 2 pi``), and the conjugate M-step
        takes the expected statistics; ``lower_bound_`` then includes the entropy
        of ``q(x_m | z)`` (a valid evidence lower bound, increasing every
        iteration).  The prior's data-dependent defaults (``mean_prior``,
        ``covariance_prior``) come from the observed entries: each column's
        mean and variance over its observed entries, the correlations of
        the mean-imputed rows.

    Attributes
    ----------
    weight_concentration_ : array or tuple of two arrays
        Dirichlet parameters (K,), or the stick-breaking Beta parameters
        (two arrays (K,)) for a Dirichlet process.
    mean_precision_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    degrees_of_freedom_ : ndarray of shape (n_components,), or float (tied)
    covariances_, precisions_, precisions_cholesky_ : ndarray
        ``covariances_`` is ``W_k^-1 / nu_k``; the precisions are its inverses.
    weights_ : ndarray of shape (n_components,)
        Posterior mean weights.
    lower_bound_ : float
        Lower bound on the evidence (up to a constant) of the best fit.
    lower_bounds_ : list of float
    converged_ : bool
    n_iter_ : int
    weight_concentration_prior_, mean_precision_prior_, mean_prior_, \
degrees_of_freedom_prior_, covariance_prior_
        The priors with their defaults filled in.
    n_features_in_ : int
    feature_names_in_ : ndarray
        When fitted on data with column names.

    Notes
    -----
    The data-dependent prior defaults (``mean_prior_``, ``covariance_prior_``)
    take one pass over the data before initialisation (``np.cov`` of the rows;
    with ``sample_weight``, frequency weights: divided by ``sum w - 1``).
    A chunk source or dask array initialises from a bounded sample: its
    initial statistics are scaled up to the total weight.
    :meth:`score_samples` and :meth:`score` return scikit-learn's
    variational quantity ``log sum_k exp(E[log pi_k] + E[log N(x | k)])``.
    """

    # Fitted attributes (set by fit / partial_fit), beside BaseMixture's.
    weight_concentration_: Union[NDArray[np.floating[Any]], tuple[NDArray[np.floating[Any]], NDArray[np.floating[Any]]]]
    mean_precision_: NDArray[np.floating[Any]]
    degrees_of_freedom_: Union[NDArray[np.floating[Any]], float]
    covariances_: NDArray[np.floating[Any]]
    precisions_: NDArray[np.floating[Any]]
    precisions_cholesky_: NDArray[np.floating[Any]]
    weight_concentration_prior_: float
    mean_precision_prior_: float
    mean_prior_: NDArray[np.floating[Any]]
    degrees_of_freedom_prior_: float
    covariance_prior_: Union[NDArray[np.floating[Any]], float]

    def __init__(
        self,
        *,
        n_components: int = 1,
        covariance_type: str = "full",
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        max_iter: int = 100,
        n_init: int = 1,
        init_params: str = "kmeans",
        weight_concentration_prior_type: str = "dirichlet_process",
        weight_concentration_prior: Optional[float] = None,
        mean_precision_prior: Optional[float] = None,
        mean_prior: Optional[ArrayLike] = None,
        degrees_of_freedom_prior: Optional[float] = None,
        covariance_prior: Union[None, float, ArrayLike] = None,
        random_state: Union[None, int, np.random.RandomState] = None,
        warm_start: bool = False,
        verbose: int = 0,
        verbose_interval: int = 10,
        n_threads: Optional[int] = None,
        chunk_size: Optional[int] = None,
        callback: Optional[Callable[[int, float], Any]] = None,
        progress: bool = False,
        learning_offset: float = 10.0,
        learning_decay: float = 0.7,
        total_samples: Optional[float] = None,
        nan_policy: str = "raise",
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.n_threads = n_threads
        self.chunk_size = chunk_size
        self.callback = callback
        self.progress = progress
        self.learning_offset = learning_offset
        self.learning_decay = learning_decay
        self.total_samples = total_samples
        self.nan_policy = nan_policy

    # ------------------------------------------------------------------ checks
    def _check_parameters(self, n_features):
        self._check_common_parameters()
        check_float(self.learning_offset, "learning_offset", 0.0)
        d = self.learning_decay
        if (isinstance(d, bool) or not isinstance(d, numbers.Real) or not 0.5 < d <= 1.0):
            raise ValueError(f"learning_decay must be a number in (0.5, 1] (the step sizes "
                             f"are (t + learning_offset) ** -learning_decay), got {d!r}")
        if self.total_samples is not None:
            check_float(self.total_samples, "total_samples", 0.0, inclusive=False)
        check_nan_policy(self.nan_policy)
        self._check_priors(n_features)

    def _check_priors(self, d):
        """Every prior as scikit-learn checks it, plus what makes the model improper."""
        if self.weight_concentration_prior_type not in PRIOR_TYPES:
            raise _invalid_param("weight_concentration_prior_type",
                                 self.weight_concentration_prior_type,
                                 "a str among {'dirichlet_distribution', 'dirichlet_process'}")
        for name in ("weight_concentration_prior", "mean_precision_prior",
                     "degrees_of_freedom_prior"):
            _positive_or_none(getattr(self, name), name)
        if self.degrees_of_freedom_prior is not None and not self.degrees_of_freedom_prior > d - 1:
            raise ValueError(
                "The parameter 'degrees_of_freedom_prior' should be greater than "
                f"{d - 1}, but got {self.degrees_of_freedom_prior:.3f}."
            )
        if self.mean_prior is not None:
            _check_shape(_prior_array(self.mean_prior, "mean_prior"), (d,), "means")
        self._checked_covariance_prior(d)

    def _checked_covariance_prior(self, d):
        """The user's covariance prior as float64 (None when not given), validated."""
        value = self.covariance_prior
        if value is None:
            return None
        cov = get_covariance(self.covariance_type)
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            if not value > 0 or not np.isfinite(value):
                raise _invalid_param("covariance_prior", value,
                                     "None, an array-like or a float in the range (0.0, inf)")
        a = _prior_array(value, "covariance_prior")
        if cov.is_matrix:
            _check_shape(a, (d, d), f"{cov.name} covariance_prior")
            ok = np.allclose(a, a.T) and np.all(np.linalg.eigvalsh(a) > 0.0)
            if not ok:
                raise ValueError(f"'{cov.name} precision' should be symmetric, positive-definite")
        elif cov.name == "diag":
            _check_shape(a, (d,), "diag covariance_prior")
            if np.any(a <= 0.0):
                raise ValueError("'diag precision' should be positive")
        else:
            if a.ndim != 0:
                raise ValueError(
                    f"The parameter 'spherical covariance_prior' should be a float > 0 (one "
                    f"variance for every feature), but got an array of shape {a.shape}"
                )
            if not a > 0:
                raise _invalid_param("covariance_prior", value,
                                     "None, an array-like or a float in the range (0.0, inf)")
            return float(a)
        return a

    # ------------------------------------------------------------------ priors
    def _fit_driver(self, driver, warm=None, max_iter=None, names=None, tol=None):
        """Resolve the prior from one pass over the data, then fit (see BaseMixture)."""
        self._check_parameters(driver.n_features)
        self._resolve_prior(driver.accumulate(
            _MomentsStep(self.covariance_type, self._nan_policy() == "marginalize")))
        return super()._fit_driver(driver, warm=warm, max_iter=max_iter, names=names, tol=tol)

    def _resolve_prior(self, moments):
        """Fill in ``*_prior_`` from the user's values and the data's moments."""
        d = moments.n_features
        if not moments.weight_sum > 0 or not np.isfinite(moments.weight_sum):
            raise ValueError("the data carry no weight (no rows, or every sample weight is "
                             "zero); the prior's defaults need the data's mean and covariance")
        if moments.extra.get("n_missing", np.zeros(1))[0] > 0:
            mean, covariance = _observed_moments(moments, moments.covariance_type)
        else:
            mean, covariance = prior_moments(moments)
        self._total_weight = float(moments.weight_sum)
        self.weight_concentration_prior_ = (1.0 / self.n_components
                                            if self.weight_concentration_prior is None
                                            else self.weight_concentration_prior)
        self.mean_precision_prior_ = (1.0 if self.mean_precision_prior is None
                                      else self.mean_precision_prior)
        self.mean_prior_ = (mean if self.mean_prior is None
                            else np.asarray(self.mean_prior, dtype=np.float64).copy())
        self.degrees_of_freedom_prior_ = (d if self.degrees_of_freedom_prior is None
                                          else self.degrees_of_freedom_prior)
        given = self._checked_covariance_prior(d)
        if given is not None:
            self.covariance_prior_ = np.array(given) if np.ndim(given) else given
        else:
            name = get_covariance(self.covariance_type).name
            if name in ("full", "tied"):
                self.covariance_prior_ = np.atleast_2d(covariance)
            elif name == "diag":
                self.covariance_prior_ = np.asarray(covariance)
            else:
                self.covariance_prior_ = float(np.mean(covariance))

    def _prior(self):
        return VariationalPrior(
            self.weight_concentration_prior_type, float(self.weight_concentration_prior_),
            float(self.mean_precision_prior_), np.asarray(self.mean_prior_, dtype=np.float64),
            float(self.degrees_of_freedom_prior_),
            np.asarray(self.covariance_prior_, dtype=np.float64),
        )

    def _initial_params(self, driver, random_state):
        """The first M-step from initial responsibilities (scikit-learn's ``_initialize``)."""
        K = self.n_components
        Xs, ws = self._init_sample(driver, random_state)
        GaussianMixture._warn_reg_covar(self, Xs)
        st = initial_stats(Xs, ws, K, self.covariance_type, self.init_params, random_state,
                           driver.n_threads, cache=getattr(driver, "init_cache", None))
        # relative sample weights, or a sample of a larger source: to the total weight
        factor = self._total_weight / st.weight_sum if st.weight_sum > 0 else 1.0
        if factor != 1.0:
            st = scaled_stats(st, factor)
        return variational_m_step(st, self._prior(), self.reg_covar)

    # ------------------------------------------------------------------ hooks
    def _get_parameters(self):
        wc = self.weight_concentration_
        wc = np.vstack(wc) if isinstance(wc, tuple) else wc
        return VariationalParams(wc, self.mean_precision_, self.means_,
                                 np.asarray(self.degrees_of_freedom_), self.covariances_,
                                 self.precisions_cholesky_)

    def _set_parameters(self, params):
        """Set the fitted attributes (in the data's float type) as scikit-learn does."""
        wc, beta, means, nu, covariances, prec_chol = (np.asarray(p, dtype=np.float64)
                                                       for p in params)
        cov = get_covariance(self.covariance_type)
        precisions = cov.precisions_from_cholesky(prec_chol)
        dtype = self._attribute_dtype(covariances, precisions, prec_chol, beta, nu)
        self.weights_ = weights_from_concentration(wc, self.weight_concentration_prior_type
                                                   ).astype(dtype)
        wc = wc.astype(dtype)
        self.weight_concentration_ = (wc[0], wc[1]) if wc.ndim == 2 else wc
        self.mean_precision_ = beta.astype(dtype)
        self.means_ = means.astype(dtype)
        self.degrees_of_freedom_ = dtype.type(nu) if nu.ndim == 0 else nu.astype(dtype)
        self.covariances_ = covariances.astype(dtype)
        self.precisions_cholesky_ = prec_chol.astype(dtype)
        self.precisions_ = np.asarray(precisions, dtype=dtype)

    def _kernel_params(self, params):
        p = VariationalParams(*params)
        weights = weights_from_concentration(p.weight_concentration,
                                             self.weight_concentration_prior_type)
        return kernel.kernel_params(weights, p.means, p.precisions_cholesky,
                                    self.covariance_type,
                                    log_weights=log_weight_terms(
                                        p, self.weight_concentration_prior_type))

    def _m_step(self, stats, params):
        cached = getattr(self, "_m_step_cache", None)
        self._m_step_cache = None
        if cached is not None and cached[0] is stats:
            self._last_update = cached  # the statistics behind the newest parameters
            return cached[1]
        return variational_m_step(stats, self._prior(), self.reg_covar)

    def _lower_bound(self, stats, params):
        """scikit-learn's lower bound: the E-step's responsibilities, the M-step's posterior.

        The M-step it needs is kept for :meth:`_m_step` on the same statistics.
        """
        entropy = responsibility_entropy_sum(stats, VariationalParams(*params),
                                             self.weight_concentration_prior_type)
        try:
            new = variational_m_step(stats, self._prior(), self.reg_covar)
        except IllDefinedCovarianceError:
            return -np.inf  # the M-step raises again inside EM, which handles it
        self._m_step_cache = (stats, new)
        return lower_bound(entropy, new, self.weight_concentration_prior_type,
                           self.covariance_type)

    def _n_parameters(self):
        return n_mixture_parameters(self.covariance_type, *self.means_.shape)

    def _set_fit_result(self, result, n_features, names=None, driver=None):
        """As BaseMixture's; the last pass's statistics start ``partial_fit``'s running ones."""
        last = getattr(self, "_last_update", None)
        self._m_step_cache = self._last_update = None
        super()._set_fit_result(result, n_features, names, driver)
        self._online_state = None
        if last is not None and last[1] is result.params and last[0].weight_sum > 0:
            stats = last[0]
            state = _StochasticVI(stats.scaled(1.0 / stats.weight_sum), 1, stats.weight_sum,
                                  self.learning_offset)
            state.anchor(self.weights_, self.means_)
            self._online_state = state

    # ------------------------------------------------------------------ online
    def partial_fit(self, X: ArrayLike, y: Any = None,
                    sample_weight: Optional[ArrayLike] = None) -> Self:
        """One step of stochastic variational inference on a batch of rows.

        After :meth:`fit`, the first call continues from the fitted posterior
        (the fit's data count as the statistics seen so far).  On an unfitted
        model, the first call fits the variational posterior to (at most 2,000 rows
        of) its batch, as :meth:`fit` with ``init_params`` for up to
        ``max(max_iter, 2000)`` iterations (tol at most 1e-6), resolves the priors from those
        rows and updates the posterior with the whole batch.  Every later call runs one E-step on its
        batch under the current posterior and takes a natural-gradient step
        ``lambda <- (1 - rho_t) lambda + rho_t (prior + N s_hat)`` (Hoffman et
        al. 2013) with ``rho_t = (t + learning_offset) ** -learning_decay``,
        ``s_hat`` the batch's statistics per unit of weight and ``N`` =
        ``total_samples`` (default: the weight seen so far).  The defaults
        (tau = 10, kappa = 0.7) suit shuffled batches of 10,000 to 100,000
        rows; the running state is saved by :meth:`save`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        fitted = hasattr(self, "precisions_cholesky_")
        rows, w, names = self._partial_fit_batch(X, sample_weight)
        d = rows.shape[1]
        if fitted and d != self.n_features_in_:
            raise ValueError(
                f"X has {d} features, but BayesianGaussianMixture is expecting "
                f"{self.n_features_in_} features as input (every batch must have the same "
                "columns as the first)"
            )
        self._check_parameters(d)
        n_threads = self._n_threads(rows)
        state = getattr(self, "_online_state", None)
        if not fitted or state is None or not state.matches(self.weights_, self.means_):
            return self._first_batch(rows, w, n_threads, names)
        if not isinstance(state, _StochasticVI):
            state = _StochasticVI(state.stats, state.n_updates, state.weight_seen)
        state.offset = float(self.learning_offset)
        params = VariationalParams(*(np.asarray(p, dtype=np.float64)
                                     for p in self._get_parameters()))
        with kernel.blas_held_to_one_thread():
            stats = kernel.accumulate(rows, w, self._estep_params(params), n_threads,
                                      where="partial_fit batch: ")
        entropy = responsibility_entropy_sum(stats, params, self.weight_concentration_prior_type)
        running = state.update(stats, float(self.learning_decay))
        total = state.weight_seen if self.total_samples is None else float(self.total_samples)
        new = variational_m_step(scaled_stats(running, total), self._prior(), self.reg_covar)
        lb = lower_bound(entropy * total / stats.weight_sum, new,
                         self.weight_concentration_prior_type, self.covariance_type)
        self._set_parameters(new)
        self._record_online(state, lb)
        return self

    def _first_batch(self, rows, w, n_threads, names):
        """The posterior of the first batch, whose statistics start the running ones.

        A variational fit of at most ``FIRST_BATCH_ROWS`` of its rows (a random
        subset) for up to ``max(max_iter, FIRST_BATCH_ITER)`` iterations: on
        few rows a Dirichlet process switches unneeded components off within a
        few hundred iterations (on many, the pressure per iteration falls as
        ``1 / n_k`` and takes thousands), and a switched-off component stays
        off in later steps.  Then one update with the whole batch.
        """
        n = rows.shape[0]
        sub = rows if n <= FIRST_BATCH_ROWS else None
        if sub is None:
            rs = np.random.RandomState(check_random_state(self.random_state).randint(2**31 - 1))
            idx = np.sort(rs.choice(n, FIRST_BATCH_ROWS, replace=False))
            sub, sw = np.ascontiguousarray(rows[idx]), None if w is None else w[idx]
        else:
            sw = w
        self._m_step_cache = None
        with kernel.blas_held_to_one_thread():
            self._fit_driver(ArrayDriver(sub, sw, n_threads), warm=False, names=names,
                             max_iter=max(self.max_iter, FIRST_BATCH_ITER),
                             tol=min(self.tol, FIRST_BATCH_TOL))
        params = VariationalParams(*(np.asarray(p, dtype=np.float64)
                                     for p in self._get_parameters()))
        with kernel.blas_held_to_one_thread():
            params = self._merge_moves(ArrayDriver(sub, sw, n_threads), params)
            self._set_parameters(params)
            stats = kernel.accumulate(rows, w, self._estep_params(params), n_threads,
                                      where="partial_fit batch: ")
        entropy = responsibility_entropy_sum(stats, params, self.weight_concentration_prior_type)
        state = _StochasticVI(stats.scaled(1.0 / stats.weight_sum), 1, stats.weight_sum,
                              self.learning_offset)
        total = state.weight_seen if self.total_samples is None else float(self.total_samples)
        new = variational_m_step(scaled_stats(state.stats, total), self._prior(), self.reg_covar)
        self._set_parameters(new)
        self._record_online(state, lower_bound(entropy * total / stats.weight_sum, new,
                                               self.weight_concentration_prior_type,
                                               self.covariance_type))
        return self

    def _merge_moves(self, driver, params):
        """Greedy merges of pairs of components while they raise the lower bound.

        Mean-field updates leave near-duplicate components (several narrow
        ones sharing one regime) in a local optimum.  A merge adds one
        component's statistics to another's, takes the conjugate update and
        a few more iterations; it is kept if its lower bound beats that of
        the same iterations without it (Hughes & Sudderth 2013).
        """
        steps = self._em_steps()

        def polish(start):
            result = run_em(driver.accumulate, steps, start, -np.inf,
                            max_iter=MERGE_ITER, tol=0.0)
            return result.params, result.lower_bound

        current, best = polish(params)
        merged = True
        while merged:
            merged = False
            stats = driver.accumulate(self._estep_params(current))
            occupied = np.flatnonzero(stats.nk > MERGE_MIN_WEIGHT * stats.weight_sum)
            for a, j in enumerate(occupied):
                for l in occupied[a + 1:]:
                    try:
                        candidate, lb = polish(self._merged(stats, j, l))
                    except (IllDefinedCovarianceError, ValueError):
                        continue
                    if lb > best:
                        current, best, merged = candidate, lb, True
                        break
                if merged:
                    break
        return VariationalParams(*current)

    def _merged(self, stats, j, l):
        """The conjugate update with component ``l``'s statistics moved to ``j``."""
        centers = stats.centers.copy()
        centers[l] = centers[j]
        st = stats.recentred(centers)
        for a in (st.nk, st.sk, st.Mk):
            a[j] += a[l]
            a[l] = 0.0
        return variational_m_step(st, self._prior(), self.reg_covar)

    # ------------------------------------------------------------------ sampling
    def sample(self, n_samples: int = 1) -> tuple[NDArray, NDArray]:
        """Draw samples from the mixture of posterior means (``weights_``, ``means_``,
        ``covariances_``), as scikit-learn.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
        """
        return sample_gaussian_components(self, n_samples)

    # ------------------------------------------------------------------ archive
    _array_params = ("mean_prior", "covariance_prior")
    #: Cast to float32 on loading a float32 model (BaseMixture._from_archive).
    _fitted_arrays = ("mean_precision_", "means_", "covariances_", "precisions_",
                      "precisions_cholesky_", "weights_")
    _saved_arrays = ("weight_concentration_", "degrees_of_freedom_") + _fitted_arrays
    _prior_fields = ("weight_concentration_prior_", "mean_precision_prior_", "mean_prior_",
                     "degrees_of_freedom_prior_", "covariance_prior_")

    def _archive_arrays(self):
        arrays = {"fit_" + name: np.asarray(np.vstack(getattr(self, name))
                                            if isinstance(getattr(self, name), tuple)
                                            else getattr(self, name), dtype=np.float64)
                  for name in self._saved_arrays}
        arrays.update({"fit_" + name: np.asarray(getattr(self, name), dtype=np.float64)
                       for name in self._prior_fields})
        return arrays

    def _check_archived_params(self, path, n_features=None):
        d = n_features
        if d is None:
            given = [np.shape(v) for v in (self.mean_prior, self.covariance_prior)
                     if v is not None and np.ndim(v) >= 1]
            d = given[0][-1] if given else 1
        try:
            self._check_parameters(d)
        except ValueError as exc:
            raise io.invalid(path, f"bad parameter: {exc}") from None

    def _archive_shapes(self, n_features):
        K, d = self.n_components, n_features
        cov = get_covariance(self.covariance_type)
        cshape = cov.shape(K, d)
        dp = self.weight_concentration_prior_type == "dirichlet_process"
        prior_cov = {"full": (d, d), "tied": (d, d), "diag": (d,), "spherical": ()}[cov.name]
        return {"weight_concentration_": (2, K) if dp else (K,), "mean_precision_": (K,),
                "means_": (K, d), "degrees_of_freedom_": () if cov.name == "tied" else (K,),
                "covariances_": cshape, "precisions_": cshape, "precisions_cholesky_": cshape,
                "weights_": (K,), "weight_concentration_prior_": (),
                "mean_precision_prior_": (), "mean_prior_": (d,),
                "degrees_of_freedom_prior_": (), "covariance_prior_": prior_cov,
                "mean_prior": (d,), "covariance_prior": prior_cov}

    def _check_archived_init(self, path, n_features):
        """The saved priors are valid (checked with the constructor's parameters)."""
        self._check_archived_params(path, n_features)

    def _restore_arrays(self, arrays, fitted, path, shapes):
        """Fitted attributes and resolved priors from the archive, each checked."""
        d = fitted["n_features_in_"]
        names = self._saved_arrays + self._prior_fields
        values = {name: io.check_array(arrays, "fit_" + name, path, shape=shapes[name])
                  for name in names}
        for name in ("mean_precision_", "degrees_of_freedom_", "weight_concentration_",
                     "weight_concentration_prior_", "mean_precision_prior_",
                     "degrees_of_freedom_prior_"):
            if np.any(values[name] <= 0):
                raise io.invalid(path, f"array 'fit_{name}' must be positive")
        if not values["degrees_of_freedom_prior_"] > d - 1:
            raise io.invalid(path, "array 'fit_degrees_of_freedom_prior_' must exceed "
                                   "n_features - 1")
        _check_saved_covariances(get_covariance(self.covariance_type), values, path,
                                 single=fitted.get("dtype") == np.float32)
        dtype = np.dtype(fitted.get("dtype", np.float64))
        wc = values.pop("weight_concentration_")
        self.weight_concentration_ = ((wc[0].astype(dtype), wc[1].astype(dtype))
                                      if wc.ndim == 2 else wc.astype(dtype))
        nu = values.pop("degrees_of_freedom_")
        self.degrees_of_freedom_ = dtype.type(nu) if nu.ndim == 0 else nu.astype(dtype)
        for name, a in values.items():
            setattr(self, name, a)
        for name in ("weight_concentration_prior_", "mean_precision_prior_",
                     "degrees_of_freedom_prior_"):
            setattr(self, name, float(values[name]))
        if np.ndim(self.covariance_prior_) == 0:
            self.covariance_prior_ = float(self.covariance_prior_)
        self.weights_ = weights_from_concentration(wc, self.weight_concentration_prior_type)
        self.n_features_in_ = d

    _online_archive_shapes = GaussianMixture._online_archive_shapes

    def _check_online_stats(self, stats, path):
        for name, shape in self._online_archive_shapes().items():
            if name == "scalars":
                continue
            a = getattr(stats, name)
            if a.shape != shape or not np.all(np.isfinite(a)):
                raise io.invalid(path, f"online statistic {name} is malformed")
