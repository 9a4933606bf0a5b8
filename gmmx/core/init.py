"""Initial parameters: gmmx's native k-means (k-means++ and Lloyd), the
other scikit-learn ``init_params`` schemes and mclust's hierarchical start."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._kernels import _kmeans
from .hierarchical import hierarchical_labels
from .mstep import m_step
from .stats import SufficientStats

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import NDArray

INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data", "hierarchical")

# k-means runs on at most this many rows; the final labels cover all rows.
KMEANS_MAX_ROWS = 200_000
# The "kmeans" initialisation of a mixture clusters a random subset of
# max(KMEANS_MIN_ROWS, KMEANS_ROWS_PER_CLUSTER * K) rows (at most
# KMEANS_MAX_ROWS): its centres only have to find the partition, whose
# statistics then come from every row. On a subset it keeps the best of
# KMEANS_SUBSET_RUNS runs: one run on 10,000 rows ends in a worse local
# optimum about twice as often as one run on 200,000 (18 vs 9 seeds in 100,
# N = 200k, d = 16, K = 8), three runs almost never do (0 in 100), and three
# runs on 10,000 rows cost a fraction of one on 200,000.
KMEANS_MIN_ROWS = 10_000
KMEANS_ROWS_PER_CLUSTER = 1_000
KMEANS_SUBSET_RUNS = 3
# Lloyd iterations on the subset are short: below this many distance terms
# (rows x clusters x (features + 1)) per thread, starting the OpenMP team
# costs more than the split saves (10,000 rows, K = 2, d = 1: 4.2 ms on one
# thread, 6.4 on two; 32,000 rows, K = 32, d = 16: two threads win).
KMEANS_WORK_PER_THREAD = 8_000_000

_EMPTY = np.empty(0, dtype=np.float64)


def _w(sample_weight):
    return _EMPTY if sample_weight is None else np.ascontiguousarray(sample_weight,
                                                                     dtype=np.float64)


def distance_scale(X: NDArray[Any]) -> float:
    """Power of two by which k-means multiplies ``x - c`` before squaring.

    Squared distances of data at the 1e-200 scale underflow to 0 (every row
    then looks like every centre) and those of data spread over 1e160
    overflow. Multiplying the differences by a power of two is exact, so the
    labels are those exact arithmetic would give; for data whose spread lies
    between 2**-100 and 2**100 the factor is 1 and nothing changes.
    """
    if X.shape[0] == 0 or X.shape[1] == 0:
        return 1.0
    if X.dtype in (np.float32, np.float64) and X.flags.c_contiguous:
        spread = _kmeans.column_spread(X)  # one pass; numpy's axis-0 reductions take several
    else:
        spread = float(np.max(np.max(X, axis=0).astype(np.float64) - np.min(X, axis=0)))
    if not np.isfinite(spread) or spread == 0.0 or 2.0**-100 <= spread <= 2.0**100:
        return 1.0
    return float(np.ldexp(1.0, -np.frexp(spread)[1]))


def _relative_weights(sample_weight):
    """Weights divided by a power of two so the largest is in [0.5, 1) (exact).

    Only the ratios of the weights matter to k-means; at 1e308 their sum and
    the weighted potentials would overflow.
    """
    w = np.asarray(sample_weight, dtype=np.float64)
    top = float(w.max())
    return w if top <= 0 else np.ldexp(w, -np.frexp(top)[1])


def kmeans_plusplus(X: NDArray[Any], sample_weight: NDArray[Any] | None, n_clusters: int,
                    random_state: Any, n_threads: int | None = 1,
                    scale: Any = None) -> tuple[NDArray[Any], NDArray[Any]]:
    """Greedy k-means++ seeding (Arthur & Vassilvitskii, as scikit-learn).

    Parameters
    ----------
    scale : float, optional
        :func:`distance_scale` of ``X`` if the caller has it.

    Returns
    -------
    centers : ndarray of shape (n_clusters, d), float64
    indices : ndarray of shape (n_clusters,)
    """
    n, d = X.shape
    if scale is None:
        scale = distance_scale(X)
    if sample_weight is not None:
        sample_weight = _relative_weights(sample_weight)
    w = np.ones(n) if sample_weight is None else sample_weight
    p = w / w.sum()
    n_local_trials = 2 + int(np.log(n_clusters))
    centers = np.empty((n_clusters, d), dtype=np.float64)
    indices = np.empty(n_clusters, dtype=np.int64)
    idx = int(random_state.choice(n, p=p))
    centers[0] = X[idx]
    indices[0] = idx
    closest = np.full(n, np.inf)
    _kmeans.update_closest(X, centers[0], closest, n_threads, scale)
    pot = float(np.dot(w, closest))
    for c in range(1, n_clusters):
        if pot <= 0:
            # Every point coincides with a centre: pick any remaining point.
            idx = int(random_state.randint(n))
            centers[c] = X[idx]
            indices[c] = idx
            continue
        rand_vals = random_state.uniform(size=n_local_trials) * pot
        cum = np.cumsum(w * closest)
        cand = np.minimum(np.searchsorted(cum, rand_vals), n - 1)
        cand_centers = np.ascontiguousarray(X[cand], dtype=np.float64)
        pots = _kmeans.candidate_potentials(X, _w(sample_weight), cand_centers, closest,
                                            n_threads, scale)
        best = int(np.argmin(pots))
        centers[c] = cand_centers[best]
        indices[c] = cand[best]
        _kmeans.update_closest(X, centers[c], closest, n_threads, scale)
        pot = float(pots[best])
    return centers, indices


def kmeans(X: NDArray[Any], sample_weight: NDArray[Any] | None, n_clusters: int, random_state: Any,
           n_threads: int | None = 1, max_iter: int = 300,
           tol: float = 1e-4) -> tuple[NDArray[Any], NDArray[Any]]:
    """Lloyd's k-means from k-means++ seeds.

    Returns
    -------
    centers : ndarray of shape (n_clusters, d)
    labels : ndarray of shape (n,), int32
        Index of each row's nearest centre.
    """
    centers = kmeans_centers(X, sample_weight, n_clusters, random_state, n_threads,
                             max_iter, tol)
    n = X.shape[0]
    labels = np.empty(n, dtype=np.int32)
    w = None if sample_weight is None else _relative_weights(sample_weight)
    _kmeans.lloyd_iter(X, _w(w), centers, labels, np.empty(n), n_threads, distance_scale(X))
    return centers, labels


def kmeans_centers(X: NDArray[Any], sample_weight: NDArray[Any] | None, n_clusters: int,
                   random_state: Any, n_threads: int | None = 1, max_iter: int = 300,
                   tol: float = 1e-4) -> NDArray[Any]:
    """Centres of Lloyd's k-means from k-means++ seeds (no final labelling pass).

    Returns
    -------
    centers : ndarray of shape (n_clusters, d), float64
    """
    return _lloyd(X, sample_weight, n_clusters, random_state, n_threads, max_iter, tol)[0]


def _lloyd_geometry(X, tol):
    """``(scale, tol_abs)`` of k-means runs on ``X``: :func:`distance_scale` and the
    tolerance on the centres' squared shift, in units of ``1 / scale``."""
    scale = distance_scale(X)
    var = np.var(X if scale == 1.0 else X * scale, axis=0, dtype=np.float64)
    return scale, tol * float(np.mean(var))


def _lloyd(X, sample_weight, n_clusters, random_state, n_threads, max_iter, tol,
           geometry=None):
    """``(centers, inertia)``: the inertia (in units of ``1 / distance_scale(X)**2``) is
    that of the last labelling, which the last move of the centres can only lower.
    ``geometry`` is :func:`_lloyd_geometry` of ``X`` and ``tol`` if the caller has it."""
    n, d = X.shape
    scale, tol_abs = _lloyd_geometry(X, tol) if geometry is None else geometry
    centers, _ = kmeans_plusplus(X, sample_weight, n_clusters, random_state, n_threads, scale)
    if sample_weight is not None:
        sample_weight = _relative_weights(sample_weight)
    labels = np.zeros(n, dtype=np.int32)
    dist = np.empty(n, dtype=np.float64)
    prev_labels = None
    inertia = np.inf
    for _ in range(max_iter):
        shift, wk, inertia = _kmeans.lloyd_iter(
            X, _w(sample_weight), centers, labels, dist, n_threads, scale
        )
        new = centers.copy()
        nonempty = wk > 0
        new[nonempty] += shift[nonempty] / wk[nonempty, None]
        empty = np.flatnonzero(~nonempty)
        if empty.size:
            # Move empty clusters to the points farthest from their centres.
            far = np.argsort(dist)[::-1][: empty.size]
            new[empty] = X[far]
        center_shift = float(np.sum(((new - centers) * scale) ** 2))
        centers = new
        if prev_labels is not None and np.array_equal(labels, prev_labels):
            break
        if center_shift <= tol_abs:
            break
        prev_labels = labels.copy()
    return centers, inertia


def best_kmeans_centers(X: NDArray[Any], sample_weight: NDArray[Any] | None, n_clusters: int,
                        random_state: Any, n_threads: int | None = 1, n_init: int = 1,
                        max_iter: int = 300, tol: float = 1e-4) -> NDArray[Any]:
    """Centres of the run of lowest inertia among ``n_init`` k-means runs.

    Returns
    -------
    centers : ndarray of shape (n_clusters, d), float64
    """
    best, best_inertia = None, np.inf
    geometry = _lloyd_geometry(X, tol)
    for _ in range(n_init):
        centers, inertia = _lloyd(X, sample_weight, n_clusters, random_state, n_threads,
                                  max_iter, tol, geometry)
        if best is None or inertia < best_inertia:
            best, best_inertia = centers, inertia
    return best  # type: ignore[return-value]  # n_init >= 1


def stats_from_labels(X: NDArray[Any], sample_weight: NDArray[Any] | None, labels: NDArray[Any],
                      n_components: int, covariance_type: str) -> SufficientStats:
    """Sufficient statistics of a hard assignment (one-hot responsibilities).

    A component that receives no row is centred at the data's (weighted) mean,
    where the M-step gives it the pooled spread.
    """
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if sw is not None and sw.sum() > 0:
        mean = (sw / sw.sum()) @ np.asarray(X, dtype=np.float64)
    else:
        mean = np.mean(X, axis=0, dtype=np.float64)
    centers = np.repeat(mean[None], n_components, axis=0)
    st = SufficientStats.zeros(covariance_type, centers)
    for k in range(n_components):
        mask = labels == k
        Xk = np.asarray(X[mask], dtype=np.float64)
        wk = None if sample_weight is None else sample_weight[mask]
        st.nk[k] = Xk.shape[0] if wk is None else wk.sum()
        if st.nk[k] <= 0:
            continue
        mu = Xk.mean(axis=0) if wk is None else (wk @ Xk) / st.nk[k]
        st.centers[k] = mu
        D = Xk - mu
        st.sk[k] = D.sum(axis=0) if wk is None else wk @ D
        Dw = D if wk is None else D * wk[:, None]
        if st.Mk.ndim == 3:
            st.Mk[k] = Dw.T @ D
        else:
            st.Mk[k] = np.einsum("ij,ij->j", Dw, D)
    st.weight_sum = float(X.shape[0] if sample_weight is None else sample_weight.sum())
    st.n_samples = X.shape[0]
    return st


def nearest_center_stats(X: NDArray[Any], sample_weight: NDArray[Any] | None, centers: NDArray[Any],
                         covariance_type: str, n_threads: int | None = 1,
                         scale: Any = 1.0) -> SufficientStats:
    """Statistics of the partition of all rows by their nearest centre, in one native pass.

    The same statistics as :func:`stats_from_labels` of the nearest-centre
    labels, without copying any row: the kernel accumulates them about
    ``centers`` and they are recentred at the labelled rows' means.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64, C-contiguous
    sample_weight : ndarray of shape (n,) or None
    centers : ndarray of shape (K, d)
    covariance_type : str
    n_threads : int
    scale : float
        Power of two of :func:`distance_scale` (labels do not depend on it).

    Returns
    -------
    SufficientStats
    """
    labels = np.empty(X.shape[0], dtype=np.int32)
    return _native_label_stats(X, sample_weight, centers, labels, True, covariance_type,
                               n_threads, scale)


def given_label_stats(X: NDArray[Any], sample_weight: NDArray[Any] | None, centers: NDArray[Any],
                      labels: NDArray[Any], covariance_type: str,
                      n_threads: int | None = 1) -> SufficientStats:
    """:func:`stats_from_labels` in one native pass, without copying any row.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64
    sample_weight : ndarray of shape (n,) or None
    centers : ndarray of shape (K, d)
        Points near each label's mean (the statistics are accumulated about
        them, then recentred at the exact means).
    labels : ndarray of shape (n,), int
        Label of each row in ``0..K-1``; rows labelled ``-1`` are left out.
    covariance_type : str
    n_threads : int

    Returns
    -------
    SufficientStats
    """
    labels = np.ascontiguousarray(labels, dtype=np.int32)
    return _native_label_stats(X, sample_weight, centers, labels, False, covariance_type,
                               n_threads, 1.0)


def _native_label_stats(X, sample_weight, centers, labels, assign, covariance_type,
                        n_threads, scale):
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    X = np.ascontiguousarray(X)
    st = SufficientStats.zeros(covariance_type, centers)
    st.nk, st.sk, st.Mk = _kmeans.labelled_stats(
        X, _w(sample_weight), st.centers, labels, assign, st.Mk.ndim == 3, n_threads, scale
    )
    st.weight_sum = float(X.shape[0] if sample_weight is None else np.sum(sample_weight))
    st.n_samples = X.shape[0]
    return st.recentred(_label_means(st))


def _label_means(st):
    """Each label's mean, from statistics about any centres; empty labels get the
    overall mean (as in :func:`stats_from_labels`)."""
    nk = st.nk
    full = st.centers + st.sk / np.where(nk > 0, nk, 1.0)[:, None]
    total = float(nk.sum())
    overall = (nk @ st.centers + st.sk.sum(axis=0)) / total if total > 0 else st.centers.mean(0)
    return np.where((nk > 0)[:, None], full, overall[None])


def kmeans_sample_size(n: int, n_clusters: int) -> int:
    """Rows the ``kmeans`` initialisation clusters: all of them, up to
    ``max(KMEANS_MIN_ROWS, KMEANS_ROWS_PER_CLUSTER * K)`` (and ``KMEANS_MAX_ROWS``)."""
    cap = max(KMEANS_MIN_ROWS, KMEANS_ROWS_PER_CLUSTER * n_clusters)
    return min(n, cap, KMEANS_MAX_ROWS)


def stats_from_resp(X: NDArray[Any], sample_weight: NDArray[Any] | None, resp: NDArray[Any],
                    covariance_type: str) -> SufficientStats:
    """Sufficient statistics of soft responsibilities ``resp`` (n, K)."""
    X64 = np.asarray(X, dtype=np.float64)
    r = resp if sample_weight is None else resp * sample_weight[:, None]
    nk = r.sum(axis=0)
    safe = np.where(nk > 0, nk, 1.0)
    centers = (r.T @ X64) / safe[:, None]
    st = SufficientStats.zeros(covariance_type, centers)
    st.nk = nk
    for k in range(resp.shape[1]):
        D = X64 - centers[k]
        st.sk[k] = r[:, k] @ D
        if st.Mk.ndim == 3:
            st.Mk[k] = (D * r[:, k, None]).T @ D
        else:
            st.Mk[k] = r[:, k] @ (D * D)
    st.weight_sum = float(X.shape[0] if sample_weight is None else sample_weight.sum())
    st.n_samples = X.shape[0]
    return st


def initial_parameters(X: NDArray[Any], sample_weight: NDArray[Any] | None, n_components: int,
                       covariance_type: str, init_params: str, regularisation: Any,
                       random_state: Any, n_threads: int | None = 1, cache: Any = None) -> Any:
    """Initial ``(weights, means, covariances, precisions_cholesky)``.

    The M-step (with ``regularisation``: a :class:`Regularisation` or a float
    ``reg_covar``) of :func:`initial_stats`.
    """
    st = initial_stats(X, sample_weight, n_components, covariance_type, init_params,
                       random_state, n_threads, cache)
    return m_step(st, regularisation)


def initial_stats(X: NDArray[Any], sample_weight: NDArray[Any] | None, n_components: int,
                  covariance_type: str, init_params: str, random_state: Any,
                  n_threads: int | None = 1, cache: Any = None) -> SufficientStats:
    """Sufficient statistics of the initial responsibilities.

    Mirrors scikit-learn's schemes; ``kmeans`` runs gmmx's native k-means on
    a random subset of :func:`kmeans_sample_size` rows, then one native pass
    labels every row by its nearest centre and gathers the statistics;
    ``hierarchical`` is mclust's start (:mod:`gmmx.core.hierarchical`): the
    M-step of the tree's partition of at most ``HC_MAX_ROWS`` rows.

    Sample weights enter relative to the largest (only their ratios matter
    here), so ``weight_sum`` and ``nk`` are on that scale.

    Parameters
    ----------
    cache : dict, optional
        Shared by models initialised from the same rows (the hierarchical
        tree is built once).
    """
    n = X.shape[0]
    if sample_weight is not None:  # only ratios matter; 1e308 would overflow the sums
        sample_weight = _relative_weights(sample_weight)
    if init_params == "hierarchical":
        rows, labels = hierarchical_labels(X, sample_weight, n_components, random_state,
                                           cache=cache)
        Xs = X if rows is None else X[rows]
        ws = sample_weight if rows is None or sample_weight is None else sample_weight[rows]
        st = stats_from_labels(Xs, ws, labels, n_components, covariance_type)
    elif init_params == "kmeans":
        m = kmeans_sample_size(n, n_components)
        if n > m:
            # choice(replace=False) would permute all n indices (8 bytes a row);
            # distinct uniform draws give the same kind of subset in O(sample).
            sub = np.unique(random_state.randint(0, n, m))
            Xs = np.ascontiguousarray(X[sub])
            ws = None if sample_weight is None else sample_weight[sub]
            runs = KMEANS_SUBSET_RUNS
        else:  # as scikit-learn: one k-means run on all rows
            Xs, ws, runs = X, sample_weight, 1
        work = Xs.shape[0] * n_components * (Xs.shape[1] + 1)
        threads = max(1, min(n_threads, work // KMEANS_WORK_PER_THREAD))
        centers = best_kmeans_centers(Xs, ws, n_components, random_state, threads, runs)
        st = nearest_center_stats(X, sample_weight, centers, covariance_type, n_threads,
                                  distance_scale(Xs))
    elif init_params in ("k-means++", "random_from_data"):
        if init_params == "k-means++":
            _, idx = kmeans_plusplus(X, sample_weight, n_components, random_state, n_threads)
        else:
            idx = random_state.choice(n, size=n_components, replace=False)
        labels = np.full(n, -1, dtype=np.int32)
        labels[idx] = np.arange(n_components)
        sw = np.ones(n) if sample_weight is None else sample_weight
        # one row per component: the statistics are those rows' weights, about them
        st = given_label_stats(X, np.where(labels >= 0, sw, 0.0), np.asarray(X[idx], np.float64),
                               labels, covariance_type, n_threads)
        st.weight_sum = float(sw.sum())
    elif init_params == "random":
        resp = random_state.uniform(size=(n, n_components))
        resp /= resp.sum(axis=1)[:, None]
        st = stats_from_resp(X, sample_weight, resp, covariance_type)
    else:
        raise ValueError(f"init_params must be one of {INIT_PARAMS}, got {init_params!r}")
    return st
