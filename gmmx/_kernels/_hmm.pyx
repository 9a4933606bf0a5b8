# Forward-backward, forward filtering and Viterbi for hidden Markov models.
#
# Inputs are per-row, per-state emission log-densities lp (n, K), computed by
# the E-step kernel's `log_densities` entry point, for S sequences laid end to
# end: sequence s is rows bounds[s] .. bounds[s+1] - 1.  Optional row weights
# w temper the emissions (row t contributes w_t * lp[t]; w_t = 0 makes the row
# a missing observation).
#
# Parallel layout as in _estep.pyx: the sequences are split into a fixed
# number of groups of consecutive sequences, threads take groups dynamically,
# each group sums its sequences' transition counts in order and the groups are
# added in order after the parallel region, so results are identical bit for
# bit whatever the number of threads.
#
# Forward-backward runs the scaled recursion (Rabiner 1989) in C
# (_hmm_core.h): each row's tempered log-densities are shifted by their
# maximum m_t and exponentiated (vector exp), the forward probabilities are
# renormalised whenever their sum falls below 1e-100 (dividing by s_t), so
# nothing underflows however long the sequence, and
#     log p(x_1..T) = sum_t m_t + sum_renormalised log s_t + log sum_k alpha_T(k).
# When a row's normaliser falls below 1e-200 of the previous one (the
# transitions forbid every state the row favours) or the backward pass leaves
# the floating-point range, that sequence is redone by the log-space
# recursion; `force_log` runs it for every sequence.
#
# Transition counts: with g_{t+1}(j) = b_{t+1}(j) beta_{t+1}(j) and
# n_t = sum_i alpha_t(i) beta_t(i),
#     xi_t(i, j) = alpha_t(i) A_ij g_{t+1}(j) / n_t,
# so the scaled path sums alpha_t(i) g_{t+1}(j) / n_t and the caller multiplies
# by A_ij once ("xi_scaled"); the log-space path sums xi itself ("xi_full").
#
# Viterbi is the log-space max-product recursion with hmmlearn's tie rules
# (the last state: the first maximum; the traceback: the last maximum).

import numpy as np

from cython.parallel cimport parallel, prange
from libc.math cimport INFINITY, exp, isfinite, log
from libc.stdlib cimport free, malloc

from ._vmath cimport gmmx_simd_import, gmmx_vexp


cdef extern from "_simd.h" nogil:  # _hmm_core.h, dispatched
    int gmmx_hmm_forward(double *B, Py_ssize_t L, Py_ssize_t K, const double *pi,
                         const double *A, double *alpha, double *scratch,
                         double *logs) noexcept
    int gmmx_hmm_backward(const double *B, Py_ssize_t L, Py_ssize_t K, const double *A,
                          double *gamma, double *xi, double *scratch) noexcept
    Py_ssize_t gmmx_hmm_shift(const double *lp, const double *w, Py_ssize_t L, Py_ssize_t K,
                              double *B, double *msum) noexcept
    void gmmx_hmm_normalise_rows(double *alpha, Py_ssize_t L, Py_ssize_t K) noexcept

# every kernel is called through the SIMD table of gmmx._kernels._simd
gmmx_simd_import()

cdef enum:
    ST_OK = 0
    ST_NONFINITE = 1
    ST_NOMEM = 2
    ST_UNDERFLOW = 3      # internal: redo the sequence in log space

STATUS_OK = ST_OK
STATUS_NONFINITE = ST_NONFINITE
STATUS_NOMEM = ST_NOMEM


def n_groups(Py_ssize_t n_sequences):
    """Number of groups of consecutive sequences (independent of the thread count)."""
    return int(min(n_sequences, 64))


# --------------------------------------------------------------------------
# helpers on one row of K values
# --------------------------------------------------------------------------

cdef inline double _lse(const double *v, Py_ssize_t K) noexcept nogil:
    """log(sum(exp(v))), -inf when every entry is -inf."""
    cdef Py_ssize_t k
    cdef double mx = v[0], acc = 0.0
    for k in range(1, K):
        if v[k] > mx:
            mx = v[k]
    if mx == -INFINITY or mx == INFINITY:
        return mx
    for k in range(K):
        acc += exp(v[k] - mx)
    return log(acc) + mx


cdef inline double _lw(const double *lp, const double *w, Py_ssize_t t, Py_ssize_t K,
                       Py_ssize_t k) noexcept nogil:
    """Tempered emission log-density of row t, state k."""
    if w == NULL:
        return lp[t * K + k]
    return w[t] * lp[t * K + k]


# --------------------------------------------------------------------------
# log-space recursion (fallback)
# --------------------------------------------------------------------------

cdef double _forward_log(
    const double *lp, const double *w, Py_ssize_t L, Py_ssize_t K,
    const double *logpi,  # IN  (K,)
    const double *logA,   # IN  (K, K)
    double *fwd,          # OUT (L, K) log forward probabilities
    double *buf,          # SCRATCH (K,)
) noexcept nogil:
    """Log-space forward pass; returns log p(x_1..L)."""
    cdef Py_ssize_t t, i, j
    for i in range(K):
        fwd[i] = logpi[i] + _lw(lp, w, 0, K, i)
    for t in range(1, L):
        for j in range(K):
            for i in range(K):
                buf[i] = fwd[(t - 1) * K + i] + logA[i * K + j]
            fwd[t * K + j] = _lse(buf, K) + _lw(lp, w, t, K, j)
    return _lse(fwd + (L - 1) * K, K)


cdef void _normalise_log_row(double *row, Py_ssize_t K) noexcept nogil:
    """row = exp(row - logsumexp(row)), rows summing to one."""
    cdef Py_ssize_t k
    cdef double s = _lse(row, K)
    if K == 1:
        row[0] = 1.0
        return
    for k in range(K):
        row[k] = exp(row[k] - s)


cdef double _forward_backward_log(
    const double *lp, const double *w, Py_ssize_t L, Py_ssize_t K,
    const double *logpi, const double *logA,
    double *gamma,        # OUT (L, K) posteriors (log forward while working)
    double *xi,           # OUT (K, K) sum_t xi_t(i, j), or NULL
    double *buf, double *bw, double *bw_next,   # SCRATCH (K,) each
) noexcept nogil:
    """Log-space forward-backward (hmmlearn's "log" recursion); returns log p."""
    cdef Py_ssize_t t, i, j
    cdef double ll, v
    cdef double *tmp
    ll = _forward_log(lp, w, L, K, logpi, logA, gamma, buf)
    for j in range(K):
        bw_next[j] = 0.0
    _normalise_log_row(gamma + (L - 1) * K, K)
    for t in range(L - 2, -1, -1):
        for i in range(K):
            for j in range(K):
                v = logA[i * K + j] + _lw(lp, w, t + 1, K, j) + bw_next[j]
                buf[j] = v
                if xi != NULL:
                    xi[i * K + j] += exp(gamma[t * K + i] + v - ll)
            bw[i] = _lse(buf, K)
        for i in range(K):
            gamma[t * K + i] += bw[i]
        _normalise_log_row(gamma + t * K, K)
        tmp = bw
        bw = bw_next
        bw_next = tmp
    return ll


# --------------------------------------------------------------------------
# one sequence
# --------------------------------------------------------------------------

cdef int _one_sequence(
    const double *lp, const double *w, Py_ssize_t L, Py_ssize_t K,
    const double *pi, const double *A, const double *logpi, const double *logA,
    double *out,          # OUT (L, K) posteriors (backward) or filtered probabilities
    double *xi_scaled,    # OUT (K, K) accumulated, or NULL
    double *xi_full,      # OUT (K, K) accumulated, or NULL
    double *logprob,      # OUT log p(x_1..L)
    Py_ssize_t *bad_row,  # OUT
    bint backward,
    bint force_log,
    double *scratch,      # SCRATCH (K*K + 3K,)
) noexcept nogil:
    """Forward(-backward) of one sequence with the log-space fallback."""
    cdef Py_ssize_t k
    cdef int rc = ST_UNDERFLOW
    cdef double msum = 0.0, logs = 0.0
    cdef double *xi_seq = scratch
    cdef double *v1 = scratch + K * K
    cdef double *B
    for k in range(K * K):
        xi_seq[k] = 0.0
    if not force_log:
        B = <double *> malloc(L * K * sizeof(double))
        if B == NULL:
            return ST_NOMEM
        bad_row[0] = gmmx_hmm_shift(lp, w, L, K, B, &msum)
        if bad_row[0] >= 0:
            free(B)
            return ST_NONFINITE
        gmmx_vexp(B, L * K)
        rc = gmmx_hmm_forward(B, L, K, pi, A, out, v1, &logs)
        if rc == ST_OK and backward:
            rc = gmmx_hmm_backward(B, L, K, A, out, xi_seq if xi_scaled != NULL else NULL, v1)
        free(B)
        if rc == ST_OK:
            logprob[0] = msum + logs
            if not backward:
                gmmx_hmm_normalise_rows(out, L, K)
            elif xi_scaled != NULL:
                for k in range(K * K):
                    xi_scaled[k] += xi_seq[k]
            return ST_OK
        for k in range(K * K):
            xi_seq[k] = 0.0
    # log space (forced, or after an underflow of the scaled recursion)
    for k in range(L * K):
        if not isfinite(_lw(lp, w, k // K, K, k % K)):
            bad_row[0] = k // K
            return ST_NONFINITE
    if backward:
        logprob[0] = _forward_backward_log(lp, w, L, K, logpi, logA, out,
                                           xi_seq if xi_full != NULL else NULL,
                                           v1, v1 + K, v1 + 2 * K)
        if xi_full != NULL:
            for k in range(K * K):
                xi_full[k] += xi_seq[k]
    else:
        logprob[0] = _forward_log(lp, w, L, K, logpi, logA, out, v1)
        for k in range(L):
            _normalise_log_row(out + k * K, K)
    return ST_OK


cdef _check_inputs(const double[:, ::1] lp, const double[::1] w, const Py_ssize_t[::1] bounds,
                   const double[::1] startprob, const double[:, ::1] transmat,
                   Py_ssize_t out_rows, Py_ssize_t out_cols):
    cdef Py_ssize_t n = lp.shape[0], K = lp.shape[1], S, s
    if K < 1:
        raise ValueError("lp must have at least one column (state)")
    if startprob.shape[0] != K:
        raise ValueError("startprob must have one entry per state")
    if transmat.shape[0] != K or transmat.shape[1] != K:
        raise ValueError("transmat must have shape (n_states, n_states)")
    if w.shape[0] != 0 and w.shape[0] != n:
        raise ValueError("w must have one entry per row (or none)")
    if bounds.shape[0] < 1 or bounds[0] != 0 or bounds[bounds.shape[0] - 1] != n:
        raise ValueError("bounds must start at 0 and end at the number of rows")
    S = bounds.shape[0] - 1
    for s in range(S):
        if bounds[s + 1] < bounds[s]:
            raise ValueError("bounds must be non-decreasing")
    if out_rows != n or out_cols != K:
        raise ValueError("the output must have the shape of lp")


cdef tuple _drive(const double[:, ::1] lp, const double[::1] w, const Py_ssize_t[::1] bounds,
                  const double[::1] startprob, const double[:, ::1] transmat,
                  double[:, ::1] out, double[::1] logprob, int n_threads,
                  bint backward, bint want_xi, bint force_log):
    """The sequence loop of forward_backward and forward."""
    cdef:
        Py_ssize_t n = lp.shape[0], K = lp.shape[1]
        Py_ssize_t S = bounds.shape[0] - 1
        Py_ssize_t G, g, s, start, L, KK = K * K
        Py_ssize_t bad
        int rc
        double *scratch
        const double *wp = &w[0] if w.shape[0] > 0 else NULL
    _check_inputs(lp, w, bounds, startprob, transmat, out.shape[0], out.shape[1])
    if logprob.shape[0] != S:
        raise ValueError("logprob must have one entry per sequence")
    with np.errstate(divide="ignore"):
        logpi_arr = np.log(np.asarray(startprob))
        logA_arr = np.ascontiguousarray(np.log(np.asarray(transmat)))
    cdef const double[::1] logpi = logpi_arr
    cdef const double[:, ::1] logA = logA_arr
    G = n_groups(S)
    # per group: [xi_scaled (K*K) | xi_full (K*K) | status | bad_row]
    gbuf_arr = np.zeros((max(G, 1), 2 * KK + 2), dtype=np.float64)
    gbuf_arr[:, 2 * KK + 1] = -1
    cdef double[:, ::1] gbuf = gbuf_arr
    n_threads = max(1, min(n_threads, G))
    if G > 0:
        with nogil, parallel(num_threads=n_threads):
            scratch = <double *> malloc((KK + 3 * K) * sizeof(double))
            for g in prange(G, schedule='dynamic', chunksize=1):
                if scratch == NULL:
                    gbuf[g, 2 * KK] = ST_NOMEM
                    continue
                for s in range((g * S) // G, ((g + 1) * S) // G):
                    start = bounds[s]
                    L = bounds[s + 1] - start
                    if L == 0:
                        logprob[s] = 0.0
                        continue
                    bad = -1
                    rc = _one_sequence(
                        &lp[start, 0], wp + start if wp != NULL else NULL, L, K,
                        &startprob[0], &transmat[0, 0], &logpi[0], &logA[0, 0],
                        &out[start, 0],
                        &gbuf[g, 0] if want_xi else NULL,
                        &gbuf[g, KK] if want_xi else NULL,
                        &logprob[s], &bad, backward, force_log, scratch)
                    if rc != ST_OK:
                        gbuf[g, 2 * KK] = rc
                        gbuf[g, 2 * KK + 1] = start + bad if bad >= 0 else start
                        break
            free(scratch)
    status = int(gbuf_arr[:, 2 * KK].max()) if G > 0 else ST_OK
    failed = gbuf_arr[gbuf_arr[:, 2 * KK] != ST_OK, 2 * KK + 1]
    bad_row = int(failed.min()) if failed.size else -1
    xi = np.zeros((K, K))
    if want_xi:
        scaled = np.zeros(KK)
        full = np.zeros(KK)
        for g in range(G):
            scaled += gbuf_arr[g, :KK]
            full += gbuf_arr[g, KK:2 * KK]
        xi = np.asarray(transmat) * scaled.reshape(K, K) + full.reshape(K, K)
    return xi, status, bad_row


def forward_backward(
    const double[:, ::1] lp,
    const double[::1] w,
    const Py_ssize_t[::1] bounds,
    const double[::1] startprob,
    const double[:, ::1] transmat,
    double[:, ::1] gamma,
    double[::1] logprob,
    int n_threads,
    bint want_xi=True,
    bint force_log=False,
):
    """Posterior state probabilities and transition counts of every sequence.

    Parameters
    ----------
    lp : ndarray of shape (n, K)
        Emission log-densities ``log N(x_t | k)``.
    w : ndarray of shape (n,) or (0,)
        Row weights tempering the emissions (empty: all ones).
    bounds : ndarray of intp, shape (S + 1,)
        Sequence ``s`` is rows ``bounds[s]:bounds[s + 1]``.
    startprob : ndarray of shape (K,)
    transmat : ndarray of shape (K, K)
    gamma : ndarray of shape (n, K)
        Receives the posteriors ``P(z_t = k | x of its sequence)``.
    logprob : ndarray of shape (S,)
        Receives ``log p`` of each sequence.
    n_threads : int
        OpenMP threads (at most one per group of sequences).
    want_xi : bool
        Sum the expected transition counts.
    force_log : bool
        Use the log-space recursion for every sequence (tests).

    Returns
    -------
    xi : ndarray of shape (K, K)
        ``sum_t P(z_t = i, z_{t+1} = j | x)`` over all sequences (zeros
        unless ``want_xi``).
    status : int
        ``STATUS_OK``, ``STATUS_NONFINITE`` or ``STATUS_NOMEM``.
    bad_row : int
        First row of the first failing sequence found (or of the non-finite
        value), -1 when none.
    """
    return _drive(lp, w, bounds, startprob, transmat, gamma, logprob, n_threads,
                  True, want_xi, force_log)


def forward(
    const double[:, ::1] lp,
    const double[::1] w,
    const Py_ssize_t[::1] bounds,
    const double[::1] startprob,
    const double[:, ::1] transmat,
    double[:, ::1] alpha,
    double[::1] logprob,
    int n_threads,
    bint force_log=False,
):
    """Filtered state probabilities ``P(z_t = k | x_1..x_t)`` of every sequence.

    Parameters as :func:`forward_backward`; ``alpha`` (n, K) receives the
    normalised forward probabilities.  Row ``t`` depends on rows ``<= t`` of
    its sequence only.

    Returns
    -------
    status, bad_row : as :func:`forward_backward`.
    """
    _, status, bad_row = _drive(lp, w, bounds, startprob, transmat, alpha, logprob,
                                n_threads, False, False, force_log)
    return status, bad_row


cdef int _viterbi_one(
    const double *lp, Py_ssize_t L, Py_ssize_t K,
    const double *logpi, const double *logA,
    Py_ssize_t *states,   # OUT (L,)
    double *logprob,      # OUT
    Py_ssize_t *bad_row,  # OUT
) noexcept nogil:
    """hmmlearn's Viterbi recursion and traceback for one sequence."""
    cdef Py_ssize_t t, i, j, prev, best
    cdef double mx, v
    cdef double *lat = <double *> malloc(L * K * sizeof(double))
    if lat == NULL:
        return ST_NOMEM
    for t in range(L):
        for i in range(K):
            if not isfinite(lp[t * K + i]):
                bad_row[0] = t
                free(lat)
                return ST_NONFINITE
    for i in range(K):
        lat[i] = logpi[i] + lp[i]
    for t in range(1, L):
        for i in range(K):
            mx = -INFINITY
            for j in range(K):
                v = lat[(t - 1) * K + j] + logA[j * K + i]
                if v > mx:
                    mx = v
            lat[t * K + i] = mx + lp[t * K + i]
    # last state: the first maximum (std::max_element)
    prev = 0
    for i in range(1, K):
        if lat[(L - 1) * K + i] > lat[(L - 1) * K + prev]:
            prev = i
    states[L - 1] = prev
    logprob[0] = lat[(L - 1) * K + prev]
    # traceback: std::max over (value, index) pairs keeps the last maximum
    for t in range(L - 2, -1, -1):
        mx = -INFINITY
        best = 0
        for i in range(K):
            v = lat[t * K + i] + logA[i * K + prev]
            if v > mx or (v == mx and i > best):
                mx = v
                best = i
        states[t] = best
        prev = best
    free(lat)
    return ST_OK


def viterbi(
    const double[:, ::1] lp,
    const Py_ssize_t[::1] bounds,
    const double[::1] startprob,
    const double[:, ::1] transmat,
    Py_ssize_t[::1] states,
    double[::1] logprob,
    int n_threads,
):
    """Most likely state path of every sequence (Viterbi).

    Parameters
    ----------
    lp, bounds, startprob, transmat, n_threads :
        As :func:`forward_backward`.
    states : ndarray of intp, shape (n,)
        Receives the path.
    logprob : ndarray of shape (S,)
        Receives the log-probability of each sequence's best path.

    Returns
    -------
    status, bad_row : as :func:`forward_backward`.
    """
    cdef:
        Py_ssize_t n = lp.shape[0], K = lp.shape[1]
        Py_ssize_t S = bounds.shape[0] - 1
        Py_ssize_t G, g, s, start, L, bad
        int rc
    _check_inputs(lp, np.empty(0), bounds, startprob, transmat, states.shape[0], K)
    if logprob.shape[0] != S:
        raise ValueError("logprob must have one entry per sequence")
    with np.errstate(divide="ignore"):
        logpi_arr = np.log(np.asarray(startprob))
        logA_arr = np.ascontiguousarray(np.log(np.asarray(transmat)))
    cdef const double[::1] logpi = logpi_arr
    cdef const double[:, ::1] logA = logA_arr
    G = n_groups(S)
    gbuf_arr = np.zeros((max(G, 1), 2), dtype=np.float64)
    gbuf_arr[:, 1] = -1
    cdef double[:, ::1] gbuf = gbuf_arr
    n_threads = max(1, min(n_threads, G))
    if G > 0:
        with nogil, parallel(num_threads=n_threads):
            for g in prange(G, schedule='dynamic', chunksize=1):
                for s in range((g * S) // G, ((g + 1) * S) // G):
                    start = bounds[s]
                    L = bounds[s + 1] - start
                    if L == 0:
                        logprob[s] = 0.0
                        continue
                    bad = -1
                    rc = _viterbi_one(&lp[start, 0], L, K, &logpi[0], &logA[0, 0],
                                      &states[start], &logprob[s], &bad)
                    if rc != ST_OK:
                        gbuf[g, 0] = rc
                        gbuf[g, 1] = start + bad if bad >= 0 else start
                        break
    status = int(gbuf_arr[:, 0].max()) if G > 0 else ST_OK
    failed = gbuf_arr[gbuf_arr[:, 0] != ST_OK, 1]
    return status, int(failed.min()) if failed.size else -1


def sample_states(const double[::1] startprob, const double[:, ::1] transmat,
                  const double[::1] u, Py_ssize_t first=-1):
    """A Markov chain path from uniforms ``u`` (inverse-cdf draws, as hmmlearn).

    ``first`` >= 0 fixes the first state; otherwise ``u[0]`` draws it from
    ``startprob``.  Returns an intp array of ``len(u)`` states.
    """
    cdef Py_ssize_t n = u.shape[0], K = startprob.shape[0], t, k, cur
    cdef double acc
    if transmat.shape[0] != K or transmat.shape[1] != K:
        raise ValueError("transmat must have shape (n_states, n_states)")
    if first >= K:
        raise ValueError("the first state must be below the number of states")
    out_arr = np.empty(n, dtype=np.intp)
    cdef Py_ssize_t[::1] out = out_arr
    if n == 0:
        return out_arr
    cdef const double[:, ::1] cdf = np.ascontiguousarray(np.cumsum(transmat, axis=1))
    cdef const double[::1] cdf0 = np.cumsum(startprob)
    with nogil:
        for t in range(n):
            if t == 0 and first >= 0:
                out[0] = first
                continue
            # (cdf > u).argmax(): the first state whose cdf exceeds u (0 if none)
            cur = 0
            for k in range(K):
                acc = cdf0[k] if t == 0 else cdf[out[t - 1], k]
                if acc > u[t]:
                    cur = k
                    break
            out[t] = cur
    return out_arr
