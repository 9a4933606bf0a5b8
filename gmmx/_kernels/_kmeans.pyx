# gmmx's own k-means for initialisation: k-means++ seeding and Lloyd.
#
# Same style as the E-step kernel: chunks of rows in a fixed number of groups,
# one partial-sum row per group, groups taken dynamically by the threads and
# added in group order, so results do not depend on the thread count.
# Sums are centred at the previous centres so price-level data keep digits.
# Distances are those of (x - c) * scale: the caller picks a power of two that
# keeps squared distances of data at any scale (1e-200 ...) away from
# underflow and overflow; a power of two scales them exactly, so labels do
# not depend on it.
#
# `labelled_stats` is the last pass of the k-means initialisation: it labels
# every row by its nearest centre (or takes given labels) and accumulates the
# hard assignment's statistics in the layout of SufficientStats, in the same
# group order, so the initial statistics cost one pass and no row copies.

import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.float cimport DBL_MAX
from libc.math cimport fabs

cdef enum:
    CHUNK = 512
    MAX_GROUPS = 64
    # doubles of partial statistics over all groups (32 MB); beyond it fewer groups
    STATS_BUDGET = 4194304

# Set in a forked child (see gmmx._kernels): every call runs on one thread.
cdef int _single_threaded = 0


def _after_fork_in_child():
    """Run every later call of this module on one thread."""
    global _single_threaded
    _single_threaded = 1


def _padded(Py_ssize_t width):
    """Row length of per-group buffers: at least one free cache line (8 doubles)
    between the parts two threads write, so they never share a line."""
    return ((width + 7) // 8 + 1) * 8


cdef inline int _threads(int n_threads, Py_ssize_t G) noexcept:
    return 1 if _single_threaded else <int> max(1, min(n_threads, G))


cdef inline double _sqdist(const floating *x, const double *c, Py_ssize_t d,
                           double scale) noexcept nogil:
    cdef Py_ssize_t j
    cdef double acc = 0.0, z
    for j in range(d):
        z = (x[j] - c[j]) * scale
        acc = acc + z * z
    return acc


cdef inline Py_ssize_t _nearest(const floating *x, const double *centers, Py_ssize_t K,
                                Py_ssize_t d, double scale, double *bestd) noexcept nogil:
    """Index of the nearest of the K centres (the first on ties); its distance in bestd."""
    cdef Py_ssize_t k, best = 0
    cdef double dist
    bestd[0] = DBL_MAX
    for k in range(K):
        dist = _sqdist(x, centers + k * d, d, scale)
        if dist < bestd[0]:
            bestd[0] = dist
            best = k
    return best


def candidate_potentials(
    const floating[:, ::1] X,        # IN  (n, d)
    const double[::1] sample_weight, # IN  (n,) or (0,) for unit weights
    const double[:, ::1] candidates, # IN  (T, d)
    const double[::1] closest,       # IN  (n,) current squared distance to nearest centre
    int n_threads,
    double scale=1.0,                # IN  distances are |(x - c) * scale|^2
):
    """Weighted potential ``sum_i w_i min(closest_i, |(x_i - c_t) scale|^2)`` per candidate.

    Returns
    -------
    ndarray of shape (T,)
    """
    cdef:
        Py_ssize_t n = X.shape[0], d = X.shape[1], T = candidates.shape[0]
        Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK, i, t, start, end, g
        Py_ssize_t G = max(1, min(n_chunks, MAX_GROUPS))
        double dist, w
        bint have_w = sample_weight.shape[0] > 0
    n_threads = _threads(n_threads, G)
    buf_arr = np.zeros((G, _padded(T)))
    cdef double[:, ::1] buf = buf_arr
    with nogil, parallel(num_threads=n_threads):
        for g in prange(G, schedule='dynamic', chunksize=1):
            start = ((g * n_chunks) // G) * CHUNK
            end = (((g + 1) * n_chunks) // G) * CHUNK
            end = end if end < n else n
            for i in range(start, end):
                w = sample_weight[i] if have_w else 1.0
                for t in range(T):
                    dist = _sqdist(&X[i, 0], &candidates[t, 0], d, scale)
                    if closest[i] < dist:
                        dist = closest[i]
                    buf[g, t] += w * dist
    total = buf_arr[0, :T].copy()
    for t in range(1, G):
        total += buf_arr[t, :T]
    return total


def update_closest(
    const floating[:, ::1] X,   # IN  (n, d)
    const double[::1] center,   # IN  (d,)
    double[::1] closest,        # IN/OUT (n,)
    int n_threads,
    double scale=1.0,           # IN  distances are |(x - c) * scale|^2
):
    """``closest_i = min(closest_i, |(x_i - center) scale|^2)`` in place."""
    cdef:
        Py_ssize_t n = X.shape[0], d = X.shape[1], i
        double dist
    n_threads = _threads(n_threads, max(1, min((n + CHUNK - 1) // CHUNK, MAX_GROUPS)))
    with nogil:
        for i in prange(n, schedule='static', num_threads=n_threads):
            dist = _sqdist(&X[i, 0], &center[0], d, scale)
            if dist < closest[i]:
                closest[i] = dist


def lloyd_iter(
    const floating[:, ::1] X,          # IN  (n, d)
    const double[::1] sample_weight,   # IN  (n,) or (0,)
    const double[:, ::1] centers_old,  # IN  (K, d)
    int[::1] labels,                   # OUT (n,)
    double[::1] dist_out,              # OUT (n,) squared distance to own centre
    int n_threads,
    double scale=1.0,                  # IN  distances are |(x - c) * scale|^2
):
    """One Lloyd iteration.

    Returns
    -------
    shift_sums : ndarray of shape (K, d)
        ``sum_i w_i (x_i - c_k)`` over the points assigned to ``k``.
    weights : ndarray of shape (K,)
        Weight assigned to each centre.
    inertia : float
        ``sum_i w_i |(x_i - c_{label_i}) scale|^2``.
    """
    cdef:
        Py_ssize_t n = X.shape[0], d = X.shape[1], K = centers_old.shape[0]
        Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK, i, j, start, end, best, g
        Py_ssize_t G = max(1, min(n_chunks, MAX_GROUPS))
        Py_ssize_t S = K * d + K + 1
        double bestd, w
        bint have_w = sample_weight.shape[0] > 0
    n_threads = _threads(n_threads, G)
    buf_arr = np.zeros((G, _padded(S)))
    cdef double[:, ::1] buf = buf_arr
    with nogil, parallel(num_threads=n_threads):
        for g in prange(G, schedule='dynamic', chunksize=1):
            start = ((g * n_chunks) // G) * CHUNK
            end = (((g + 1) * n_chunks) // G) * CHUNK
            end = end if end < n else n
            for i in range(start, end):
                bestd = DBL_MAX  # assigned in the loop: Cython makes it thread-private
                best = _nearest(&X[i, 0], &centers_old[0, 0], K, d, scale, &bestd)
                labels[i] = <int> best
                dist_out[i] = bestd
                w = sample_weight[i] if have_w else 1.0
                for j in range(d):
                    buf[g, best * d + j] += w * (X[i, j] - centers_old[best, j])
                buf[g, K * d + best] += w
                buf[g, K * d + K] += w * bestd
    total = buf_arr[0, :S].copy()
    for t in range(1, G):
        total += buf_arr[t, :S]
    return (total[:K * d].reshape(K, d), total[K * d:K * d + K].copy(),
            float(total[K * d + K]))


cdef inline void _add_row(const floating *x, const double *c, double w, Py_ssize_t d,
                          bint full, double *z, double *nk, double *sk,
                          double *Mk) noexcept nogil:
    """Adds row x (weight w) to one label's statistics about its centre c.

    nk += w, sk += w z, Mk += w z z^T (upper triangle) or w z*z, with z = x - c.
    """
    cdef Py_ssize_t a, b
    cdef double wa
    for a in range(d):
        z[a] = x[a] - c[a]
    nk[0] += w
    for a in range(d):
        wa = w * z[a]
        sk[a] += wa
        if full:
            for b in range(a, d):
                Mk[a * d + b] += wa * z[b]
        else:
            Mk[a] += wa * z[a]


cdef void _rows_stats_1d(const floating *x, const double *sw, const double *c, Py_ssize_t K,
                         int *labels, Py_ssize_t start, Py_ssize_t end, bint assign,
                         double *out) noexcept nogil:
    """``labelled_stats`` of rows start..end of one-feature data into out = [nk | sk | Mk].

    The general loop at d = 1 without its per-feature loops (the pass then costs
    less than an E-step); the same sums in the same order. Centres are ordered
    by |x - c|, which neither underflows nor overflows as a square would, so
    no scale is needed.
    """
    cdef Py_ssize_t i, k, best
    cdef double xi, z, bestd, dist, w = 1.0, wz
    for i in range(start, end):
        xi = x[i]
        if assign:
            best = 0
            bestd = DBL_MAX
            for k in range(K):
                dist = fabs(xi - c[k])
                if dist < bestd:
                    bestd = dist
                    best = k
            labels[i] = <int> best
        else:
            best = labels[i]
            if best < 0 or best >= K:
                continue
        if sw != NULL:
            w = sw[i]
        z = xi - c[best]
        wz = w * z
        out[best] += w
        out[K + best] += wz
        out[2 * K + best] += wz * z


def labelled_stats(
    const floating[:, ::1] X,          # IN  (n, d)
    const double[::1] sample_weight,   # IN  (n,) or (0,) for unit weights
    const double[:, ::1] centers,      # IN  (K, d) the statistics are taken about these
    int[::1] labels,                   # OUT (n,) if assign, else IN (< 0: row left out)
    bint assign,                       # IN  label each row by its nearest centre
    bint full,                         # IN  scatter matrices (full, tied), else diagonals
    int n_threads,
    double scale=1.0,                  # IN  distances are |(x - c) * scale|^2
):
    """Statistics of a hard assignment, about ``centers``, in one pass.

    Returns
    -------
    nk : ndarray of shape (K,)
        ``sum_i w_i [label_i = k]``.
    sk : ndarray of shape (K, d)
        ``sum_i w_i [label_i = k] (x_i - c_k)``.
    Mk : ndarray of shape (K, d, d) if full, else (K, d)
        ``sum_i w_i [label_i = k] (x_i - c_k)(x_i - c_k)^T``, or its diagonal.
    """
    cdef:
        Py_ssize_t n = X.shape[0], d = X.shape[1], K = centers.shape[0]
        Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK, i, start, end, best, g
        Py_ssize_t m_size = d * d if full else d
        Py_ssize_t S = K * (1 + d + m_size)
        Py_ssize_t G = max(1, min(n_chunks, MAX_GROUPS, STATS_BUDGET // S))
        double bestd, w
        bint have_w = sample_weight.shape[0] > 0
    if labels.shape[0] != n or (have_w and sample_weight.shape[0] != n) or centers.shape[1] != d:
        raise ValueError("labels, sample_weight and centers do not match X")
    n_threads = _threads(n_threads, G)
    buf_arr = np.zeros((G, _padded(S)))
    z_arr = np.empty((G, max(d, 1)))   # one scratch row per group: a group runs on one thread
    cdef double[:, ::1] buf = buf_arr
    cdef double[:, ::1] z = z_arr
    with nogil, parallel(num_threads=n_threads):
        for g in prange(G, schedule='dynamic', chunksize=1):
            start = ((g * n_chunks) // G) * CHUNK
            end = (((g + 1) * n_chunks) // G) * CHUNK
            end = end if end < n else n
            if d == 1:
                _rows_stats_1d(&X[0, 0], &sample_weight[0] if have_w else NULL, &centers[0, 0],
                               K, &labels[0], start, end, assign, &buf[g, 0])
                continue
            for i in range(start, end):
                if assign:
                    bestd = DBL_MAX  # assigned in the loop: Cython makes it thread-private
                    best = _nearest(&X[i, 0], &centers[0, 0], K, d, scale, &bestd)
                    labels[i] = <int> best
                else:
                    best = labels[i]
                    if best < 0 or best >= K:
                        continue
                w = sample_weight[i] if have_w else 1.0
                _add_row(&X[i, 0], &centers[best, 0], w, d, full, &z[g, 0],
                         &buf[g, best], &buf[g, K + best * d],
                         &buf[g, K * (1 + d) + best * m_size])
    total = buf_arr[0, :S].copy()
    for g in range(1, G):
        total += buf_arr[g, :S]
    nk = total[:K].copy()
    sk = total[K:K * (1 + d)].reshape(K, d).copy()
    if not full:
        return nk, sk, total[K * (1 + d):].reshape(K, d).copy()
    Mk = total[K * (1 + d):].reshape(K, d, d).copy()
    lower = np.tril_indices(d, -1)
    Mk[:, lower[0], lower[1]] = Mk[:, lower[1], lower[0]]
    return nk, sk, Mk
