"""gmmx's native k-means used for initialisation."""

import numpy as np
import pytest

from conftest import blobs_at
from gmmx.core.init import initial_parameters, kmeans, kmeans_plusplus, stats_from_labels

sklearn = pytest.importorskip("sklearn")

CORNERS = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])


def _data(seed=0):
    return blobs_at(CORNERS, 4000, seed)


def test_kmeans_matches_sklearn_inertia():
    from sklearn.cluster import KMeans

    X, _, _ = _data()
    centers, labels = kmeans(X, None, 4, np.random.RandomState(0), n_threads=2)
    ref = KMeans(4, n_init=1, random_state=0).fit(X)
    inertia = ((X - centers[labels]) ** 2).sum()
    assert inertia == pytest.approx(ref.inertia_, rel=1e-6)
    # labels are the nearest centres
    d2 = ((X[:, None, :] - centers[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(labels, d2.argmin(1))


def test_kmeans_plusplus_picks_spread_seeds():
    X, _, _ = _data(1)
    centers, idx = kmeans_plusplus(X, None, 4, np.random.RandomState(0))
    np.testing.assert_array_equal(centers, X[idx])
    dists = np.linalg.norm(centers[:, None] - centers[None], axis=-1)
    assert dists[np.triu_indices(4, 1)].min() > 5.0


def test_weighted_kmeans_ignores_zero_weight_rows():
    X, _, _ = _data(2)
    w = np.ones(len(X))
    X = np.vstack([X, np.full((50, 2), 1e4)])
    w = np.r_[w, np.zeros(50)]
    centers, _ = kmeans(X, w, 4, np.random.RandomState(0))
    assert np.abs(centers).max() < 20


def test_initial_parameters_cover_all_rows_beyond_the_kmeans_sample(monkeypatch):
    import gmmx.core.init as init

    monkeypatch.setattr(init, "KMEANS_MAX_ROWS", 500)
    X, labels, centers = _data(3)
    w, mu, cov, pc = initial_parameters(X, None, 4, "full", "kmeans", 1e-6,
                                        np.random.RandomState(0))
    order = [int(np.argmin(np.linalg.norm(mu - c, axis=1))) for c in centers]
    np.testing.assert_allclose(mu[order], centers, atol=0.15)
    np.testing.assert_allclose(w.sum(), 1.0)
    assert np.all(np.isfinite(cov))


def _nearest(X, centers):
    return ((X.astype(np.float64)[:, None, :] - centers[None]) ** 2).sum(-1).argmin(1)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weights", [None, "uniform", "huge"])
def test_kmeans_start_is_the_m_step_of_the_nearest_centre_partition_of_all_rows(
        monkeypatch, covariance_type, dtype, weights):
    import gmmx.core.init as init
    from gmmx.core.mstep import m_step

    monkeypatch.setattr(init, "KMEANS_MIN_ROWS", 700)  # a subset of the 16,000 rows
    seen = []
    best = init.best_kmeans_centers
    monkeypatch.setattr(init, "best_kmeans_centers",
                        lambda *a, **k: seen.append(best(*a, **k)) or seen[-1])
    X, _, _ = _data(4)
    X = X.astype(dtype)
    rng = np.random.default_rng(0)
    w = None if weights is None else rng.uniform(0.1, 2.0, len(X))
    if weights == "huge":
        w *= 1e307  # sums overflow unless rescaled (exactly, by a power of two)
    got = initial_parameters(X, w, 4, covariance_type, "kmeans", 1e-6, np.random.RandomState(0))
    (centers,) = seen
    assert len(centers) == 4
    w_ref = None if w is None else init._relative_weights(w)
    ref = m_step(stats_from_labels(X, w_ref, _nearest(X, centers), 4, covariance_type), 1e-6)
    for a, b in zip(got, ref):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_kmeans_sample_size():
    from gmmx.core.init import KMEANS_MAX_ROWS, KMEANS_MIN_ROWS, kmeans_sample_size

    assert kmeans_sample_size(500, 3) == 500
    assert kmeans_sample_size(10**7, 2) == KMEANS_MIN_ROWS
    assert kmeans_sample_size(10**7, 64) == 64_000
    assert kmeans_sample_size(10**7, 10**4) == KMEANS_MAX_ROWS


def test_best_of_several_kmeans_runs_has_the_lowest_inertia():
    from gmmx.core.init import best_kmeans_centers, kmeans_centers

    X, _, _ = _data(5)
    rs = np.random.RandomState(0)
    runs = [kmeans_centers(X, None, 4, rs) for _ in range(3)]
    inertia = [float(((X - c[_nearest(X, c)]) ** 2).sum()) for c in runs]
    best = best_kmeans_centers(X, None, 4, np.random.RandomState(0), n_init=3)
    np.testing.assert_array_equal(best, runs[int(np.argmin(inertia))])


@pytest.mark.parametrize("scheme", ["k-means++", "random_from_data"])
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_one_row_starts_equal_the_numpy_statistics_of_those_rows(scheme, covariance_type):
    from gmmx.core.init import _relative_weights
    from gmmx.core.mstep import m_step

    X, _, _ = _data(6)
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(X))
    got = initial_parameters(X, w, 4, covariance_type, scheme, 1e-3, np.random.RandomState(0))
    rs, wr = np.random.RandomState(0), _relative_weights(w)
    if scheme == "k-means++":
        _, idx = kmeans_plusplus(X, wr, 4, rs)
    else:
        idx = rs.choice(len(X), size=4, replace=False)
    labels = np.full(len(X), -1)
    labels[idx] = np.arange(4)
    st = stats_from_labels(X, np.where(labels >= 0, wr, 0.0), labels, 4, covariance_type)
    st.weight_sum = float(wr.sum())
    for a, b in zip(got, m_step(st, 1e-3)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
