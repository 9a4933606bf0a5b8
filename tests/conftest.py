import numpy as np
import pytest


def blobs(n, d, k, seed=0, scale=4.0, dtype=np.float64):
    """Well-separated Gaussian blobs: (X, labels, centres)."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=scale, size=(k, d))
    labels = rng.integers(0, k, n)
    X = centers[labels] + rng.normal(size=(n, d))
    return X.astype(dtype), labels, centers


def init_params(X, k, covariance_type, seed=0):
    """Deterministic initial weights, means and precisions for a model."""
    rng = np.random.default_rng(seed)
    n, d = X.shape
    weights = rng.dirichlet(np.ones(k) * 5)
    means = X[rng.choice(n, k, replace=False)].astype(np.float64)
    if covariance_type == "full":
        precisions = np.array([np.eye(d) * rng.uniform(0.5, 2.0) for _ in range(k)])
    elif covariance_type == "tied":
        precisions = np.eye(d) * 0.8
    elif covariance_type == "diag":
        precisions = rng.uniform(0.5, 2.0, (k, d))
    else:
        precisions = rng.uniform(0.5, 2.0, k)
    return dict(weights_init=weights, means_init=means, precisions_init=precisions)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
