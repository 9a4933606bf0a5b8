"""The NumPy implementation of mclust's VVV agglomeration that gmmx used before
its native kernel (gmmx._kernels._hier): a second implementation to compare
merge sequences with on data that have no mclust reference."""

import numpy as np

_EPS = np.finfo(np.float64).eps


class _Clusters:
    """Counts, means, scatters and costs of the current clusters (indexed by row)."""

    def __init__(self, Z, w, alpha, beta):
        n, d = Z.shape
        self.d = d
        self.alpha, self.beta = alpha, beta
        self.cnt = w.copy()
        self.mean = Z.copy()
        self.W = np.zeros((n, d, d))
        self.tr = np.zeros(n)
        self.term = self._term(self.cnt, self.tr, np.full(n, -np.inf))

    def _term(self, cnt, tr, logdet):
        base = np.log(self.beta * (tr + self.alpha) / cnt)
        val = np.where(cnt > self.d, np.logaddexp(logdet, base), base)
        return cnt * val

    def merged(self, i, J):
        """Count, mean, scatter, trace and cost of ``i`` merged with each of ``J``."""
        ni, nj = self.cnt[i], self.cnt[J]
        nij = ni + nj
        delta = self.mean[J] - self.mean[i]
        c = ni * nj / nij
        tr = self.tr[i] + self.tr[J] + c * np.einsum("ij,ij->i", delta, delta)
        logdet = np.full(J.shape[0], -np.inf)
        big = nij > self.d
        W = None
        if np.any(big):
            W = (self.W[i] + self.W[J[big]]
                 + c[big, None, None] * delta[big, :, None] * delta[big, None, :])
            sign, ld = np.linalg.slogdet(W / nij[big, None, None])
            logdet[big] = np.where(sign > 0, ld, -np.inf)
        return nij, delta, c, tr, self._term(nij, tr, logdet)

    def costs(self, i, J):
        """Increase of the total cost when ``i`` merges with each of ``J``."""
        *_, term = self.merged(i, J)
        return term - self.term[i] - self.term[J]

    def merge(self, a, b):
        """Merge cluster ``b`` into ``a``."""
        nij, delta, c, tr, term = self.merged(a, np.array([b]))
        self.W[a] = self.W[a] + self.W[b] + c[0] * np.outer(delta[0], delta[0])
        self.mean[a] = (self.cnt[a] * self.mean[a] + self.cnt[b] * self.mean[b]) / nij[0]
        self.cnt[a], self.tr[a], self.term[a] = nij[0], tr[0], term[0]




def hc_vvv_python(Z, w, alpha, beta=1.0):
    """Merges of the VVV tree; ``alpha`` already scaled as gmmx.core.hierarchical.hc_vvv does."""
    m = Z.shape[0]
    cl = _Clusters(Z, w, alpha, beta)
    D = np.full((m, m), np.inf)
    for i in range(m - 1):
        J = np.arange(i + 1, m)
        D[i, J] = D[J, i] = cl.costs(i, J)
    rowarg = np.argmin(D, axis=1)
    rowmin = D[np.arange(m), rowarg]
    active = np.ones(m, dtype=bool)
    # mclust's group numbering: a merge keeps the lower slot and moves the
    # last group into the freed one; exact ties go to the pair with the
    # largest (higher slot, lower slot), as mclust's scans (`.le.`)
    slot = np.arange(m)
    at_slot = np.arange(m)
    merges = np.empty((max(m - 1, 0), 2), dtype=np.int64)
    for step in range(m - 1):
        i, j = _best_pair(D, rowmin, rowarg, slot)
        a, b = (i, j) if slot[i] < slot[j] else (j, i)
        merges[step] = min(a, b), max(a, b)
        last = m - 1 - step
        moved = at_slot[last]
        if slot[b] != last:
            at_slot[slot[b]] = moved
            slot[moved] = slot[b]
        if min(a, b) != a:  # the merged cluster is represented by its lowest row
            a, b = b, a
            slot[a] = slot[b]
            at_slot[slot[a]] = a
        cl.merge(a, b)
        active[b] = False
        D[b, :] = D[:, b] = np.inf
        rowmin[b] = np.inf
        J = np.flatnonzero(active)
        J = J[J != a]
        if J.size == 0:
            break
        D[a, J] = D[J, a] = cl.costs(a, J)
        rowarg[a] = int(np.argmin(D[a]))
        rowmin[a] = D[a, rowarg[a]]
        stale = J[(rowarg[J] == a) | (rowarg[J] == b)]
        if stale.size:
            rowarg[stale] = np.argmin(D[stale], axis=1)
            rowmin[stale] = D[stale, rowarg[stale]]
        fresh = J[(rowarg[J] != a) & (D[J, a] < rowmin[J])]
        rowarg[fresh] = a
        rowmin[fresh] = D[fresh, a]
    return merges


def _best_pair(D, rowmin, rowarg, slot):
    """The cheapest merge; among exact ties, mclust's choice (see :func:`hc_vvv`)."""
    best = rowmin.min()
    rows = np.flatnonzero(rowmin == best)
    if rows.size == 1:
        i = int(rows[0])
        cols = np.flatnonzero(D[i] == best)
        if cols.size == 1:
            return i, int(cols[0])
    pairs = [(int(i), int(j)) for i in rows for j in np.flatnonzero(D[i] == best)]
    return max(pairs, key=lambda p: (max(slot[p[0]], slot[p[1]]), min(slot[p[0]], slot[p[1]])))


