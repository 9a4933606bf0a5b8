"""The flat statistics vector of the E-step kernel: its one Python owner.

``_estep.estep`` and ``_estep.stats_given_resp`` return one float64 vector per
block of rows, in one of two layouts (K components, d features):

``KIND_DIAG`` (diag, spherical, and every model with d == 1)
    ``[n (K) | s (K, d) | M (K, d) | ll | W]``, centred at the means:
    ``n_k = sum_i r_ik``, ``s_kj = sum_i r_ik (x_ij - mu_kj)``,
    ``M_kj = sum_i r_ik (x_ij - mu_kj)^2``; or, when the kernel was given a
    reference point ``ref`` (d > 1, the GEMM formulation), the same about
    ``ref``: ``s_kj = sum_i r_ik (x_ij - ref_j)`` and so on. The caller
    recentres them at the means.

``KIND_FULL`` (full and tied with d > 1)
    ``[n (K) | G | ll | W]`` with ``G`` column-major of shape
    ``(K*d, d+1)``, taken about the reference point ``ref`` (the mixture
    mean) with ``x' = x - ref``: ``G[:, :d]`` stacks ``sum_i r_ik x'_i x'_i^T``
    per component and ``G[:, d]`` stacks ``sum_i r_ik x'_i``. The caller
    recentres them at the means.  Tied models (one precision block,
    ``_estep.tied_pooled``): component 0's rows of ``G[:, :d]`` hold the
    pooled ``sum_i (sum_k r_ik) x'_i x'_i^T`` and the other components' are
    0 (only the sum over components is used).

In both, ``r_ik`` includes the sample weight, ``ll = sum_i w_i log p(x_i)``
(0 for ``stats_given_resp``) and ``W = sum_i w_i`` (n without weights).
The Cython ``_estep.stats_size`` gives the same length as :func:`stats_size`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._estep import KIND_DIAG, KIND_FULL

__all__ = ["KIND_DIAG", "KIND_FULL", "FlatStats", "stats_size", "unpack"]


class FlatStats(NamedTuple):
    """The flat vector decoded into plain float64 arrays (copies).

    ``s`` is (K, d); ``M`` is (K, d, d) about ``ref`` (``KIND_FULL``,
    symmetrised) or (K, d) about the means or ``ref`` (``KIND_DIAG``).
    """

    nk: np.ndarray
    s: np.ndarray
    M: np.ndarray
    log_likelihood: float
    weight_sum: float


def stats_size(n_features, n_components, kind):
    """Length of the flat statistics vector for this layout."""
    d, K = int(n_features), int(n_components)
    if kind not in (KIND_FULL, KIND_DIAG):
        raise ValueError(f"unknown kernel kind {kind}")
    if kind == KIND_FULL:
        return K + K * d * (d + 1) + 2
    return K + 2 * K * d + 2


def unpack(flat, n_components, n_features, kind):
    """Decode a flat statistics vector into a :class:`FlatStats`."""
    K, d = int(n_components), int(n_features)
    flat = np.asarray(flat, dtype=np.float64)
    if flat.shape != (stats_size(d, K, kind),):
        raise ValueError(
            f"flat statistics must have {stats_size(d, K, kind)} entries for "
            f"K={K}, d={d}, kind={kind}, got shape {flat.shape}"
        )
    nk = flat[:K].copy()
    if kind == KIND_FULL:
        G = flat[K:K + K * d * (d + 1)].reshape(d + 1, K * d)
        s = G[d].reshape(K, d).copy()
        M = G[:d].reshape(d, K, d).transpose(1, 2, 0)
        M = 0.5 * (M + M.transpose(0, 2, 1))
        tail = K + K * d * (d + 1)
    else:
        s = flat[K:K + K * d].reshape(K, d).copy()
        M = flat[K + K * d:K + 2 * K * d].reshape(K, d).copy()
        tail = K + 2 * K * d
    return FlatStats(nk, s, M, float(flat[tail]), float(flat[tail + 1]))
