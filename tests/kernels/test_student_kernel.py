"""The fused t E-step pass (_kernels._student.t_block) against scipy's t densities."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import gammaln, logsumexp

from gmmx._kernels import _student


def setup(n=3000, K=3, d=4, seed=0, zero_weight=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_t(4, (n, d))
    means = rng.normal(size=(K, d))
    A = rng.normal(size=(K, d, d))
    scales = A @ np.swapaxes(A, 1, 2) / d + np.eye(d)
    dof = np.array([2.5, 7.0, 40.0])[:K]
    weights = rng.dirichlet(np.ones(K))
    if zero_weight:
        weights[1] = 0.0
        weights /= weights.sum()
    log_det = -0.5 * np.linalg.slogdet(scales)[1]
    gcst = log_det - 0.5 * d * np.log(2 * np.pi)
    g = np.column_stack([stats.multivariate_normal(means[k], scales[k]).logpdf(X)
                         for k in range(K)])
    half = 0.5 * (dof + d)
    with np.errstate(divide="ignore"):
        logw = np.log(weights)
    c = (gammaln(half) - gammaln(0.5 * dof) - 0.5 * d * np.log(dof * np.pi) + log_det
         + half * np.log(dof) + logw)
    lt = np.column_stack([stats.multivariate_t(means[k], scales[k], df=dof[k]).logpdf(X)
                          for k in range(K)])
    delta = np.column_stack([np.einsum("ij,jk,ik->i", X - means[k], np.linalg.inv(scales[k]),
                                       X - means[k]) for k in range(K)])
    return g, gcst, dof, c, half, lt + logw, (dof + d) / (dof + delta), np.log(dof + delta)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("zero_weight", [False, True])
def test_fused_pass_equals_scipy(weighted, zero_weight):
    g, gcst, dof, c, half, joint, u, L = setup(zero_weight=zero_weight)
    n = g.shape[0]
    w = np.random.default_rng(1).uniform(0, 3, n) if weighted else np.empty(0)
    norm = np.empty(n)
    out = g.copy()
    sums = _student.t_block(out, gcst, dof, c, half, w, norm, 2)
    want_norm = logsumexp(joint, axis=1)
    np.testing.assert_allclose(norm, want_norm, rtol=1e-12)
    with np.errstate(invalid="ignore"):
        r = np.exp(joint - want_norm[:, None])
    np.testing.assert_allclose(out, r * u, rtol=1e-10, atol=1e-300)
    ww = np.ones(n) if not weighted else w
    wr = r * ww[:, None]
    np.testing.assert_allclose(sums[0], wr.sum(0), rtol=1e-11)
    np.testing.assert_allclose(sums[1], (wr * L).sum(0), rtol=1e-11)
    with np.errstate(invalid="ignore"):
        ent = np.where(wr > 0, wr * (want_norm[:, None] - joint), 0.0).sum(0)
    np.testing.assert_allclose(sums[2], ent, rtol=1e-9, atol=1e-9)
    assert sums[3, 0] == pytest.approx(ww @ want_norm, rel=1e-12)


def test_fused_pass_identical_for_any_thread_count():
    g, gcst, dof, c, half, *_ = setup(n=5000)
    results = []
    for threads in (1, 2, 3):
        out, norm = g.copy(), np.empty(g.shape[0])
        sums = _student.t_block(out, gcst, dof, c, half, np.empty(0), norm, threads)
        results.append((out, norm, sums))
    for out, norm, sums in results[1:]:
        np.testing.assert_array_equal(out, results[0][0])
        np.testing.assert_array_equal(norm, results[0][1])
        np.testing.assert_array_equal(sums, results[0][2])


def test_non_finite_rows_are_flagged_and_empty_blocks_are_zero():
    g, gcst, dof, c, half, *_ = setup(n=10)
    g[4, :] = -np.inf
    norm = np.empty(10)
    _student.t_block(g, gcst, dof, c, half, np.empty(0), norm, 1)
    assert not np.isfinite(norm[4]) and np.all(np.isfinite(np.delete(norm, 4)))
    sums = _student.t_block(np.empty((0, 3)), gcst, dof, c, half, np.empty(0), np.empty(0), 1)
    assert sums.shape == (4, 3) and not sums.any()


def test_lattice_pass_equals_scipy_for_any_thread_count():
    g, gcst, dof, c, half, joint, u, L = setup(n=5001)
    outs = []
    for threads in (1, 2, 3):
        lt, uu, LL = g.copy(), np.empty_like(g), np.empty_like(g)
        _student.t_lattice(lt, gcst, dof, c, half, uu, LL, threads)
        outs.append((lt, uu, LL))
    np.testing.assert_allclose(outs[0][0], joint, rtol=1e-12)
    np.testing.assert_allclose(outs[0][1], u, rtol=1e-12)
    np.testing.assert_allclose(outs[0][2], L, rtol=1e-12)
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="shape of g"):
        _student.t_lattice(g.copy(), gcst, dof, c, half, np.empty((3, 3)), np.empty_like(g), 1)
