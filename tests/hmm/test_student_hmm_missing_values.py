"""StudentTHMM with missing entries: t emissions marginalize the NaN entries.

References: a brute-force forward-backward (conftest) over the observed
entries' marginal t densities (scipy.stats.multivariate_t), and one
Baum-Welch (ECM) iteration written row by row: ``u = (nu + d_o)/(nu + delta_o)``,
``mu = sum g u x_hat / sum g u``, ``Sigma = sum g (u (x_hat - mu)(x_hat - mu)^T + C) / sum g``,
ν from its equation with each row's ``d_o`` (as test_student_missing_values.py).
"""

import numpy as np
import pytest

from conftest import brute_force_hmm, random_hmm, t_dof_root, t_row_posterior, with_missing
from gmmx.hmm import StudentTHMM

DOF0 = np.array([4.0, 7.0, 15.0])


def _model(cov, seed=0, K=3, d=3, **kw):
    startprob, transmat, means, covars = random_hmm(np.random.default_rng(seed), K, d, cov)
    m = StudentTHMM(K, covariance_type=cov, init_params="", n_threads=1, **kw)
    m.startprob_, m.transmat_, m.means_, m.covars_ = startprob, transmat, means, covars
    m.degrees_of_freedom_ = DOF0.copy()
    return m


def _data(m, n=300, seed=0):
    X, _ = m.sample(n, random_state=seed)
    return with_missing(X, 0.2, seed=seed)


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_log_likelihood_equals_forward_recursion_over_observed(cov):
    m = _model(cov, nan_policy="marginalize")
    X = _data(m)
    full = m.scales_
    lp = np.array([[t_row_posterior(x, m.means_[k], full[k], DOF0[k])[0] for k in range(3)] for x in X])
    want = sum(brute_force_hmm(lp[a:b], m.startprob_, m.transmat_)[0]
               for a, b in ((0, 120), (120, 300)))
    assert m.score(X, [120, 180]) == pytest.approx(want, rel=1e-11)
    gamma = np.concatenate([brute_force_hmm(lp[a:b], m.startprob_, m.transmat_)[1]
                            for a, b in ((0, 120), (120, 300))])
    np.testing.assert_allclose(m.predict_proba(X, [120, 180]), gamma, atol=1e-10)


@pytest.mark.parametrize("cov", ["full", "tied", "diag", "spherical"])
def test_one_iteration_equals_brute_force_ecm(cov):
    m = _model(cov, seed=1, nan_policy="marginalize", n_iter=1, params="mcn", means_weight=0,
               covars_prior=0.0)
    X = _data(m, seed=1)
    full, means0 = m.scales_.copy(), m.means_.copy()
    post = [[t_row_posterior(x, means0[k], full[k], DOF0[k]) for k in range(3)] for x in X]
    lp = np.array([[p[0] for p in row] for row in post])
    g = brute_force_hmm(lp, m.startprob_, m.transmat_)[1]
    u = np.array([[p[1] for p in row] for row in post])
    d = X.shape[1]
    want_means, want_scales, want_dof = np.zeros((3, d)), np.zeros((3, d, d)), np.zeros(3)
    scatter = np.zeros((3, d, d))
    for k in range(3):
        xh = np.array([row[k][3] for row in post])
        want_means[k] = (g[:, k] * u[:, k]) @ xh / (g[:, k] @ u[:, k])
        dev = xh - want_means[k]
        S = np.einsum("n,ni,nj->ij", g[:, k] * u[:, k], dev, dev)
        S += np.einsum("n,nij->ij", g[:, k], np.array([row[k][4] for row in post]))
        scatter[k] = S
        want_scales[k] = S / g[:, k].sum()
        a = sum(g[i, k] * (np.log(u[i, k]) + post[i][k][2] - u[i, k])
                for i in range(len(X))) / g[:, k].sum()
        want_dof[k] = t_dof_root(a)
    m.fit(X)
    np.testing.assert_allclose(m.means_, want_means, atol=1e-9)
    if cov == "diag":
        want_scales = np.array([np.diag(np.diag(s)) for s in want_scales])
    elif cov == "tied":
        want_scales = np.broadcast_to(scatter.sum(axis=0) / g.sum(), (3, d, d))
    elif cov == "spherical":
        want_scales = np.array([np.eye(d) * np.trace(s) / d for s in want_scales])
    np.testing.assert_allclose(m.scales_, want_scales, atol=1e-9)
    np.testing.assert_allclose(m.degrees_of_freedom_, want_dof, rtol=1e-9)


def test_complete_data_same_bits_as_default():
    m = _model("full")
    X, _ = m.sample(200, random_state=3)
    a = _model("full", n_iter=3).fit(X)
    b = _model("full", n_iter=3, nan_policy="marginalize").fit(X)
    for name in ("means_", "covars_", "degrees_of_freedom_", "transmat_"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_fit_source_and_dask_equal_in_memory():
    da = pytest.importorskip("dask.array")
    import dask

    m = _model("full")
    X = _data(m, n=400, seed=2)
    kw = dict(n_iter=3, tol=-np.inf, nan_policy="marginalize")
    ref = _model("full", **kw).fit(X, [100] * 4)
    src = _model("full", **kw).fit([X[i:i + 100] for i in range(0, 400, 100)])
    with dask.config.set(scheduler="synchronous"):
        dsk = _model("full", **kw).fit(da.from_array(X, chunks=(100, 3)))
    for other in (src, dsk):
        for name in ("means_", "covars_", "degrees_of_freedom_"):
            np.testing.assert_allclose(getattr(other, name), getattr(ref, name), rtol=1e-10,
                                       atol=1e-12)


def test_default_initialisation_and_errors():
    m = _model("diag")
    X = _data(m, n=600, seed=3)
    fitted = StudentTHMM(3, n_iter=5, random_state=0, nan_policy="marginalize",
                         n_threads=1).fit(X)
    assert np.all(np.isfinite(fitted.means_)) and np.all(np.isfinite(fitted.score(X)))
    with pytest.raises(ValueError, match="nan_policy"):
        StudentTHMM(3, n_iter=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="does not support nan_policy='omit'"):
        StudentTHMM(3, nan_policy="omit").fit(X)
