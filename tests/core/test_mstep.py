"""The M-step against its closed form."""

import numpy as np

from conftest import stats_about as _stats_about
from gmmx.core.mstep import m_step


def test_m_step_closed_form():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 2)) * [1.0, 3.0] + [10.0, -4.0]
    r = rng.dirichlet(np.ones(2), size=400)
    st = _stats_about(X, r, rng.normal(size=(2, 2)), "full")
    w, mu, cov, pc = m_step(st, 0.0)
    nk = r.sum(0)
    np.testing.assert_allclose(w, nk / nk.sum(), rtol=1e-12)
    for k in range(2):
        m = r[:, k] @ X / nk[k]
        np.testing.assert_allclose(mu[k], m, rtol=1e-12)
        C = (r[:, k, None] * (X - m)).T @ (X - m) / nk[k]
        np.testing.assert_allclose(cov[k], C, rtol=1e-10)
        np.testing.assert_allclose(pc[k] @ pc[k].T, np.linalg.inv(C), rtol=1e-9)
    assert np.allclose(np.tril(pc[0], -1), 0)  # upper triangular, as sklearn
