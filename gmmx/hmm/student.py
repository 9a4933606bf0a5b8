"""`StudentTHMM`: a hidden Markov model with multivariate t emissions.

:class:`GaussianHMM` with the emission family swapped
(``HMMParams.emissions``, :class:`gmmx.core.student.StudentTEmissions`):
the emission log-densities are t log-densities computed from the kernel's
Gaussian ones (entry point 2), the statistics are the Gaussian ones under
``gamma * u`` (entry point 3), and the M-step adds the scale rescaling and
the ν update of :mod:`gmmx.core.student`.  Forward-backward, the passes
(in memory, chunk sources, Dask), decoding and filtering are GaussianHMM's.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Optional, Union

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import ArrayLike, NDArray

from .. import io
from ..core.covariance import get_covariance
from ..core.student import DOF_MAX, StudentTEmissions, dof_update, t_covariances, \
    u_weighted_scales, warn_dof_floor
from ..core.student_missing import StudentTMissingEmissions
from ..exceptions import DegreesOfFreedomWarning, warn_user
from .gaussian import GaussianHMM

__all__ = ["StudentTHMM"]


def _positive(value, name, allow_none=False):
    if allow_none and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or not value > 0:
        extra = " or None (estimate ν per state)" if allow_none else ""
        raise ValueError(f"{name} must be a finite number > 0{extra}, got {value!r}")
    return float(value)


class StudentTHMM(GaussianHMM):
    """Hidden Markov model with multivariate Student-t emissions, fitted by Baum-Welch (ECM).

    hmmlearn's ``GaussianHMM`` API (:class:`GaussianHMM`'s constructor,
    methods, out-of-core and Dask fitting, :meth:`filter_proba`), with each
    state's emission ``t(x | mu_k, Sigma_k, nu_k)``: a day far in the tail no
    longer forces a switch to a high-volatility state.

    Parameters
    ----------
    degrees_of_freedom : float > 0 or None, default=None
        None estimates ν per state (``'n'`` in ``params``); a number fixes it.
    dof_init : float > 0, default=10
        Initial ν when estimated (``'n'`` in ``init_params``, or not yet set).
    dof_max : float > 0, default=1000
        Cap on estimated ν; a :class:`~gmmx.DegreesOfFreedomWarning` names a
        state that reaches it (its emissions are practically Gaussian).
    params, init_params : str, default='stmcn'
        As :class:`GaussianHMM`, plus ``'n'``: the degrees of freedom.
    **other parameters
        As :class:`GaussianHMM`.  ``covars_prior`` / ``covars_weight`` enter
        the ``u``-weighted scatter of the scales.
    nan_policy : {'raise', 'marginalize'}, default='raise'
        As :class:`GaussianHMM`; under ``'marginalize'`` a row's emission
        density is the t marginal of its observed entries and the emission
        statistics are the expected complete-data ones of the t with missing
        data (:mod:`gmmx.core.student_missing`).

    Attributes
    ----------
    covars_ : ndarray of shape (n_components, n_features, n_features)
        The **scale matrices** Sigma (hmmlearn's attribute name, so code
        written for GaussianHMM runs; set it in the covariance type's shape).
    scales_ : ndarray of shape (n_components, n_features, n_features)
        The same scale matrices.
    covariances_ : ndarray of shape (n_components, n_features, n_features)
        ``nu / (nu - 2) Sigma``, infinite where ``nu <= 2``.
    degrees_of_freedom_ : ndarray of shape (n_components,)
    startprob_, transmat_, means_, n_features, monitor_
        As :class:`GaussianHMM` (``means_`` are the locations).
    """

    _fitted_attributes = GaussianHMM._fitted_attributes + ("degrees_of_freedom_",)
    degrees_of_freedom_: NDArray[np.float64]

    def __init__(self, n_components: int = 1, covariance_type: str = "diag",
                 min_covar: float = 1e-3, startprob_prior: ArrayLike = 1.0,
                 transmat_prior: ArrayLike = 1.0, means_prior: ArrayLike = 0,
                 means_weight: ArrayLike = 0, covars_prior: ArrayLike = 1e-2,
                 covars_weight: ArrayLike = 1, algorithm: str = "viterbi",
                 random_state: Union[None, int, np.random.RandomState] = None,
                 n_iter: int = 10, tol: float = 1e-2, verbose: bool = False,
                 params: str = "stmcn", init_params: str = "stmcn",
                 implementation: str = "log", *, degrees_of_freedom: Optional[float] = None,
                 dof_init: float = 10.0, dof_max: float = DOF_MAX,
                 n_threads: Optional[int] = None, chunk_size: Optional[int] = None,
                 progress: bool = False, nan_policy: str = "raise") -> None:
        super().__init__(n_components, covariance_type, min_covar, startprob_prior,
                         transmat_prior, means_prior, means_weight, covars_prior,
                         covars_weight, algorithm, random_state, n_iter, tol, verbose,
                         params, init_params, implementation, n_threads=n_threads,
                         chunk_size=chunk_size, progress=progress, nan_policy=nan_policy)
        self.degrees_of_freedom = degrees_of_freedom
        self.dof_init = dof_init
        self.dof_max = dof_max

    @property
    def scales_(self) -> NDArray[np.float64]:
        """The scale matrices Sigma, (n_components, n_features, n_features)."""
        return self.covars_

    @property
    def covariances_(self) -> NDArray[np.float64]:
        """``nu / (nu - 2) Sigma`` per state (infinite where ``nu <= 2``), (K, d, d)."""
        self._check()
        return t_covariances(self.covars_, self.degrees_of_freedom_, "full")

    # ------------------------------------------------------------ checks
    def _check_parameters(self):
        super()._check_parameters()
        _positive(self.degrees_of_freedom, "degrees_of_freedom", allow_none=True)
        _positive(self.dof_init, "dof_init")
        _positive(self.dof_max, "dof_max")

    def _check(self):
        super()._check()
        K = self.n_components
        if not hasattr(self, "degrees_of_freedom_"):
            self.degrees_of_freedom_ = self._initial_dof()
        dof = np.array(self.degrees_of_freedom_, dtype=np.float64)
        if dof.shape != (K,) or not np.all(np.isfinite(dof)) or np.any(~(dof > 0)):
            raise ValueError(f"degrees_of_freedom_ must be {K} finite numbers > 0, got "
                             f"{np.asarray(self.degrees_of_freedom_).tolist()!r:.80}")
        self.degrees_of_freedom_ = dof

    def _initial_dof(self):
        fixed = _positive(self.degrees_of_freedom, "degrees_of_freedom", allow_none=True)
        value = fixed if fixed is not None else min(float(self.dof_init), float(self.dof_max))
        return np.full(self.n_components, value)

    def _init(self, data):
        super()._init(data)
        if self.degrees_of_freedom is not None or "n" in self.init_params \
                or not hasattr(self, "degrees_of_freedom_"):
            self.degrees_of_freedom_ = self._initial_dof()

    def _model_params(self):
        p = super()._model_params()
        if self._nan_policy() == "marginalize":
            return p._replace(emissions=StudentTMissingEmissions(self.degrees_of_freedom_))
        return p._replace(emissions=StudentTEmissions(self.degrees_of_freedom_))

    def _get_n_fit_scalars_per_param(self):
        out = super()._get_n_fit_scalars_per_param()
        out["n"] = self.n_components if self.degrees_of_freedom is None else 0
        return out

    # ------------------------------------------------------------ fit
    def _baum_welch(self, data):
        super()._baum_welch(data)
        if self.degrees_of_freedom is None and "n" in self.params:
            warn_dof_floor(self.degrees_of_freedom_, "state")
            capped = np.flatnonzero(self.degrees_of_freedom_ >= float(self.dof_max))
            if capped.size:
                warn_user(
                    f"the degrees of freedom of state(s) {capped.tolist()} reached dof_max="
                    f"{float(self.dof_max):g}: their emissions are practically Gaussian and "
                    "their ν is capped there", DegreesOfFreedomWarning)

    def _do_mstep(self, stats, params, priors):
        super()._do_mstep(stats, params, priors)
        em = stats.emission
        resp = em.extra["resp"]
        if "c" in self.params:
            self._covars_ = u_weighted_scales(self._covars_, resp, em.nk, self.covariance_type)
        fixed = _positive(self.degrees_of_freedom, "degrees_of_freedom", allow_none=True)
        if fixed is not None:
            self.degrees_of_freedom_ = np.full(self.n_components, fixed)
        elif "n" in self.params:
            self.degrees_of_freedom_ = dof_update(resp, em.extra["log_u_minus_u"],
                                                  params.emissions.dof, self.n_features,
                                                  float(self.dof_max))

    # ------------------------------------------------------------ sampling
    def sample(self, n_samples: int = 1,
               random_state: Union[None, int, np.random.RandomState] = None,
               currstate: Optional[int] = None) -> tuple[NDArray[np.float64], NDArray[np.int_]]:
        """Draw a sequence from the model (t draws: ``mu + z / sqrt(g)``,
        ``z ~ N(0, Sigma)``, ``g ~ Gamma(nu/2, rate=nu/2)``).

        Parameters and returns as :meth:`GaussianHMM.sample`.
        """
        states, counts, rs = self._sample_states(n_samples, random_state, currstate)
        z = get_covariance(self.covariance_type).sample(
            rs, np.zeros_like(self.means_), self._covars_, counts)
        order = np.argsort(states, kind="stable")
        X = np.empty_like(z)
        X[order] = z
        nu = self.degrees_of_freedom_[states]
        X = self.means_[states] + X / np.sqrt(rs.gamma(0.5 * nu, 2.0 / nu))[:, None]
        return X, states.astype(int)


io.register_model_class(StudentTHMM.__name__, StudentTHMM._from_archive)
