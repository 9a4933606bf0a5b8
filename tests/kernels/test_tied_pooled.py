"""Tied models sum ONE scatter for all components (issue #20: "tied must not
cost K scatters"), and it gives what one scatter per component gave."""

import numpy as np
import pytest

from conftest import blobs, brute_force_stats, expected_warnings, random_model
from gmmx import GaussianHMM, GaussianMixture, StudentTMixture
from gmmx.exceptions import ConvergenceWarning
from gmmx._kernels import _estep, layout
from gmmx.core import kernel as _engine
from gmmx.core.covariance import get_covariance


@pytest.fixture
def pooled():
    """Switch the pooled tied scatter on (1) or off (0: one per component)."""
    yield _estep._set_tied_pooled
    _estep._set_tied_pooled(-1)


def _tied(d, k, n=1500, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * 2.0 + 30.0
    weights, means, cov, _ = random_model(rng, k, d, "tied")
    means = means + 30.0
    pc = get_covariance("tied").precision_cholesky(cov)
    return rng, X, _engine.kernel_params(weights, means, pc, "tied")


def test_which_models_pool(pooled):
    assert _estep.tied_pooled(4, 1)          # tied, K = 4
    assert not _estep.tied_pooled(1, 1)      # one component: nothing to pool
    assert not _estep.tied_pooled(4, 4)      # full
    pooled(0)
    assert not _estep.tied_pooled(4, 1)


@pytest.mark.parametrize("d, k", [(2, 3), (5, 4), (12, 3), (16, 8)])
@pytest.mark.parametrize("given_resp", [False, True])
def test_kernel_writes_one_pooled_scatter(pooled, d, k, given_resp):
    """About ``ref``: component 0 holds sum_i (sum_k r_ik) x' x'^T, the others 0;
    first moments stay per component; one scatter per component sums to it."""
    rng, X, kp = _tied(d, k)
    w = rng.uniform(0.2, 3.0, X.shape[0])
    resp = rng.uniform(0.0, 1.0, (X.shape[0], k))
    flats = {}
    for mode in (1, 0):
        pooled(mode)
        if given_resp:
            flat = _estep.stats_given_resp(X, w, resp, kp.means, kp.ref, kp.kind, 2, 64,
                                           kp.n_blocks)[0]
        else:
            flat = _estep.estep(X, w, kp.cst, kp.means, kp.prec, kp.ref, kp.shift,
                                kp.n_blocks, kp.kind, 2, 64)[0]
        flats[mode] = layout.unpack(flat, k, d, kp.kind)
    one, per_k = flats[1], flats[0]
    assert not one.M[1:].any()
    assert per_k.M[1:].any()
    scale = np.abs(per_k.M.sum(0)).max()
    np.testing.assert_allclose(one.M[0], per_k.M.sum(0), rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(one.s, per_k.s, rtol=1e-12, atol=1e-13 * np.abs(one.s).max())
    np.testing.assert_array_equal(one.nk, per_k.nk)
    if given_resp:  # against numpy, about ref
        r = resp * w[:, None]
        nk, sk, Mk = brute_force_stats(X, r, np.broadcast_to(kp.ref, (k, d)))
        np.testing.assert_allclose(one.M[0], Mk.sum(0), rtol=1e-12, atol=1e-12 * scale)
        np.testing.assert_allclose(one.s, sk, rtol=1e-11, atol=1e-12 * np.abs(sk).max())


def test_pooled_statistics_do_not_depend_on_threads(pooled):
    pooled(1)
    rng, X, kp = _tied(9, 5, n=20_001, seed=3)
    w = rng.uniform(0.0, 2.0, X.shape[0])
    one = _engine.accumulate(X, w, kp, n_threads=1, chunk_rows=300)
    for threads in (2, 3):
        other = _engine.accumulate(X, w, kp, n_threads=threads, chunk_rows=300)
        np.testing.assert_array_equal(one.Mk, other.Mk)
        np.testing.assert_array_equal(one.sk, other.sk)
        assert one.log_likelihood == other.log_likelihood


@pytest.mark.parametrize("d", [2, 10])
@pytest.mark.parametrize("float32", [False, True])
def test_tied_fits_equal_one_scatter_per_component(pooled, d, float32):
    """Gaussian, Student-t and HMM tied fits: pooled == one scatter per component."""
    X = blobs(4000, d, 4, seed=5)[0]
    X = X.astype(np.float32) if float32 else X
    fits = {}
    for mode in (1, 0):
        pooled(mode)
        with expected_warnings(ConvergenceWarning):  # tol=0: every iteration runs
            fits[mode] = [
                GaussianMixture(4, covariance_type="tied", random_state=0, max_iter=30,
                                tol=0).fit(X),
                StudentTMixture(4, covariance_type="tied", random_state=0, max_iter=15,
                                tol=0).fit(X),
                GaussianHMM(3, covariance_type="tied", random_state=0, n_iter=10,
                            tol=0).fit(X),
            ]
    for a, b in zip(fits[1], fits[0]):
        for name in ("means_", "covariances_" if hasattr(a, "covariances_") else "covars_"):
            np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-9,
                                       atol=1e-10)
        assert a.score(X) == pytest.approx(b.score(X), rel=1e-11)


def test_tied_missing_values_fit_equals_one_scatter_per_component(pooled):
    """The missing-values pass pools too (one regression for all components; its
    own loops on AVX2 / AVX-512, BLAS on the baseline: both run per target)."""
    rng = np.random.default_rng(6)
    X = blobs(3000, 5, 3, seed=6)[0]
    X[rng.random(X.shape) < 0.2] = np.nan
    fits = {}
    for mode in (1, 0):
        pooled(mode)
        with expected_warnings(ConvergenceWarning):
            fits[mode] = GaussianMixture(3, covariance_type="tied", nan_policy="marginalize",
                                         random_state=0, max_iter=20, tol=0).fit(X)
    a, b = fits[1], fits[0]
    np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-9, atol=1e-12)
    assert a.score(X) == pytest.approx(b.score(X), rel=1e-11)
