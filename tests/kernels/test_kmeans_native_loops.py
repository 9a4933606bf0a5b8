"""The k-means kernels' vectorised distance loops (8 centres at a time, 4 rows at
a time) and the gathered per-label scatter, against plain numpy.

Each squared distance must be 0 + z_0^2 + z_1^2 + ... added in feature order
(z = (x - c) scale), as the one-row-at-a-time loop adds it, so labels and
distances are compared exactly with numpy doing that same sum column by column.
"""

import numpy as np
import pytest

from conftest import brute_force_stats
from gmmx._kernels import _kmeans

EMPTY = np.empty(0)


def _data(n, d, k, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed + 100 * d + k)
    X = (rng.normal(size=(n, d)) + rng.integers(0, 4, (n, 1)) * 2.5).astype(dtype)
    centers = np.ascontiguousarray(X[rng.choice(n, k, replace=False)], dtype=np.float64)
    centers += rng.normal(scale=0.2, size=centers.shape)
    return X, centers


def _ordered_sq_distances(X, centers, scale=1.0):
    """(n, K) squared distances summed feature by feature, left to right."""
    X64 = X.astype(np.float64)
    acc = np.zeros((X.shape[0], centers.shape[0]))
    for j in range(X.shape[1]):
        z = (X64[:, j, None] - centers[None, :, j]) * scale
        acc = acc + z * z
    return acc


def _first_argmin(dist):
    """Nearest centre, the first on ties (strict < scanning the centres in order)."""
    return np.argmin(dist, axis=1)


SHAPES = [(2, 1), (3, 3), (5, 8), (16, 8), (7, 9), (16, 17), (4, 24)]  # (d, K)


@pytest.mark.parametrize("d,k", SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", [1.0, 0.25])
def test_lloyd_labels_and_distances_equal_the_ordered_sum(d, k, dtype, scale):
    X, centers = _data(1303, d, k, dtype)   # not a multiple of 4, 64 or 512 rows
    labels = np.empty(X.shape[0], dtype=np.int32)
    dist = np.empty(X.shape[0])
    _kmeans.lloyd_iter(X, EMPTY, centers, labels, dist, 2, scale)
    ref = _ordered_sq_distances(X, centers, scale)
    np.testing.assert_array_equal(labels, _first_argmin(ref))
    np.testing.assert_array_equal(dist, ref[np.arange(X.shape[0]), labels])


@pytest.mark.parametrize("d,k", SHAPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_labelled_stats_labels_equal_the_ordered_sum(d, k, dtype):
    X, centers = _data(2051, d, k, dtype)
    labels = np.empty(X.shape[0], dtype=np.int32)
    _kmeans.labelled_stats(X, EMPTY, centers, labels, True, True, 2)
    np.testing.assert_array_equal(labels, _first_argmin(_ordered_sq_distances(X, centers)))


def test_ties_go_to_the_first_centre():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0], [5.0, 5.0]])
    # centres 1 and 3 coincide, as do 0 and 9 (in the second block of 8)
    centers = np.array([[5.0, 5.0], [1.0, 1.0], [9.0, 9.0], [1.0, 1.0], [7.0, 7.0],
                        [8.0, 8.0], [9.0, 9.0], [9.0, 9.0], [9.0, 9.0], [5.0, 5.0]])
    labels = np.empty(5, dtype=np.int32)
    _kmeans.lloyd_iter(X, EMPTY, centers, labels, np.empty(5), 1)
    # (3, 3) is 8 from both (5, 5) and (1, 1): centre 0 comes first
    np.testing.assert_array_equal(labels, [1, 1, 1, 0, 0])


@pytest.mark.parametrize("d,t", [(1, 2), (3, 4), (16, 5), (9, 11)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_candidate_potentials_equal_numpy(d, t, dtype):
    X, cand = _data(3001, d, t, dtype)
    rng = np.random.default_rng(7)
    w = rng.uniform(0.0, 2.0, X.shape[0])
    closest = np.min(_ordered_sq_distances(X, cand[:1] + 1.0), axis=1)
    pots = _kmeans.candidate_potentials(X, w, cand, closest, 2)
    ref = w @ np.minimum(_ordered_sq_distances(X, cand), closest[:, None])
    np.testing.assert_allclose(pots, ref, rtol=1e-12)


# d == 1: per-label compaction (K <= 8) or gathering by counts (K > 8)
@pytest.mark.parametrize("d,k", [(1, 2), (1, 8), (1, 9), (2, 3), (5, 8), (16, 8), (7, 9), (16, 17)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("full", [True, False])
def test_gathered_scatter_matches_brute_force(d, k, weighted, dtype, full):
    X, centers = _data(5003, d, k, dtype)
    rng = np.random.default_rng(3)
    w = rng.uniform(0.0, 3.0, X.shape[0]) if weighted else None
    labels = np.empty(X.shape[0], dtype=np.int32)
    nk, sk, Mk = _kmeans.labelled_stats(X, EMPTY if w is None else w, centers, labels,
                                        True, full, 2)
    r = np.zeros((X.shape[0], k))
    r[np.arange(X.shape[0]), labels] = 1.0 if w is None else w
    ref_nk, ref_sk, ref_Mk = brute_force_stats(X.astype(np.float64), r, centers)
    np.testing.assert_allclose(nk, ref_nk, rtol=1e-12)
    np.testing.assert_allclose(sk, ref_sk, rtol=1e-10, atol=1e-9)
    expected = ref_Mk if full else np.array([np.diag(m) for m in ref_Mk])
    np.testing.assert_allclose(Mk, expected, rtol=1e-10, atol=1e-9)
    if full:
        np.testing.assert_array_equal(Mk, Mk.transpose(0, 2, 1))


@pytest.mark.parametrize("d,k", [(1, 3), (1, 9), (6, 9)])
def test_given_labels_out_of_range_are_left_out_of_every_statistic(d, k):
    X, centers = _data(1500, d, k)
    labels = np.random.default_rng(2).integers(-2, k + 2, X.shape[0]).astype(np.int32)
    nk, sk, Mk = _kmeans.labelled_stats(X, EMPTY, centers, labels.copy(), False, True, 2)
    r = np.zeros((X.shape[0], k))
    keep = (labels >= 0) & (labels < k)
    r[np.flatnonzero(keep), labels[keep]] = 1.0
    ref_nk, ref_sk, ref_Mk = brute_force_stats(X, r, centers)
    np.testing.assert_array_equal(nk, ref_nk)
    np.testing.assert_allclose(sk, ref_sk, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(Mk, ref_Mk, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("d,k", [(16, 9), (1, 3)])
def test_every_kernel_bit_identical_for_any_thread_count(dtype, weighted, d, k):
    X, centers = _data(70_001, d, k + 4, dtype)   # 137 chunks in 64 groups
    centers = centers[:k]
    w = np.random.default_rng(4).uniform(0, 2, X.shape[0]) if weighted else EMPTY
    closest = np.min(_ordered_sq_distances(X, centers[:2]), axis=1)
    out = []
    for n_threads in (1, 2, 3):
        labels = np.empty(X.shape[0], dtype=np.int32)
        dist = np.empty(X.shape[0])
        lloyd = _kmeans.lloyd_iter(X, w, centers, labels, dist, n_threads)
        labels2 = np.empty(X.shape[0], dtype=np.int32)
        full = _kmeans.labelled_stats(X, w, centers, labels2, True, True, n_threads)
        diag = _kmeans.labelled_stats(X, w, centers, labels2, True, False, n_threads)
        pots = _kmeans.candidate_potentials(X, w, centers[2:], closest, n_threads)
        out.append((labels, dist, *lloyd[:2], np.array(lloyd[2]), *full, *diag, labels2, pots))
    for other in out[1:]:
        for a, b in zip(out[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("X", [
    np.random.default_rng(0).normal(size=(1001, 7)) * 1e5,
    np.random.default_rng(1).normal(size=(50, 3)).astype(np.float32),
    np.array([[1.0, np.inf], [2.0, 3.0]]),
    np.array([[-np.inf], [np.inf]]),
    np.array([[4.0, -1.0]]),
], ids=["f64", "f32", "inf", "both-inf", "one-row"])
def test_column_spread_equals_numpy(X):
    ref = float(np.max(np.max(X, axis=0).astype(np.float64) - np.min(X, axis=0)))
    assert _kmeans.column_spread(X) == ref


@pytest.mark.parametrize("X", [np.array([[1.0, np.nan], [2.0, 3.0]]),
                               np.array([[np.inf, 1.0], [np.inf, 2.0]])])
def test_column_spread_is_nan_where_numpy_is(X):
    with np.errstate(invalid="ignore"):
        assert np.isnan(np.max(np.max(X, axis=0) - np.min(X, axis=0)))
    assert np.isnan(_kmeans.column_spread(X))


def test_distance_scale_same_for_any_layout():
    from gmmx.core.init import distance_scale
    X = np.random.default_rng(5).normal(size=(300, 4)) * 1e150
    assert distance_scale(X) == distance_scale(np.asfortranarray(X)) == 2.0 ** -np.frexp(
        float(np.ptp(X, axis=0).max()))[1]
