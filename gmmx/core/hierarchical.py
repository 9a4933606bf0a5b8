"""Model-based agglomerative hierarchical clustering (R mclust's ``hc``), for initialisation.

``init_params="hierarchical"`` is mclust's default start, one deterministic
partition per K:

1. at most :data:`HC_MAX_ROWS` rows (a random subset beyond that, as
   ``mclust.options("subset")``; fewer from 17 features on, see
   :func:`max_rows_for`);
2. mclust's ``hcUse = "SVD"`` transform (:func:`svd_transform`);
3. agglomeration from singletons under mclust's VVV criterion (Fraley 1998,
   Fortran ``hcvvv``): a cluster of ``n`` rows with scatter ``W`` costs

       term(n, W) = n log( det(W / n) + beta (tr W + alpha) / n )   (n > d)
       term(n, W) = n log( beta (tr W + alpha) / n )                 (n <= d)

   with ``beta = 1`` and ``alpha = tr(W_total) / (n d)``; each step merges the
   pair whose merge increases the total cost least;
4. the tree is cut at K clusters.

One-dimensional data use mclust's quantile classes (``qclass``) instead, as
``Mclust`` does.  The tree is built natively (``gmmx._kernels._hier``).
Cost: each merge recomputes the merge costs of the new cluster (``m``
``d x d`` log-determinants; the (at most 2,000) subset rows keep only their
cheapest merge, ``O(m)`` memory), so the whole tree is ``O(m^2 d^3)``; above
16 features the subset shrinks as ``(16/d)^1.5`` to stay near the cost at 16.
At two features with unit weights the kernel keeps the rows never merged in
spatial blocks with lower bounds of their merge costs and costs only the
blocks those bounds leave in (the same merges; on three blobs the tree mostly
grows a few clusters a row at a time, and 2,000 rows take about 0.6 times
the full scan's time).
No pass over the data is needed: the rows come from the initialisation sample.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .._kernels import _hier, _simd

# The merge costs' AVX2 loops (same bits as the baseline's) follow the kernels'
# target choice, so GMMX_DISABLE_CPU_FEATURES=AVX2 turns them off too.
_HC_AVX2 = _hier._set_simd(_simd.default_target() != "baseline")

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import NDArray

__all__ = [
    "HC_MAX_ROWS",
    "hc_vvv",
    "hierarchical_labels",
    "max_rows_for",
    "partition",
    "quantile_classes",
    "svd_transform",
]

#: Rows the agglomeration runs on (mclust's ``subset`` option).
HC_MAX_ROWS = 2000

_EPS = np.finfo(np.float64).eps


def svd_transform(X: NDArray[Any], sample_weight: NDArray[Any] | None = None) -> NDArray[Any]:
    """mclust's ``hcUse = "SVD"`` coordinates.

    Centre, scale every column to unit variance (``n - 1``), drop constant
    columns, rotate onto the right singular vectors ``V`` and divide each
    coordinate by the square root of its singular value:
    ``Z = scale(X) V diag(1 / sqrt(s))``.
    """
    X = np.asarray(X, dtype=np.float64)
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64)
    total = w.sum()
    mean = (w @ X) / total
    D = X - mean
    var = (w @ (D * D)) / max(total - 1.0, _EPS)
    keep = var > 0
    if not np.any(keep):
        return np.zeros((X.shape[0], 1))
    S = D[:, keep] / np.sqrt(var[keep])
    _, sv, Vt = np.linalg.svd(S * np.sqrt(w)[:, None], full_matrices=False)
    ok = sv > sv[0] * X.shape[1] * _EPS
    return (S @ Vt[ok].T) / np.sqrt(sv[ok])


def hc_vvv(Z: NDArray[Any], sample_weight: NDArray[Any] | None = None, alpha: float = 1.0, beta: float = 1.0) -> NDArray[Any]:
    """Agglomerative hierarchical clustering under mclust's VVV criterion.

    Parameters
    ----------
    Z : ndarray of shape (m, d)
        Rows to cluster (usually :func:`svd_transform` coordinates).
    sample_weight : ndarray of shape (m,), optional
        A row of weight ``w`` counts as ``w`` coincident rows.
    alpha, beta : float
        mclust's ``hcVVV`` arguments (``alpha`` is multiplied by the mean
        within-column variance of ``Z``).

    Returns
    -------
    merges : ndarray of shape (m - 1, 2), int
        Step ``s`` merges the cluster represented by row ``merges[s, 1]`` into
        the one represented by ``merges[s, 0] < merges[s, 1]`` (a cluster is
        represented by its lowest row).
    """
    Z = np.asarray(Z, dtype=np.float64)
    m, d = Z.shape
    w = np.ones(m) if sample_weight is None else np.asarray(sample_weight, np.float64)
    centred = Z - (w @ Z) / w.sum()
    alpha = max(alpha * float(w @ np.einsum("ij,ij->i", centred, centred)) / (w.sum() * d),
                _EPS)
    return _hier.hc_vvv_merges(np.ascontiguousarray(Z), np.ascontiguousarray(w), alpha,
                               float(beta))


def partition(merges: NDArray[Any], n_rows: int, n_clusters: int) -> NDArray[Any]:
    """Labels 0..K-1 (numbered by first appearance) of the tree cut at ``n_clusters``."""
    steps = np.asarray(merges)[: n_rows - n_clusters]
    a, b = steps[:, 0].astype(np.intp), steps[:, 1].astype(np.intp)
    parent = np.arange(n_rows)
    parent[b] = a
    if np.all(a < b) and np.count_nonzero(parent != np.arange(n_rows)) == b.size:
        # hc_vvv's trees: b joins a < b and is never merged again, so each
        # row's label is the root of its parent chain, the lowest row of its
        # cluster; labels numbered by first appearance = by root
        while True:
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up
        return (np.cumsum(parent == np.arange(n_rows)) - 1)[parent].astype(np.int32)
    labels = list(range(n_rows))
    # In reverse, a merged row takes the final label of the row it merged into.
    for i, j in reversed(steps.tolist()):
        labels[j] = labels[i]
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse].astype(np.int32)


def quantile_classes(x: NDArray[Any], n_classes: int, sample_weight: NDArray[Any] | None = None) -> NDArray[Any]:
    """mclust's ``qclass``: K classes of a 1-D sample between (unique) quantiles.

    Labels are 0..K-1 in increasing order of ``x``.
    """
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    k = int(n_classes)
    eps = np.std(x, ddof=1) * np.sqrt(_EPS) if x.size > 1 else 0.0
    q = np.empty(0)
    nq = k
    while q.size < k + 1:
        nq += 1
        probs = np.linspace(0.0, 1.0, nq)
        if sample_weight is None:
            q = np.unique(np.quantile(x, probs))
        else:
            q = np.unique(np.quantile(x, probs, weights=sample_weight, method="inverted_cdf"))
        if nq > x.size + k + 2:  # fewer distinct values than classes
            break
    if q.size > k + 1:
        drop = np.argsort(np.diff(q), kind="stable")[: q.size - k - 1]
        q = np.delete(q, drop)
    q[0] = x.min() - eps
    q[-1] = x.max() + eps
    return np.clip(np.searchsorted(q, x, side="right") - 1, 0, k - 1).astype(np.int32)


def max_rows_for(n_features: int, n_clusters: int = 1) -> int:
    """Rows the agglomeration uses: :data:`HC_MAX_ROWS`, fewer above 16 features.

    The tree costs ``O(m^2 d^3)``; from 17 features on ``m`` shrinks as
    ``HC_MAX_ROWS (16/d)^1.5`` (d = 32: 707 rows, d = 64: 250), never below
    ``max(200, 2 n_clusters)``.
    """
    d = int(n_features)
    if d <= 16:
        return HC_MAX_ROWS
    return min(HC_MAX_ROWS, max(int(HC_MAX_ROWS * (16.0 / d) ** 1.5), 200, 2 * int(n_clusters)))


def _sorted_distinct(x):
    """``np.unique(x)`` of an int array by a sort (np.unique took 0.25 ms on 2,000 values)."""
    s = np.sort(x)
    return s[np.concatenate(([True], s[1:] != s[:-1]))] if s.size else s


def _subsample(n, m, random_state):
    """``m`` distinct sorted row indices out of ``n`` in O(m) memory.

    The sorted distinct values of successive ``randint`` draws, topped up to
    ``m``; up to ``64 m`` rows a mask of ``n`` bytes gathers them (the same
    indices without a sort per draw).
    """
    if n <= 64 * m:
        seen = np.zeros(n, dtype=bool)
        seen[random_state.randint(0, n, m)] = True
        count = int(np.count_nonzero(seen))
        while count < m:
            seen[random_state.randint(0, n, m - count)] = True
            count = int(np.count_nonzero(seen))
        return np.flatnonzero(seen)
    idx = _sorted_distinct(random_state.randint(0, n, m))
    while idx.size < m:
        idx = _sorted_distinct(np.concatenate([idx, random_state.randint(0, n, m - idx.size)]))
    return idx


def hierarchical_labels(X: NDArray[Any], sample_weight: NDArray[Any] | None, n_clusters: int, random_state: Any, max_rows: int | None = None,
                        cache: Any = None) -> tuple[NDArray[Any] | None, NDArray[Any]]:
    """The starting partition of ``init_params="hierarchical"``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    sample_weight : ndarray of shape (n,) or None
    n_clusters : int
    random_state : numpy RandomState
        Draws the subset when ``n > max_rows``.
    max_rows : int, optional
        Default :func:`max_rows_for` the data's width.
    cache : dict, optional
        Shared by models fitted to the same rows (model selection): the tree
        is built once and cut at every K.

    Returns
    -------
    rows : ndarray of int or None
        The subset's row indices (None: all rows).
    labels : ndarray of shape (len(rows) or n,), int32
    """
    n = X.shape[0]
    max_rows = max_rows_for(X.shape[1], n_clusters) if max_rows is None else int(max_rows)
    rows = _subsample(n, max_rows, random_state) if n > max_rows else None
    Xs = X if rows is None else X[rows]
    ws = None if sample_weight is None else (sample_weight if rows is None
                                             else sample_weight[rows])
    if X.shape[1] == 1:
        return rows, quantile_classes(Xs[:, 0], n_clusters, ws)
    key = ("hc", X.shape, None if rows is None else rows.tobytes())
    merges = None if cache is None else cache.get(key)
    if merges is None:
        if ws is not None:
            keep = ws > 0
            if not np.all(keep):  # zero-weight rows join nothing; label them afterwards
                ws = ws.copy()
                ws[~keep] = _EPS * ws.max()
        merges = hc_vvv(svd_transform(Xs, ws), ws)
        if cache is not None:
            cache[key] = merges
    return rows, partition(merges, Xs.shape[0], n_clusters)
