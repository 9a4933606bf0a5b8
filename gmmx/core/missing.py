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
Rows with gaps take one native pass in place (:mod:`gmmx._kernels._missing`,
``d <= 64``): each row's pattern id indexes a table of per-pattern factors
(:class:`_PatternTable`, built once per model, batched over the patterns
with the same number of observed entries).  The reference below serves
``d > 64`` and names the row when one is not finite.

Reference path: rows with gaps are grouped by missingness pattern; per pattern the observed
block's factor and the regression of the missing on the observed entries
are computed once per pass (cached across the blocks of a pass), and the
pattern's observed block goes through the kernel's own entry points
(:func:`gmmx.core.kernel.accumulate`, ``accumulate_resp``, ``log_densities``,
``log_prob_norm``, ``responsibilities``) with the marginal parameters: the
responsibilities of those rows are the posteriors given their observed
entries, and their statistics about ``mu_ko`` map to the complete-data ones
(:meth:`MissingEStep._expand`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import linalg

from .._kernels import _estep, _missing
from . import kernel
from .stats import SufficientStats

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import NDArray

__all__ = ["MissingEStep"]

_LOG_2PI = np.log(2.0 * np.pi)


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

    def __init__(self, kp: Any) -> None:
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
        self._cache: dict[Any, Any] = {}
        self._table = _PatternTable(kp.means)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_cache"] = {}
        state["_table"] = _PatternTable(self.kp.means)
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

    def _groups(self, X, where=""):
        """``(complete rows, [(rows, pattern), ...])`` of ``X``; None when nothing is NaN.

        One bit per column packs each row's missingness into an integer key;
        one (radix) sort of the keys groups the rows with gaps by pattern.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.add.reduce(X, axis=None, dtype=np.float64)):
                return None  # no NaN: one pass, and the block is one unchanged kernel call
        nan = np.isnan(X)
        packed = np.packbits(nan, axis=1, bitorder="little")
        nb = packed.shape[1]
        if nb == 1:
            keys = packed[:, 0]
        elif nb <= 8:
            wide = np.zeros((X.shape[0], 8), dtype=np.uint8)
            wide[:, :nb] = packed
            keys = wide.view(np.uint64).ravel()
        else:
            packed = np.ascontiguousarray(packed)
            keys = packed.view(np.dtype((np.void, nb))).ravel()
        gap_mask = (keys != 0) if nb <= 8 else nan.any(axis=1)
        if not gap_mask.any():
            return None
        gap = np.flatnonzero(gap_mask)
        gkeys = keys[gap]
        order = np.argsort(gkeys, kind="stable")
        rows, sorted_keys = gap[order], gkeys[order]
        bounds = np.concatenate(([0], np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1,
                                 [rows.size]))
        groups = []
        for g in range(bounds.size - 1):
            idx = rows[bounds[g]:bounds[g + 1]]
            missing = nan[idx[0]]
            if missing.all():
                raise kernel.NonFiniteChunkError(
                    f"{where}row {int(idx[0])} has no observed value (every entry is NaN): "
                    "drop it, or pass nan_policy='omit'", row=int(idx[0]))
            groups.append((idx, self._pattern(sorted_keys[bounds[g]].tobytes(), missing)))
        return np.flatnonzero(~gap_mask), groups

    @staticmethod
    def _observed(X, idx, pat):
        """The observed block of the rows ``idx`` (float64, C order)."""
        rows = X.take(idx, axis=0)  # two takes: ~6x faster than one 2-D fancy index
        return np.ascontiguousarray(rows.take(pat.obs, axis=1), dtype=np.float64)

    def _expand(self, stats, st, pat):
        """Add a pattern's observed-block statistics ``st`` (about ``mu_ko``) to ``stats``.

        With ``y_m = B_k y_o``: ``s = A^T s_o`` and ``M = A^T M_o A + n_k C_k``,
        ``A`` the identity on the observed columns and ``B_k^T`` on the missing ones.
        """
        K, d = self.kp.means.shape
        nk, s_o, M_o = st.nk, st.sk, st.Mk
        stats.nk += nk
        stats.log_likelihood += st.log_likelihood
        stats.weight_sum += st.weight_sum
        stats.n_samples += st.n_samples
        if pat.B is None:  # diagonal model: nothing regresses, M keeps its diagonal
            M_o = np.diagonal(M_o, axis1=1, axis2=2) if M_o.ndim == 3 else M_o
            stats.sk[:, pat.obs] += s_o
            stats.Mk[:, pat.obs] += M_o
            stats.Mk[:, pat.mis] += nk[:, None] * pat.C
            return
        if M_o.ndim == 2:  # one observed feature: the univariate layout
            M_o = M_o[:, :, None]
        A = np.zeros((pat.B.shape[0], pat.obs.size, d))
        A[:, np.arange(pat.obs.size), pat.obs] = 1.0
        A[:, :, pat.mis] = pat.B.transpose(0, 2, 1)
        Ak = A if A.shape[0] == K else np.broadcast_to(A, (K,) + A.shape[1:])
        Ck = pat.C if pat.C.shape[0] == K else np.broadcast_to(pat.C, (K,) + pat.C.shape[1:])
        stats.sk += np.einsum("ko,kod->kd", s_o, Ak)
        full = np.einsum("kod,koe,kef->kdf", Ak, M_o, Ak)
        full[:, pat.mis[:, None], pat.mis] += nk[:, None, None] * Ck
        if stats.Mk.ndim == 3:
            stats.Mk += full
        else:
            stats.Mk += np.diagonal(full, axis1=1, axis2=2)

    def _run_groups(self, fn, X, groups, where=""):
        """``(rows, pattern, fn(observed block, rows, pattern))`` per pattern; failures
        name the row of ``X``."""
        for idx, pat in groups:
            try:
                yield idx, pat, fn(self._observed(X, idx, pat), idx, pat)
            except kernel.NonFiniteChunkError as exc:
                raise _renumbered(exc, idx, where) from None

    # ------------------------------------------------------------ native pass
    def _plan(self, X, n_threads, where=""):
        """``(keys, lut, slices)`` of a block for the native path: every row's NaN bit
        mask, the map from masks to pattern-table rows (every pattern of the block
        is in the table after this call), and the row slices; ``[]`` when nothing
        is NaN, None when the block does not suit the native path."""
        slices = _slices(X)
        if slices is None:
            return None
        d = X.shape[1]
        Xk = X if X.flags.c_contiguous and X.dtype in (np.float32, np.float64) else \
            np.ascontiguousarray(X, dtype=np.float64)
        keys = np.empty(X.shape[0], dtype=np.uint64)
        if _missing.nan_keys(Xk, keys, _threads(n_threads)) == 0:
            return []
        full = np.uint64((1 << d) - 1)
        if d <= _COUNTING_MAX_FEATURES:  # patterns by counting
            counts = np.zeros(1 << d, dtype=np.int64)
            _missing.count_keys(keys, counts)
            if counts[int(full)]:
                self._no_observed(keys == full, where)
            uniq = np.flatnonzero(counts[1:]).astype(np.uint64) + np.uint64(1)
            lut = np.zeros(1 << d, dtype=np.int32)
            lut[uniq.astype(np.intp)] = self._table.ids(uniq, self)
        else:
            gkeys = keys[keys != 0]
            if np.any(gkeys == full):
                self._no_observed(keys == full, where)
            uniq = np.unique(gkeys)
            lut = (uniq, self._table.ids(uniq, self))
        return keys, lut, slices

    @staticmethod
    def _native_split(X, keys, lut, n_threads=1, buffers=None):
        """``(complete rows, their copy, gap rows, their copy, pattern ids, chunk starts)``
        of a slice for the native kernel, the rows with gaps grouped by pattern
        (``keys``, ``lut``: the slice's part of :meth:`_plan`); None when nothing
        in it is NaN.  ``buffers``: a :class:`_Buffers` for the copies (the
        copies are then views of it, valid until the next slice)."""
        n_gap = int(np.count_nonzero(keys))
        if n_gap == 0:
            return None
        d = X.shape[1]
        Xd = np.ascontiguousarray(X, dtype=np.float64)
        n_complete = X.shape[0] - n_gap
        if not isinstance(lut, tuple):  # counting sort: split, grouped and copied in one pass
            T = max(1, min(_threads(n_threads), X.shape[0] // 4096))
            counts = np.zeros((T, 1 << d), dtype=np.int64)
            bounds = np.arange(T + 1) * X.shape[0] // T
            for t in range(T):
                _missing.count_keys(keys[bounds[t]:bounds[t + 1]], counts[t])
            total = counts.sum(axis=0)
            # thread t's rows of a key follow those of the threads before it
            offsets = (np.cumsum(total) - total - total[0]) + (np.cumsum(counts, axis=0) - counts)
            first_complete = np.ascontiguousarray(offsets[:, 0] + total[0])
            buf = buffers if buffers is not None else _Buffers(keys, [(0, X.shape[0])], d)
            complete, gap, pid = buf.complete[:n_complete], buf.gap[:n_gap], buf.pid[:n_gap]
            # the complete rows keep X's dtype: they go through the kernel as given
            Xc = buf.Xc[:n_complete if X.dtype == np.float64 else 0]
            Xg = buf.Xg[:n_gap]
            _missing.split_rows(Xd, keys, lut, np.ascontiguousarray(offsets), first_complete,
                                complete, gap, pid, Xc, Xg)
            if X.dtype != np.float64:
                Xc = X.take(complete, axis=0)
        else:
            uniq, ids = lut
            gap_mask = keys != 0
            gap = np.flatnonzero(gap_mask)
            local = np.searchsorted(uniq, keys[gap])
            order = np.argsort(local, kind="stable")
            pid = np.ascontiguousarray(ids[local[order]], dtype=np.int32)
            gap = gap[order].astype(np.int64)
            complete = np.flatnonzero(~gap_mask)
            Xc, Xg = X.take(complete, axis=0), Xd.take(gap, axis=0)
        return complete, Xc, gap, Xg, pid, _missing.chunk_starts(pid)

    @staticmethod
    def _no_observed(empty, where, offset=0):
        row = int(np.flatnonzero(empty)[0]) + offset
        raise kernel.NonFiniteChunkError(
            f"{where}row {row} has no observed value (every entry is NaN): "
            "drop it, or pass nan_policy='omit'", row=row)

    def _native(self, Xg, w, gap, pid, starts, mode, want_stats, out, norm, n_threads):
        """One :func:`gmmx._kernels._missing.missing_pass` over the rows ``gap``
        (copied to ``Xg``) of a block weighted by ``w``."""
        t = self._table
        wa = np.empty(0) if w is None else np.ascontiguousarray(
            np.take(np.asarray(w, dtype=np.float64), gap))
        # without threadpoolctl the pass runs on one thread (BLAS keeps its own)
        with kernel.blas_threads_for(_estep.KIND_FULL, _threads(n_threads)) as nt:
            return _missing.missing_pass(
                Xg, wa, pid, starts, t.cols, t.n_obs, self.kp.means, t.ref, t.Ucat, t.shift,
                t.B, t.C, t.cst,
                out, norm, mode, want_stats, nt,
                _estep.tied_pooled(self.kp.means.shape[0], self.kp.n_blocks))

    def _native_stats(self, Xg, w, gap, pid, starts, resp, n_threads):
        """Expected complete-data statistics of the rows ``gap`` (None: some row is
        not finite, the caller's reference path reports it)."""
        K = self.kp.means.shape[0]
        mode = 0 if resp is None else 1
        out = np.empty((0, K)) if resp is None else np.ascontiguousarray(
            resp.take(gap, axis=0), dtype=np.float64)
        nk, sk, Mk, ll, wsum, bad = self._native(Xg, w, gap, pid, starts, mode, True, out,
                                                 np.empty(0), n_threads)
        if bad >= 0:
            return None
        Mk = 0.5 * (Mk + Mk.transpose(0, 2, 1))
        if not (np.all(np.isfinite(Mk)) and np.all(np.isfinite(sk)) and np.isfinite(ll)):
            return None
        if self.kp.covariance_type in ("diag", "spherical") or not self.matrix:
            Mk = np.ascontiguousarray(np.diagonal(Mk, axis1=1, axis2=2))
        return SufficientStats(self.kp.covariance_type, self.kp.means.copy(), nk, sk, Mk,
                               ll if mode == 0 else 0.0, wsum, int(gap.size))

    def _fast_accumulate(self, X, sample_weight, resp, n_threads, chunk_rows, where):
        """Native statistics of a block with gaps; None: the reference path decides.

        A block without NaN is one unchanged kernel call; otherwise the block
        goes by the slices of :func:`_slices` (their copies stay in cache).
        """
        plan = self._plan(X, n_threads, where)
        if plan is None:
            return None
        if not plan:
            return None if resp is not None else kernel.accumulate(
                X, sample_weight, self.kp, n_threads, chunk_rows, where)
        keys, lut, slices = plan
        buffers = None if isinstance(lut, tuple) else _Buffers(keys, slices, X.shape[1])
        total = None
        for lo, hi in slices:
            wb = None if sample_weight is None else sample_weight[lo:hi]
            rb = None if resp is None else resp[lo:hi]
            st = self._fast_slice(X[lo:hi], keys[lo:hi], lut, wb, rb, n_threads, chunk_rows,
                                  where, lo, buffers)
            if st is None:
                return None
            total = st if total is None else _add_stats(total, st)
        return total

    def _fast_slice(self, X, keys, lut, w, resp, n_threads, chunk_rows, where, offset,
                    buffers):
        split = self._native_split(X, keys, lut, n_threads, buffers)
        if split is None:  # no NaN in this slice
            try:
                if resp is None:
                    return kernel.accumulate(X, w, self.kp, n_threads, chunk_rows, where)
                return kernel.accumulate_resp(X, w, resp, self.kp, n_threads, chunk_rows,
                                              where)
            except kernel.NonFiniteChunkError as exc:
                raise _renumbered(exc, np.arange(offset, offset + X.shape[0]), where) from None
        complete, Xc, gap, Xg, pid, starts = split
        gst = self._native_stats(Xg, w, gap, pid, starts, resp, n_threads)
        if gst is None:
            return None
        if complete.size == 0:
            return gst
        wc = None if w is None else np.ascontiguousarray(np.take(w, complete))
        try:
            if resp is None:
                stats = kernel.accumulate(Xc, wc, self.kp, n_threads, chunk_rows, where)
            else:
                stats = kernel.accumulate_resp(Xc, wc, resp.take(complete, axis=0), self.kp,
                                               n_threads, chunk_rows, where)
        except kernel.NonFiniteChunkError as exc:
            raise _renumbered(exc, complete + offset, where) from None
        return _add_stats(stats, gst)

    def _fast_per_row(self, fn, X, mode, n_threads):
        """``fn``'s per-row output with the rows with gaps done natively (None: the
        reference path decides)."""
        plan = self._plan(X, n_threads)
        if plan is None:
            return None
        if not plan:
            return fn(X, self.kp, n_threads)
        keys, lut, slices = plan
        buffers = None if isinstance(lut, tuple) else _Buffers(keys, slices, X.shape[1])
        K = self.kp.means.shape[0]
        out = np.empty((X.shape[0],) + (() if mode == "norm" else (K,)))
        for lo, hi in slices:
            Xb = X[lo:hi]
            split = self._native_split(Xb, keys[lo:hi], lut, n_threads, buffers)
            if split is None:
                try:
                    out[lo:hi] = fn(Xb, self.kp, n_threads)
                except kernel.NonFiniteChunkError as exc:
                    raise _renumbered(exc, np.arange(lo, hi)) from None
                continue
            complete, Xc, gap, Xg, pid, starts = split
            part_out = np.empty((0, K)) if mode == "norm" else np.empty((gap.size, K))
            part_norm = np.empty(gap.size) if mode == "norm" else np.empty(0)
            kmode = 2 if mode == "logd" else 0
            bad = self._native(Xg, None, gap, pid, starts, kmode, False, part_out, part_norm,
                               n_threads)[5]
            if bad >= 0 or (kmode == 2 and not np.all(np.isfinite(part_out.max(axis=1)))):
                return None
            view = out[lo:hi]
            if complete.size:
                try:
                    view[complete] = fn(Xc, self.kp, n_threads)
                except kernel.NonFiniteChunkError as exc:
                    raise _renumbered(exc, complete + lo) from None
            view[gap] = part_norm if mode == "norm" else part_out
        return out

    # ------------------------------------------------------------ statistics
    def _complete_stats(self, X, w, complete, n_threads, chunk_rows, where):
        if complete.size == 0:
            return SufficientStats.zeros(self.kp.covariance_type, self.kp.means)
        wc = None if w is None else np.ascontiguousarray(np.take(w, complete))
        try:
            return kernel.accumulate(np.ascontiguousarray(X.take(complete, axis=0)), wc, self.kp, n_threads,
                                     chunk_rows, where)
        except kernel.NonFiniteChunkError as exc:
            raise _renumbered(exc, complete, where) from None

    def accumulate(self, X: NDArray[Any], sample_weight: NDArray[Any] | None, n_threads: int | None = 1, chunk_rows: int | None = 0, where: str = "") -> SufficientStats:
        """Expected complete-data ``SufficientStats`` of the block ``X`` (NaN = missing).

        Complete rows take one unchanged kernel call; the rows with gaps one
        native pass in place (:mod:`gmmx._kernels._missing`) with each pattern's
        marginal parameters (responsibilities are the posteriors given the
        observed entries) and expected complete-data statistics.  The reference
        (per pattern, one kernel call on the observed block, expanded) runs
        when a row is not finite, to name it, or when ``d > 64``.
        """
        fast = self._fast_accumulate(X, sample_weight, None, n_threads, chunk_rows, where)
        if fast is not None:
            return fast
        split = self._groups(X, where)
        if split is None:
            return kernel.accumulate(X, sample_weight, self.kp, n_threads, chunk_rows, where)
        complete, groups = split
        stats = self._complete_stats(X, sample_weight, complete, n_threads, chunk_rows, where)
        w = sample_weight

        def step(xo, idx, pat):
            wg = None if w is None else np.ascontiguousarray(w[idx], dtype=np.float64)
            return kernel.accumulate(xo, wg, pat.marginal, n_threads, chunk_rows, where)

        for _, pat, st in self._run_groups(step, X, groups, where):
            self._expand(stats, st, pat)
        return stats

    def accumulate_resp(self, X: NDArray[Any], sample_weight: NDArray[Any] | None, resp: NDArray[Any], n_threads: int | None = 1, chunk_rows: int | None = 0, where: str = "") -> SufficientStats:
        """Expected complete-data statistics under given responsibilities ``resp`` (n, K)."""
        fast = self._fast_accumulate(X, sample_weight, np.asarray(resp, dtype=np.float64),
                                     n_threads, chunk_rows, where)
        if fast is not None:
            return fast
        split = self._groups(X, where)
        if split is None:
            return kernel.accumulate_resp(X, sample_weight, resp, self.kp, n_threads,
                                          chunk_rows, where)
        complete, groups = split
        resp = np.asarray(resp, dtype=np.float64)
        w = sample_weight
        if complete.size:
            wc = None if w is None else np.ascontiguousarray(np.take(w, complete))
            stats = kernel.accumulate_resp(np.ascontiguousarray(X.take(complete, axis=0)), wc,
                                           resp[complete], self.kp, n_threads, chunk_rows, where)
        else:
            stats = SufficientStats.zeros(self.kp.covariance_type, self.kp.means)

        def step(xo, idx, pat):
            wg = None if w is None else np.ascontiguousarray(w[idx], dtype=np.float64)
            return kernel.accumulate_resp(xo, wg, resp[idx], pat.marginal, n_threads,
                                          chunk_rows, where)

        for _, pat, st in self._run_groups(step, X, groups, where):
            self._expand(stats, st, pat)
        return stats

    # ------------------------------------------------------------ inference
    def _per_row(self, fn, X, shape, n_threads, mode=None):
        if mode is not None:
            fast = self._fast_per_row(fn, X, mode, n_threads)
            if fast is not None:
                return fast
        split = self._groups(X)
        if split is None:
            return fn(X, self.kp, n_threads)
        complete, groups = split
        out = np.empty((X.shape[0],) + shape)
        if complete.size:
            try:
                out[complete] = fn(X.take(complete, axis=0), self.kp, n_threads)
            except kernel.NonFiniteChunkError as exc:
                raise _renumbered(exc, complete) from None
        for idx, _, values in self._run_groups(
                lambda xo, idx, pat: fn(xo, pat.marginal, n_threads), X, groups):
            out[idx] = values
        return out

    def log_densities(self, X: NDArray[Any], n_threads: int | None = 1) -> NDArray[Any]:
        """``log w_k + log N(x_o | k)`` of every row's observed entries, (n, K)."""
        return self._per_row(kernel.log_densities, X, (self.kp.means.shape[0],), n_threads,
                             "logd")

    def log_prob_norm(self, X: NDArray[Any], n_threads: int | None = 1) -> NDArray[Any]:
        """``log p(x_o)`` of every row (the observed entries' marginal)."""
        return self._per_row(kernel.log_prob_norm, X, (), n_threads, "norm")

    def responsibilities(self, X: NDArray[Any], n_threads: int | None = 1) -> NDArray[Any]:
        """Posterior component probabilities given the observed entries, (n, K)."""
        return self._per_row(kernel.responsibilities, X, (self.kp.means.shape[0],), n_threads,
                             "resp")

    def conditional_components(self, X: NDArray[Any], n_threads: int | None = 1) -> Any:
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
        split = self._groups(X)
        groups: list[Any] = []
        if split is None:
            return resp, cond, groups
        for idx, pat in split[1]:
            xo = X[np.ix_(idx, pat.obs)]
            for k in range(K):
                pred = np.broadcast_to(kp.means[k, pat.mis], (idx.size, pat.mis.size)).copy()
                if pat.B is not None:
                    p = k if pat.B.shape[0] == K else 0
                    pred += (xo - kp.means[k, pat.obs]) @ pat.B[p].T
                cond[np.ix_(idx, [k], pat.mis)] = pred[:, None, :]
            groups.append((idx, pat))
        return resp, cond, groups

    def impute(self, X: NDArray[Any], n_threads: int | None = 1) -> NDArray[Any]:
        """``E[x_m | x_o]`` under the mixture at the NaN entries of ``X`` (others kept)."""
        resp, cond, _ = self.conditional_components(X, n_threads)
        return _filled(X, resp, cond)

    def sample_missing(self, X: NDArray[Any], rng: np.random.RandomState, n_draws: int = 1, n_threads: int | None = 1) -> NDArray[Any]:
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


def _threads(n_threads):
    """Threads for the native pass (one in a forked child: see ``gmmx._kernels``)."""
    return 1 if _estep.single_threaded() else max(1, int(n_threads))


class _PatternTable:
    """Every missingness pattern met under one model, packed for the native pass.

    Patterns are added as blocks bring them (once each; a pass over a chunked
    source meets most of them in its first block) and computed together,
    batched over the patterns with the same number of observed entries.

    Attributes
    ----------
    cols : ndarray of shape (G, d), int32
        Observed columns, then missing ones.
    n_obs : ndarray of shape (G,), int32
    ref : ndarray of shape (d,)
        The mean of the means, about which the native pass centres the rows.
    Ucat : ndarray of shape (G, d, K d)
        The upper factors ``U_k`` of the observed blocks' precisions side by
        side (row ``a`` holds ``U_1[a, :d_o], ..., U_K[a, :d_o]``).
    shift : ndarray of shape (G, K, d)
        ``(mu_ko - ref_o) U_k`` (first d_o entries).
    B, C : ndarray of shape (G, K, d, d)
        Regression of the missing on the observed entries (top-left d_m x d_o),
        conditional covariance of the missing entries in full coordinates.
    cst : ndarray of shape (G, K)
        ``log w_k + log det U - d_o/2 log 2 pi``.
    """

    def __init__(self, means):
        K, d = means.shape
        self.K, self.d = K, d
        self.index = {}
        self.cols = np.zeros((0, d), dtype=np.int32)
        self.n_obs = np.zeros(0, dtype=np.int32)
        self.ref = np.ascontiguousarray(means.mean(axis=0))
        self.Ucat = np.zeros((0, d, K * d))
        self.shift = np.zeros((0, K, d))
        self.B = np.zeros((0, K, d, d))
        self.C = np.zeros((0, K, d, d))
        self.cst = np.zeros((0, K))

    @property
    def G(self):
        """Number of patterns in the table."""
        return self.n_obs.size

    def ids(self, keys, step):
        """Table rows of the patterns ``keys`` (uint64 NaN bit masks), adding new ones."""
        new = np.array([k for k in keys.tolist() if k not in self.index], dtype=np.uint64)
        if new.size:
            self._add(new, step)
        return np.array([self.index[k] for k in keys.tolist()], dtype=np.int32)

    def _add(self, keys, step):
        K, d = self.K, self.d
        missing = ((keys[:, None] >> np.arange(d, dtype=np.uint64)) & np.uint64(1)).astype(bool)
        n_mis = missing.sum(axis=1)
        G = keys.size
        cols = np.zeros((G, d), dtype=np.int32)
        Ucat = np.zeros((G, d, K * d))
        shift = np.zeros((G, K, d))
        B = np.zeros((G, K, d, d))
        C = np.zeros((G, K, d, d))
        cst = np.zeros((G, K))
        for dm in np.unique(n_mis):
            sel = np.flatnonzero(n_mis == dm)
            do = d - int(dm)
            m = missing[sel]
            obs = np.nonzero(~m)[1].reshape(sel.size, do)
            mis = np.nonzero(m)[1].reshape(sel.size, int(dm))
            cols[sel] = np.concatenate([obs, mis], axis=1)
            g = np.arange(sel.size)[:, None, None]
            if step.matrix:
                S = step.sigma[None]  # (1, P, d, d)
                p = np.arange(S.shape[1])[None, :, None, None]
                o_r, o_c = obs[:, None, :, None], obs[:, None, None, :]
                m_r, m_c = mis[:, None, :, None], mis[:, None, None, :]
                Soo = S[0][p, o_r, o_c]  # (n, P, do, do)
                Som = S[0][p, o_r, m_c]
                Smm = S[0][p, m_r, m_c]
                L = np.linalg.cholesky(Soo)
                pc = np.triu(np.swapaxes(np.linalg.inv(L), -1, -2))
                Bm = np.swapaxes(np.linalg.solve(Soo, Som), -1, -2)  # (n, P, dm, do)
                Cm = Smm - Bm @ Som
                logdet = np.sum(np.log(np.diagonal(pc, axis1=-2, axis2=-1)), axis=-1)
                shape = (sel.size, K)
                pc = np.broadcast_to(pc, shape + pc.shape[2:])
                Bm = np.broadcast_to(Bm, shape + Bm.shape[2:])
                Cm = np.broadcast_to(Cm, shape + Cm.shape[2:])
                logdet = np.broadcast_to(logdet, shape)
            else:
                prec = step.kp.prec.reshape(K, d)
                po = np.swapaxes(prec[:, obs], 0, 1)  # (n, K, do)
                pc = po[..., :, None] * np.eye(do)
                Bm = np.zeros((sel.size, K, int(dm), do))
                Cm = np.swapaxes(step.var[:, mis], 0, 1)[..., :, None] * np.eye(int(dm))
                logdet = np.sum(np.log(po), axis=-1)
            pc = np.broadcast_to(pc, (sel.size, K, do, do))
            Ucat[sel, :do, :K * do] = pc.transpose(0, 2, 1, 3).reshape(sel.size, do, K * do)
            delta = (step.kp.means - self.ref)[:, obs].transpose(1, 0, 2)  # (n, K, do)
            shift[sel, :, :do] = np.einsum("nka,nkaj->nkj", delta, pc)
            Bg = np.zeros((sel.size, K, d, d))
            Bg[:, :, :int(dm), :do] = Bm
            Cg = np.zeros((sel.size, K, d, d))
            # advanced indices around a slice go first: (n, dm, dm, K)
            Cg[g, :, mis[:, :, None], mis[:, None, :]] = np.moveaxis(Cm, 1, -1)
            B[sel], C[sel] = Bg, Cg
            cst[sel] = step.log_weights + logdet - 0.5 * do * _LOG_2PI
        start = self.G
        for i, k in enumerate(keys.tolist()):
            self.index[k] = start + i
        self.cols = np.ascontiguousarray(np.concatenate([self.cols, cols]))
        self.n_obs = np.ascontiguousarray(
            np.concatenate([self.n_obs, (d - n_mis).astype(np.int32)]))
        self.Ucat = np.ascontiguousarray(np.concatenate([self.Ucat, Ucat]))
        self.shift = np.ascontiguousarray(np.concatenate([self.shift, shift]))
        self.B = np.ascontiguousarray(np.concatenate([self.B, B]))
        self.C = np.ascontiguousarray(np.concatenate([self.C, C]))
        self.cst = np.ascontiguousarray(np.concatenate([self.cst, cst]))


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


#: Bytes of a slice of rows that the native path splits and copies at a time.
_SLICE_BYTES = 1 << 24
#: Up to this many features the rows are grouped by a counting sort (a table
#: of 2**d counts per thread), beyond it by a sort of their NaN masks.
_COUNTING_MAX_FEATURES = 16


class _Buffers:
    """The copies and indices of one slice, allocated once per block for the
    largest numbers of complete rows and of rows with gaps in a slice."""

    def __init__(self, keys, slices, d):
        gaps = [int(np.count_nonzero(keys[lo:hi])) for lo, hi in slices]
        n_gap = max(gaps)
        n_complete = max(hi - lo - g for (lo, hi), g in zip(slices, gaps))
        self.Xc, self.Xg = np.empty((n_complete, d)), np.empty((n_gap, d))
        self.complete = np.empty(n_complete, dtype=np.int64)
        self.gap, self.pid = np.empty(n_gap, dtype=np.int64), np.empty(n_gap, dtype=np.int32)


def _slices(X):
    """Row slices ``[(lo, hi), ...]`` of ``X`` for the native path; None when ``X``
    does not suit it (``d > 64``)."""
    if X.ndim != 2 or X.shape[1] > 64:
        return None
    n = X.shape[0]
    step = max(1024, _SLICE_BYTES // (8 * X.shape[1]))
    return [(lo, min(lo + step, n)) for lo in range(0, n, step)]


def _add_stats(stats, other):
    """``stats`` with the additive statistics of ``other`` added in place."""
    stats.nk += other.nk
    stats.sk += other.sk
    stats.Mk += other.Mk
    stats.log_likelihood += other.log_likelihood
    stats.weight_sum += other.weight_sum
    stats.n_samples += other.n_samples
    return stats


def _renumbered(exc, rows, where=""):
    """``exc`` (about a compacted subset ``rows`` of a block) naming the row of the block."""
    if exc.row is None or exc.row >= rows.size:
        return exc
    row = int(rows[exc.row])
    text = str(exc)
    head = where if text.startswith(where) else ""
    body = text[len(head):].replace(f"row {exc.row}", f"row {row}", 1)
    body = body.replace(f"rows {exc.row}..", f"rows from {row}..", 1)
    return kernel.NonFiniteChunkError(head + body, row)


def _filled(X, resp, cond):
    """``X`` with its NaN entries replaced by the ``resp``-weighted conditional means
    ``cond`` (n, K, d) of the components."""
    out = np.array(X, dtype=np.float64)
    nan = np.isnan(out)
    mixed = np.einsum("nk,nkd->nd", resp, np.nan_to_num(cond))
    out[nan] = mixed[nan]
    return out
