"""`GaussianHMM`: a hidden Markov model with Gaussian emissions, fitted by Baum-Welch.

A drop-in for ``hmmlearn.hmm.GaussianHMM`` (0.3): the same constructor,
defaults, attributes, methods and results, computed by gmmx's kernels (see
:mod:`gmmx.hmm`), plus filtered probabilities, row weights, out-of-core and
Dask fitting, ``n_threads``, progress bars and the safe model format.
"""

from __future__ import annotations

import logging
import numbers
import os
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np
from scipy import linalg

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import ArrayLike, NDArray
    from typing_extensions import Self

from .. import io
from .._params import ParamsMixin
from .._kernels import _hmm
from .._validation import (as_float_array, check_chunk_size_and_threads, check_float,
                           check_int, check_nan_policy, check_random_state, check_sample_weight)
from ..core import kernel
from ..core.covariance import COVARIANCE_TYPES, get_covariance
from ..core.init import KMEANS_MAX_ROWS, kmeans
from ..drivers.sampling import fill_for_init
from ..exceptions import NotFittedError
from . import _forward_backward as fb
from ._checks import check_covars, check_distribution, check_prior, precisions_cholesky
from ._monitor import ConvergenceMonitor
from ._mstep import EmissionPriors, emission_m_step, start_m_step, transition_m_step
from ._passes import make_pass

__all__ = ["GaussianHMM"]

_log = logging.getLogger("gmmx.hmm")

DECODER_ALGORITHMS = frozenset(("viterbi", "map"))
IMPLEMENTATIONS = ("log", "scaling")
_PRIORS = ("startprob_prior", "transmat_prior", "means_prior", "means_weight", "covars_prior",
           "covars_weight")


def _data_covariance(X, w, block=1 << 16):
    """``np.cov(X.T, aweights=w)`` in float64, two passes over blocks of rows
    (no float64 copy of a large array)."""
    n, d = X.shape
    ws = np.ones(n) if w is None else w
    v1 = ws.sum()
    mean = sum(ws[i:i + block] @ np.asarray(X[i:i + block], dtype=np.float64)
               for i in range(0, n, block)) / v1
    scatter = np.zeros((d, d))
    for i in range(0, n, block):
        D = np.asarray(X[i:i + block], dtype=np.float64) - mean
        scatter += (D * ws[i:i + block, None]).T @ D
    fact = v1 - (ws @ ws) / v1          # numpy's ddof=1 with aweights (n - 1 without)
    return scatter / fact if fact > 0 else np.zeros((d, d))


class GaussianHMM(ParamsMixin):
    """Hidden Markov model with Gaussian emissions, fitted by Baum-Welch (EM).

    The constructor, defaults, attributes and methods are hmmlearn's
    ``GaussianHMM``; from identical parameters the fit gives hmmlearn's
    estimates (MAP priors included).  Emission densities and statistics come
    from gmmx's E-step kernel, forward-backward and Viterbi from a native
    kernel that is parallel over sequences and cannot underflow; statistics
    are centred, so price-level data keep their precision.

    Parameters
    ----------
    n_components : int, default=1
        Number of hidden states.
    covariance_type : {'spherical', 'diag', 'full', 'tied'}, default='diag'
        Form of the state covariances ('tied': one covariance for all states).
    min_covar : float, default=1e-3
        Added to the diagonal of the data covariance that initialises
        ``covars_`` (and to a full covariance that is not positive definite
        when densities are computed), as in hmmlearn.  Absolute: scale it to
        your data (daily returns have variances near 1e-4).
    startprob_prior, transmat_prior : float or array, default=1.0
        Dirichlet prior parameters of ``startprob_`` (K,) and each row of
        ``transmat_`` (K, K); 1 is no prior.
    means_prior, means_weight : float or array, default=0
        Mean and weight (pseudo-count) of the normal prior on ``means_``;
        (K,) arrays are per state, ``means_prior`` may also be (K, d).
    covars_prior, covars_weight : float or array, default=1e-2 and 1
        Inverse-Wishart (full, tied) or inverse-gamma (diag, spherical) prior
        on the covariances: ``covars_prior`` is added to the scatter matrix of
        every state (a scalar to every entry, as in hmmlearn) and
        ``covars_weight`` sets the extra denominator ``max(w - d, 0)`` (full,
        tied) or ``max(w - 1, 0)`` (diag, spherical).  Absolute, like
        ``min_covar``.
    algorithm : {'viterbi', 'map'}, default='viterbi'
        Decoder of :meth:`predict` and :meth:`decode`.
    random_state : int, RandomState or None, default=None
        Seeds the initial ``startprob_``, ``transmat_`` (Dirichlet draws as in
        hmmlearn) and the k-means that initialises ``means_``.
    n_iter : int, default=10
        Maximum number of Baum-Welch iterations.
    tol : float, default=1e-2
        Stop when the total log-likelihood gains less than ``tol``.
    verbose : bool, default=False
        Print each iteration's log-likelihood to standard error.
    params, init_params : str, default='stmc'
        Parameters updated by ``fit`` / initialised before it: 's' startprob,
        't' transmat, 'm' means, 'c' covars.  A parameter left out of
        ``init_params`` keeps the value you set (``model.means_ = ...``).
    implementation : {'log', 'scaling'}, default='log'
        Accepted for compatibility.  Both run gmmx's scaled recursion, which
        falls back to log space for any sequence where scaling would
        underflow, so neither can fail on long sequences.
    n_threads : int or None, default=None
        OpenMP threads (None: all usable cores, as the work warrants).
    chunk_size : int or None, default=None
        Rows per chunk read from a chunk source (each chunk is one sequence).
    progress : bool, default=False
        tqdm progress bars over passes and rows.
    nan_policy : {'raise', 'marginalize'}, default='raise'
        Missing values (NaN, or masked entries): ``'raise'`` an error naming
        the row; ``'marginalize'`` each row's emission density is that of its
        observed entries and the emission statistics are the expected
        complete-data ones (missing at random), in ``fit`` (arrays, chunk
        sources, dask) and every inference method. A row with nothing
        observed and infinities are errors. (``'omit'`` is refused: dropping
        rows would join their neighbours in time.)

    Attributes
    ----------
    startprob_ : ndarray of shape (n_components,)
    transmat_ : ndarray of shape (n_components, n_components)
    means_ : ndarray of shape (n_components, n_features)
    covars_ : ndarray of shape (n_components, n_features, n_features)
        Full matrices whatever the covariance type (as hmmlearn); set it with
        the covariance type's own shape: (K,) spherical, (K, d) diag,
        (K, d, d) full, (d, d) tied.
    n_features : int
    monitor_ : ConvergenceMonitor
        ``history`` of the log-likelihood, ``iter``, ``converged``.
    """

    # Fitted attributes (set by fit, or by hand before it).
    startprob_: NDArray[np.float64]
    transmat_: NDArray[np.float64]
    means_: NDArray[np.float64]
    n_features: int
    monitor_: ConvergenceMonitor

    def __init__(self, n_components: int = 1, covariance_type: str = "diag",
                 min_covar: float = 1e-3, startprob_prior: ArrayLike = 1.0,
                 transmat_prior: ArrayLike = 1.0, means_prior: ArrayLike = 0,
                 means_weight: ArrayLike = 0, covars_prior: ArrayLike = 1e-2,
                 covars_weight: ArrayLike = 1, algorithm: str = "viterbi",
                 random_state: Union[None, int, np.random.RandomState] = None,
                 n_iter: int = 10, tol: float = 1e-2, verbose: bool = False,
                 params: str = "stmc", init_params: str = "stmc", implementation: str = "log",
                 *, n_threads: Optional[int] = None, chunk_size: Optional[int] = None,
                 progress: bool = False, nan_policy: str = "raise") -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.min_covar = min_covar
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight
        self.algorithm = algorithm
        self.random_state = random_state
        self.n_iter = n_iter
        self.tol = tol
        self.verbose = verbose
        self.params = params
        self.init_params = init_params
        self.implementation = implementation
        self.n_threads = n_threads
        self.chunk_size = chunk_size
        self.progress = progress
        self.nan_policy = nan_policy
        self.monitor_ = ConvergenceMonitor(tol, n_iter, verbose)

    #: Fitted attributes that :meth:`save` stores (a subclass appends its own).
    _fitted_attributes: tuple[str, ...] = ("startprob_", "transmat_", "means_", "_covars_")

    # ------------------------------------------------------------ covariances
    @property
    def covars_(self) -> NDArray[np.float64]:
        """State covariances as (n_components, n_features, n_features) matrices."""
        c = self._covars_
        d = self.n_features if hasattr(self, "n_features") else np.shape(self.means_)[1]
        return get_covariance(self.covariance_type).to_full(c, self.n_components, d)

    @covars_.setter
    def covars_(self, covars: ArrayLike) -> None:
        self._covars_ = check_covars(covars, self.covariance_type, self.n_components)

    # ------------------------------------------------------------ checks
    def __sklearn_tags__(self) -> Any:
        # scikit-learn's tags (for its check_estimator), as for hmmlearn's models,
        # which subclass scikit-learn's BaseEstimator
        from sklearn.base import BaseEstimator

        tags = BaseEstimator.__sklearn_tags__(self)
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags

    def _check_parameters(self):
        check_int(self.n_components, "n_components", 1)
        if self.covariance_type not in COVARIANCE_TYPES:
            raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}, "
                             f"got {self.covariance_type!r}")
        check_float(self.min_covar, "min_covar", 0.0)
        check_int(self.n_iter, "n_iter", 0)
        tol = self.tol
        if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or np.isnan(tol):
            raise ValueError(f"tol must be a number, got {self.tol!r}")
        if self.implementation not in IMPLEMENTATIONS:
            raise ValueError(f"implementation must be one of {IMPLEMENTATIONS}, "
                             f"got {self.implementation!r}")
        for name in ("params", "init_params"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name} must be a string of letters from 'stmc', "
                                 f"got {getattr(self, name)!r}")
        check_chunk_size_and_threads(self.chunk_size, self.n_threads)
        K = self.n_components
        self._nan_policy()
        check_prior(self.startprob_prior, "startprob_prior", (K,))
        check_prior(self.transmat_prior, "transmat_prior", (K, K))

    def _nan_policy(self):
        """The validated ``nan_policy`` ('omit' would join the rows around a gap)."""
        policy = check_nan_policy(getattr(self, "nan_policy", "raise"))
        if policy == "omit":
            raise ValueError(
                "GaussianHMM does not support nan_policy='omit': dropping a row would make "
                "its neighbours consecutive observations. Use nan_policy='marginalize' (the "
                "missing entries are integrated out of the emissions)"
            )
        return policy

    def _check(self):
        """Validate startprob_, transmat_, means_ and covars_ (hmmlearn's ``_check``)."""
        K = self.n_components
        missing = [a for a in ("startprob_", "transmat_", "means_", "_covars_")
                   if not hasattr(self, a)]
        if missing:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet (no "
                f"{missing[0].lstrip('_')}). Call 'fit', or set the parameters and fit with "
                "init_params=''.")
        self.startprob_ = check_distribution(self.startprob_, "startprob_", (K,))
        self.transmat_ = check_distribution(self.transmat_, "transmat_", (K, K))
        means = np.array(self.means_, dtype=np.float64)
        if means.ndim != 2 or means.shape[0] != K:
            raise ValueError(f"means_ must have shape (n_components, n_features) with "
                             f"n_components = {K}, got {means.shape}")
        if not np.all(np.isfinite(means)):
            raise ValueError("means_ contains NaN or infinity")
        self.means_ = means
        self.n_features = self.n_features_in_ = means.shape[1]
        want = get_covariance(self.covariance_type).shape(K, self.n_features)
        if self._covars_.shape != want:
            raise ValueError(
                f"covars_ has shape {self._covars_.shape} but covariance_type="
                f"{self.covariance_type!r} with {K} states and {self.n_features} features "
                f"needs {want}")

    def _model_params(self):
        """The current parameters with their precision factors (for the kernels)."""
        covars = self._covars_
        pc = precisions_cholesky(covars, self.covariance_type, self.min_covar)
        return fb.HMMParams(self.startprob_, self.transmat_, self.means_, covars, pc,
                            self.covariance_type, nan_policy=self._nan_policy())

    def _get_n_fit_scalars_per_param(self):
        K, d = self.n_components, self.n_features
        return {"s": K - 1, "t": K * (K - 1), "m": K * d,
                "c": {"spherical": K, "diag": K * d, "full": K * d * (d + 1) // 2,
                      "tied": d * (d + 1) // 2}[self.covariance_type]}

    # ------------------------------------------------------------ fit
    def _needs_init(self, code, name):
        if code in self.init_params:
            if hasattr(self, name):
                _log.warning("Even though the %r attribute is set, it will be overwritten "
                             "during initialization because 'init_params' contains %r",
                             name.lstrip("_"), code)
            return True
        return not hasattr(self, name)

    def _init(self, data):
        """Initial parameters (hmmlearn's ``_init``; gmmx's k-means for the means)."""
        K, d = self.n_components, data.n_features
        need_s, need_t = self._needs_init("s", "startprob_"), self._needs_init("t", "transmat_")
        need_m, need_c = self._needs_init("m", "means_"), self._needs_init("c", "_covars_")
        if hasattr(self, "n_features") and self.n_features != d and not (need_m and need_c):
            raise ValueError(f"X has {d} features but the model's means_ and covars_ have "
                             f"{self.n_features}; include 'm' and 'c' in init_params to refit")
        random_state = check_random_state(self.random_state)
        if need_s:
            self.startprob_ = random_state.dirichlet(np.full(K, 1.0 / K))
        if need_t:
            self.transmat_ = random_state.dirichlet(np.full(K, 1.0 / K), size=K)
        if need_m or need_c:
            X, w = data.init_sample(check_random_state(self.random_state))
            if self._nan_policy() == "marginalize":
                X = fill_for_init(X)
            if need_m:
                self.means_ = self._kmeans_means(X, w, data.n_threads)
            if need_c:
                self._covars_ = self._initial_covars(X, w)
        self.n_features = self.n_features_in_ = d
        n_scalars = sum(self._get_n_fit_scalars_per_param()[p] for p in self.params
                        if p in "stmc")
        n_values = getattr(data, "n_values", None)
        if n_values is not None and n_values < n_scalars:
            _log.warning("Fitting a model with %d free scalar parameters with only %d data "
                         "points will result in a degenerate solution.", n_scalars, n_values)

    def _kmeans_means(self, X, w, n_threads, n_init=10):
        """Best of ``n_init`` k-means runs (as hmmlearn's ``KMeans(n_init=10)``)."""
        K = self.n_components
        if X.shape[0] < K:
            raise ValueError(f"Expected n_samples >= n_components but got n_components = {K}, "
                             f"n_samples = {X.shape[0]}")
        rs = check_random_state(self.random_state)
        if X.shape[0] > KMEANS_MAX_ROWS:
            sub = np.unique(rs.randint(0, X.shape[0], KMEANS_MAX_ROWS))
            X, w = np.ascontiguousarray(X[sub]), None if w is None else w[sub]
        best, best_inertia = None, np.inf
        for _ in range(n_init):
            centers, _ = kmeans(X, w, K, rs, n_threads)
            dist = np.full(X.shape[0], np.inf)
            for c in centers:
                dist = np.minimum(dist, ((X - c) ** 2).sum(axis=1))
            inertia = float(dist.sum() if w is None else w @ dist)
            if inertia < best_inertia:
                best, best_inertia = centers, inertia
        return np.array(best, dtype=np.float64)

    def _initial_covars(self, X, w):
        """Data covariance + ``min_covar`` I, distributed to the states as by hmmlearn
        (spherical: the mean of all its entries, off-diagonal ones included)."""
        K = self.n_components
        cv = _data_covariance(X, w) + self.min_covar * np.eye(X.shape[1])
        distribute = {"spherical": lambda: np.full(K, cv.mean()),
                      "diag": lambda: np.tile(np.diag(cv), (K, 1)),
                      "full": lambda: np.tile(cv, (K, 1, 1)),
                      "tied": lambda: cv}
        return distribute[self.covariance_type]()

    def fit(self, X: Any, lengths: Optional[ArrayLike] = None,
            sample_weight: Optional[ArrayLike] = None) -> Self:
        """Estimate the parameters by Baum-Welch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), chunk source or dask collection
            In memory: the sequences laid end to end (``lengths`` splits
            them).  A chunk source (path, ChunkSource, iterable of blocks) or
            a dask array/DataFrame is read once per iteration, each chunk or
            block being one sequence (e.g. one trading day).
        lengths : array-like of int, optional
            Lengths of the sequences in an in-memory ``X`` (sum = n_samples).
        sample_weight : array-like of shape (n_samples,), optional
            Row weights ``w_t >= 0``: row ``t``'s emission enters the
            likelihood as ``p(x_t | z_t) ** w_t`` (0 makes it a missing
            observation) and its statistics with weight ``w_t``; the state
            dynamics are unweighted.  All ones is the ordinary fit.  With a
            chunk source, yield ``(X, w)`` pairs instead.

        Returns
        -------
        self
        """
        self._check_parameters()
        data = make_pass(X, lengths, sample_weight, self.n_components, self.n_threads,
                         self.chunk_size, bool(self.progress), self.n_iter, self._nan_policy())
        try:
            with kernel.blas_held_to_one_thread():
                self._init(data)
                self._check()
                if self.n_features != data.n_features:
                    raise ValueError(
                        f"X has {data.n_features} features but means_ has {self.n_features}; "
                        "set means_ and covars_ for this data or include 'm' and 'c' in "
                        "init_params")
                self._baum_welch(data)
        finally:
            data.close()
        return self

    def _baum_welch(self, data):
        monitor = self.monitor_
        if type(monitor) is ConvergenceMonitor:
            monitor.tol, monitor.n_iter, monitor.verbose = self.tol, self.n_iter, self.verbose
        monitor._reset()
        priors = EmissionPriors(self.means_prior, self.means_weight, self.covars_prior,
                                self.covars_weight, self.covariance_type, self.n_components,
                                self.n_features)
        for _ in range(self.n_iter):
            params = self._model_params()
            stats = data.accumulate(params)
            self._do_mstep(stats, params, priors)
            monitor.report(stats.log_prob)
            if monitor.converged:
                break

    def _do_mstep(self, stats, params, priors):
        if "s" in self.params:
            self.startprob_ = start_m_step(stats.start, params.startprob, self.startprob_prior)
        if "t" in self.params:
            self.transmat_ = transition_m_step(stats.trans, params.transmat, self.transmat_prior)
        means, covars = emission_m_step(stats.emission, params.means, params.covars, priors,
                                        "m" in self.params, "c" in self.params)
        if not (np.all(np.isfinite(means)) and np.all(np.isfinite(covars))):
            raise ValueError("the M-step produced non-finite parameters; standardise the data "
                             "or increase covars_prior")
        self.means_, self._covars_ = means, covars

    # ------------------------------------------------------------ inference
    def _lattice(self, X, lengths):
        """Validated ``(X, bounds, log-densities, params, n_threads)`` for inference."""
        self._check_parameters()
        self._check()
        X = as_float_array(X, nan_policy=self._nan_policy())
        if X.shape[1] != self.n_features:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features} features as input")
        bounds = fb.sequence_bounds(lengths, X.shape[0])
        params = self._model_params()
        n_threads = kernel.resolve_n_threads(
            self.n_threads, X.shape[0] * self.n_components * (X.shape[1] + 1))
        lp = fb.emission_log_densities(X, fb.emission_kernel_params(params), n_threads)
        return X, bounds, lp, params, n_threads

    def score_samples(self, X: ArrayLike,
                      lengths: Optional[ArrayLike] = None) -> tuple[float, NDArray[np.float64]]:
        """Log-likelihood of ``X`` and the smoothed state posteriors.

        Returns
        -------
        log_prob : float
            Sum of the sequences' log-likelihoods.
        posteriors : ndarray of shape (n_samples, n_components)
            ``P(z_t = k | the whole sequence)``.
        """
        _, bounds, lp, p, nt = self._lattice(X, lengths)
        gamma, logprob, _ = fb.posteriors(lp, None, bounds, p.startprob, p.transmat, nt,
                                          want_xi=False)
        return float(logprob.sum()), gamma

    def score(self, X: ArrayLike, lengths: Optional[ArrayLike] = None,
              sample_weight: Optional[ArrayLike] = None) -> float:
        """Log-likelihood of ``X`` (summed over sequences).

        ``sample_weight`` tempers the emissions as in :meth:`fit` (the value
        ``fit`` maximises).
        """
        rows, bounds, lp, p, nt = self._lattice(X, lengths)
        w = check_sample_weight(sample_weight, rows.shape[0])
        _, logprob = fb.filtered(lp, w, bounds, p.startprob, p.transmat, nt)
        return float(logprob.sum())

    def predict_proba(self, X: ArrayLike,
                      lengths: Optional[ArrayLike] = None) -> NDArray[np.float64]:
        """Smoothed posteriors ``P(z_t = k | x_1..x_T)``, shape (n_samples, n_components)."""
        return self.score_samples(X, lengths)[1]

    def filter_proba(self, X: ArrayLike,
                     lengths: Optional[ArrayLike] = None) -> NDArray[np.float64]:
        """Filtered state probabilities ``P(z_t = k | x_1..x_t)``: causal, no look-ahead.

        Row ``t`` uses rows up to ``t`` of its sequence only, so it does not
        change when later rows are appended: what a trading rule could have
        known at time ``t``.

        Returns
        -------
        ndarray of shape (n_samples, n_components)
        """
        _, bounds, lp, p, nt = self._lattice(X, lengths)
        return fb.filtered(lp, None, bounds, p.startprob, p.transmat, nt)[0]

    def decode(self, X: ArrayLike, lengths: Optional[ArrayLike] = None,
               algorithm: Optional[str] = None) -> tuple[float, NDArray[np.intp]]:
        """Most likely state sequence.

        Parameters
        ----------
        algorithm : {'viterbi', 'map'}, optional
            Default: the estimator's ``algorithm``.  'viterbi' is the most
            likely path; 'map' the most likely state of each row.

        Returns
        -------
        log_prob : float
            'viterbi': log-probability of the path (joint with ``X``), summed
            over sequences.  'map': as hmmlearn, the sum over rows of the
            largest posterior probability.
        state_sequence : ndarray of shape (n_samples,)
        """
        algorithm = algorithm or self.algorithm
        if algorithm not in DECODER_ALGORITHMS:
            raise ValueError(f"Unknown decoder {algorithm!r}")
        _, bounds, lp, p, nt = self._lattice(X, lengths)
        if algorithm == "viterbi":
            states, logprob = fb.viterbi(lp, bounds, p.startprob, p.transmat, nt)
            return float(logprob.sum()), states
        gamma, _, _ = fb.posteriors(lp, None, bounds, p.startprob, p.transmat, nt,
                                    want_xi=False)
        return float(gamma.max(axis=1).sum()), np.argmax(gamma, axis=1)

    def predict(self, X: ArrayLike, lengths: Optional[ArrayLike] = None) -> NDArray[np.intp]:
        """Most likely state of every row by the estimator's ``algorithm``."""
        return self.decode(X, lengths)[1]

    def sample(self, n_samples: int = 1,
               random_state: Union[None, int, np.random.RandomState] = None,
               currstate: Optional[int] = None) -> tuple[NDArray[np.float64], NDArray[np.int_]]:
        """Draw a sequence from the model.

        Parameters
        ----------
        n_samples : int
        random_state : int, RandomState or None
            Default: the estimator's ``random_state``.
        currstate : int, optional
            State of the first sample (e.g. the last state of a previous draw).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        state_sequence : ndarray of shape (n_samples,)
        """
        states, counts, rs = self._sample_states(n_samples, random_state, currstate)
        draws = get_covariance(self.covariance_type).sample(rs, self.means_, self._covars_, counts)
        X = np.empty_like(draws)
        X[np.argsort(states, kind="stable")] = draws
        return X, states.astype(int)

    def _sample_states(self, n_samples, random_state, currstate):
        """The state sequence of :meth:`sample`, its state counts and the random state
        that draws the emissions next (arguments checked as :meth:`sample` documents)."""
        self._check()
        check_int(n_samples, "n_samples", 1)
        K = self.n_components
        if currstate is not None and not (0 <= int(currstate) < K):
            raise ValueError(f"currstate must be a state in [0, {K}), got {currstate!r}")
        rs = check_random_state(self.random_state if random_state is None else random_state)
        states = _hmm.sample_states(self.startprob_, np.ascontiguousarray(self.transmat_),
                                    rs.random_sample(n_samples),
                                    -1 if currstate is None else int(currstate))
        counts = np.bincount(states, minlength=K)
        return states, counts, rs

    def get_stationary_distribution(self) -> NDArray[np.float64]:
        """Stationary distribution of the states (left eigenvector of ``transmat_``)."""
        self._check()
        eigvals, eigvecs = linalg.eig(self.transmat_.T)
        vec = np.real_if_close(eigvecs[:, np.argmax(eigvals)])
        return vec / vec.sum()

    def aic(self, X: ArrayLike, lengths: Optional[ArrayLike] = None) -> float:
        """Akaike information criterion: ``-2 log L + 2 n_params`` (lower is better)."""
        n_params = sum(self._get_n_fit_scalars_per_param().values())
        return -2 * self.score(X, lengths) + 2 * n_params

    def bic(self, X: ArrayLike, lengths: Optional[ArrayLike] = None) -> float:
        """Bayesian information criterion: ``-2 log L + n_params log n`` (lower is better)."""
        n_params = sum(self._get_n_fit_scalars_per_param().values())
        return -2 * self.score(X, lengths) + n_params * np.log(
            len(as_float_array(X, nan_policy=self._nan_policy())))

    # ------------------------------------------------------------ persistence
    def save(self, path: Union[str, os.PathLike[str]]) -> None:
        """Save the model in gmmx's safe format (npz + JSON, no pickle), atomically.

        Parameters and, when set, ``startprob_``, ``transmat_``, ``means_``,
        ``covars_`` and the monitor's history; a ``RandomState`` instance is
        skipped (listed in the metadata).  Load with :func:`gmmx.load`.
        """
        arrays: dict[str, NDArray[np.float64]] = {}
        params: dict[str, Any] = {}
        skipped: list[str] = []
        for name, value in self.get_params().items():
            if name in _PRIORS and np.ndim(value) > 0:
                arrays["param_" + name] = np.asarray(value, dtype=np.float64)
                params[name] = None
                continue
            try:
                params[name] = io.json_value(value)
            except TypeError:
                skipped.append(name)
        fitted: dict[str, int] = {}
        if all(hasattr(self, a) for a in self._fitted_attributes):
            for name in self._fitted_attributes:
                arrays["fit_" + name.lstrip("_")] = np.asarray(getattr(self, name),
                                                               dtype=np.float64)
            arrays["fit_history"] = np.asarray(list(self.monitor_.history), dtype=np.float64)
            fitted = {"n_features": int(np.shape(self.means_)[1]),
                      "iter": int(getattr(self.monitor_, "iter", 0))}
        io.write_archive(path, type(self).__name__,
                         {"params": params, "skipped_params": skipped, "fitted": fitted},
                         arrays)

    @classmethod
    def _from_archive(cls, meta, arrays, path):
        """Rebuild a model from :func:`gmmx.io.read_archive`'s output (see :meth:`save`)."""
        params = meta.get("params")
        if not isinstance(params, dict):
            raise io.invalid(path, "the parameters are missing")
        unknown = sorted(set(params) - set(cls._get_param_names()))
        if unknown:
            raise io.invalid(path, f"unknown parameters {unknown}")
        for name, value in params.items():
            if value is not None and not isinstance(value, (bool, int, float, str)):
                raise io.invalid(path, f"parameter {name!r} has a non-scalar value")
        for name in _PRIORS:
            if "param_" + name in arrays:
                params[name] = io.check_array(arrays, "param_" + name, path)
        model = cls(**params)
        fitted = meta.get("fitted") or {}
        if not isinstance(fitted, dict):
            raise io.invalid(path, "the fitted section is malformed")
        if not fitted:
            return model
        try:
            model._check_parameters()
            model.startprob_ = io.check_array(arrays, "fit_startprob_", path)
            model.transmat_ = io.check_array(arrays, "fit_transmat_", path)
            model.means_ = io.check_array(arrays, "fit_means_", path, ndim=2)
            model.covars_ = io.check_array(arrays, "fit_covars_", path)
            for name in cls._fitted_attributes[4:]:  # a subclass's own
                setattr(model, name, io.check_array(arrays, "fit_" + name.lstrip("_"), path))
            model._check()
            model._model_params()
        except ValueError as exc:
            if "not a valid gmmx model file" in str(exc):
                raise
            raise io.invalid(path, f"the fitted parameters are inconsistent ({exc})") from None
        history = io.check_array(arrays, "fit_history", path, ndim=1)
        model.monitor_.history.extend(float(v) for v in history)
        model.monitor_.iter = int(fitted.get("iter", len(history)))
        return model


io.register_model_class(GaussianHMM.__name__, GaussianHMM._from_archive)
