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
from libc.stdlib cimport calloc, free, malloc

from ._vmath cimport GMMX_FULL_PAD, gmmx_simd_import

# Native loops over chunks of rows (C in _kmeans_core.h, compiled per SIMD target
# like _vmath.h and called through _simd.h; no FMA contraction, so every
# target gives the same bits).
#
# Distances: the centres are packed in blocks of 8, coordinate-major
# (cb[(b * d + j) * 8 + l] = coordinate j of centre 8 b + l, 0 past K), and 4
# rows at a time are compared with a block of 8 centres in vector registers.
# Each distance is still 0 + z_0^2 + z_1^2 + ... in feature order, z = (x - c)
# scale, exactly as the scalar loop `_sqdist` adds it, so labels and
# potentials are those of the scalar loop bit for bit; only the independent
# distances run side by side.
#
# Labelled statistics: a chunk's rows are gathered by label into a transposed
# buffer of centred rows (feature-major, one run of columns per label), then
# each label's scatter is the E-step's fixed-lane scatter of that run
# (gmmx_full_scatter_upper) or, for diagonals, fixed-lane sums and dots.
cdef extern from "_simd.h":
    void kmx_distances_f64(const double *X, Py_ssize_t n, Py_ssize_t d, const double *cb,
                           Py_ssize_t nb, double scale, double *out) noexcept nogil
    void kmx_distances_f32(const float *X, Py_ssize_t n, Py_ssize_t d, const double *cb,
                           Py_ssize_t nb, double scale, double *out) noexcept nogil
    void kmx_nearest_f64(const double *X, Py_ssize_t n, Py_ssize_t d, const double *cb,
                         Py_ssize_t nb, Py_ssize_t K, double scale, double *dscr,
                         int *labels, double *bestd) noexcept nogil
    void kmx_nearest_f32(const float *X, Py_ssize_t n, Py_ssize_t d, const double *cb,
                         Py_ssize_t nb, Py_ssize_t K, double scale, double *dscr,
                         int *labels, double *bestd) noexcept nogil
    void kmx_gather_f64(const double *X, const double *w, const int *labels, Py_ssize_t n,
                        Py_ssize_t d, const double *centers, Py_ssize_t K, Py_ssize_t *pos,
                        double *xt, double *rx, Py_ssize_t ld, double *nk) noexcept nogil
    void kmx_gather_f32(const float *X, const double *w, const int *labels, Py_ssize_t n,
                        Py_ssize_t d, const double *centers, Py_ssize_t K, Py_ssize_t *pos,
                        double *xt, double *rx, Py_ssize_t ld, double *nk) noexcept nogil
    void kmx_runs_stats(const double *xt, const double *rx, Py_ssize_t ld, const Py_ssize_t *pos,
                        Py_ssize_t K, Py_ssize_t d, int full, double *out) noexcept nogil
    void kmx_rows_1d_f64(const double *x, const double *sw, const double *c, Py_ssize_t K,
                         int *labels, Py_ssize_t n, int assign, Py_ssize_t *pos, double *xs,
                         double *ws, const double *ones, double *out) noexcept nogil
    void kmx_rows_1d_f32(const float *x, const double *sw, const double *c, Py_ssize_t K,
                         int *labels, Py_ssize_t n, int assign, Py_ssize_t *pos, double *xs,
                         double *ws, const double *ones, double *out) noexcept nogil
    enum:
        KMX_LANES
        KMX_SUB

# every kernel is called through the SIMD table of gmmx._kernels._simd
gmmx_simd_import()

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


def _packed_centers(const double[:, ::1] centers):
    """Centres in blocks of KMX_LANES, coordinate-major, zero past K: (nb, d, KMX_LANES)."""
    cdef Py_ssize_t K = centers.shape[0], d = centers.shape[1]
    cdef Py_ssize_t nb = max(1, (K + KMX_LANES - 1) // KMX_LANES)
    padded = np.zeros((nb * KMX_LANES, d))
    padded[:K] = centers
    return np.ascontiguousarray(padded.reshape(nb, KMX_LANES, d).transpose(0, 2, 1))


cdef inline void _distances(const floating *X, Py_ssize_t n, Py_ssize_t d, const double *cb,
                            Py_ssize_t nb, double scale, double *out) noexcept nogil:
    if floating is float:
        kmx_distances_f32(X, n, d, cb, nb, scale, out)
    else:
        kmx_distances_f64(X, n, d, cb, nb, scale, out)


cdef inline void _nearest_rows(const floating *X, Py_ssize_t n, Py_ssize_t d, const double *cb,
                               Py_ssize_t nb, Py_ssize_t K, double scale, double *dscr,
                               int *labels, double *bestd) noexcept nogil:
    if floating is float:
        kmx_nearest_f32(X, n, d, cb, nb, K, scale, dscr, labels, bestd)
    else:
        kmx_nearest_f64(X, n, d, cb, nb, K, scale, dscr, labels, bestd)


cdef inline void _gather(const floating *X, const double *w, const int *labels, Py_ssize_t n,
                         Py_ssize_t d, const double *centers, Py_ssize_t K, Py_ssize_t *pos,
                         double *xt, double *rx, Py_ssize_t ld, double *nk) noexcept nogil:
    if floating is float:
        kmx_gather_f32(X, w, labels, n, d, centers, K, pos, xt, rx, ld, nk)
    else:
        kmx_gather_f64(X, w, labels, n, d, centers, K, pos, xt, rx, ld, nk)


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
        Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK, i, t, start, end, g, s, m, r
        Py_ssize_t G = max(1, min(n_chunks, MAX_GROUPS))
        double dist, w
        double *dscr
        bint have_w = sample_weight.shape[0] > 0
    n_threads = _threads(n_threads, G)
    cb_arr = _packed_centers(candidates)
    cdef const double[:, :, ::1] cb = cb_arr
    cdef Py_ssize_t nb = cb.shape[0], W = nb * KMX_LANES
    buf_arr = np.zeros((G, _padded(T)))   # column T: allocation failed
    cdef double[:, ::1] buf = buf_arr
    with nogil, parallel(num_threads=n_threads):
        dscr = <double *> malloc(KMX_SUB * W * sizeof(double))
        for g in prange(G, schedule='dynamic', chunksize=1):
            if dscr == NULL:
                buf[g, T] = 1.0
                continue
            start = ((g * n_chunks) // G) * CHUNK
            end = (((g + 1) * n_chunks) // G) * CHUNK
            end = end if end < n else n
            s = start
            while s < end:
                m = end - s if end - s < KMX_SUB else KMX_SUB
                _distances(&X[s, 0], m, d, &cb[0, 0, 0], nb, scale, dscr)
                for r in range(m):
                    i = s + r
                    w = sample_weight[i] if have_w else 1.0
                    for t in range(T):
                        dist = dscr[r * W + t]
                        if closest[i] < dist:
                            dist = closest[i]
                        buf[g, t] += w * dist
                s = s + m
        free(dscr)
    if buf_arr[:, T].any():
        raise MemoryError("candidate_potentials: out of memory for scratch")
    total = buf_arr[0, :T].copy()
    for t in range(1, G):
        total += buf_arr[t, :T]
    return total


def column_spread(const floating[:, ::1] X):
    """``max_j (max_i x_ij - min_i x_ij)`` in double, NaN if any entry is NaN.

    As ``np.max(X.max(0).astype(float64) - X.min(0))`` (the same value) in one
    pass; (0, d) gives -inf, like an empty maximum would not.
    """
    cdef:
        Py_ssize_t n = X.shape[0], d = X.shape[1], i, j
        double v, spread = -DBL_MAX
        bint nan = False
    lo_arr = np.empty(max(d, 1))
    hi_arr = np.empty(max(d, 1))
    cdef double[::1] lo = lo_arr
    cdef double[::1] hi = hi_arr
    if n == 0 or d == 0:
        return float("-inf")
    with nogil:
        for j in range(d):
            lo[j] = X[0, j]
            hi[j] = X[0, j]
        for i in range(n):
            for j in range(d):
                v = X[i, j]
                nan = nan | (v != v)
                lo[j] = v if v < lo[j] else lo[j]
                hi[j] = v if v > hi[j] else hi[j]
        for j in range(d):
            v = hi[j] - lo[j]
            nan = nan | (v != v)
            spread = v if v > spread else spread
    return float("nan") if nan else spread


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
        double *dscr
        bint have_w = sample_weight.shape[0] > 0
    n_threads = _threads(n_threads, G)
    cb_arr = _packed_centers(centers_old)
    cdef const double[:, :, ::1] cb = cb_arr
    cdef Py_ssize_t nb = cb.shape[0], W = nb * KMX_LANES
    buf_arr = np.zeros((G, _padded(S)))   # column S: allocation failed
    cdef double[:, ::1] buf = buf_arr
    with nogil, parallel(num_threads=n_threads):
        dscr = <double *> malloc(KMX_SUB * W * sizeof(double))
        for g in prange(G, schedule='dynamic', chunksize=1):
            if dscr == NULL:
                buf[g, S] = 1.0
                continue
            start = ((g * n_chunks) // G) * CHUNK
            end = (((g + 1) * n_chunks) // G) * CHUNK
            end = end if end < n else n
            if end > start:
                _nearest_rows(&X[start, 0], end - start, d, &cb[0, 0, 0], nb, K, scale, dscr,
                              &labels[start], &dist_out[start])
            for i in range(start, end):
                best = labels[i]
                bestd = dist_out[i]
                w = sample_weight[i] if have_w else 1.0
                for j in range(d):
                    buf[g, best * d + j] += w * (X[i, j] - centers_old[best, j])
                buf[g, K * d + best] += w
                buf[g, K * d + K] += w * bestd
        free(dscr)
    if buf_arr[:, S].any():
        raise MemoryError("lloyd_iter: out of memory for scratch")
    total = buf_arr[0, :S].copy()
    for t in range(1, G):
        total += buf_arr[t, :S]
    return (total[:K * d].reshape(K, d), total[K * d:K * d + K].copy(),
            float(total[K * d + K]))


cdef inline void _rows_1d(const floating *x, const double *sw, const double *c, Py_ssize_t K,
                          int *labels, Py_ssize_t n, bint assign, Py_ssize_t *pos, double *xs,
                          double *ws, const double *ones, double *out) noexcept nogil:
    if floating is float:
        kmx_rows_1d_f32(x, sw, c, K, labels, n, assign, pos, xs, ws, ones, out)
    else:
        kmx_rows_1d_f64(x, sw, c, K, labels, n, assign, pos, xs, ws, ones, out)


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
        Py_ssize_t n_chunks = (n + CHUNK - 1) // CHUNK, ci, start, m, g, q
        # per label: d > 1 full (d + 1, d) scatter block (see kmx_runs_stats) or
        # (2, d); d == 1 keeps [nk | sk | Mk] (kmx_rows_1d)
        Py_ssize_t blk = (d + 1) * d if full else 2 * d
        Py_ssize_t S = K * (1 + blk)
        Py_ssize_t G = max(1, min(n_chunks, MAX_GROUPS, STATS_BUDGET // max(S, 1)))
        Py_ssize_t ld = CHUNK + 8, dp = GMMX_FULL_PAD(d)
        bint have_w = sample_weight.shape[0] > 0
        const double *sw = NULL
        double *dscr
        double *xt
        double *rx
        Py_ssize_t *pos
    if labels.shape[0] != n or (have_w and sample_weight.shape[0] != n) or centers.shape[1] != d:
        raise ValueError("labels, sample_weight and centers do not match X")
    if have_w:
        sw = &sample_weight[0]
    n_threads = _threads(n_threads, G)
    cb_arr = _packed_centers(centers)
    cdef const double[:, :, ::1] cb = cb_arr
    cdef Py_ssize_t nb = cb.shape[0], W = nb * KMX_LANES
    buf_arr = np.zeros((G, _padded(S)))   # column S: allocation failed
    cdef double[:, ::1] buf = buf_arr
    with nogil, parallel(num_threads=n_threads):
        dscr = NULL
        xt = NULL
        rx = NULL
        pos = NULL
        pos = <Py_ssize_t *> malloc((K + 1) * sizeof(Py_ssize_t))
        if d > 1:
            dscr = <double *> malloc(KMX_SUB * W * sizeof(double))
            # zeroed: the scatter reads the padding rows d..dp-1, never written
            xt = <double *> calloc(dp * ld, sizeof(double))
            rx = <double *> calloc(dp * ld, sizeof(double)) if have_w else xt
        else:  # xt: gathered rows, their weights, ones
            xt = <double *> malloc(3 * CHUNK * sizeof(double))
            if xt != NULL:
                for q in range(CHUNK):
                    xt[2 * CHUNK + q] = 1.0
            dscr = rx = xt
        for g in prange(G, schedule='dynamic', chunksize=1):
            if dscr == NULL or xt == NULL or rx == NULL or pos == NULL:
                buf[g, S] = 1.0
                continue
            for ci in range((g * n_chunks) // G, ((g + 1) * n_chunks) // G):
                start = ci * CHUNK
                m = CHUNK if start + CHUNK <= n else n - start
                if d == 1:
                    _rows_1d(&X[start, 0], sw + start if have_w else NULL, &centers[0, 0], K,
                             &labels[start], m, assign, pos, xt, xt + CHUNK, xt + 2 * CHUNK,
                             &buf[g, 0])
                    continue
                if assign:
                    _nearest_rows(&X[start, 0], m, d, &cb[0, 0, 0], nb, K, scale, dscr,
                                  &labels[start], NULL)
                _gather(&X[start, 0], sw + start if have_w else NULL, &labels[start], m, d,
                        &centers[0, 0], K, pos, xt, rx, ld, &buf[g, 0])
                kmx_runs_stats(xt, rx, ld, pos, K, d, full, &buf[g, K])
        if d > 1:
            free(dscr)
            if rx != xt:
                free(rx)
        free(xt)
        free(pos)
    if buf_arr[:, S].any():
        raise MemoryError("labelled_stats: out of memory for scratch")
    total = buf_arr[0, :S].copy()
    for g in range(1, G):
        total += buf_arr[g, :S]
    nk = total[:K].copy()
    if d == 1:
        return nk, total[K:2 * K].reshape(K, 1), _one_feature_scatter(total[2 * K:], full)
    blocks = total[K:].reshape(K, 2, d) if not full else total[K:].reshape(K, d + 1, d)
    if not full:
        return nk, blocks[:, 0].copy(), blocks[:, 1].copy()
    # blocks[k, l, j] (j <= l) is the scatter's (j, l) entry: its lower triangle
    upper_t = blocks[:, :d]
    Mk = np.tril(upper_t) + np.tril(upper_t, -1).transpose(0, 2, 1)
    return nk, blocks[:, d].copy(), Mk


def _one_feature_scatter(m, full):
    return m.reshape(-1, 1, 1).copy() if full else m.reshape(-1, 1).copy()
