"""The native pass over rows with missing entries (gmmx._kernels._missing).

Checked against brute force (scipy's marginal densities and the textbook
expected complete-data statistics, row by row) and against the per-pattern
reference path of MissingEStep; results must not depend on the thread count.
"""

import numpy as np
import pytest
from scipy.special import logsumexp

from conftest import (GaussianMixture, blobs, brute_force_marginal_log_densities,
                      random_model, scatter_in_use, with_missing)
from gmmx.core import kernel, missing


def _precisions_cholesky(cov_type, cov):
    """scikit-learn's upper factors: precision = U U^T, U = inv(cholesky(cov))^T."""
    if cov_type == "full":
        return np.array([np.linalg.inv(np.linalg.cholesky(c)).T for c in cov])
    if cov_type == "tied":
        return np.linalg.inv(np.linalg.cholesky(cov)).T
    return 1.0 / np.sqrt(cov)


def _step(cov, K=3, d=5, seed=0):
    rng = np.random.default_rng(seed)
    weights, means, covariances, full = random_model(rng, K, d, cov)
    means = means * 3
    kp = kernel.kernel_params(weights, means, _precisions_cholesky(cov, covariances), cov)
    return missing.MissingEStep(kp), weights, means, np.array(full)


def _full_covariances(full, K):
    full = np.asarray(full)
    return full if full.ndim == 3 and full.shape[0] == K else np.broadcast_to(full, (K,) + full.shape[-2:])


def _brute_stats(X, w, weights, means, full):
    """Expected complete-data statistics about the means, row by row."""
    K, d = means.shape
    lp = brute_force_marginal_log_densities(X, weights, means, full)
    r = np.exp(lp - logsumexp(lp, axis=1, keepdims=True))
    nk, sk, Mk = np.zeros(K), np.zeros((K, d)), np.zeros((K, d, d))
    for i, x in enumerate(X):
        m = np.isnan(x)
        o = ~m
        for k in range(K):
            S = full[k]
            e = np.where(m, 0.0, x - means[k])
            C = np.zeros((d, d))
            if m.any():
                Bk = S[np.ix_(m, o)] @ np.linalg.inv(S[np.ix_(o, o)])
                e[m] = Bk @ (x[o] - means[k][o])
                C[np.ix_(m, m)] = S[np.ix_(m, m)] - Bk @ S[np.ix_(o, m)]
            wr = w[i] * r[i, k]
            nk[k] += wr
            sk[k] += wr * e
            Mk[k] += wr * (np.outer(e, e) + C)
    return nk, sk, Mk, float(np.dot(w, logsumexp(lp, axis=1)))


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_native_pass_equals_brute_force(cov):
    step, weights, means, full = _step(cov)
    K, d = means.shape
    full = _full_covariances(full, K)
    X = with_missing(blobs(300, d, K, seed=2)[0], frac=0.3, seed=3)
    w = np.random.default_rng(4).random(len(X)) + 0.5
    st = step.accumulate(X, w, 2)
    nk, sk, Mk, ll = _brute_stats(X, w, weights, means, full)
    if cov in ("diag", "spherical"):
        Mk = np.diagonal(Mk, axis1=1, axis2=2)
    np.testing.assert_allclose(st.nk, nk, rtol=1e-10)
    np.testing.assert_allclose(st.sk, sk, rtol=1e-9, atol=1e-9 * np.abs(sk).max())
    Mk = scatter_in_use(Mk, cov)
    np.testing.assert_allclose(scatter_in_use(st.Mk, cov), Mk, rtol=1e-9,
                               atol=1e-9 * np.abs(Mk).max())
    assert st.log_likelihood == pytest.approx(ll, rel=1e-11)
    lp = brute_force_marginal_log_densities(X, weights, means, full)
    np.testing.assert_allclose(step.log_densities(X, 2), lp, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(step.log_prob_norm(X, 2), logsumexp(lp, axis=1), rtol=1e-11)
    np.testing.assert_allclose(step.responsibilities(X, 2),
                               np.exp(lp - logsumexp(lp, axis=1, keepdims=True)), atol=1e-12)


@pytest.mark.parametrize("route", ["counting sort", "sort of the masks"])
@pytest.mark.parametrize("cov", ["full", "diag"])
def test_native_pass_matches_reference_path(cov, route, monkeypatch):
    step, *_ = _step(cov, K=4, d=6, seed=5)
    X = with_missing(blobs(2500, 6, 4, seed=6)[0], frac=0.25, seed=7)
    w = np.random.default_rng(8).random(len(X)) + 0.5
    resp = np.random.default_rng(9).dirichlet(np.ones(4), len(X))
    if route != "counting sort":
        monkeypatch.setattr(missing, "_COUNTING_MAX_FEATURES", 0)
    monkeypatch.setattr(missing, "_SLICE_BYTES", 1024 * 6 * 8)  # three slices, buffers reused
    fast = [step.accumulate(X, w, 2), step.accumulate_resp(X, w, resp, 2)]
    per_row = [step.log_prob_norm(X, 2), step.responsibilities(X, 2), step.log_densities(X, 2)]
    monkeypatch.setattr(missing, "_slices", lambda X: None)  # the reference path
    ref = [step.accumulate(X, w, 2), step.accumulate_resp(X, w, resp, 2)]
    for a, b in zip(fast, ref):
        for f in ("nk", "sk", "Mk"):
            np.testing.assert_allclose(getattr(a, f), getattr(b, f), rtol=1e-10,
                                       atol=1e-10 * np.abs(getattr(b, f)).max())
        assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=1e-12, abs=1e-12)
        assert (a.weight_sum, a.n_samples) == pytest.approx((b.weight_sum, b.n_samples))
    ref = [step.log_prob_norm(X, 2), step.responsibilities(X, 2), step.log_densities(X, 2)]
    for a, b in zip(per_row, ref):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)


def test_same_bits_for_any_thread_count_and_any_row_order():
    step, *_ = _step("full", K=3, d=5, seed=10)
    X = with_missing(blobs(40_000, 5, 3, seed=11)[0], frac=0.2, seed=12)
    one, two = step.accumulate(X, None, 1), step.accumulate(X, None, 2)
    for f in ("nk", "sk", "Mk"):
        assert np.array_equal(getattr(one, f), getattr(two, f))
    assert one.log_likelihood == two.log_likelihood
    # shuffled rows meet the patterns in another order and cut other chunks
    perm = np.random.default_rng(13).permutation(X.shape[0])
    other = missing.MissingEStep(step.kp).accumulate(X[perm], None, 2)
    for f in ("nk", "sk", "Mk"):
        ref = getattr(one, f)
        np.testing.assert_allclose(getattr(other, f), ref, rtol=1e-12,
                                   atol=1e-12 * np.abs(ref).max())


def test_complete_rows_of_a_block_with_gaps_are_the_kernel_call(monkeypatch):
    step, *_ = _step("full", seed=13)
    X = with_missing(blobs(500, 5, 3, seed=14)[0], frac=0.2, seed=15)
    complete = ~np.isnan(X).any(axis=1)
    monkeypatch.setattr(missing.MissingEStep, "_native_stats",
                        lambda self, Xg, w, gap, pid, starts, resp, n: missing.SufficientStats.zeros(
                            self.kp.covariance_type, self.kp.means))
    st = step.accumulate(X, None, 2)
    ref = kernel.accumulate(np.ascontiguousarray(X[complete]), None, step.kp, 2)
    for f in ("nk", "sk", "Mk"):
        assert np.array_equal(getattr(st, f), getattr(ref, f))


def test_infinite_observed_entry_in_a_row_with_gaps_is_named():
    step, *_ = _step("full", seed=16)
    X = with_missing(blobs(200, 5, 3, seed=17)[0], frac=0.2, seed=18)
    row = int(np.flatnonzero(np.isnan(X).any(axis=1))[7])
    X[row, np.flatnonzero(~np.isnan(X[row]))[0]] = np.inf
    with pytest.raises(kernel.NonFiniteChunkError, match=f"row {row} "):
        step.accumulate(X, None, 2)
    with pytest.raises(kernel.NonFiniteChunkError, match=f"row {row} "):
        step.log_prob_norm(X, 2)


def test_fit_with_many_features_uses_the_table():
    X = with_missing(blobs(3000, 12, 3, seed=19)[0], frac=0.1, seed=20)
    gm = GaussianMixture(3, nan_policy="marginalize", max_iter=5, random_state=0).fit(X)
    assert np.all(np.isfinite(gm.covariances_))
    step = gm._missing_step()
    step.accumulate(X, None, 1)
    assert step._table.G == len(np.unique(np.isnan(X[np.isnan(X).any(axis=1)]), axis=0))
