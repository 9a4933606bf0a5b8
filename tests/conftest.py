import numpy as np
import pytest
from scipy.special import logsumexp


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


def random_model(rng, k, d, covariance_type):
    """Random (weights, means, covariances, full covariances (k, d, d))."""
    means = rng.normal(size=(k, d))
    weights = rng.dirichlet(np.ones(k))
    if covariance_type == "full":
        A = rng.normal(size=(k, d, d))
        cov = A @ A.transpose(0, 2, 1) / d + np.eye(d)
        full = cov
    elif covariance_type == "tied":
        A = rng.normal(size=(d, d))
        cov = A @ A.T / d + np.eye(d)
        full = np.broadcast_to(cov, (k, d, d))
    elif covariance_type == "diag":
        cov = rng.uniform(0.5, 2.0, (k, d))
        full = np.array([np.diag(c) for c in cov])
    else:
        cov = rng.uniform(0.5, 2.0, k)
        full = np.array([np.eye(d) * c for c in cov])
    return weights, means, cov, full


def brute_force_log_densities(X, weights, means, full):
    """``log w_k + log N(x_i | mu_k, full_k)``, shape (n, k), by explicit inverses."""
    n, d = X.shape
    k = len(weights)
    lp = np.empty((n, k))
    for j in range(k):
        diff = X - means[j]
        P = np.linalg.inv(full[j])
        lp[:, j] = (np.log(weights[j]) - 0.5 * np.einsum("ij,jk,ik->i", diff, P, diff)
                    - 0.5 * np.linalg.slogdet(2 * np.pi * full[j])[1])
    return lp


def brute_force_stats(X, r, centers):
    """``(nk, sk, Mk)`` of weighted responsibilities ``r`` (n, k) about ``centers``."""
    k = r.shape[1]
    nk = r.sum(0)
    sk = np.array([r[:, j] @ (X - centers[j]) for j in range(k)])
    Mk = np.array([(r[:, j, None] * (X - centers[j])).T @ (X - centers[j]) for j in range(k)])
    return nk, sk, Mk


def brute_force_estep(X, w, weights, means, full):
    """``(log p(x_i), resp, nk, sk, Mk, log-likelihood)`` with sample weights ``w``."""
    lp = brute_force_log_densities(X, weights, means, full)
    norm = logsumexp(lp, axis=1)
    resp = np.exp(lp - norm[:, None])
    nk, sk, Mk = brute_force_stats(X, resp * w[:, None], means)
    return norm, resp, nk, sk, Mk, float(w @ norm)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def random_hmm(rng, k, d, covariance_type, stay=0.8):
    """Random sticky HMM parameters ``(startprob, transmat, means, covars)``
    (``covars`` in the covariance type's own shape)."""
    startprob = rng.dirichlet(np.ones(k) * 3)
    transmat = rng.dirichlet(np.ones(k), size=k) * (1 - stay) + stay * np.eye(k)
    _, means, covars, _ = random_model(rng, k, d, covariance_type)
    return startprob, transmat, means * 2.0, covars


def brute_force_hmm(lp, startprob, transmat, w=None):
    """Log-space forward-backward of one sequence with emissions ``w_t * lp_t``:
    ``(log p, gamma (n, k), xi sum (k, k), filtered (n, k))``."""
    lw = lp if w is None else lp * np.asarray(w)[:, None]
    n, k = lw.shape
    with np.errstate(divide="ignore"):
        logA, logpi = np.log(transmat), np.log(startprob)
    fwd, bwd = np.empty((n, k)), np.zeros((n, k))
    fwd[0] = logpi + lw[0]
    for t in range(1, n):
        fwd[t] = logsumexp(fwd[t - 1][:, None] + logA, axis=0) + lw[t]
    ll = logsumexp(fwd[-1])
    for t in range(n - 2, -1, -1):
        bwd[t] = logsumexp(logA + lw[t + 1] + bwd[t + 1], axis=1)
    gamma = np.exp(fwd + bwd - ll)
    xi = np.zeros((k, k))
    for t in range(n - 1):
        xi += np.exp(fwd[t][:, None] + logA + lw[t + 1] + bwd[t + 1] - ll)
    filtered = np.exp(fwd - logsumexp(fwd, axis=1, keepdims=True))
    return ll, gamma, xi, filtered
