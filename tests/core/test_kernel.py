"""The E-step kernel against brute-force numpy, and its vector math."""

import numpy as np
import pytest

from conftest import brute_force_estep as _reference
from conftest import random_model as _random_model
from conftest import scatter_in_use
from gmmx.core import kernel as _engine
from gmmx._kernels import _estep
from gmmx.core.covariance import get_covariance

COV_TYPES = ["full", "tied", "diag", "spherical"]


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("d", [1, 3, 17])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_statistics_match_brute_force(covariance_type, d, dtype):
    rng = np.random.default_rng(d)
    k = 4
    X = rng.normal(size=(3001, d)).astype(dtype)
    w = rng.uniform(0.2, 3.0, X.shape[0])
    weights, means, cov, full = _random_model(rng, k, d, covariance_type)
    pc = get_covariance(covariance_type).precision_cholesky(cov)
    kp = _engine.kernel_params(weights, means, pc, covariance_type)
    st = _engine.accumulate(X, w, kp, n_threads=2, chunk_rows=256)
    norm, resp, nk, sk, Mk, ll = _reference(X.astype(np.float64), w, weights, means, full)
    if covariance_type in ("diag", "spherical"):
        Mk = np.array([np.diag(m) for m in Mk])
    Mk = scatter_in_use(Mk, covariance_type)
    st_M = scatter_in_use(st.Mk, covariance_type)
    if dtype == np.float32 and d == 1:
        # float32 lanes (log-densities, exp, responsibilities), float64 sums:
        # float32 precision per term; |s_k| <= sqrt(n_k M_k) bounds s_k's terms
        np.testing.assert_allclose(st.nk, nk, rtol=1e-6)
        np.testing.assert_allclose(st.sk, sk, rtol=0, atol=1e-6 * np.sqrt(nk * Mk.ravel()).max())
        np.testing.assert_allclose(st_M, Mk, rtol=1e-6)
        assert st.log_likelihood == pytest.approx(ll, rel=1e-6)
    else:
        np.testing.assert_allclose(st.nk, nk, rtol=1e-12)
        np.testing.assert_allclose(st.sk, sk, rtol=1e-9, atol=1e-10 * np.abs(sk).max())
        np.testing.assert_allclose(st_M, Mk, rtol=1e-11, atol=1e-12 * np.abs(Mk).max())
        assert st.log_likelihood == pytest.approx(ll, rel=1e-13)
    assert st.weight_sum == pytest.approx(w.sum(), rel=1e-14)
    assert st.n_samples == X.shape[0]
    np.testing.assert_array_equal(st.centers, means)
    np.testing.assert_allclose(_engine.log_prob_norm(X, kp, 2), norm, rtol=1e-13)
    np.testing.assert_allclose(_engine.responsibilities(X, kp, 2), resp, atol=1e-13)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_chunk_size_and_threads_change_only_rounding(covariance_type):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10_000, 5))
    weights, means, cov, _ = _random_model(rng, 3, 5, covariance_type)
    kp = _engine.kernel_params(weights, means, get_covariance(covariance_type).precision_cholesky(cov),
                               covariance_type)
    base = _engine.accumulate(X, None, kp, 1, 64)
    for chunk, threads in [(1, 1), (7, 2), (999, 2), (20_000, 2), (0, 2)]:
        st = _engine.accumulate(X, None, kp, threads, chunk)
        np.testing.assert_allclose(st.Mk, base.Mk, rtol=1e-12, atol=1e-12 * np.abs(base.Mk).max())
        assert st.log_likelihood == pytest.approx(base.log_likelihood, rel=1e-13)


def test_same_threads_same_bits():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50_000, 4))
    weights, means, cov, _ = _random_model(rng, 3, 4, "full")
    kp = _engine.kernel_params(weights, means, get_covariance("full").precision_cholesky(cov), "full")
    a = _engine.accumulate(X, None, kp, 2)
    b = _engine.accumulate(X, None, kp, 2)
    np.testing.assert_array_equal(a.Mk, b.Mk)
    assert a.log_likelihood == b.log_likelihood


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_non_finite_row_is_reported_with_its_index(covariance_type):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(5000, 3))
    X[4321, 2] = np.nan
    weights, means, cov, _ = _random_model(rng, 2, 3, covariance_type)
    kp = _engine.kernel_params(weights, means, get_covariance(covariance_type).precision_cholesky(cov),
                               covariance_type)
    with pytest.raises(_engine.NonFiniteChunkError, match="chunk 9: row 4321") as info:
        _engine.accumulate(X, None, kp, 2, 100, where="chunk 9: ")
    assert info.value.row == 4321


def test_vector_exp_and_log_are_accurate():
    rng = np.random.default_rng(3)
    x = np.concatenate([np.linspace(-708, 709, 200_001), rng.uniform(-40, 0, 100_000)])
    y = x.copy()
    _estep._vector_exp(y)
    ref = np.exp(x)
    assert np.max(np.abs(y - ref) / np.spacing(ref)) <= 2
    x = np.exp(rng.uniform(-700, 700, 200_000))
    x = np.concatenate([x, np.linspace(1, 64, 10_001), [1.0, 2.0, 0.5]])
    y = x.copy()
    _estep._vector_log(y)
    ref = np.log(x)
    assert np.max(np.abs(y - ref) / np.spacing(np.maximum(np.abs(ref), 1e-300))) <= 2
    assert y[-3] == 0.0


def test_resolve_n_threads():
    assert _engine.resolve_n_threads(1) == 1
    assert _engine.resolve_n_threads(-1) == _engine.available_cpus()
    assert _engine.resolve_n_threads(None) >= 1
    with pytest.raises(ValueError, match="n_threads"):
        _engine.resolve_n_threads(0)


def test_small_problems_stay_single_threaded_by_default():
    full = _engine.resolve_n_threads(None)
    assert _engine.resolve_n_threads(None, work=1000) == 1
    assert _engine.resolve_n_threads(None, work=10**12) == full
    assert _engine.resolve_n_threads(2, work=1000) == 2  # explicit counts are kept


def test_blas_is_held_to_one_thread_inside_parallel_kernels(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with _engine.blas_threads_for(_estep.KIND_FULL, 2) as n:
        assert n == 2
        blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        assert all(i["num_threads"] == 1 for i in blas)
    with _engine.blas_threads_for(_estep.KIND_DIAG, 2) as n:
        assert n == 2  # no BLAS in diag kernels: nothing to limit
    # Without threadpoolctl, BLAS-calling kernels fall back to one OpenMP thread.
    monkeypatch.setattr(_engine, "_CONTROLLER", False)
    with _engine.blas_threads_for(_estep.KIND_FULL, 2) as n:
        assert n == 1


def test_fits_hold_blas_to_one_thread_throughout(monkeypatch):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from gmmx import GaussianMixture

    seen = []

    def record(n_iter, lb):
        blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        seen.append(max(i["num_threads"] for i in blas))

    X = np.random.default_rng(5).normal(size=(3000, 4))
    from gmmx import ConvergenceWarning

    with pytest.warns(ConvergenceWarning):
        GaussianMixture(2, callback=record, max_iter=3, tol=0, random_state=0).fit(X)
    assert seen == [1, 1, 1]
    assert not _engine._BLAS_HOLD.held()


class _TaggedEStep:
    """A BlockEStep that delegates to the Gaussian kernel and counts its calls."""

    def __init__(self, kp):
        self.kp = kp
        self.calls = []

    def accumulate(self, X, sample_weight, n_threads, chunk_rows, where):
        self.calls.append(("accumulate", X.shape[0], where))
        stats = _engine.accumulate(X, sample_weight, self.kp, n_threads, chunk_rows, where)
        stats.extra["rows"] = np.array([float(X.shape[0])])
        return stats

    def log_prob_norm(self, X, n_threads):
        self.calls.append(("log_prob_norm", X.shape[0]))
        return _engine.log_prob_norm(X, self.kp, n_threads) + 1.0

    def responsibilities(self, X, n_threads):
        self.calls.append(("responsibilities", X.shape[0]))
        return _engine.responsibilities(X, self.kp, n_threads)[:, ::-1]


def test_block_estep_is_called_by_every_entry_and_driver():
    from gmmx.drivers import DriverOptions, make_driver

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 2))
    kp = _engine.kernel_params(np.array([0.5, 0.5]), np.array([[0.0, 0.0], [1.0, 1.0]]),
                              np.stack([np.eye(2)] * 2), "full")
    block = _TaggedEStep(kp)
    assert isinstance(block, _engine.BlockEStep)
    ref = _engine.accumulate(X, None, kp)
    got = _engine.accumulate(X, None, block)
    np.testing.assert_array_equal(got.nk, ref.nk)
    np.testing.assert_array_equal(_engine.log_prob_norm(X, block),
                                  _engine.log_prob_norm(X, kp) + 1.0)
    np.testing.assert_array_equal(_engine.responsibilities(X, block),
                                  _engine.responsibilities(X, kp)[:, ::-1])
    blocks = [X[:200], X[200:]]
    driver = make_driver(blocks, None, DriverOptions(n_components=2, chunk_size=200))
    try:
        stats = driver.accumulate(block)
    finally:
        driver.close()
    assert stats.extra["rows"][0] == 500.0
    np.testing.assert_allclose(stats.nk, ref.nk, rtol=1e-12)
    assert [c[0] for c in block.calls].count("accumulate") == 3


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_log_weights_replace_the_log_of_the_weights(covariance_type):
    # the constants of a variational E-step: any per-component offsets, here
    # unnormalised; the same as weights exp(offsets) (brute force, unnormalised)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(500, 3))
    weights, means, cov, full = _random_model(rng, 3, 3, covariance_type)
    offsets = np.array([-0.3, -2.0, 0.7])
    pc = get_covariance(covariance_type).precision_cholesky(cov)
    kp = _engine.kernel_params(weights, means, pc, covariance_type, log_weights=offsets)
    norm, resp, nk, _, _, ll = _reference(X, np.ones(len(X)), np.exp(offsets), means, full)
    st = _engine.accumulate(X, None, kp)
    np.testing.assert_allclose(st.nk, nk, rtol=1e-12)
    assert st.log_likelihood == pytest.approx(ll, rel=1e-13)
    np.testing.assert_allclose(_engine.log_prob_norm(X, kp), norm, rtol=1e-13)
    # the centring point still follows the weights
    np.testing.assert_allclose(kp.ref, _engine.kernel_params(weights, means, pc,
                                                             covariance_type).ref)
