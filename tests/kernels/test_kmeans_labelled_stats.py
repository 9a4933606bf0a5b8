"""_kmeans.labelled_stats (the k-means initialisation's one pass over all rows)
against brute-force numpy and gmmx.core.init.stats_from_labels."""

import numpy as np
import pytest

from conftest import brute_force_stats
from gmmx._kernels import _kmeans
from gmmx.core.init import (distance_scale, given_label_stats, nearest_center_stats,
                            stats_from_labels)

COV_TYPES = ["full", "tied", "diag", "spherical"]
EMPTY = np.empty(0)


def _data(n, d, k, dtype=np.float64, weighted=False, seed=0):
    rng = np.random.default_rng(seed + 10 * d + k)
    X = (rng.normal(size=(n, d)) * 2.0 + rng.integers(0, 3, (n, 1)) * 3.0).astype(dtype)
    centers = np.ascontiguousarray(X[rng.choice(n, k, replace=False)], dtype=np.float64)
    centers += rng.normal(scale=0.1, size=centers.shape)
    w = rng.uniform(0.0, 3.0, n) if weighted else None
    return X, w, centers


def _nearest(X, centers):
    return ((X.astype(np.float64)[:, None, :] - centers[None]) ** 2).sum(-1).argmin(1)


def _one_hot(labels, k, w):
    r = np.zeros((labels.shape[0], k))
    keep = labels >= 0
    r[np.flatnonzero(keep), labels[keep]] = 1.0
    return r if w is None else r * w[:, None]


def _assert_same_stats(st, ref, X):
    """Equal to rounding: s_k of a label's own mean is 0 up to that of its sums."""
    size = float(np.abs(X).max())
    atol = {"centers": 1e-12 * size, "nk": 0.0, "sk": 1e-12 * size * ref.weight_sum,
            "Mk": 1e-10 * float(np.abs(ref.Mk).max())}
    for name, tol in atol.items():
        np.testing.assert_allclose(getattr(st, name), getattr(ref, name), rtol=1e-10,
                                   atol=tol, err_msg=name)


@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("full", [True, False])
def test_raw_sums_match_brute_force(d, weighted, dtype, full):
    X, w, centers = _data(3001, d, 4, dtype, weighted)
    labels = np.empty(X.shape[0], dtype=np.int32)
    nk, sk, Mk = _kmeans.labelled_stats(X, EMPTY if w is None else w, centers, labels,
                                        True, full, 2)
    np.testing.assert_array_equal(labels, _nearest(X, centers))
    ref_nk, ref_sk, ref_Mk = brute_force_stats(X.astype(np.float64), _one_hot(labels, 4, w),
                                               centers)
    np.testing.assert_allclose(nk, ref_nk, rtol=1e-12)
    np.testing.assert_allclose(sk, ref_sk, rtol=1e-10, atol=1e-9)
    expected = ref_Mk if full else np.array([np.diag(m) for m in ref_Mk])
    np.testing.assert_allclose(Mk, expected, rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nearest_center_stats_equal_stats_from_labels(covariance_type, d, weighted, dtype):
    X, w, centers = _data(2500, d, 3, dtype, weighted)
    st = nearest_center_stats(X, w, centers, covariance_type, n_threads=2)
    ref = stats_from_labels(X, w, _nearest(X, centers), 3, covariance_type)
    _assert_same_stats(st, ref, X)
    assert st.weight_sum == pytest.approx(ref.weight_sum, rel=1e-12)
    assert st.n_samples == ref.n_samples


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_empty_label_is_centred_at_the_data_mean_like_stats_from_labels(covariance_type):
    X, w, centers = _data(1000, 2, 3, weighted=True)
    centers[2] = 1e6  # nearest to no row
    st = nearest_center_stats(X, w, centers, covariance_type)
    ref = stats_from_labels(X, w, _nearest(X, centers), 3, covariance_type)
    assert st.nk[2] == 0
    _assert_same_stats(st, ref, X)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("d", [1, 3])
def test_given_labels_leave_out_negative_ones(covariance_type, d):
    X, w, _ = _data(2000, d, 3, weighted=True)
    rng = np.random.default_rng(1)
    labels = rng.integers(-1, 3, X.shape[0])
    means = np.array([np.average(X[labels == k], axis=0, weights=w[labels == k])
                      for k in range(3)])
    st = given_label_stats(X, w, means + 0.3, labels, covariance_type)
    ref = stats_from_labels(X, np.where(labels >= 0, w, 0.0), labels, 3, covariance_type)
    _assert_same_stats(st, ref, X)


@pytest.mark.parametrize("d", [1, 5])
@pytest.mark.parametrize("full", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_bit_identical_for_any_thread_count(d, full, weighted):
    X, w, centers = _data(70_000, d, 5, weighted=weighted)  # 137 chunks in 64 groups
    out = []
    for n_threads in (1, 2, 3, 8):
        labels = np.empty(X.shape[0], dtype=np.int32)
        out.append(_kmeans.labelled_stats(X, EMPTY if w is None else w, centers, labels,
                                          True, full, n_threads) + (labels,))
    for other in out[1:]:
        for a, b in zip(out[0], other):
            np.testing.assert_array_equal(a, b)


def test_labels_at_extreme_scales_are_the_nearest_centres():
    rng = np.random.default_rng(3)
    for factor in (1e-200, 1e160):
        for d in (1, 2):
            X = rng.normal(size=(600, d)) * factor
            centers = np.ascontiguousarray(X[:3])
            labels = np.empty(600, dtype=np.int32)
            _kmeans.labelled_stats(X, EMPTY, centers, labels, True, False, 2,
                                   distance_scale(X))
            np.testing.assert_array_equal(labels, _nearest(X / factor, centers / factor))


def test_mismatched_shapes_are_refused():
    X, _, centers = _data(100, 2, 3)
    with pytest.raises(ValueError, match="do not match"):
        _kmeans.labelled_stats(X, EMPTY, centers, np.empty(99, dtype=np.int32), True, False, 1)
    with pytest.raises(ValueError, match="do not match"):
        _kmeans.labelled_stats(X, np.ones(5), centers, np.empty(100, dtype=np.int32), True,
                               False, 1)
