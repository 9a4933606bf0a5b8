"""Missing entries (NaN) integrated out of the Student-t E-step (``nan_policy='marginalize'``).

EM for a t mixture with missing data (Liu & Rubin 1995; McLachlan & Peel
2000, section 7.8): with the latent scale ``tau`` (``x | tau, k ~ N(mu_k,
Sigma_k / tau)``, ``tau ~ Gamma(nu_k/2, nu_k/2)``) and the missing entries
``x_m`` both latent, a row's density is the marginal t of its observed
entries (same ν, location ``mu_o``, scale ``Sigma_oo``), and given ``x_o``
and component k

* ``tau | x_o ~ Gamma((nu + d_o)/2, (nu + delta_o)/2)``, so
  ``u = E[tau | x_o] = (nu + d_o) / (nu + delta_o)`` with the observed
  Mahalanobis distance ``delta_o`` and
  ``E[log tau | x_o] = log u + psi((nu + d_o)/2) - log((nu + d_o)/2)``;
* ``x_m | x_o, tau ~ N(x_hat_m, C / tau)`` with ``x_hat_m = mu_m + B (x_o - mu_o)``,
  ``B = Sigma_mo Sigma_oo^-1`` and ``C = Sigma_mm - B Sigma_om`` (its mean does
  not depend on ``tau``).

So ``E[tau x] = u x_hat`` and ``E[tau x x^T] = u x_hat x_hat^T + C``: the
statistics under r·u of the filled row ``x_hat`` (what
:class:`~gmmx.core.missing.MissingEStep` forms from the observed block), plus
the correction ``C`` weighted by ``r`` (not ``r u``: the ``tau`` cancels) in the
second moment.  The t M-step (:func:`gmmx.core.student.student_m_step`) divides
the second moment by ``sum r``, so the scale is
``sum r (u (x_hat - mu)(x_hat - mu)^T + C) / sum r``.  The ν update's
``extra["log_u_minus_u"]`` gets, per row, the difference between its
``psi((nu + d_o)/2) - log((nu + d_o)/2)`` and the complete-row one the update
adds itself, so :func:`gmmx.core.student.dof_update` is unchanged.

The rows are grouped by missingness pattern with the Gaussian
:class:`~gmmx.core.missing.MissingEStep` of the unit-weight scales, and each
pattern's observed block runs the unchanged t E-step
(:class:`~gmmx.core.student.StudentTEStep`) on the marginal parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import NDArray

import numpy as np

from . import kernel
from .missing import MissingEStep, _filled, _renumbered
from .stats import SufficientStats
from .student import StudentTEmissions, StudentTEStep

__all__ = ["StudentTMissingEStep", "StudentTMissingEmissions"]

_EXTRAS = ("resp", "log_u_minus_u", "entropy")


def _dof_term(dof, d):
    from scipy.special import digamma  # on use: off the CLI's import path

    return digamma(0.5 * (dof + d)) - np.log(0.5 * (dof + d))


class StudentTMissingEStep:
    """A :class:`~gmmx.core.kernel.BlockEStep` for t mixtures that marginalizes NaN entries.

    Parameters
    ----------
    step : StudentTEStep
        The complete-data t E-step (rows without NaN go through it unchanged:
        a block without NaN gives the same bits).
    """

    #: NaN in a block is data for this E-step, not an error (drivers read this).
    marginalizes_nan = True

    def __init__(self, step: StudentTEStep) -> None:
        self.step = step
        self.missing = MissingEStep(step.gauss)
        self._steps: dict[Any, Any] = {}

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_steps"] = {}
        return state

    def _pattern_step(self, pat):
        """The t E-step on a pattern's observed columns (cached with the pattern)."""
        key = id(pat)
        hit = self._steps.get(key)
        if hit is None or hit[0] is not pat:
            hit = (pat, StudentTEStep(pat.marginal, self.step.log_weights, self.step.dof))
            self._steps[key] = hit
        return hit[1]

    def _run(self, fn, X, groups, where=""):
        """``(rows, pattern, fn(observed block, rows, pattern step))`` per pattern."""
        for idx, pat in groups:
            xo = MissingEStep._observed(X, idx, pat)
            try:
                yield idx, pat, fn(xo, idx, self._pattern_step(pat))
            except kernel.NonFiniteChunkError as exc:
                raise _renumbered(exc, idx, where) from None

    # ------------------------------------------------------------ statistics
    def accumulate(self, X: NDArray[Any], sample_weight: Optional[NDArray[Any]],
                   n_threads: Optional[int] = 1, chunk_rows: Optional[int] = 0,
                   where: str = "") -> SufficientStats:
        """Expected complete-data statistics under r·u of the block ``X`` plus the t
        ``extra`` sums (NaN = missing; see the module docstring)."""
        split = self.missing._groups(X, where)
        if split is None:
            return self.step.accumulate(X, sample_weight, n_threads, chunk_rows, where)
        complete, groups = split
        w = sample_weight
        if complete.size:
            wc = None if w is None else np.ascontiguousarray(w[complete])
            try:
                stats = self.step.accumulate(np.ascontiguousarray(X[complete]), wc, n_threads,
                                             chunk_rows, where)
            except kernel.NonFiniteChunkError as exc:
                raise _renumbered(exc, complete, where) from None
        else:
            stats = SufficientStats.zeros(self.step.gauss.covariance_type, self.step.gauss.means)
            stats.extra = {name: np.zeros_like(self.step.dof) for name in _EXTRAS}
        dof, d = self.step.dof, X.shape[1]

        def step(xo, idx, tstep):
            wg = None if w is None else np.ascontiguousarray(w[idx], dtype=np.float64)
            return tstep.accumulate(xo, wg, n_threads, chunk_rows, where)

        for _, pat, st in self._run(step, X, groups, where):
            resp = st.extra["resp"]
            self.missing._expand(stats, st, pat)  # C enters with sum r u ...
            self._add_correction(stats, pat, resp - st.nk)  # ... moved to sum r
            stats.extra["resp"] = stats.extra["resp"] + resp
            stats.extra["entropy"] = stats.extra["entropy"] + st.extra["entropy"]
            stats.extra["log_u_minus_u"] = (stats.extra["log_u_minus_u"]
                                            + st.extra["log_u_minus_u"]
                                            + resp * (_dof_term(dof, pat.obs.size)
                                                      - _dof_term(dof, d)))
        return stats

    @staticmethod
    def _add_correction(stats, pat, counts):
        """Add ``counts_k C_k`` to the missing block of the second moment."""
        K = counts.shape[0]
        C = pat.C if pat.C.shape[0] == K else np.broadcast_to(pat.C, (K,) + pat.C.shape[1:])
        if pat.B is None:  # diagonal model: C holds variances
            stats.Mk[:, pat.mis] += counts[:, None] * C
        elif stats.Mk.ndim == 3:
            stats.Mk[:, pat.mis[:, None], pat.mis] += counts[:, None, None] * C
        else:
            stats.Mk[:, pat.mis] += counts[:, None] * np.diagonal(C, axis1=1, axis2=2)

    # ------------------------------------------------------------ inference
    def _per_row(self, name, X, shape, n_threads):
        split = self.missing._groups(X)
        if split is None:
            return getattr(self.step, name)(X, n_threads)
        complete, groups = split
        out = np.empty((X.shape[0],) + shape)
        if complete.size:
            try:
                out[complete] = getattr(self.step, name)(np.ascontiguousarray(X[complete]),
                                                         n_threads)
            except kernel.NonFiniteChunkError as exc:
                raise _renumbered(exc, complete) from None
        for idx, _, values in self._run(
                lambda xo, idx, tstep: getattr(tstep, name)(xo, n_threads), X, groups):
            out[idx] = values
        return out

    def log_prob_norm(self, X: NDArray[Any], n_threads: Optional[int] = 1) -> NDArray[Any]:
        """``log p(x_o)`` of every row (the observed entries' marginal t mixture)."""
        return self._per_row("log_prob_norm", X, (), n_threads)

    def responsibilities(self, X: NDArray[Any], n_threads: Optional[int] = 1) -> NDArray[Any]:
        """Posterior component probabilities given the observed entries, (n, K)."""
        return self._per_row("responsibilities", X, (self.step.dof.shape[0],), n_threads)

    def impute(self, X: NDArray[Any], n_threads: Optional[int] = 1) -> NDArray[Any]:
        """``E[x_m | x_o]`` under the t mixture at the NaN entries of ``X`` (others kept).

        A t component's conditional mean is the Gaussian regression
        ``mu_m + B (x_o - mu_o)``; the components are weighted by their t
        posteriors given the observed entries.
        """
        X = np.asarray(X, dtype=np.float64)
        resp = self.responsibilities(X, n_threads)
        _, cond, _ = self.missing.conditional_components(X, n_threads)
        return _filled(X, resp, cond)

    def sample_missing(self, X: NDArray[Any], rng: Any, n_draws: int = 1,
                       n_threads: Optional[int] = 1) -> NDArray[Any]:
        """Draws of the missing entries of ``X`` given its observed ones, (n_draws, n, d).

        Each draw picks a component from the row's t posterior, then
        ``tau ~ Gamma((nu + d_o)/2, rate (nu + delta_o)/2)`` and the missing
        entries from ``N(x_hat_m, C / tau)``; observed entries are kept.
        """
        X = np.asarray(X, dtype=np.float64)
        resp = self.responsibilities(X, n_threads)
        _, cond, groups = self.missing.conditional_components(X, n_threads)
        out = np.repeat(X[None], n_draws, axis=0)
        K = resp.shape[1]
        dof = self.step.dof
        for idx, pat in groups:
            m, d_o = pat.mis.size, pat.obs.size
            xo = X[np.ix_(idx, pat.obs)]
            # delta_o per row and component from the marginal Gaussian log-densities
            g = kernel.log_densities(np.ascontiguousarray(xo), pat.marginal, n_threads)
            delta = np.maximum(2.0 * (pat.marginal.cst[None, :] - g), 0.0)
            if pat.B is not None:
                chol = np.stack([np.linalg.cholesky(c) for c in pat.C])
            for draw in range(n_draws):
                cum = np.cumsum(resp[idx], axis=1)
                pick = rng.random_sample(idx.size)[:, None] * cum[:, -1:]
                comp = np.minimum((pick > cum).sum(axis=1), K - 1)
                rows = np.arange(idx.size)
                nu = dof[comp]
                tau = rng.gamma(0.5 * (nu + d_o), 2.0 / (nu + delta[rows, comp]))
                z = rng.standard_normal((idx.size, m))
                if pat.B is None:
                    noise = z * np.sqrt(pat.C[comp])
                else:
                    p = comp if chol.shape[0] == K else np.zeros_like(comp)
                    noise = np.einsum("nij,nj->ni", chol[p], z)
                block = out[draw][idx]
                block[:, pat.mis] = cond[idx, comp][:, pat.mis] + noise / np.sqrt(tau)[:, None]
                out[draw][idx] = block
        return out


class StudentTMissingEmissions:
    """t emissions of a hidden Markov model that marginalize NaN entries (an HMM emission family).

    As :class:`~gmmx.core.student.StudentTEmissions` (``bind``,
    ``log_densities``, ``statistics``), a row's emission density being the t
    marginal of its observed entries, its statistics the expected
    complete-data ones of :mod:`gmmx.core.student_missing` under
    ``gamma * u`` with the conditional covariance weighted by ``gamma``.

    Parameters
    ----------
    dof : ndarray of shape (K,)
    gauss : KernelParams, optional
    """

    #: NaN in a block is data for these emissions, not an error.
    marginalizes_nan = True

    def __init__(self, dof: NDArray[Any], gauss: Any = None) -> None:
        self.dof = np.asarray(dof, dtype=np.float64)
        self.gauss = gauss
        self.missing = None if gauss is None else MissingEStep(gauss)

    def bind(self, kp: Any) -> StudentTMissingEmissions:
        """These emissions on the Gaussian parameters ``kp`` (unit weights)."""
        return StudentTMissingEmissions(self.dof, kp)

    def log_densities(self, X: NDArray[Any], n_threads: Optional[int]) -> tuple[Any, Any]:
        """``(log t(x_o,i | k) (n, K), state)`` (state: ``u``, ``log(nu + delta_o)``,
        ``d_o`` per row and the pattern groups)."""
        if self.gauss is None or self.missing is None:
            raise ValueError("StudentTMissingEmissions.bind(kernel_params) must be called first")
        n, d = X.shape
        K = self.dof.shape[0]
        split = self.missing._groups(X)
        if split is None:
            log_t, (u, log_s) = StudentTEmissions(self.dof, self.gauss).log_densities(
                X, n_threads)
            return log_t, (u, log_s, np.full(n, d), [])
        complete, groups = split
        log_t, u, log_s = np.empty((n, K)), np.empty((n, K)), np.empty((n, K))
        d_o = np.full(n, d)
        if complete.size:
            try:
                lt, (uu, ls) = StudentTEmissions(self.dof, self.gauss).log_densities(
                    np.ascontiguousarray(X[complete]), n_threads)
            except kernel.NonFiniteChunkError as exc:
                raise _renumbered(exc, complete) from None
            log_t[complete], u[complete], log_s[complete] = lt, uu, ls
        for idx, pat in groups:
            xo = MissingEStep._observed(X, idx, pat)
            try:
                lt, (uu, ls) = StudentTEmissions(self.dof, pat.marginal).log_densities(
                    xo, n_threads)
            except kernel.NonFiniteChunkError as exc:
                raise _renumbered(exc, idx) from None
            log_t[idx], u[idx], log_s[idx] = lt, uu, ls
            d_o[idx] = pat.obs.size
        return log_t, (u, log_s, d_o, groups)

    def statistics(self, X: NDArray[Any], w: Optional[NDArray[Any]], resp: NDArray[Any],
                   state: Any, n_threads: Optional[int], where: str = "") -> SufficientStats:
        """Expected complete-data statistics under ``resp * u`` (the conditional
        covariance under ``resp``) plus ``extra["resp"]`` and ``extra["log_u_minus_u"]``."""
        u, log_s, d_o, groups = state
        if not groups:  # no NaN: the complete-data emissions' statistics, same bits
            return StudentTEmissions(self.dof, self.gauss).statistics(
                X, w, resp, (u, log_s), n_threads, where)
        d = X.shape[1]
        ru = resp * u
        assert self.missing is not None  # bound: log_densities made the state
        stats = self.missing.accumulate_resp(X, w, ru, n_threads, where=where)
        wr = resp if w is None else resp * np.asarray(w, dtype=np.float64)[:, None]
        for idx, pat in groups:
            wru = wr[idx] * u[idx]
            StudentTMissingEStep._add_correction(stats, pat, wr[idx].sum(axis=0)
                                                 - wru.sum(axis=0))
        total = wr.sum(axis=0)
        dof = self.dof
        # per row: log u = log(nu + d_o) - log(nu + delta_o), plus E[log tau] - log u
        # relative to the complete-row term the nu update adds itself
        per_row = (np.log(dof[None, :] + d_o[:, None]) - log_s
                   + _dof_term(dof[None, :], d_o[:, None]) - _dof_term(dof, d)[None, :])
        stats.extra = {"resp": total,
                       "log_u_minus_u": np.einsum("ik,ik->k", wr, per_row) - stats.nk}
        return stats
