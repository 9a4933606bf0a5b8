"""Missing entries (NaN) integrated out of a Gaussian E-step (``nan_policy='marginalize'``).

EM with the missing entries as latent variables (Ghahramani & Jordan 1994;
Little & Rubin 2002, ch. 8 and 11): a row's density is the marginal of its
observed entries; its statistics are the expected complete-data ones, with
``E[x_m | x_o, k] = mu_km + B_k (x_o - mu_ko)`` in place of the missing
entries and the conditional covariance ``C_k = S_mm - B_k S_om`` added to
the second moment, where ``B_k = S_mo S_oo^-1``.  The M-step is then the
complete-data one (every covariance type, priors and regularisation), so a
model family gets marginalization by handing the drivers a
:class:`MissingEStep` instead of its :class:`~gmmx.core.kernel.KernelParams`.

Rows without NaN go through the native kernel exactly as without missing
values (a block without NaN is one unchanged kernel call: the same bits).
Rows with gaps are grouped by missingness pattern; per pattern the observed
block's factor and the regression of the missing on the observed entries
are computed once per pass (cached across the blocks of a pass) and the
observed columns' log-densities come from :func:`gmmx.core.kernel.log_densities`
with the marginal parameters.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from .._kernels import _estep
from . import kernel
from .stats import SufficientStats

__all__ = ["MissingEStep"]

_LOG_2PI = np.log(2.0 * np.pi)
# the kernel flushes responsibilities below this to zero; rows with gaps do the same
_RESP_FLOOR = 1e-200


class _Pattern:
    """One missingness pattern under one model: marginal parameters and regressions.

    Attributes
    ----------
    obs, mis : ndarray of int
        Observed and missing columns.
    marginal : KernelParams
        The observed columns' parameters (``log w_k`` included).
    B : ndarray of shape (P, d_m, d_o) or None
        Regression of the missing on the observed entries (None: diagonal
        models, where it is zero).
    C : ndarray of shape (P, d_m, d_m) or (K, d_m)
        Conditional covariance of the missing entries (diagonal models: variances).
    """

    def __init__(self, obs, mis, marginal, B, C):
        self.obs, self.mis, self.marginal, self.B, self.C = obs, mis, marginal, B, C


class MissingEStep:
    """A :class:`~gmmx.core.kernel.BlockEStep` that marginalizes NaN entries.

    Parameters
    ----------
    kp : KernelParams
        The model's parameters packed for the kernel (any constants ``cst``:
        what the observed marginal keeps is ``cst_k - log det U_k + d/2 log 2 pi``).

    Notes
    -----
    Pickles (Dask ships it to the workers); the pattern cache is not sent.
    """

    #: NaN in a block is data for this E-step, not an error (drivers read this).
    marginalizes_nan = True

    def __init__(self, kp):
        self.kp = kp
        K, d = kp.means.shape
        self.matrix = kp.kind == _estep.KIND_FULL
        if self.matrix:
            P = kp.n_blocks
            U = np.ascontiguousarray(kp.prec.reshape(d, P, d).transpose(1, 0, 2))
            eye = np.eye(d)
            inv = np.stack([linalg.solve_triangular(u, eye, lower=False) for u in U])
            self.sigma = np.einsum("pji,pjl->pil", inv, inv)  # U^-T U^-1 = (U U^T)^-1
            logdet = np.sum(np.log(np.diagonal(U, axis1=1, axis2=2)), axis=1)
        else:
            prec = kp.prec.reshape(K, d)
            self.var = 1.0 / (prec * prec)
            logdet = np.sum(np.log(prec), axis=1)
        self.log_weights = kp.cst - logdet + 0.5 * d * _LOG_2PI
        self._cache = {}

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state

    # ------------------------------------------------------------ patterns
    def _pattern(self, key, missing):
        """The :class:`_Pattern` of the boolean ``missing`` (d,), cached under ``key``."""
        pat = self._cache.get(key)
        if pat is None:
            pat = self._make_pattern(missing)
            self._cache[key] = pat
        return pat

    def _make_pattern(self, missing):
        kp = self.kp
        K, d = kp.means.shape
        obs, mis = np.flatnonzero(~missing), np.flatnonzero(missing)
        means_o = np.ascontiguousarray(kp.means[:, obs])
        if self.matrix:  # batched over the P covariance blocks
            S = self.sigma
            Soo, Som = S[:, obs[:, None], obs], S[:, obs[:, None], mis]
            L = np.linalg.cholesky(Soo)
            pc = np.triu(np.linalg.inv(L).transpose(0, 2, 1))  # Soo^-1 = pc pc^T
            B = np.linalg.solve(Soo, Som).transpose(0, 2, 1)  # S_mo S_oo^-1
            C = S[:, mis[:, None], mis] - B @ Som
            marginal = _pack_matrix(means_o, pc, self.log_weights)
            B, C = np.ascontiguousarray(B), np.ascontiguousarray(C)
        else:
            prec = kp.prec.reshape(K, d)[:, obs]
            marginal = kernel.kernel_params(np.ones(K), means_o, prec, "diag", diag_gemm=False)
            B, C = None, np.ascontiguousarray(self.var[:, mis])
            marginal = marginal._replace(cst=marginal.cst + self.log_weights)
        return _Pattern(obs, mis, marginal, B, C)

    def _sorted_gaps(self, X, gap):
        """Rows with gaps ordered by pattern: ``(rows, Xg, [(start, stop, pattern)])``."""
        nan = np.isnan(X[gap])
        d = nan.shape[1]
        if d <= 63:  # one integer key per row: a single sort
            keys = nan @ (np.int64(1) << np.arange(d, dtype=np.int64))
        else:
            packed = np.ascontiguousarray(np.packbits(nan, axis=1, bitorder="little"))
            keys = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        bounds = np.concatenate(([0], np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1,
                                 [order.size]))
        rows = gap[order]
        groups = []
        for g in range(bounds.size - 1):
            a, b = int(bounds[g]), int(bounds[g + 1])
            missing = nan[order[a]]
            if missing.all():
                raise kernel.NonFiniteChunkError(
                    f"row {int(rows[a])} has no observed value (every entry is NaN): drop it, "
                    "or pass nan_policy='omit'", row=int(rows[a]))
            groups.append((a, b, self._pattern(sorted_keys[a].tobytes(), missing)))
        return rows, np.asarray(X[rows], dtype=np.float64), groups

    def _gap_log_densities(self, Xg, groups, n_threads):
        """``log w_k + log N(x_o | k)`` (n_g, K) of the sorted rows with gaps."""
        out = np.empty((Xg.shape[0], self.kp.means.shape[0]))
        for a, b, pat in groups:
            xo = np.ascontiguousarray(Xg[a:b, pat.obs])
            out[a:b] = kernel.log_densities(xo, pat.marginal, n_threads)
        return out

    def _split(self, X):
        """``(gap rows index or None, complete rows index)``; None when no NaN."""
        nan_rows = np.isnan(X).any(axis=1)
        if not nan_rows.any():
            return None, None
        return np.flatnonzero(nan_rows), np.flatnonzero(~nan_rows)

    def _gap_posteriors(self, X, gap, n_threads, where=""):
        """``(rows, Xg, log p, resp, groups)`` of the rows with gaps, sorted by pattern."""
        try:
            rows, Xg, groups = self._sorted_gaps(X, gap)
        except kernel.NonFiniteChunkError as exc:
            raise kernel.NonFiniteChunkError(f"{where}{exc}", exc.row) from None
        logd = self._gap_log_densities(Xg, groups, n_threads)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            top = logd.max(axis=1)
            e = np.exp(logd - top[:, None])
            total = e.sum(axis=1)
            lpn = top + np.log(total)
            resp = e / total[:, None]
        bad = np.flatnonzero(~np.isfinite(lpn))
        if bad.size:
            row = int(rows[bad.min()])
            raise kernel.NonFiniteChunkError(
                f"{where}row {row} (with missing entries) is too far from every component "
                "for its observed entries' log-density to be finite in float64: an extreme "
                "outlier or data on another scale than the model. Remove the row or rescale "
                "the data (if the model's covariances are tiny, increase reg_covar)", row=row)
        resp[resp < _RESP_FLOOR] = 0.0
        return rows, Xg, lpn, resp, groups

    # ------------------------------------------------------------ statistics
    def _expected_stats(self, Xg, w, resp, groups):
        """Expected complete-data statistics of the sorted gap rows about the means.

        Per component, the rows' deviations with the missing entries filled by
        the regression prediction go through one product each for ``s_k`` and
        ``M_k``; the conditional covariances enter ``M_k`` per pattern.
        """
        kp = self.kp
        K, d = kp.means.shape
        stats = SufficientStats.zeros(kp.covariance_type, kp.means)
        wr = resp if w is None else resp * w[:, None]
        tot = np.array([wr[a:b].sum(axis=0) for a, b, _ in groups])  # (groups, K)
        stats.nk[:] = tot.sum(axis=0)
        for k in range(K):
            Y = Xg - kp.means[k]
            for a, b, pat in groups:
                if pat.B is None:
                    Y[a:b, pat.mis] = 0.0
                else:
                    p = k if pat.B.shape[0] == K else 0
                    Y[a:b, pat.mis] = Y[a:b, pat.obs] @ pat.B[p].T
            rk = wr[:, k]
            stats.sk[k] = rk @ Y
            if stats.Mk.ndim == 3:
                stats.Mk[k] = (Y.T * rk) @ Y
                for g, (_, _, pat) in enumerate(groups):
                    p = k if pat.C.shape[0] == K else 0
                    stats.Mk[k][pat.mis[:, None], pat.mis] += tot[g, k] * pat.C[p]
            else:
                stats.Mk[k] = rk @ (Y * Y)
                for g, (_, _, pat) in enumerate(groups):
                    if pat.B is None:
                        stats.Mk[k][pat.mis] += tot[g, k] * pat.C[k]
                    else:
                        p = k if pat.C.shape[0] == K else 0
                        stats.Mk[k][pat.mis] += tot[g, k] * np.diagonal(pat.C[p])
        return stats

    def _complete_stats(self, X, w, complete, n_threads, chunk_rows, where):
        if complete.size == 0:
            return SufficientStats.zeros(self.kp.covariance_type, self.kp.means)
        wc = None if w is None else np.ascontiguousarray(w[complete])
        try:
            return kernel.accumulate(np.ascontiguousarray(X[complete]), wc, self.kp, n_threads,
                                     chunk_rows, where)
        except kernel.NonFiniteChunkError as exc:
            raise _renumbered(exc, complete) from None

    def accumulate(self, X, sample_weight, n_threads=1, chunk_rows=0, where=""):
        """Expected complete-data ``SufficientStats`` of the block ``X`` (NaN = missing)."""
        gap, complete = self._split(X)
        if gap is None:
            return kernel.accumulate(X, sample_weight, self.kp, n_threads, chunk_rows, where)
        stats = self._complete_stats(X, sample_weight, complete, n_threads, chunk_rows, where)
        rows, Xg, lpn, resp, groups = self._gap_posteriors(X, gap, n_threads, where)
        wg = None if sample_weight is None else np.asarray(sample_weight[rows], dtype=np.float64)
        extra = self._expected_stats(Xg, wg, resp, groups)
        extra.log_likelihood = float(lpn.sum() if wg is None else np.dot(wg, lpn))
        extra.weight_sum = float(gap.size if wg is None else wg.sum())
        extra.n_samples = int(gap.size)
        if complete.size == 0:
            return extra
        return stats + extra

    def accumulate_resp(self, X, sample_weight, resp, n_threads=1, chunk_rows=0, where=""):
        """Expected complete-data statistics under given responsibilities ``resp`` (n, K)."""
        gap, complete = self._split(X)
        if gap is None:
            return kernel.accumulate_resp(X, sample_weight, resp, self.kp, n_threads,
                                          chunk_rows, where)
        resp = np.asarray(resp, dtype=np.float64)
        w = sample_weight
        if complete.size:
            wc = None if w is None else np.ascontiguousarray(w[complete])
            stats = kernel.accumulate_resp(np.ascontiguousarray(X[complete]), wc,
                                           resp[complete], self.kp, n_threads, chunk_rows, where)
        else:
            stats = SufficientStats.zeros(self.kp.covariance_type, self.kp.means)
        try:
            rows, Xg, groups = self._sorted_gaps(X, gap)
        except kernel.NonFiniteChunkError as exc:
            raise kernel.NonFiniteChunkError(f"{where}{exc}", exc.row) from None
        wg = None if w is None else np.asarray(w[rows], dtype=np.float64)
        extra = self._expected_stats(Xg, wg, resp[rows], groups)
        extra.weight_sum = float(gap.size if wg is None else wg.sum())
        extra.n_samples = int(gap.size)
        return stats + extra

    # ------------------------------------------------------------ inference
    def log_densities(self, X, n_threads=1):
        """``log w_k + log N(x_o | k)`` of every row's observed entries, (n, K)."""
        gap, complete = self._split(X)
        if gap is None:
            return kernel.log_densities(X, self.kp, n_threads)
        out = np.empty((X.shape[0], self.kp.means.shape[0]))
        if complete.size:
            out[complete] = kernel.log_densities(np.ascontiguousarray(X[complete]), self.kp,
                                                 n_threads)
        rows, Xg, groups = self._sorted_gaps(X, gap)
        out[rows] = self._gap_log_densities(Xg, groups, n_threads)
        return out

    def log_prob_norm(self, X, n_threads=1):
        """``log p(x_o)`` of every row (the observed entries' marginal)."""
        gap, complete = self._split(X)
        if gap is None:
            return kernel.log_prob_norm(X, self.kp, n_threads)
        out = np.empty(X.shape[0])
        if complete.size:
            out[complete] = self._complete(kernel.log_prob_norm, X, complete, n_threads)
        rows, _, lpn, _, _ = self._gap_posteriors(X, gap, n_threads)
        out[rows] = lpn
        return out

    def responsibilities(self, X, n_threads=1):
        """Posterior component probabilities given the observed entries, (n, K)."""
        gap, complete = self._split(X)
        if gap is None:
            return kernel.responsibilities(X, self.kp, n_threads)
        out = np.empty((X.shape[0], self.kp.means.shape[0]))
        if complete.size:
            out[complete] = self._complete(kernel.responsibilities, X, complete, n_threads)
        rows, _, _, resp, _ = self._gap_posteriors(X, gap, n_threads)
        out[rows] = resp
        return out

    def _complete(self, fn, X, complete, n_threads):
        try:
            return fn(np.ascontiguousarray(X[complete]), self.kp, n_threads)
        except kernel.NonFiniteChunkError as exc:
            raise _renumbered(exc, complete) from None

    def conditional_components(self, X, n_threads=1):
        """Per-row posteriors and per-component conditional means of the missing entries.

        Returns
        -------
        resp : ndarray of shape (n, K)
        means : ndarray of shape (n, K, d)
            ``E[x | x_o, k]``: the observed entries, and the component's
            regression prediction at the missing ones.
        groups : list of (rows, pattern)
            Rows with gaps (indices into ``X``) by pattern.
        """
        X = np.asarray(X, dtype=np.float64)
        kp = self.kp
        K = kp.means.shape[0]
        resp = self.responsibilities(X, n_threads)
        cond = np.repeat(X[:, None, :], K, axis=1)
        gap, _ = self._split(X)
        groups = []
        if gap is None:
            return resp, cond, groups
        rows, _, sorted_groups = self._sorted_gaps(X, gap)
        for a, b, pat in sorted_groups:
            idx = rows[a:b]
            xo = X[np.ix_(idx, pat.obs)]
            for k in range(K):
                pred = np.broadcast_to(kp.means[k, pat.mis], (idx.size, pat.mis.size)).copy()
                if pat.B is not None:
                    p = k if pat.B.shape[0] == K else 0
                    pred += (xo - kp.means[k, pat.obs]) @ pat.B[p].T
                cond[np.ix_(idx, [k], pat.mis)] = pred[:, None, :]
            groups.append((idx, pat))
        return resp, cond, groups

    def impute(self, X, n_threads=1):
        """``E[x_m | x_o]`` under the mixture at the NaN entries of ``X`` (others kept)."""
        resp, cond, _ = self.conditional_components(X, n_threads)
        out = np.array(X, dtype=np.float64)
        nan = np.isnan(out)
        mixed = np.einsum("nk,nkd->nd", resp, np.nan_to_num(cond))
        out[nan] = mixed[nan]
        return out

    def sample_missing(self, X, rng, n_draws=1, n_threads=1):
        """Draws of the missing entries of ``X`` given its observed ones, (n_draws, n, d).

        Each draw picks a component from the row's posterior given its
        observed entries, then the missing entries from that component's
        conditional Gaussian; observed entries are kept as they are.
        """
        resp, cond, groups = self.conditional_components(X, n_threads)
        X = np.asarray(X, dtype=np.float64)
        out = np.repeat(X[None], n_draws, axis=0)
        K = resp.shape[1]
        for idx, pat in groups:
            m = pat.mis.size
            if pat.B is not None:
                chol = [np.linalg.cholesky(c) for c in pat.C]
            for draw in range(n_draws):
                cum = np.cumsum(resp[idx], axis=1)
                u = rng.random_sample(idx.size)[:, None] * cum[:, -1:]
                comp = np.minimum((u > cum).sum(axis=1), K - 1)
                z = rng.standard_normal((idx.size, m))
                mean = cond[idx, comp][:, pat.mis]
                if pat.B is None:
                    noise = z * np.sqrt(pat.C[comp])
                else:
                    p = comp if len(chol) == K else np.zeros_like(comp)
                    noise = np.einsum("nij,nj->ni", np.stack(chol)[p], z)
                vals = mean + noise
                block = out[draw][idx]
                block[:, pat.mis] = vals
                out[draw][idx] = block
        return out


def _pack_matrix(means, pc, log_weights):
    """:class:`~gmmx.core.kernel.KernelParams` of (P, d, d) upper precision factors.

    As :func:`gmmx.core.kernel.kernel_params` for full/tied models (the
    factors side by side, centred at the mean of the means) without its
    validation and conversions; one feature takes the univariate layout.
    """
    K, d = means.shape
    P = pc.shape[0]
    logdet = np.sum(np.log(np.diagonal(pc, axis1=1, axis2=2)), axis=1)
    cst = np.ascontiguousarray(log_weights + logdet - 0.5 * d * _LOG_2PI)
    if d == 1:
        prec = np.ascontiguousarray(np.broadcast_to(pc.reshape(P, 1), (K, 1)))
        return kernel.KernelParams(cst, means, prec.reshape(-1), np.empty(0),
                                   np.empty((0, 0)), K, _estep.KIND_DIAG, "diag")
    ref = np.ascontiguousarray(means.mean(axis=0))
    ucat = np.ascontiguousarray(np.concatenate(list(pc), axis=1)).reshape(-1)
    Uk = pc if P == K else np.broadcast_to(pc, (K, d, d))
    shift = np.ascontiguousarray(np.einsum("kj,kjl->kl", means - ref, Uk))
    return kernel.KernelParams(cst, means, ucat, ref, shift, P, _estep.KIND_FULL,
                               "full" if P == K else "tied")


def _renumbered(exc, rows):
    """``exc`` (about a compacted block of complete rows) naming the row of the block."""
    if exc.row is None or exc.row >= rows.size:
        return exc
    row = int(rows[exc.row])
    return kernel.NonFiniteChunkError(str(exc).replace(f"row {exc.row}", f"row {row}", 1), row)
