"""gmmx's native k-means used for initialisation."""

import numpy as np
import pytest

from conftest import blobs_at
from gmmx.core.init import initial_parameters, kmeans, kmeans_plusplus

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
