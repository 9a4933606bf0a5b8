# The one E-step of gmmx.
#
# Every driver (in-memory, out-of-core, online, Dask) calls `estep` on blocks of
# rows.  It makes a single pass over the rows in chunks that stay in cache:
# log-densities -> log-sum-exp -> responsibilities -> sufficient statistics.
# It also serves predict / score_samples through optional outputs, so the
# log-density code exists once.
#
# Parallel layout follows scikit-learn's k-means Lloyd kernel (`prange`,
# thread-local scratch, BLAS on chunk blocks) with one change: the chunks are
# split into a fixed number of groups of consecutive chunks, each group has its
# own statistics row, threads take groups dynamically, and the rows are added
# in group order after the parallel region. Results are therefore identical
# bit for bit whatever the number of threads, and a thread on a core that
# another process is using simply takes fewer groups.
#
# Two layouts of the precision parameters:
#
# KIND_DIAG (diag, spherical, and every model with d == 1): `means` (K, d) and
#   `prec` (K, d) square roots of the precisions. Without `ref`: direct loops,
#   one (component, feature) at a time, statistics about the means. With `ref`
#   (d > 1; the caller passes it where measured faster, see gmmx/core/kernel.py):
#   the chunk is centred at `ref` and its squares put alongside, A = [x' | x'^2]
#   (n, 2d) with x' = x - ref, and
#     log-densities = A [P m' ; -P/2] + (cst_k - sum_j P_kj m'_kj^2 / 2)
#   (P = prec^2, m' = mu - ref) is ONE GEMM against coefficients `estep` builds;
#   the statistics sum_i r_ik x'_i and sum_i r_ik x'_i^2 are a second GEMM,
#   about `ref`, recentred by the caller. The expansion cancels when a component is
#   many of its own sigmas from `ref`; the caller keeps such models on the
#   direct loops. A chunk whose GEMM log-densities are not all finite (an
#   extreme row) is redone by the direct loops, statistics still about `ref`.
#
# KIND_FULL (full, tied): the chunk is first centred at a reference point `ref`
#   (the mixture mean), then ONE GEMM multiplies it by all precision Cholesky
#   factors side by side, `ucat` = [U_1 | ... | U_P] (d, P*d) with P = K (full)
#   or 1 (tied); y_ik = (x_i - ref) U_k - shift_k with shift_k = (mu_k - ref) U_k.
#   Statistics come from a second GEMM about `ref`; tied (P = 1 < K): ONE
#   scatter under the rows' total responsibilities sum_k r_ik (`_tied_stats`,
#   `tied_pooled`: a tied covariance needs only sum_k M_k).
#   For larger d the features are split into column blocks (`full_blocks`):
#   U_k is upper triangular and the scatter symmetric, so the block of
#   features jb[b]..jb[b+1] needs features 0..jb[b+1] only, and each block is
#   its own GEMM (`_full_distances`, `_full_scatter`). The factors are then
#   repacked per call block by block, the scatter is accumulated in a blocked
#   layout and converted to the flat layout (lower triangle mirrored) after the
#   groups are added (`_full_unblock`). One block is the plain two-GEMM scheme.
#   Centring at the mixture mean removes the price level; what remains is the
#   spread between components, tiny next to a price offset (see DESIGN.md).
#
# The same chunk loop serves two more entry points: `log_densities` stops each
# chunk before the log-sum-exp, `stats_given_resp` takes the responsibilities
# from the caller instead of computing them.
#
# Between chunks, the calling thread checks for signals (at most every
# GMMX_SIGNAL_INTERVAL seconds) and every thread checks a stop flag, so Ctrl-C
# ends a long call promptly; the checks do not touch the arithmetic.
#
# Flat statistics layout: see gmmx/_kernels/layout.py (its one Python owner).

import threading

import numpy as np

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport INFINITY, isfinite
from libc.stdlib cimport free, malloc
from scipy.linalg.cython_blas cimport dgemm

from ._openmp cimport (GMMX_HAVE_OPENMP, GMMX_SIGNAL_INTERVAL, gmmx_flag_get, gmmx_flag_set,
                      gmmx_omp_max_threads, gmmx_pending_error, gmmx_poll_signals,
                      gmmx_signal_interval, gmmx_wtime)
from ._vmath cimport (GMMX_FULL_LD, GMMX_FULL_PAD, GMMX_FULL_RLD, GMMX_FULL_RSCR,
                     gmmx_full_center_r_f32, gmmx_full_center_r_f64, gmmx_full_row_scatter,
                     gmmx_full_scatter_rows, gmmx_acc_sq, gmmx_all_finite,
                     gmmx_center_f32, gmmx_center_f64, gmmx_finish_logprob,
                     gmmx_full_logprob_row, gmmx_full_scale_rows, gmmx_full_scatter_upper,
                     gmmx_full_center_t_f32, gmmx_full_center_t_f64, gmmx_full_transpose,
                     gmmx_full_tri_logprob, gmmx_full_weighted_rows,
                     gmmx_full_wide_simd, gmmx_logsumexp_resp, gmmx_sum, gmmx_transpose_f32,
                     gmmx_transpose_f64, gmmx_uni_logprob, gmmx_uni_stats, gmmx_vexp,
                     gmmx_vlog)
from ._vmath cimport (gmmx_f32_logsumexp, gmmx_f32_sum_log, gmmx_f32_uni_logprob,
                     gmmx_f32_uni_resp2, gmmx_f32_uni_stats, gmmx_f32_uni_stats2,
                     gmmx_f32_vexp, gmmx_f32_weighted_ll)
from ._vmath cimport gmmx_add_const_finite, gmmx_center_sq_f32, gmmx_center_sq_f64, gmmx_t_resp
from ._vmath cimport gmmx_simd_import

# every kernel is called through the SIMD table of gmmx._kernels._simd
gmmx_simd_import()

cdef enum:
    K_FULL = 0
    K_DIAG = 1
    ST_OK = 0
    ST_NONFINITE = 1
    ST_NOMEM = 2
    MAX_GROUPS_ = 64
    MAX_FULL_BLOCKS = 16

KIND_FULL = K_FULL
KIND_DIAG = K_DIAG
STATUS_OK = ST_OK
STATUS_NONFINITE = ST_NONFINITE
STATUS_NOMEM = ST_NOMEM

OPENMP_ENABLED = bool(GMMX_HAVE_OPENMP)
MAX_GROUPS = MAX_GROUPS_  # no call splits its rows into more parts: more threads idle

# Set in a process forked after the parent may have started OpenMP threads:
# libgomp's thread pool does not survive fork(), and a parallel region of more
# than one thread would wait forever for the parent's threads.
cdef int _single_threaded = 0


def _after_fork_in_child():
    """Run every later call of this module on one thread (see ``gmmx._kernels``)."""
    global _single_threaded
    _single_threaded = 1


def single_threaded():
    """True in a forked child, where every call runs on one thread."""
    return bool(_single_threaded)


cdef bint _on_main_thread():
    # Python runs signal handlers in the main thread only.
    return threading.get_ident() == threading.main_thread().ident


def set_signal_interval(double seconds):
    """Set the seconds between two signal checks of an E-step kernel call; returns the
    previous value (default 0.05). 0 checks before every chunk (tests)."""
    global gmmx_signal_interval
    previous = gmmx_signal_interval
    gmmx_signal_interval = seconds
    return previous


def openmp_max_threads():
    """Number of threads OpenMP would use by default (1 without OpenMP)."""
    return gmmx_omp_max_threads()


def default_chunk_rows(Py_ssize_t n_features, Py_ssize_t n_components, int kind,
                       bint diag_gemm=False):
    """Rows per chunk so that a chunk's working set stays in L2.

    Measured on a 2-core Xeon: d=16, K=8 full is fastest near 256 rows,
    d=50, K=10 near 128; the univariate path is flat from 1k to 4k rows.
    The full kernel without BLAS (``full_direct_scatter``; 2-core AMD EPYC,
    AVX-512) is flat from 256 to 768 rows for d=16..50 and slower at 128 for
    d=128..256, hence at least 256 rows.
    Diagonal models with d > 1 (2-core EPYC, one thread): the direct loops
    are fastest near 512 rows (d=64, K=64: 192 ms at 64 rows, 100 at 512,
    140 at 2048, per 100k rows; d=16, K=16: 14.7 at 512, 16.8 at 1024), the GEMM
    formulation (``diag_gemm``) near 8 K rows (K=8: 64 rows, 30% faster than
    512; K=64: 256 to 512).
    """
    cdef Py_ssize_t per_row, b, d = n_features, K = n_components
    if kind == K_FULL and d > 1 and full_direct_scatter(d):
        per_row = K + (d + 1) + 2 * GMMX_FULL_PAD(d) + 2
        b = max(65536 // per_row, 256)
    elif kind == K_FULL and d > 1:
        per_row = K * (d + 1) + d + 3
        b = 40000 // per_row
    elif diag_gemm and n_features > 1:
        b = min(8 * n_components, 512)
    elif n_features > 1:
        per_row = n_components + n_features + 3
        b = min(65536 // per_row, 512)
    else:
        per_row = n_components + n_features + 3
        b = 6144 // per_row
    b = (b // 16) * 16
    return int(min(max(b, 64), 4096))


# The full kernel's own loops against BLAS: CPU time per pass on one thread,
# 2-core AMD EPYC with AVX-512, OpenBLAS on its Haswell (AVX2) kernels as set
# here by OPENBLAS_CORETYPE, relative to the two-GEMM scheme: triangular
# distances + direct scatter 0.44 (d=16, K=8), 0.45 (d=32, K=16), 0.37-0.46
# (d=50, K=10), 0.51 (d=128, K=4), 0.54 (d=256, K=2), about 0.5 for d=2..8,
# K=2..4 and 0.6 for tied. With OpenBLAS's own AVX-512 kernels the GEMMs are
# faster: d=16 and d=32 still favour the loops, d=50 is about a tie (0.55
# against 0.48 for triangular distances + blocked GEMM scatter). On AVX2 (2-core
# AMD EPYC without AVX-512, OpenBLAS Haswell kernels, two threads, wall time of
# one pass relative to BLAS) the loops' 2 x 2 sub-tiles win for full models:
# 0.59-0.67 (d=4, K=4), 0.72-0.76 (d=8, K=4), 0.85-0.89 (d=16, K=8), 0.84-0.97
# (d=32, K=16), 0.87-0.95 (d=50, K=10); for tied ones they lose (d=16, K=8:
# 1.17-1.20: their distances are one GEMM for all components), so they keep
# BLAS distances and sum the scatter with the loops (0.96-1.09, a tie, which
# keeps one chunk size for both kinds). Without vector extensions: blocked GEMMs.
# Since the AVX2 copies' 12-row distance tiles, contiguous factors and (d >= 9)
# row-major scatter, the same two-thread pass with BLAS held (ms, BLAS / loops):
# d=4 K=4 6.6 / 3.5, d=8 K=4 11.5 / 6.6, d=16 K=8 58.4 / 26.1, d=32 K=16 154 /
# 76.5, d=50 K=10 347 / 194, tied d=16 K=8 39.6 / 19.5 (BLAS distances).
# (Asked on every call: tests switch the SIMD target.)
cdef Py_ssize_t _full_blocks_override = 0
cdef int _full_tri_override = -1


def _set_full_tri(int use):
    """Force the triangular distance kernel on (1) or off (0), or automatic (-1; for tests)."""
    global _full_tri_override
    _full_tri_override = use


cdef int _full_direct_scatter_override = -1


def _set_full_direct_scatter(int use):
    """Force the direct scatter kernel on (1) or off (0), or automatic (-1; for tests)."""
    global _full_direct_scatter_override
    _full_direct_scatter_override = use


cdef int _full_row_scatter_override = -1
cdef int _tied_pooled_override = -1


def _set_tied_pooled(int use):
    """Force the tied kernel's one pooled scatter on (1) or off (0: one per
    component, as full), or automatic (-1; for tests)."""
    global _tied_pooled_override
    _tied_pooled_override = use


def tied_pooled(Py_ssize_t n_components, Py_ssize_t n_blocks):
    """True when a full-kind pass sums ONE scatter for all components (tied:
    ``n_blocks == 1 < n_components``) instead of one per component.

    Tied models only ever use ``sum_k M_k``; about the common point ``ref``
    that is ``sum_i (sum_k r_ik) x'_i x'_i^T``, one scatter under the row
    weights ``sum_k r_ik``.  The kernel stores it in component 0's block of
    ``G`` (the other components' blocks stay 0) and each component's first
    moments as before (see ``gmmx._kernels.layout``).
    """
    if n_blocks != 1 or n_components < 2:
        return False
    return _tied_pooled_override != 0


def _set_full_row_scatter(int use):
    """Force (1) or forbid (0) the row-major scatter; -1 restores the target's choice (tests)."""
    global _full_row_scatter_override
    _full_row_scatter_override = use


def full_row_scatter(Py_ssize_t n_features):
    """True when the full / tied kernel's direct scatter runs on row-major rows
    (`gmmx_full_scatter_rows`: the AVX2 copies from d = 9, see
    `gmmx_full_row_scatter`) rather than on the transposed
    chunk (`gmmx_full_scatter_upper`)."""
    if not full_direct_scatter(n_features):
        return False
    if _full_row_scatter_override >= 0:
        return bool(_full_row_scatter_override)
    cdef int min_d = gmmx_full_row_scatter()
    return min_d > 0 and n_features >= min_d


def full_direct_scatter(Py_ssize_t n_features):
    """True when the full / tied kernel sums the scatter without BLAS
    (`gmmx_full_scatter_upper`) on the SIMD target that runs."""
    if _full_direct_scatter_override >= 0:
        return bool(_full_direct_scatter_override)
    return gmmx_full_wide_simd() >= 1


cdef void _full_mirror(double *G, Py_ssize_t K, Py_ssize_t d) noexcept nogil:
    """Fill the lower triangle of every component's scatter in G (K*d, d+1) from the upper."""
    cdef Py_ssize_t k, j, l, Kd = K * d
    for l in range(d):
        for k in range(K):
            for j in range(l + 1, d):
                G[l * Kd + k * d + j] = G[j * Kd + k * d + l]


# Tied distances: the loops take one triangular product per component, BLAS
# one product for all (the precision is shared), so BLAS wins as K d grows.
# Since the pooled scatter, an EM iteration with BLAS distances against the
# loops, two threads, BLAS held, medians of nine interleaved runs on a 2-core
# AMD EPYC (Zen 4) under its AVX-512 and (forced) AVX2 copies: AVX-512 d=3 K=2
# 1.36, d=6 K=4 1.20, d=10 K=4 1.09, d=7 K=8 1.04, d=4 K=16 1.04, d=8 K=8
# 0.91, d=8 K=16 0.82, d=16 K=8 0.72-0.77, d=32 K=16 0.44, d=50 K=10 0.41;
# AVX2 d=3 K=2 1.42, d=6 K=4 1.17, d=4 K=16 1.03, d=6 K=8 1.04, d=8 K=4 1.00,
# d=7 K=8 0.97, d=9 K=4 0.93, d=10 K=4 0.85, d=8 K=16 0.82, d=16 K=8 0.72.
TIED_TRI_MAX_KD = 63
TIED_TRI_MAX_D_AVX2 = 7


def full_tri_distances(Py_ssize_t n_features, bint tied=False, Py_ssize_t n_components=1):
    """True when the full (``tied``: tied) kernel computes distances without BLAS
    (`gmmx_full_tri_logprob`) on the SIMD target that runs.

    Full models take the loops on the AVX2 and AVX-512 copies.  Tied models
    take them only while ``n_components * n_features <= TIED_TRI_MAX_KD`` (and,
    on AVX2, ``n_features <= TIED_TRI_MAX_D_AVX2``): beyond, one BLAS product
    for all components is faster than one triangular product per component.
    """
    if _full_tri_override >= 0:
        return bool(_full_tri_override)
    cdef int level = gmmx_full_wide_simd()
    if not tied:
        return level >= 1
    if level < 1 or max(n_components, 1) * n_features > TIED_TRI_MAX_KD:
        return False
    return level >= 2 or n_features <= TIED_TRI_MAX_D_AVX2


def _set_full_blocks(Py_ssize_t n_blocks):
    """Force the number of feature blocks of the full kernel (0: automatic; for tests)."""
    global _full_blocks_override
    if n_blocks < 0:
        raise ValueError("n_blocks must be >= 0")
    _full_blocks_override = n_blocks


def full_blocks(Py_ssize_t n_features):
    """Number of feature blocks the full / tied kernel splits ``n_features`` into.

    More blocks skip more of the zero triangle of the precision factors and the
    redundant half of the scatter (a fraction (nb - 1) / (2 nb) of both GEMMs'
    flops), but each block is a smaller GEMM.
    """
    cdef Py_ssize_t d = n_features, nb
    if _full_blocks_override > 0:
        nb = _full_blocks_override
    else:
        # Measured with OpenBLAS's Haswell kernels (time vs one block): d=16
        # 2 blocks 1.0; d=32 2 blocks 0.85; d=50 3 blocks 0.77-0.80, 4 blocks
        # 0.78-0.83; d=128 4 blocks 0.69.
        nb = max(1, min(d // 16, 4))
    return int(max(1, min(nb, d, MAX_FULL_BLOCKS)))


cdef Py_ssize_t _full_block_bounds(Py_ssize_t d, Py_ssize_t nb, Py_ssize_t *jb) noexcept nogil:
    """Fill jb[0..nb] with near-equal feature blocks; return the blocked factor size / P."""
    cdef Py_ssize_t b, size = 0
    for b in range(nb + 1):
        jb[b] = (b * d) // nb
    for b in range(nb):
        size += jb[b + 1] * (jb[b + 1] - jb[b])
    return size


cdef void _full_pack_factors(const double *ucat, Py_ssize_t d, Py_ssize_t P,
                             const Py_ssize_t *jb, Py_ssize_t nb, double *ublk) noexcept nogil:
    """Blocked factors: block b row-major (e_b, P*bs_b), [j, p*bs_b + jj] = U_p[j, jb[b] + jj]."""
    cdef Py_ssize_t b, j, p, jj, e, bs
    for b in range(nb):
        e = jb[b + 1]
        bs = jb[b + 1] - jb[b]
        for j in range(e):
            for p in range(P):
                for jj in range(bs):
                    ublk[(j * P + p) * bs + jj] = ucat[j * P * d + p * d + jb[b] + jj]
        ublk += e * P * bs


cdef void _full_split_factors(const double *ucat, Py_ssize_t d, Py_ssize_t P,
                             double *out) noexcept nogil:
    """ucat (d, P*d) -> out (P, d, d): factor p's row l at out[(p*d + l)*d]."""
    cdef Py_ssize_t p, l, j
    for p in range(P):
        for l in range(d):
            for j in range(d):
                out[(p * d + l) * d + j] = ucat[l * P * d + p * d + j]


cdef void _full_distances(const double *xc, int n, Py_ssize_t d, Py_ssize_t P,
                          const double *ublk, const Py_ssize_t *jb, Py_ssize_t nb,
                          double *Y) noexcept nogil:
    """Y (column-major n x P*d, blocked columns) = x' U, one GEMM per feature block.

    Block b: (n x P*bs_b) = x'[:, :e_b] times the block's (e_b x P*bs_b) factors.
    """
    cdef:
        Py_ssize_t b
        int e, cols, d1i = <int> (d + 1)
        double fone = 1.0, fzero = 0.0
        char trans = b'T'
    for b in range(nb):
        e = <int> jb[b + 1]
        cols = <int> (P * (jb[b + 1] - jb[b]))
        dgemm(&trans, &trans, &n, &cols, &e, &fone, <double *> xc, &d1i, <double *> ublk, &cols,
              &fzero, Y + n * P * jb[b], &n)
        ublk += e * cols


cdef void _full_scatter(const double *lp, const double *xc, int n, Py_ssize_t K, Py_ssize_t d,
                        const Py_ssize_t *jb, Py_ssize_t nb, double *W,
                        double *G) noexcept nogil:
    """G (blocked) += sum_i r_ik [x'_i x'_i^T | x'_i], upper block triangle only.

    Block b of G is column-major (K*e_b, bs_b) (one more column, the sums of
    r x', for the last block): its rows are the blocked columns of W that
    belong to features < e_b, i.e. a prefix of W's columns.
    """
    cdef:
        Py_ssize_t b
        int rows, cols, ldw = <int> (K * d), d1i = <int> (d + 1)
        double fone = 1.0
        char trans = b'T', notrans = b'N'
    gmmx_full_weighted_rows(lp, xc, n, K, d, jb, nb, W)
    for b in range(nb):
        rows = <int> (K * jb[b + 1])
        cols = <int> (jb[b + 1] - jb[b] + (1 if b == nb - 1 else 0))
        dgemm(&notrans, &trans, &rows, &cols, &n, &fone, W, &ldw, <double *> xc + jb[b], &d1i,
              &fone, G, &rows)
        G += rows * cols


cdef void _full_unblock(const double *src, Py_ssize_t K, Py_ssize_t d, const Py_ssize_t *jb,
                        Py_ssize_t nb, double *G) noexcept nogil:
    """Blocked statistics (see `_full_scatter`) -> flat layout G (K*d, d+1) column-major.

    Entries below the block diagonal were not computed; they take the value of
    their mirror image (the scatter is symmetric).
    """
    cdef:
        Py_ssize_t b, bj, l, k, j, Kd = K * d, rows
        Py_ssize_t col_off[MAX_FULL_BLOCKS + 1]
        const double *blk
    # col_off[b]: offset of block b in src
    col_off[0] = 0
    for b in range(nb):
        col_off[b + 1] = col_off[b] + K * jb[b + 1] * (jb[b + 1] - jb[b])
    for b in range(nb):
        rows = K * jb[b + 1]
        blk = src + col_off[b]
        for l in range(jb[b], jb[b + 1] + (1 if b == nb - 1 else 0)):
            for bj in range(b + 1):
                for k in range(K):
                    for j in range(jb[bj], jb[bj + 1]):
                        G[l * Kd + k * d + j] = blk[(l - jb[b]) * rows + K * jb[bj]
                                                    + k * (jb[bj + 1] - jb[bj]) + j - jb[bj]]
    for b in range(nb):
        for l in range(jb[b], jb[b + 1]):
            for k in range(K):
                for j in range(jb[b + 1], d):
                    G[l * Kd + k * d + j] = G[j * Kd + k * d + l]


def n_groups(Py_ssize_t n_chunks, Py_ssize_t stats_len):
    """Number of groups of consecutive chunks, each with its own statistics.

    Threads take groups dynamically (a thread slowed by a busy core takes
    fewer), each group sums its chunks in order, and groups are added in
    order: the result does not depend on the thread count or the schedule.
    It depends only on the data's size, never on ``n_threads``.
    """
    cdef Py_ssize_t g = (1 << 22) // max(stats_len, 1)  # ~32 MiB of group rows
    g = max(4, min(MAX_GROUPS_, g))
    return int(min(g, n_chunks))


def stats_size(Py_ssize_t n_features, Py_ssize_t n_components, int kind):
    """Length of the flat statistics vector for this layout."""
    cdef Py_ssize_t d = n_features, K = n_components
    if kind == K_FULL:
        return K + K * d * (d + 1) + 2
    return K + 2 * K * d + 2


cdef bint _f32_fused = True


def _set_f32_fused(bint use):
    """Use the fused two-component float32 functions (True) or the separate ones (for tests)."""
    global _f32_fused
    _f32_fused = use


cdef double _uni_estep2_f32(
    const float *X, const double *sw, Py_ssize_t n, const double *cst, const double *means,
    const double *prec, float *lp, float *fs, double *dscr, double *out6,
) noexcept nogil:
    """The log-likelihood of a chunk, with two components' statistics added to
    ``out6`` ((n_k, s_k, M_k) for k = 0, 1): `_uni_estep_f32` for K == 2 in two
    passes over the chunk instead of five, same bits (see _vmath.h)."""
    gmmx_f32_uni_resp2(X, n, cst, means, prec, lp, lp + n, fs, fs + n)
    cdef double mx_sum = gmmx_f32_uni_stats2(X, lp, lp + n, sw, means[0], means[1], fs, n, out6)
    if sw != NULL:
        return gmmx_f32_weighted_ll(fs, fs + n, sw, n, dscr)
    return mx_sum + gmmx_f32_sum_log(fs + n, n, dscr)


cdef int _uni_estep_f32(
    const float *X,           # IN  (n,) float32 rows of this chunk (one feature)
    const double *sw,         # IN  (n,) sample weights or NULL
    Py_ssize_t n,
    Py_ssize_t K,
    const double *cst,        # IN  (K,)
    const double *means,      # IN  (K,)
    const double *prec,       # IN  (K,) square roots of the precisions
    float *lp,                # SCRATCH (K, n) floats
    float *fs,                # SCRATCH (2, n) floats
    double *dscr,             # SCRATCH (n,)
    double *stats,            # OUT, accumulated (KIND_DIAG layout, d == 1)
) noexcept nogil:
    """E-step statistics of a univariate chunk of float32 rows in float32 lanes.

    Log-densities, log-sum-exp, exp and the responsibilities are computed in
    float32; every term of a statistic is widened to double and accumulated
    in double, in the layout and lane order of :func:`_chunk`.  Returns 1,
    having added nothing to ``stats``, when a value is not finite in float32
    (the caller then redoes the chunk in float64), else 0.
    """
    cdef:
        Py_ssize_t k
        double ll
        double out3[3]
        double out6[6]

    if K == 2 and _f32_fused:
        for k in range(6):
            out6[k] = 0.0
        ll = _uni_estep2_f32(X, sw, n, cst, means, prec, lp, fs, dscr, out6)
        if not isfinite(ll):
            return 1
        stats[6] += ll
        stats[7] += gmmx_sum(sw, n) if sw != NULL else <double> n
        for k in range(2):
            stats[k] += out6[3 * k]
            stats[2 + k] += out6[3 * k + 1]
            stats[4 + k] += out6[3 * k + 2]
        return 0

    gmmx_f32_uni_logprob(X, n, K, cst, means, prec, lp)
    ll = gmmx_f32_logsumexp(lp, n, K, sw, fs, fs + n, dscr)
    if not isfinite(ll):
        return 1
    stats[3 * K] += ll
    stats[3 * K + 1] += gmmx_sum(sw, n) if sw != NULL else <double> n
    for k in range(K):
        out3[0] = 0.0
        out3[1] = 0.0
        out3[2] = 0.0
        gmmx_f32_uni_stats(X, lp + k * n, sw, means[k], n, out3)
        stats[k] += out3[0]
        stats[K + k] += out3[1]
        stats[2 * K + k] += out3[2]
    return 0


cdef void _diag_direct_logprob(
    const double *xt,         # IN  (d, n) the chunk transposed
    Py_ssize_t n,
    Py_ssize_t d,
    Py_ssize_t K,
    const double *cst,        # IN  (K,)
    const double *means,      # IN  (K, d)
    const double *prec,       # IN  (K, d) square roots of the precisions
    double *lp,               # OUT (K, n)
) noexcept nogil:
    """``lp[k, i] = cst_k - sum_j ((x_ij - mu_kj) p_kj)^2 / 2``, feature by feature."""
    cdef Py_ssize_t i, j, k
    cdef double *row
    for k in range(K):
        row = lp + k * n
        for i in range(n):
            row[i] = 0.0
        for j in range(d):
            gmmx_acc_sq(xt + j * n, means[k * d + j], prec[k * d + j], n, row)
        gmmx_finish_logprob(row, cst[k], n)


cdef void _diag_direct_stats(
    const double *xt,         # IN  (d, n) the chunk transposed
    const double *r,          # IN  (K, n) weighted responsibilities
    Py_ssize_t n,
    Py_ssize_t d,
    Py_ssize_t K,
    const double *centres,    # IN  centre of feature j for component k: centres[k * cstride + j]
    Py_ssize_t cstride,
    double *s,                # OUT, accumulated (K, d): sum_i r_ik (x_ij - c_kj)
    double *M,                # OUT, accumulated (K, d): sum_i r_ik (x_ij - c_kj)^2
) noexcept nogil:
    """Diagonal statistics about the centres, one (component, feature) at a time."""
    cdef Py_ssize_t j, k
    cdef double out3[3]
    for k in range(K):
        for j in range(d):
            out3[0] = 0.0
            out3[1] = 0.0
            out3[2] = 0.0
            gmmx_uni_stats(xt + j * n, r + k * n, centres[k * cstride + j], n, out3)
            s[k * d + j] += out3[1]
            M[k * d + j] += out3[2]


cdef bint _diag_blas_logprob(
    const double *A,          # IN  (n, 2d) [x' | x'^2]
    Py_ssize_t n,
    Py_ssize_t d,
    Py_ssize_t K,
    const double *coef,       # IN  (K, 2d+1) rows [P m' | -P/2 | constant]
    double *lp,               # OUT (K, n)
) noexcept nogil:
    """Diagonal log-densities by one GEMM; False when a value is not finite."""
    cdef:
        Py_ssize_t k
        int ni = <int> n, Ki = <int> K, d2i = <int> (2 * d), ldc = <int> (2 * d + 1)
        double fone = 1.0, fzero = 0.0
        char trans = b'T', notrans = b'N'
        bint ok = True
    # lp (column-major n x K) = A (n x 2d) coef^T
    dgemm(&trans, &notrans, &ni, &Ki, &d2i, &fone, <double *> A, &d2i, <double *> coef, &ldc,
          &fzero, lp, &ni)
    for k in range(K):
        ok &= gmmx_add_const_finite(lp + k * n, coef[k * (2 * d + 1) + 2 * d], n)
    return ok


cdef void _diag_blas_stats(
    const double *A,          # IN  (n, 2d) [x' | x'^2]
    const double *r,          # IN  (K, n) weighted responsibilities
    Py_ssize_t n,
    Py_ssize_t d,
    Py_ssize_t K,
    double *T,                # SCRATCH (K, 2d)
    double *s,                # OUT, accumulated (K, d): sum_i r_ik x'_ij
    double *M,                # OUT, accumulated (K, d): sum_i r_ik x'_ij^2
) noexcept nogil:
    """Diagonal statistics about ``ref`` by one GEMM (10% faster than one per half)."""
    cdef:
        int ni = <int> n, Ki = <int> K, d2i = <int> (2 * d)
        double fone = 1.0, fzero = 0.0
        char notrans = b'N'
        Py_ssize_t j, k
    # T (column-major 2d x K) = A^T r^T
    dgemm(&notrans, &notrans, &d2i, &Ki, &ni, &fone, <double *> A, &d2i, <double *> r, &ni,
          &fzero, T, &d2i)
    for k in range(K):
        for j in range(d):
            s[k * d + j] += T[k * 2 * d + j]
            M[k * d + j] += T[k * 2 * d + d + j]


cdef void _tied_stats(const double *lp, Py_ssize_t n, Py_ssize_t K, Py_ssize_t d, bint rows,
                      const double *xr, double *rscr, const double *xc, double *Y,
                      bint xt_ready, Py_ssize_t ld, double *omega, double *pscr,
                      double *G) noexcept nogil:
    """Tied statistics of one chunk: ONE scatter under ``omega_i = sum_k lp[k, i]``.

    ``G`` (column-major, leading dimension ``K*d``, see ``layout.py``): the
    pooled scatter goes to component 0's rows of the first ``d`` columns,
    each component's first moments ``sum_i lp[k, i] x'_i`` to column ``d``
    (one GEMM).  The rows are ``xr`` (row-major, ``rows``) or the transposed
    chunk in ``Y`` (``xt_ready``; else transposed from ``xc`` here).
    ``pscr``: scratch of ``K*d + d`` doubles.
    """
    cdef:
        Py_ssize_t i, j, k, Kd = K * d
        const double *row
        double *rx
        int m = <int> d, nk = <int> K, nn = <int> n, ldx
        double fone = 1.0, fzero = 0.0
        char trans = b'T', notrans = b'N'
    for i in range(n):
        omega[i] = lp[i]
    for k in range(1, K):
        row = lp + k * n
        for i in range(n):
            omega[i] += row[i]
    # the scatter routines also add omega's first moments to component 0's
    # column d: kept aside and put back
    for j in range(d):
        pscr[Kd + j] = G[d * Kd + j]
    if rows:
        gmmx_full_scatter_rows(xr, n, d, omega, 1, rscr, G, Kd)
        ldx = <int> GMMX_FULL_RLD(d)
        dgemm(&notrans, &notrans, &m, &nk, &nn, &fone, <double *> xr, &ldx, <double *> lp,
              &nn, &fzero, pscr, &m)
    else:
        if not xt_ready:
            gmmx_full_transpose(xc, n, d, ld, Y)
        rx = Y + GMMX_FULL_PAD(d) * ld
        gmmx_full_scale_rows(omega, Y, n, GMMX_FULL_PAD(d), ld, rx)
        gmmx_full_scatter_upper(Y, rx, n, d, ld, G, Kd)
        ldx = <int> ld
        dgemm(&trans, &notrans, &m, &nk, &nn, &fone, Y, &ldx, <double *> lp, &nn, &fzero,
              pscr, &m)
    for j in range(d):
        G[d * Kd + j] = pscr[Kd + j]
    for k in range(K):
        for j in range(d):
            G[d * Kd + k * d + j] += pscr[k * d + j]


cdef int _chunk(
    const floating *X,        # IN  (n, d) rows of this chunk
    const double *sw,         # IN  (n,) sample weights or NULL
    Py_ssize_t n,
    Py_ssize_t d,
    Py_ssize_t K,
    Py_ssize_t P,             # number of precision blocks in ucat (full: K, tied: 1)
    int kind,
    const double *cst,        # IN  (K,) log w_k + log det U_k - d/2 log 2 pi
    const double *means,      # IN  (K, d)  [diag]
    const double *prec,       # IN  (K, d) [diag] or blocked factors (_full_pack_factors) [full]
    const double *ref,        # IN  (d,)   [full; diag with d > 1: or NULL]
    const double *shift,      # IN  (K, d) [full] or GEMM coefficients (K, 2d+1) [diag, ref]
    const Py_ssize_t *jb,     # IN  (nb+1,) feature block bounds [full]
    Py_ssize_t nb,            # number of feature blocks [full]
    bint tri,                 # distances by gmmx_full_tri_logprob from prec = (P, d, d) factors [full]
    bint direct,              # upper scatter by gmmx_full_scatter_upper [full]
    bint rows,                # direct scatter by gmmx_full_scatter_rows instead [full]
    bint pooled,              # tied: one scatter for all components (_tied_stats) [full]
    double *pscr,             # SCRATCH (K*d + d) [pooled]
    double *xr,               # SCRATCH (n, GMMX_FULL_RLD(d)) row-major rows [rows]
    double *rscr,             # SCRATCH GMMX_FULL_RSCR(d, K) [rows]
    double *lp,               # SCRATCH (K, n): log-probs, then w * responsibilities
    double *xc,               # SCRATCH (d, n) transposed or (n, 2d) [diag], (n, d+1) [full]
    double *Y,                # SCRATCH (P*d, n) then (n, K*d) [full], (K, 2d) [diag]
    double *mx,               # SCRATCH (n,)
    double *ssum,             # SCRATCH (n,)
    double *stats,            # OUT, accumulated (see layout.py)
    double *out_norm,         # OUT (n,) log p(x_i) or NULL
    double *out_resp,         # OUT (n, K) responsibilities or NULL
    bint want_stats,
    const double *resp_in,    # IN  (n, K) responsibilities given by the caller, or NULL
    double *out_lp,           # OUT (n, K) log-densities (then stop), or NULL
    const double *tpar,       # IN  (3K) Student-t nu, c, half (see gmmx_t_resp in _vmath.h), or NULL
    double *tscr,             # SCRATCH (3 K n + 3 n) [t]
    double *tsum,             # OUT, accumulated (3K) t sums [t]
) noexcept nogil:
    """Process one chunk; return 0, or 1 when a non-finite value appeared.

    Three modes: the E-step (``resp_in`` and ``out_lp`` NULL); log-densities
    only (``out_lp``: the chunk stops before the log-sum-exp); statistics
    under the responsibilities ``resp_in`` (no log-densities; the
    log-likelihood contributes 0).  With ``tpar`` the E-step is the Student-t
    one (:func:`t_estep`): ``cst`` are the unit-weight Gaussian constants and
    the statistics are under ``r * u``.
    """
    cdef:
        Py_ssize_t i, j, k
        Py_ssize_t d1 = d + 1, Kd = K * d, ld = GMMX_FULL_LD(n)
        double ll, wsum
        double *row
        double *rx
        double out3[3]
        int ni = <int> n
        bint diag_ref = kind == K_DIAG and d > 1 and ref != NULL
        bint diag_loops = not diag_ref  # diag: loops on the transposed chunk

    if floating is float:
        if (kind == K_DIAG and d == 1 and want_stats and resp_in == NULL and out_lp == NULL
                and out_norm == NULL and out_resp == NULL and tpar == NULL):
            # float32 rows, E-step statistics only: float32 lanes, unless a
            # value overflows float32 (then the float64 code below decides)
            if _uni_estep_f32(X, sw, n, K, cst, means, prec, <float *> lp, <float *> mx,
                              ssum, stats) == 0:
                return 0

    # ---- log N(x_i | k) + log w_k into lp[k, i] ----------------------------
    if diag_ref:
        if floating is double:
            gmmx_center_sq_f64(X, ref, n, d, xc)
        else:
            gmmx_center_sq_f32(X, ref, n, d, xc)
        if resp_in == NULL:
            diag_loops = shift == NULL or not _diag_blas_logprob(xc, n, d, K, shift, lp)
        else:
            diag_loops = not gmmx_all_finite(xc, 2 * n * d)
    if kind == K_DIAG and diag_loops:
        if d == 1 and floating is double:
            xc = <double *> X
        elif floating is double:
            gmmx_transpose_f64(X, n, d, xc)
        else:
            gmmx_transpose_f32(X, n, d, xc)
        if resp_in != NULL:
            pass
        elif d == 1:
            gmmx_uni_logprob(xc, n, K, cst, means, prec, lp)
        else:
            _diag_direct_logprob(xc, n, d, K, cst, means, prec, lp)
    elif kind == K_FULL:
        if resp_in == NULL and tri and direct:
            # xt, (GMMX_FULL_PAD(d), n), straight from X: nothing reads xc
            if floating is double:
                gmmx_full_center_t_f64(X, ref, n, d, ld, Y)
            else:
                gmmx_full_center_t_f32(X, ref, n, d, ld, Y)
        elif floating is double:
            gmmx_center_f64(X, ref, n, d, xc)
        else:
            gmmx_center_f32(X, ref, n, d, xc)
        if rows and want_stats:
            if floating is double:
                gmmx_full_center_r_f64(X, ref, n, d, xr)
            else:
                gmmx_full_center_r_f32(X, ref, n, d, xr)
        if resp_in == NULL and tri:
            if not direct:
                gmmx_full_transpose(xc, n, d, ld, Y)  # xt, (GMMX_FULL_PAD(d), n)
            for k in range(K):
                gmmx_full_tri_logprob(Y, n, ld, d, prec + (k if P == K else 0) * d * d, d,
                                      shift + k * d, cst[k], lp + k * n)
        elif resp_in == NULL:
            _full_distances(xc, ni, d, P, prec, jb, nb, Y)
            for k in range(K):
                gmmx_full_logprob_row(Y, n, P, k if P == K else 0, jb, nb, shift + k * d,
                                      cst[k], lp + k * n)

    if resp_in != NULL:
        # ---- responsibilities from the caller: lp = w_i * r_ik ---------------
        if kind == K_FULL and rows:
            if not gmmx_all_finite(xr, n * GMMX_FULL_RLD(d)):
                return 1
        elif not gmmx_all_finite(xc, n * (d if kind == K_DIAG else d1)):
            return 1
        for k in range(K):
            row = lp + k * n
            if sw != NULL:
                for i in range(n):
                    row[i] = sw[i] * resp_in[i * K + k]
            else:
                for i in range(n):
                    row[i] = resp_in[i * K + k]
        if not gmmx_all_finite(lp, K * n):
            return 1
        ll = 0.0
    else:
        if out_lp != NULL:
            # ---- log-densities only (-inf allowed where cst_k is -inf) -------
            for k in range(K):
                if cst[k] != -INFINITY and not gmmx_all_finite(lp + k * n, n):
                    return 1
            for i in range(n):
                for k in range(K):
                    out_lp[i * K + k] = lp[k * n + i]
            return 0

        if tpar != NULL:
            # ---- Student-t: lp becomes w_i * r_ik * u_ik ------------------
            if gmmx_t_resp(lp, n, K, cst, tpar, sw, tscr, tsum, out_norm, out_resp, &ll) != 0:
                return 1
            if not isfinite(ll):
                return 1
        else:
            # ---- log-sum-exp; lp becomes w_i * responsibilities ----------
            ll = gmmx_logsumexp_resp(lp, n, K, sw, mx, ssum, out_norm)
            if not isfinite(ll):
                return 1

        if out_resp != NULL and tpar == NULL:
            for i in range(n):
                for k in range(K):
                    out_resp[i * K + k] = lp[k * n + i]

    if not want_stats:
        return 0

    # ---- sufficient statistics -------------------------------------------
    wsum = gmmx_sum(sw, n) if sw != NULL else <double> n
    for k in range(K):
        stats[k] += gmmx_sum(lp + k * n, n)
    if kind == K_DIAG:
        stats[K + 2 * Kd] += ll
        stats[K + 2 * Kd + 1] += wsum
        if not diag_loops:
            _diag_blas_stats(xc, lp, n, d, K, Y, stats + K, stats + K + Kd)
        elif diag_ref:
            _diag_direct_stats(xc, lp, n, d, K, ref, 0, stats + K, stats + K + Kd)
        else:
            _diag_direct_stats(xc, lp, n, d, K, means, d, stats + K, stats + K + Kd)
    else:
        stats[K + Kd * d1] += ll
        stats[K + Kd * d1 + 1] += wsum
        if pooled:
            _tied_stats(lp, n, K, d, rows, xr, rscr, xc, Y, resp_in == NULL and tri, ld, ssum,
                        pscr, stats + K)
        elif rows:
            gmmx_full_scatter_rows(xr, n, d, lp, K, rscr, stats + K, Kd)
        elif direct:
            if resp_in != NULL or not tri:  # else xt is still in Y
                gmmx_full_transpose(xc, n, d, ld, Y)
            rx = Y + GMMX_FULL_PAD(d) * ld
            for k in range(K):
                gmmx_full_scale_rows(lp + k * n, Y, n, GMMX_FULL_PAD(d), ld, rx)
                gmmx_full_scatter_upper(Y, rx, n, d, ld, stats + K + k * d, Kd)
        else:
            _full_scatter(lp, xc, ni, K, d, jb, nb, Y, stats + K)
    return 0


cdef inline const double *_ptr1(const double[::1] a):
    return &a[0] if a is not None and a.shape[0] > 0 else NULL


cdef inline double *_ptr2(double[:, ::1] a):
    return &a[0, 0] if a is not None and a.shape[0] > 0 and a.shape[1] > 0 else NULL


cdef inline const double *_cptr2(const double[:, ::1] a):
    return &a[0, 0] if a is not None and a.shape[0] > 0 and a.shape[1] > 0 else NULL


cdef _check_params(Py_ssize_t K, Py_ssize_t d, Py_ssize_t P, int kind,
                   const double[:, ::1] means, const double[::1] prec,
                   const double[::1] ref, const double[:, ::1] shift):
    """ValueError unless the parameter arrays fit (K, d) and ``kind``."""
    if means.shape[0] != K or means.shape[1] != d:
        raise ValueError("means must have shape (n_components, n_features)")
    if kind == K_DIAG:
        if prec is not None and prec.shape[0] != K * d:
            raise ValueError("prec must hold (n_components, n_features) values")
        if ref is not None and ref.shape[0] != 0 and ref.shape[0] != d:
            raise ValueError("ref must be empty or have one entry per feature")
    elif kind == K_FULL:
        if ref.shape[0] != d:
            raise ValueError("ref must have one entry per feature")
        if prec is None:
            return
        if P != K and P != 1:
            raise ValueError("n_blocks must be n_components or 1")
        if prec.shape[0] != d * P * d:
            raise ValueError("ucat must hold (n_features, n_blocks * n_features) values")
        if shift.shape[0] != K or shift.shape[1] != d:
            raise ValueError("shift must have shape (n_components, n_features)")
    else:
        raise ValueError(f"unknown kernel kind {kind}")


cdef object _diag_coefficients(const double[::1] cst, const double[:, ::1] means,
                               const double[::1] prec, const double[::1] ref):
    """The (K, 2d+1) GEMM coefficients of the diagonal log-densities about ``ref``.

    Row k is ``[P_k m'_k | -P_k / 2 | cst_k - sum_j P_kj m'_kj^2 / 2]`` with
    ``P = prec^2`` and ``m' = mu - ref``. None when ``ref`` is empty, d == 1, or
    a coefficient is not finite (the chunks then use the direct loops).
    """
    cdef Py_ssize_t K = means.shape[0], d = means.shape[1], j, k
    cdef double m, P, c
    if ref is None or ref.shape[0] == 0 or d < 2:
        return None
    coef_arr = np.empty((K, 2 * d + 1), dtype=np.float64)
    cdef double[:, ::1] coef = coef_arr
    for k in range(K):
        c = 0.0
        for j in range(d):
            m = means[k, j] - ref[j]
            P = prec[k * d + j] * prec[k * d + j]
            coef[k, j] = P * m
            coef[k, d + j] = -0.5 * P
            c += P * m * m
        if not isfinite(c):
            return None
        coef[k, 2 * d] = cst[k] - 0.5 * c
    if not np.isfinite(coef_arr[:, :2 * d]).all():
        return None
    return coef_arr


cdef tuple _drive(
    const floating[:, ::1] X,
    const double *sw,
    Py_ssize_t K,
    Py_ssize_t P,
    int kind,
    const double *cst,
    const double *means,
    const double *prec,
    const double *ref,
    const double *shift,
    int n_threads,
    Py_ssize_t chunk_rows,
    bint want_stats,
    double *out_norm,
    double *out_resp,
    const double *resp_in,
    double *out_lp,
    const double *tpar=NULL,
    double *tsum=NULL,
):
    """The chunk loop of every entry point (pointers cover all ``n`` rows).

    ``tpar``/``tsum``: the Student-t E-step; ``tsum`` is (MAX_GROUPS, 3K),
    one row per group (added in order by the caller).

    Returns ``(stats, status, bad_chunk, chunk_rows)`` as :func:`estep`.
    """
    cdef:
        Py_ssize_t n = X.shape[0]
        Py_ssize_t d = X.shape[1]
        Py_ssize_t S = stats_size(d, K, kind)
        Py_ssize_t B, n_chunks, ci, start, m_rows, t, g, G
        Py_ssize_t scratch_size, y_size, xc_size
        int rc
        double *scratch
        double *sp
        Py_ssize_t jb[MAX_FULL_BLOCKS + 1]
        Py_ssize_t nb = 1, blk_size
        bint tri = False, direct = False, rows = False, pooled = False
        Py_ssize_t xr_size = 0, rscr_size = 0, pscr_size = 0
        double[::1] ublk_view
        double[::1] total_view
        const double *fac = prec

    B = chunk_rows if chunk_rows > 0 else default_chunk_rows(d, K, kind, ref != NULL)
    n_chunks = (n + B - 1) // B
    G = n_groups(n_chunks, S)
    n_threads = 1 if _single_threaded else max(1, min(n_threads, G))
    # [stats | status | bad_chunk] per group of consecutive chunks
    gbuf_arr = np.zeros((max(G, 1), S + 2), dtype=np.float64)
    gbuf_arr[:, S + 1] = -1
    cdef double[:, ::1] gbuf = gbuf_arr
    y_size = B * K * d if kind == K_FULL else 2 * K * d
    xc_size = B * (d + 1) if kind == K_FULL else B * max(d + 1, 2 * d)
    if kind == K_FULL:
        nb = full_blocks(d)
        blk_size = _full_block_bounds(d, nb, jb)
        tri = full_tri_distances(d, P != K, K)
        pooled = want_stats and tied_pooled(K, P)
        # the pooled scatter is one direct scatter (cheap next to K of BLAS's)
        direct = full_direct_scatter(d) or pooled
        rows = full_row_scatter(d) and want_stats
        if rows:
            xr_size = B * GMMX_FULL_RLD(d)
            rscr_size = GMMX_FULL_RSCR(d, 1 if pooled else K)
        if pooled:
            pscr_size = K * d + d
        if tri or direct:  # xt, and rx beside it
            y_size = max(y_size, 2 * GMMX_FULL_LD(B) * GMMX_FULL_PAD(d))
        if prec != NULL and nb > 1 and not tri:
            ublk_arr = np.empty(max(blk_size * P, 1), dtype=np.float64)
            ublk_view = ublk_arr
            _full_pack_factors(prec, d, P, jb, nb, &ublk_view[0])
            fac = &ublk_view[0]
        elif prec != NULL and tri:
            # each factor contiguous (P, d, d): ucat's rows are P d apart, and
            # at P d = 512 (d = 32, K = 16) every row of a factor falls in the
            # same L1 set (measured on a Zen 3, AVX2: the distances 1.7x slower
            # there, and at d = 64, K = 8; the same bits)
            ublk_arr = np.empty(P * d * d, dtype=np.float64)
            ublk_view = ublk_arr
            _full_split_factors(prec, d, P, &ublk_view[0])
            fac = &ublk_view[0]

    scratch_size = K * B + xc_size + y_size + 2 * B
    cdef Py_ssize_t xr_at = scratch_size
    scratch_size += xr_size + rscr_size
    cdef Py_ssize_t p_at = scratch_size
    scratch_size += pscr_size
    cdef Py_ssize_t t_at = scratch_size
    if tpar != NULL:
        scratch_size += 3 * K * B + 3 * B

    if n_chunks == 0:
        return gbuf_arr[0, :S].copy(), ST_OK, -1, B

    cdef int stop = 0
    cdef int *stop_flag = &stop
    cdef double next_check[1]
    cdef bint watch = _on_main_thread()
    next_check[0] = gmmx_wtime() + GMMX_SIGNAL_INTERVAL
    with nogil, parallel(num_threads=n_threads):
        # 8 doubles more: sp starts on a 64-byte boundary (the row-major rows' vector loads)
        scratch = <double *> malloc((scratch_size + 8) * sizeof(double))
        for g in prange(G, schedule='dynamic', chunksize=1):
            if scratch == NULL:
                gbuf[g, S] = ST_NOMEM
                continue
            sp = <double *> ((<size_t> scratch + 63) & ~(<size_t> 63))
            for ci in range((g * n_chunks) // G, ((g + 1) * n_chunks) // G):
                if watch and gmmx_poll_signals(next_check):
                    gmmx_flag_set(stop_flag)
                if gmmx_flag_get(stop_flag):
                    break
                start = ci * B
                m_rows = B if start + B <= n else n - start
                rc = _chunk(&X[start, 0], sw + start if sw != NULL else NULL,
                            m_rows, d, K, P, kind, cst, means, fac, ref, shift, jb, nb, tri, direct,
                            rows, pooled, sp + p_at, sp + xr_at, sp + xr_at + xr_size,
                            sp, sp + K * B, sp + K * B + xc_size,
                            sp + K * B + xc_size + y_size,
                            sp + K * B + xc_size + y_size + B,
                            &gbuf[g, 0],
                            out_norm + start if out_norm != NULL else NULL,
                            out_resp + start * K if out_resp != NULL else NULL,
                            want_stats,
                            resp_in + start * K if resp_in != NULL else NULL,
                            out_lp + start * K if out_lp != NULL else NULL,
                            tpar, sp + t_at, tsum + g * 3 * K if tsum != NULL else NULL)
                if rc != 0:
                    gbuf[g, S] = ST_NONFINITE
                    gbuf[g, S + 1] = ci
                    break
        free(scratch)

    if stop:
        gmmx_pending_error()  # raises what the signal handler raised
        raise KeyboardInterrupt

    status = int(gbuf_arr[:, S].max())
    bad = gbuf_arr[gbuf_arr[:, S] == ST_NONFINITE, S + 1]
    bad_chunk = int(bad.min()) if bad.size else -1
    total = gbuf_arr[0, :S].copy()
    for t in range(1, G):
        total += gbuf_arr[t, :S]
    if kind == K_FULL and direct and want_stats:
        total_view = total
        _full_mirror(&total_view[K], K, d)
    elif kind == K_FULL and nb > 1 and want_stats:
        blocked = total[K:K + K * d * (d + 1)].copy()
        total_view = total
        ublk_view = blocked
        _full_unblock(&ublk_view[0], K, d, jb, nb, &total_view[K])
    return total, status, bad_chunk, B


cdef _check_pass_args(Py_ssize_t n, Py_ssize_t K, Py_ssize_t d, Py_ssize_t n_blocks, int kind,
                      const double[:, ::1] means, const double[::1] prec,
                      const double[::1] ref, const double[:, ::1] shift,
                      const double[::1] sample_weight, double[::1] out_norm,
                      double[:, ::1] out_resp, const double[:, ::1] tpar=None):
    """The checks of an E-step pass's arguments (:func:`estep`; :func:`t_estep`
    with its ``tpar``)."""
    _check_params(K, d, n_blocks, kind, means, prec, ref, shift)
    if tpar is not None and (tpar.shape[0] != 3 or tpar.shape[1] != K):
        raise ValueError("tpar must have shape (3, n_components)")
    if sample_weight.shape[0] > 0 and sample_weight.shape[0] != n:
        raise ValueError("sample_weight must have one entry per row")
    if out_norm is not None and out_norm.shape[0] != n:
        raise ValueError("out_norm must have one entry per row")
    if out_resp is not None and (out_resp.shape[0] != n or out_resp.shape[1] != K):
        raise ValueError("out_resp must have shape (n_samples, n_components)")


def estep(
    const floating[:, ::1] X,
    const double[::1] sample_weight,
    const double[::1] cst,
    const double[:, ::1] means,
    const double[::1] prec,
    const double[::1] ref,
    const double[:, ::1] shift,
    Py_ssize_t n_blocks,
    int kind,
    int n_threads,
    Py_ssize_t chunk_rows=0,
    bint want_stats=True,
    double[::1] out_norm=None,
    double[:, ::1] out_resp=None,
):
    """One pass of the E-step over the rows of ``X``.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64, C-contiguous
    sample_weight : ndarray of shape (n,) or (0,)
        Non-negative weights; an empty array means unit weights.
    cst : ndarray of shape (K,)
        ``log w_k + log det U_k - d/2 log(2 pi)`` per component.
    means : ndarray of shape (K, d)
    prec : ndarray, flattened
        ``KIND_DIAG``: (K, d) square roots of the precisions.
        ``KIND_FULL``: ``ucat`` (d, n_blocks * d), precision Cholesky factors
        side by side.
    ref : ndarray of shape (d,) or (0,)
        ``KIND_FULL``: centring point of the chunk. ``KIND_DIAG`` with d > 1:
        empty for the direct loops (statistics about the means), or the
        centring point of the GEMM formulation (statistics about ``ref``).
    shift : ndarray of shape (K, d)
        ``KIND_FULL``: ``(mu_k - ref) U_k`` (ignored for diag).
    n_blocks : int
        Number of precision blocks in ``ucat`` (K for full, 1 for tied).
    kind : int
        ``KIND_FULL`` or ``KIND_DIAG``.
    n_threads : int
        OpenMP threads (at most one per chunk).
    chunk_rows : int, default=0
        Rows per chunk; 0 picks a cache-sized default.
    want_stats : bool
        Accumulate sufficient statistics.
    out_norm : ndarray of shape (n,), optional
        Receives ``log p(x_i)``.
    out_resp : ndarray of shape (n, K), optional
        Receives the responsibilities.

    Returns
    -------
    stats : ndarray
        Flat statistics (layout: ``gmmx._kernels.layout``), reduced over threads in a
        fixed order.
    status : int
        ``STATUS_OK``, ``STATUS_NONFINITE`` or ``STATUS_NOMEM``.
    bad_chunk : int
        First chunk (in rows of ``chunk_rows``) found non-finite, or -1.
    chunk_rows : int
        The chunk size used.
    """
    cdef:
        Py_ssize_t n = X.shape[0]
        Py_ssize_t d = X.shape[1]
        Py_ssize_t K = cst.shape[0]

    _check_pass_args(n, K, d, n_blocks, kind, means, prec, ref, shift, sample_weight, out_norm,
                     out_resp)
    if kind == K_DIAG:
        shift = _diag_coefficients(cst, means, prec, ref)
    return _drive(X, _ptr1(sample_weight), K, n_blocks, kind, &cst[0], &means[0, 0],
                  &prec[0], _ptr1(ref), _cptr2(shift), n_threads, chunk_rows,
                  want_stats, <double *> _ptr1(out_norm), _ptr2(out_resp), NULL, NULL)


def log_densities(
    const floating[:, ::1] X,
    const double[::1] cst,
    const double[:, ::1] means,
    const double[::1] prec,
    const double[::1] ref,
    const double[:, ::1] shift,
    Py_ssize_t n_blocks,
    int kind,
    int n_threads,
    Py_ssize_t chunk_rows=0,
    out=None,
):
    """Component log-densities ``cst_k - ||(x_i - mu_k) U_k||^2 / 2``.

    The values the E-step takes the log-sum-exp of: ``log w_k + log N(x_i | k)``
    when ``cst`` includes ``log w_k``, the pure component densities when it
    does not. Parameters as :func:`estep`.

    Parameters
    ----------
    out : ndarray of shape (n, K), float64, C-contiguous, optional
        Receives the result; allocated when None.

    Returns
    -------
    out : ndarray of shape (n, K)
    status : int
        ``STATUS_NONFINITE`` when a value is NaN or infinite (``-inf`` is
        accepted for a component whose ``cst`` is ``-inf``).
    bad_chunk : int
        First chunk found non-finite, or -1.
    chunk_rows : int
        The chunk size used.
    """
    cdef:
        Py_ssize_t n = X.shape[0]
        Py_ssize_t d = X.shape[1]
        Py_ssize_t K = cst.shape[0]
        double[:, ::1] ov

    _check_params(K, d, n_blocks, kind, means, prec, ref, shift)
    if out is None:
        out = np.empty((n, K), dtype=np.float64)
    ov = out
    if ov.shape[0] != n or ov.shape[1] != K:
        raise ValueError("out must have shape (n_samples, n_components)")
    if kind == K_DIAG:
        shift = _diag_coefficients(cst, means, prec, ref)
    _, status, bad_chunk, B = _drive(
        X, NULL, K, n_blocks, kind, &cst[0], &means[0, 0], &prec[0], _ptr1(ref),
        _cptr2(shift), n_threads, chunk_rows, False, NULL, NULL, NULL, _ptr2(ov))
    return out, status, bad_chunk, B


def stats_given_resp(
    const floating[:, ::1] X,
    const double[::1] sample_weight,
    const double[:, ::1] resp,
    const double[:, ::1] means,
    const double[::1] ref,
    int kind,
    int n_threads,
    Py_ssize_t chunk_rows=0,
    Py_ssize_t n_blocks=0,
):
    """Sufficient statistics under responsibilities given by the caller.

    Same flat layout as :func:`estep` (about ``ref`` for ``KIND_FULL`` and for
    ``KIND_DIAG`` with a non-empty ``ref``, else about ``means``) with
    ``r_ik = resp[i, k]`` (times ``sample_weight[i]`` when given); the
    log-likelihood slot is 0.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64, C-contiguous
    sample_weight : ndarray of shape (n,) or (0,)
    resp : ndarray of shape (n, K), float64, C-contiguous
    means : ndarray of shape (K, d)
    ref : ndarray of shape (d,) or (0,)
        Centre of the statistics (``KIND_FULL``; ``KIND_DIAG`` when not empty).
    kind, n_threads, chunk_rows :
        As :func:`estep`.
    n_blocks : int, default=0
        ``KIND_FULL``: 1 for a tied model (one pooled scatter, see
        :func:`tied_pooled`); otherwise one scatter per component.

    Returns
    -------
    stats, status, bad_chunk, chunk_rows :
        As :func:`estep`; ``STATUS_NONFINITE`` when ``X``, ``resp`` or the
        weighted responsibilities of a chunk hold NaN or infinity.
    """
    cdef:
        Py_ssize_t n = X.shape[0]
        Py_ssize_t d = X.shape[1]
        Py_ssize_t K = means.shape[0]

    _check_params(K, d, 0, kind, means, None, ref, None)
    if resp.shape[0] != n or resp.shape[1] != K:
        raise ValueError("resp must have shape (n_samples, n_components)")
    if sample_weight.shape[0] > 0 and sample_weight.shape[0] != n:
        raise ValueError("sample_weight must have one entry per row")
    return _drive(X, _ptr1(sample_weight), K, n_blocks, kind, NULL, &means[0, 0], NULL,
                  _ptr1(ref), NULL, n_threads, chunk_rows, True, NULL, NULL,
                  _cptr2(resp), NULL)


def t_estep(
    const floating[:, ::1] X,
    const double[::1] sample_weight,
    const double[::1] cst,
    const double[:, ::1] means,
    const double[::1] prec,
    const double[::1] ref,
    const double[:, ::1] shift,
    Py_ssize_t n_blocks,
    int kind,
    int n_threads,
    const double[:, ::1] tpar,
    Py_ssize_t chunk_rows=0,
    bint want_stats=True,
    double[::1] out_norm=None,
    double[:, ::1] out_resp=None,
):
    """The Student-t mixture's E-step in one pass (chunk by chunk, in cache).

    Per chunk: the Gaussian log-densities under unit weights (``cst`` without
    ``log w_k``), the t arithmetic of ``gmmx_t_resp`` (_vmath.h) (t log-densities,
    responsibilities ``r``, weights ``u = (nu + d) / (nu + delta)``), then the
    statistics of :func:`estep` under ``w r u``.  Parameters as
    :func:`estep`, plus

    Parameters
    ----------
    tpar : ndarray of shape (3, K)
        ``nu_k``; ``c_k`` (``log w_k`` plus the t log-density's constant,
        so that ``log w_k t_k = c_k - half_k log(nu_k + delta)``);
        ``half_k = (nu_k + d) / 2``.

    Returns
    -------
    stats : ndarray
        As :func:`estep`, under ``w r u``; its log-likelihood slot holds
        ``sum w log p(x)``.
    tsums : ndarray of shape (3, K)
        ``sum w r``, ``sum w r log(nu + delta)``, ``sum w r (log p(x) - log w_k t_k)``.
    status, bad_chunk, chunk_rows :
        As :func:`estep`.

    Per-group partial sums added in a fixed order: the result does not
    depend on ``n_threads``.
    """
    cdef:
        Py_ssize_t n = X.shape[0]
        Py_ssize_t d = X.shape[1]
        Py_ssize_t K = cst.shape[0]
        double[:, ::1] tv

    _check_pass_args(n, K, d, n_blocks, kind, means, prec, ref, shift, sample_weight, out_norm,
                     out_resp, tpar)
    if kind == K_DIAG:
        shift = _diag_coefficients(cst, means, prec, ref)
    tbuf = np.zeros((MAX_GROUPS_, 3 * K), dtype=np.float64)
    tv = tbuf
    stats, status, bad_chunk, B = _drive(
        X, _ptr1(sample_weight), K, n_blocks, kind, &cst[0], &means[0, 0], &prec[0],
        _ptr1(ref), _cptr2(shift), n_threads, chunk_rows, want_stats,
        <double *> _ptr1(out_norm), _ptr2(out_resp), NULL, NULL, &tpar[0, 0], &tv[0, 0])
    tsums = tbuf[0].copy()
    for g in range(1, MAX_GROUPS_):
        tsums += tbuf[g]
    return stats, tsums.reshape(3, K), status, bad_chunk, B


def _vector_exp(double[::1] a):
    """Apply the kernel's vector ``exp`` in place (exposed for tests)."""
    with nogil:
        gmmx_vexp(&a[0], a.shape[0])


def _vector_exp_f32(float[::1] a):
    """Apply the float32 path's vector ``exp`` in place (``a <= 0``; exposed for tests)."""
    with nogil:
        gmmx_f32_vexp(&a[0], a.shape[0])


def _vector_log(double[::1] a):
    """Apply the kernel's vector ``log`` in place (exposed for tests)."""
    with nogil:
        gmmx_vlog(&a[0], a.shape[0])
