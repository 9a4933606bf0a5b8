"""StudentTHMM against brute-force enumeration of all state paths (scipy's t densities)."""

import itertools
import warnings

import numpy as np
import pytest
from scipy import optimize, stats
from scipy.special import digamma, logsumexp

import gmmx
from gmmx import DegreesOfFreedomWarning
from gmmx.hmm import StudentTHMM


def small_model(d=2, K=2, seed=0, **kw):
    rng = np.random.default_rng(seed)
    m = StudentTHMM(K, covariance_type="full", init_params="", n_threads=1, **kw)
    m.startprob_ = rng.dirichlet(np.ones(K))
    m.transmat_ = rng.dirichlet(np.ones(K) * 3, size=K)
    m.means_ = rng.normal(size=(K, d))
    A = rng.normal(size=(K, d, d))
    m.covars_ = A @ np.swapaxes(A, 1, 2) + np.eye(d)
    m.degrees_of_freedom_ = np.array([3.0, 7.5])[:K]
    return m


def brute_force(m, X):
    """log p(X), smoothed and filtered posteriors, expected transitions over all paths."""
    T, K = X.shape[0], m.n_components
    lt = np.column_stack([
        stats.multivariate_t(m.means_[k], m.covars_[k], df=m.degrees_of_freedom_[k]).logpdf(X)
        for k in range(K)])
    paths = np.array(list(itertools.product(range(K), repeat=T)))
    logp = (np.log(m.startprob_[paths[:, 0]]) + lt[np.arange(T), paths].sum(axis=1)
            + np.log(m.transmat_[paths[:, :-1], paths[:, 1:]]).sum(axis=1))
    total = logsumexp(logp)
    post = np.exp(logp - total)
    gamma = np.stack([np.bincount(paths[:, t], weights=post, minlength=K) for t in range(T)])
    xi = np.zeros((K, K))
    for t in range(T - 1):
        np.add.at(xi, (paths[:, t], paths[:, t + 1]), post)
    filt = np.zeros((T, K))
    for t in range(T):
        # P(z_t | x_1..x_t): paths' prefixes up to t
        pre = (np.log(m.startprob_[paths[:, 0]]) + lt[np.arange(t + 1), paths[:, :t + 1]].sum(1)
               + np.log(m.transmat_[paths[:, :t], paths[:, 1:t + 1]]).sum(axis=1))
        w = np.exp(pre - logsumexp(pre)) / K ** (T - 1 - t)  # each prefix repeated
        filt[t] = np.bincount(paths[:, t], weights=w, minlength=K)
        filt[t] /= filt[t].sum()
    return total, gamma, xi, filt, lt


def test_inference_equals_brute_force_enumeration():
    m = small_model()
    X = np.random.default_rng(1).standard_t(3, (7, 2)) * 1.5
    total, gamma, _, filt, _ = brute_force(m, X)
    assert m.score(X) == pytest.approx(total, rel=1e-12)
    np.testing.assert_allclose(m.predict_proba(X), gamma, atol=1e-12)
    np.testing.assert_allclose(m.filter_proba(X), filt, atol=1e-12)


def test_one_baum_welch_step_equals_brute_force():
    m = small_model(covars_prior=0.0, n_iter=1, tol=-np.inf)
    X = np.random.default_rng(2).standard_t(3, (7, 2)) * 1.5
    total, gamma, xi, _, _ = brute_force(m, X)
    old = m.degrees_of_freedom_.copy()
    d = X.shape[1]
    delta = np.column_stack([
        np.einsum("ti,ij,tj->t", X - m.means_[k], np.linalg.inv(m.covars_[k]), X - m.means_[k])
        for k in range(2)])
    u = (old + d) / (old + delta)
    m.fit(X)
    gu = gamma * u
    means = gu.T @ X / gu.sum(axis=0)[:, None]
    np.testing.assert_allclose(m.means_, means, rtol=1e-10)
    for k in range(2):
        D = X - means[k]
        scale = (gu[:, k, None] * D).T @ D / gamma[:, k].sum()
        np.testing.assert_allclose(m.covars_[k], scale, rtol=1e-9)
        A = np.sum(gamma[:, k] * (np.log(u[:, k]) - u[:, k])) / gamma[:, k].sum()
        c = 1 + A + digamma((old[k] + d) / 2) - np.log((old[k] + d) / 2)
        nu = optimize.brentq(lambda v: -digamma(v / 2) + np.log(v / 2) + c, 1e-3, 1e3,
                             xtol=1e-14)
        assert m.degrees_of_freedom_[k] == pytest.approx(nu, rel=1e-9)
    np.testing.assert_allclose(m.transmat_, xi / xi.sum(axis=1, keepdims=True), rtol=1e-10)
    np.testing.assert_allclose(m.startprob_, gamma[0], rtol=1e-10)


def regime_data(T=1500, seed=0):
    rng = np.random.default_rng(seed)
    s = np.zeros(T, int)
    for t in range(1, T):
        s[t] = s[t - 1] if rng.random() < 0.97 else 1 - s[t - 1]
    X = np.where(s[:, None] == 0, 0.5 * rng.standard_t(4, (T, 2)),
                 2.0 * rng.standard_t(4, (T, 2)) + 1.0)
    return X, s


def test_fit_recovers_regimes_and_beats_gaussian_emissions():
    X, s = regime_data()
    m = StudentTHMM(2, covariance_type="diag", n_iter=200, tol=1e-6, random_state=0,
                    n_threads=1).fit(X)
    g = gmmx.GaussianHMM(2, covariance_type="diag", n_iter=200, tol=1e-6, random_state=0,
                         n_threads=1).fit(X)
    assert m.score(X) > g.score(X)
    agree = np.mean(m.predict(X) == s)
    assert max(agree, 1 - agree) > 0.97
    assert np.all((m.degrees_of_freedom_ > 2) & (m.degrees_of_freedom_ < 10))
    hist = np.array(m.monitor_.history)
    assert np.all(np.diff(hist) > -1e-8 * np.abs(hist[1:]))  # ECM never decreases it


@pytest.mark.parametrize("source", ["blocks", "dask"])
def test_out_of_core_and_dask_equal_in_memory(source):
    X, _ = regime_data(900, seed=3)
    lengths = [300, 300, 300]
    kw = dict(n_components=2, covariance_type="full", n_iter=15, tol=-np.inf,
              random_state=0, n_threads=1)
    ref = StudentTHMM(**kw).fit(X, lengths)
    if source == "blocks":
        data = [X[:300], X[300:600], X[600:]]
    else:
        da = pytest.importorskip("dask.array")
        data = da.from_array(X, chunks=(300, 2))
    m = StudentTHMM(**kw)
    m.fit(data)
    for name in ("means_", "covars_", "transmat_", "degrees_of_freedom_"):
        np.testing.assert_allclose(getattr(m, name), getattr(ref, name), rtol=1e-10,
                                   atol=1e-12, err_msg=name)


def test_save_load_and_fixed_dof(tmp_path):
    X, _ = regime_data(600, seed=4)
    m = StudentTHMM(2, degrees_of_freedom=5.0, n_iter=20, random_state=0, n_threads=1).fit(X)
    np.testing.assert_array_equal(m.degrees_of_freedom_, [5.0, 5.0])
    m.save(tmp_path / "h.npz")
    back = gmmx.load(tmp_path / "h.npz")
    assert isinstance(back, StudentTHMM)
    np.testing.assert_array_equal(back.degrees_of_freedom_, m.degrees_of_freedom_)
    assert back.score(X) == m.score(X)
    free = StudentTHMM(2, n_iter=3, random_state=0, n_threads=1).fit(X)
    fixed_params = sum(m._get_n_fit_scalars_per_param().values())
    assert sum(free._get_n_fit_scalars_per_param().values()) == fixed_params + 2
    assert np.all(np.isfinite(free.covariances_))
    S, states = free.sample(50, random_state=1)
    assert S.shape == (50, 2) and states.shape == (50,)


@pytest.mark.parametrize("bad", [0.0, -2, np.nan, "3"])
def test_bad_degrees_of_freedom(bad):
    with pytest.raises(ValueError, match="degrees_of_freedom must be a finite number > 0"):
        StudentTHMM(2, degrees_of_freedom=bad).fit(np.zeros((10, 1)) + np.arange(10)[:, None])


def test_collapsed_emissions_hit_the_floor_with_a_warning():
    X = np.repeat(np.random.default_rng(0).normal(size=(2, 3)), 100, axis=0)
    with pytest.warns(DegreesOfFreedomWarning, match=r"state\(s\) \[.*\] reached the lower bound"):
        m = StudentTHMM(2, random_state=0, n_threads=1, n_iter=300, tol=1e-8).fit(X)
    assert m.degrees_of_freedom_.min() == 0.001 and np.all(np.isfinite(m.covars_))


def test_gaussian_emissions_hit_the_cap_with_a_warning():
    x = np.random.default_rng(0).normal(size=(2000, 1))
    with pytest.warns(DegreesOfFreedomWarning, match=r"state\(s\) \[0\] reached dof_max=30"):
        m = StudentTHMM(1, dof_max=30.0, n_iter=500, tol=1e-9, n_threads=1).fit(x)
    assert m.degrees_of_freedom_[0] == 30.0 and np.all(np.isfinite(m.covars_))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.score(x)
