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

import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.float cimport DBL_MAX

cdef enum:
    CHUNK = 512
    MAX_GROUPS = 64

# Set in a forked child (see gmmx._kernels): every call runs on one thread.
cdef int _single_threaded = 0


def _after_fork_in_child():
    """Run every later call of this module on one thread."""
    global _single_threaded
    _single_threaded = 1


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
    buf_arr = np.zeros((G, T))
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
    total = buf_arr[0].copy()
    for t in range(1, G):
        total += buf_arr[t]
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
        Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK, i, j, k, start, end, best, g
        Py_ssize_t G = max(1, min(n_chunks, MAX_GROUPS))
        Py_ssize_t S = K * d + K + 1
        double dist, bestd, w
        bint have_w = sample_weight.shape[0] > 0
    n_threads = _threads(n_threads, G)
    buf_arr = np.zeros((G, S))
    cdef double[:, ::1] buf = buf_arr
    with nogil, parallel(num_threads=n_threads):
        for g in prange(G, schedule='dynamic', chunksize=1):
            start = ((g * n_chunks) // G) * CHUNK
            end = (((g + 1) * n_chunks) // G) * CHUNK
            end = end if end < n else n
            for i in range(start, end):
                best = 0
                bestd = DBL_MAX
                for k in range(K):
                    dist = _sqdist(&X[i, 0], &centers_old[k, 0], d, scale)
                    if dist < bestd:
                        bestd = dist
                        best = k
                labels[i] = <int> best
                dist_out[i] = bestd
                w = sample_weight[i] if have_w else 1.0
                for j in range(d):
                    buf[g, best * d + j] += w * (X[i, j] - centers_old[best, j])
                buf[g, K * d + best] += w
                buf[g, K * d + K] += w * bestd
    total = buf_arr[0].copy()
    for t in range(1, G):
        total += buf_arr[t]
    return (total[:K * d].reshape(K, d), total[K * d:K * d + K].copy(),
            float(total[K * d + K]))
