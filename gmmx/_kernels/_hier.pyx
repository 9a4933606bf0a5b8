# R mclust's model-based agglomerative clustering under the VVV criterion
# (Fraley 1998, Fortran `hcvvv`), the tree of init_params="hierarchical".
#
# A cluster of n rows (weighted count) with scatter W costs
#     term(n, W) = n log( det(W / n) + beta (tr W + alpha) / n )   (n > d)
#     term(n, W) = n log( beta (tr W + alpha) / n )                 (n <= d)
# and each step merges the pair whose merge increases the total cost least.
# The pairwise merge costs are held in one m x m matrix D (inf off the active
# clusters and on the diagonal) with each row's minimum and its column; a
# merge recomputes one row; a row whose minimum pointed at the two merged
# clusters keeps it as a lower bound and is rescanned only when that bound is
# the cheapest merge (Muellner's generic algorithm), so the merges are those
# of exact minima.  Ties and slot bookkeeping follow mclust (see
# gmmx.core.hierarchical.hc_vvv).  Single-threaded: the tree is sequential.
#
# One logarithm per merge cost: n log(det(W / n) + q) with det the product of
# the squared Cholesky pivots (0 when W / n is not positive definite), as
# mclust's formula reads (the NumPy version it replaced took logaddexp of a
# slogdet: the same value up to rounding; tests compare the two trees).

import numpy as np

from libc.math cimport INFINITY, log, sqrt
from libc.stdlib cimport free, malloc


cdef inline double _term(double cnt, double tr, double det, double alpha, double beta,
                         int d) noexcept nogil:
    """``cnt log(det + beta (tr + alpha) / cnt)``; ``det`` counts only when ``cnt > d``."""
    cdef double q = beta * (tr + alpha) / cnt
    if cnt > d:
        return cnt * log(det + q)
    return cnt * log(q)


cdef inline double _chol_det(double* A, int d) noexcept nogil:
    """det of the symmetric d x d matrix A (overwritten); 0 unless positive definite."""
    cdef int j, k, l
    cdef double s, piv, out = 1.0
    for j in range(d):
        s = A[j * d + j]
        for k in range(j):
            s -= A[j * d + k] * A[j * d + k]
        if not s > 0.0:
            return 0.0
        out *= s
        piv = sqrt(s)
        A[j * d + j] = piv
        for l in range(j + 1, d):
            s = A[l * d + j]
            for k in range(j):
                s -= A[l * d + k] * A[j * d + k]
            A[l * d + j] = s / piv
    return out


cdef class _Tree:
    cdef int m, d
    cdef double alpha, beta
    cdef object _arrays   # keeps the buffers below alive
    cdef double* cnt      # (m,) weighted counts
    cdef double* tr       # (m,) traces of the scatters
    cdef double* term     # (m,) cost terms
    cdef double* mean     # (m, d)
    cdef double* W        # (m, d, d) scatters
    cdef double* buf      # d x d scratch
    cdef double* delta    # d scratch

    def __cinit__(self, double[:, ::1] Z, double[::1] w, double alpha, double beta):
        self.m, self.d = Z.shape[0], Z.shape[1]
        self.alpha, self.beta = alpha, beta
        cnt = np.array(w, dtype=np.float64)
        mean = np.array(Z, dtype=np.float64)
        W = np.zeros((self.m, self.d, self.d))
        tr = np.zeros(self.m)
        term = np.empty(self.m)
        scratch = np.empty(self.d * self.d + self.d)
        self._arrays = (cnt, mean, W, tr, term, scratch)
        cdef double[::1] v
        v = cnt
        self.cnt = &v[0]
        v = mean.reshape(-1)
        self.mean = &v[0]
        v = W.reshape(-1)
        self.W = &v[0]
        v = tr
        self.tr = &v[0]
        v = term
        self.term = &v[0]
        v = scratch
        self.buf = &v[0]
        self.delta = &v[self.d * self.d]
        cdef int i
        for i in range(self.m):
            self.term[i] = _term(self.cnt[i], 0.0, 0.0, alpha, beta, self.d)

    cdef double merged_term(self, int i, int j, double* c_out, double* tr_out) noexcept nogil:
        """Cost term of ``i`` merged with ``j`` (delta left in self.delta)."""
        cdef int d = self.d, k, l
        cdef double ni = self.cnt[i], nj = self.cnt[j]
        cdef double nij = ni + nj, c, tr, dd = 0.0, det = 0.0
        cdef const double* mi = self.mean + i * d
        cdef const double* mj = self.mean + j * d
        cdef const double* Wi
        cdef const double* Wj
        cdef double* delta = self.delta
        for k in range(d):
            delta[k] = mj[k] - mi[k]
            dd = dd + delta[k] * delta[k]
        c = ni * nj / nij
        tr = self.tr[i] + self.tr[j] + c * dd
        if nij > d:
            Wi = self.W + i * d * d
            Wj = self.W + j * d * d
            for k in range(d):
                for l in range(d):
                    self.buf[k * d + l] = ((Wi[k * d + l] + Wj[k * d + l])
                                           + c * delta[k] * delta[l]) / nij
            det = _chol_det(self.buf, d)
        c_out[0] = c
        tr_out[0] = tr
        return _term(nij, tr, det, self.alpha, self.beta, d)

    cdef inline double cost(self, int i, int j) noexcept nogil:
        cdef double c, tr
        return self.merged_term(i, j, &c, &tr) - self.term[i] - self.term[j]

    cdef void merge(self, int a, int b) noexcept nogil:
        """Merge cluster ``b`` into ``a``."""
        cdef int d = self.d, k, l
        cdef double c, tr, t = self.merged_term(a, b, &c, &tr)
        cdef double nij = self.cnt[a] + self.cnt[b]
        cdef double* Wa = self.W + a * d * d
        cdef const double* Wb = self.W + b * d * d
        cdef double* ma = self.mean + a * d
        cdef const double* mb = self.mean + b * d
        for k in range(d):
            for l in range(d):
                Wa[k * d + l] = (Wa[k * d + l] + Wb[k * d + l]
                                 + c * (self.delta[k] * self.delta[l]))
        for k in range(d):
            ma[k] = (self.cnt[a] * ma[k] + self.cnt[b] * mb[k]) / nij
        self.cnt[a] = nij
        self.tr[a] = tr
        self.term[a] = t


cdef inline Py_ssize_t _argmin(const double* row, Py_ssize_t n) noexcept nogil:
    """An index of the minimum of ``row[:n]`` (0 for an all-inf row).

    Which of tied columns is returned does not matter: the merge order depends
    only on the row minima and, among exact ties, on the slots.
    """
    cdef Py_ssize_t j, q = n - n % 4
    cdef double v0 = INFINITY, v1 = INFINITY, v2 = INFINITY, v3 = INFINITY, v
    for j in range(0, q, 4):  # four independent minima: vectorised
        v0 = row[j] if row[j] < v0 else v0
        v1 = row[j + 1] if row[j + 1] < v1 else v1
        v2 = row[j + 2] if row[j + 2] < v2 else v2
        v3 = row[j + 3] if row[j + 3] < v3 else v3
    v = v0 if v0 < v1 else v1
    v = v2 if v2 < v else v
    v = v3 if v3 < v else v
    for j in range(q, n):
        v = row[j] if row[j] < v else v
    for j in range(n):
        if row[j] == v:
            return j
    return 0


def hc_vvv_merges(double[:, ::1] Z not None, double[::1] w not None, double alpha,
                  double beta):
    """The merges of mclust's VVV agglomeration of the rows of ``Z``.

    Parameters
    ----------
    Z : ndarray of shape (m, d), float64, C-contiguous
    w : ndarray of shape (m,), float64
        Row weights (counts).
    alpha, beta : float
        ``alpha`` already scaled (see gmmx.core.hierarchical.hc_vvv).

    Returns
    -------
    merges : ndarray of shape (m - 1, 2), int64
    """
    cdef int m = Z.shape[0]
    if w.shape[0] != m:
        raise ValueError("w must have one weight per row of Z")
    merges_arr = np.empty((max(m - 1, 0), 2), dtype=np.int64)
    if m < 2:
        return merges_arr
    cdef long long[:, ::1] merges = merges_arr
    cdef _Tree cl = _Tree(Z, w, alpha, beta)
    D_arr = np.empty((m, m))
    cdef double[:, ::1] D = D_arr
    cdef double[::1] rowmin = np.empty(m)
    cdef Py_ssize_t[::1] rowarg = np.empty(m, dtype=np.intp)
    cdef Py_ssize_t[::1] slot = np.arange(m, dtype=np.intp)
    cdef Py_ssize_t[::1] at_slot = np.arange(m, dtype=np.intp)
    cdef char[::1] active = np.ones(m, dtype=np.int8)
    cdef char[::1] exact = np.ones(m, dtype=np.int8)
    # Rows are updated lazily: step t recomputes row a_t only; row j catches up
    # on the columns changed since synced[j] (log_a: recomputed, log_b: merged
    # away) when it is read whole.  Writing column a_t of every row at every
    # step would miss the cache m times per step.
    cdef Py_ssize_t[::1] synced = np.zeros(m, dtype=np.intp)
    cdef Py_ssize_t[::1] log_a = np.empty(m, dtype=np.intp)
    cdef Py_ssize_t[::1] log_b = np.empty(m, dtype=np.intp)
    cdef Py_ssize_t i, j, a, b, step, last, moved, r, bi, bj, si, sj, key_hi, key_lo
    cdef Py_ssize_t best_hi, best_lo
    cdef double v, best
    cdef int n_rows_at_best, n_cols_at_best
    with nogil:
        for i in range(m):
            D[i, i] = INFINITY
            for j in range(i + 1, m):
                v = cl.cost(i, j)
                D[i, j] = v
                D[j, i] = v
        for i in range(m):
            rowarg[i] = _argmin(&D[i, 0], m)
            rowmin[i] = D[i, rowarg[i]]
        for step in range(m - 1):
            # the cheapest merge; among exact ties, mclust's choice: the pair with
            # the largest (higher slot, lower slot)
            # rowmin[r] is a lower bound unless exact[r]: rescan the rows whose
            # bound reaches the minimum until the minimum is exact
            while True:
                best = INFINITY
                for r in range(m):
                    if rowmin[r] < best:
                        best = rowmin[r]
                n_rows_at_best = 0
                for r in range(m):
                    if rowmin[r] == best and not exact[r]:
                        _sync(D, r, synced, log_a, log_b, step)
                        rowarg[r] = _argmin(&D[r, 0], m)
                        rowmin[r] = D[r, rowarg[r]]
                        exact[r] = 1
                        n_rows_at_best += 1
                if n_rows_at_best == 0:
                    break
            bi = bj = -1
            n_rows_at_best = 0
            for r in range(m):
                if rowmin[r] == best:
                    n_rows_at_best += 1
                    bi = r
            n_cols_at_best = 0
            if n_rows_at_best == 1:
                _sync(D, bi, synced, log_a, log_b, step)
                for j in range(m):
                    if D[bi, j] == best:
                        n_cols_at_best += 1
                        bj = j
            if n_rows_at_best != 1 or n_cols_at_best != 1:
                best_hi = best_lo = -1
                for r in range(m):
                    if rowmin[r] != best:
                        continue
                    _sync(D, r, synced, log_a, log_b, step)
                    for j in range(m):
                        if D[r, j] != best:
                            continue
                        si, sj = slot[r], slot[j]
                        key_hi = si if si > sj else sj
                        key_lo = sj if si > sj else si
                        if key_hi > best_hi or (key_hi == best_hi and key_lo > best_lo):
                            best_hi, best_lo, bi, bj = key_hi, key_lo, r, j
            i, j = bi, bj
            if slot[i] < slot[j]:
                a, b = i, j
            else:
                a, b = j, i
            merges[step, 0] = a if a < b else b
            merges[step, 1] = b if a < b else a
            last = m - 1 - step
            moved = at_slot[last]
            if slot[b] != last:
                at_slot[slot[b]] = moved
                slot[moved] = slot[b]
            if b < a:  # the merged cluster is represented by its lowest row
                a, b = b, a
                slot[a] = slot[b]
                at_slot[slot[a]] = a
            cl.merge(a, b)
            active[b] = 0
            rowmin[b] = INFINITY
            log_a[step] = a
            log_b[step] = b
            if step == m - 2:
                break
            for j in range(m):
                D[a, j] = cl.cost(a, j) if active[j] and j != a else INFINITY
            synced[a] = step + 1
            rowarg[a] = _argmin(&D[a, 0], m)
            rowmin[a] = D[a, rowarg[a]]
            for j in range(m):
                if not active[j] or j == a:
                    continue
                v = D[a, j]  # = D[j, a] once row j is synced
                if v < rowmin[j] or (v == rowmin[j] and exact[j]):
                    # the new minimum (the other entries did not move)
                    rowarg[j] = a
                    rowmin[j] = v
                    exact[j] = 1
                elif exact[j] and (rowarg[j] == a or rowarg[j] == b):
                    # the minimum moved up: the old one is a lower bound, rescanned
                    # only if it ever reaches the cheapest merge
                    exact[j] = 0
    return merges_arr


cdef inline void _sync(double[:, ::1] D, Py_ssize_t j, Py_ssize_t[::1] synced,
                       Py_ssize_t[::1] log_a, Py_ssize_t[::1] log_b,
                       Py_ssize_t n_log) noexcept nogil:
    """Bring row ``j`` of D up to date with the first ``n_log`` steps."""
    cdef Py_ssize_t t
    for t in range(synced[j], n_log):
        D[j, log_a[t]] = D[log_a[t], j]
        D[j, log_b[t]] = INFINITY
    synced[j] = n_log


def _after_fork_in_child():
    """Nothing to do: this module runs no threads (kept for the kernels' fork hook)."""
