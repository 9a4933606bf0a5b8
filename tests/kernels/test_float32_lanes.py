"""The float32 E-step lanes (float32 rows, one feature) against float64."""

import numpy as np
import pytest

from gmmx._kernels import _estep
from gmmx.core import kernel as _engine
from gmmx.core.covariance import get_covariance

U = 2.0 ** -24


def _model(K, offset=0.0, scale=1.0):
    means = offset + scale * np.linspace(-2.0, 2.0, K)[:, None]
    cov = (scale * np.linspace(0.5, 1.5, K)) ** 2
    pc = get_covariance("spherical").precision_cholesky(cov)
    return _engine.kernel_params(np.full(K, 1.0 / K), means, pc, "spherical")


def _rows(n, offset=0.0, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return (offset + scale * 2.0 * rng.normal(size=(n, 1))).astype(np.float32)


def _estep_raw(X, sw, kp, n_threads, chunk_rows):
    return _estep.estep(X, sw, kp.cst, kp.means, kp.prec, kp.ref, kp.shift, kp.n_blocks,
                        kp.kind, n_threads, chunk_rows)


@pytest.mark.parametrize("K", [1, 2, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_same_bits_for_any_thread_count(K, weighted):
    X = _rows(20_001)
    kp = _model(K)
    sw = np.random.default_rng(1).uniform(0.2, 3.0, X.shape[0]) if weighted else np.empty(0)
    for chunk_rows in [7, 64, 0]:
        st1, status, bad, _ = _estep_raw(X, sw, kp, 1, chunk_rows)
        assert (status, bad) == (_estep.STATUS_OK, -1)
        for n_threads in [2, 3]:
            np.testing.assert_array_equal(_estep_raw(X, sw, kp, n_threads, chunk_rows)[0], st1)


@pytest.mark.parametrize("K", [1, 2, 3, 12])
@pytest.mark.parametrize("offset, scale", [(0.0, 1.0), (100.0, 0.01)])
@pytest.mark.parametrize("weighted", [False, True])
def test_statistics_agree_with_float64_to_float32_precision(K, offset, scale, weighted):
    X = _rows(5003, offset, scale)
    kp = _model(K, offset, scale)
    sw = np.random.default_rng(2).uniform(0.2, 3.0, X.shape[0]) if weighted else None
    a = _engine.accumulate(X, sw, kp, 2, 256)
    b = _engine.accumulate(X.astype(np.float64), sw, kp, 2, 256)
    np.testing.assert_allclose(a.nk, b.nk, rtol=1e-6, atol=1e-6 * b.weight_sum)
    # |s_k| <= sqrt(n_k M_k): the scale of s_k's terms
    np.testing.assert_allclose(a.sk, b.sk, rtol=0,
                               atol=1e-6 * np.sqrt(b.nk * b.Mk.ravel()).max())
    np.testing.assert_allclose(a.Mk, b.Mk, rtol=1e-6, atol=1e-6 * b.Mk.max())
    assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=1e-6)
    assert a.weight_sum == b.weight_sum and a.n_samples == b.n_samples


def _estep_separate(X, sw, kp, n_threads, chunk_rows):
    _estep._set_f32_fused(False)
    try:
        return _estep_raw(X, sw, kp, n_threads, chunk_rows)
    finally:
        _estep._set_f32_fused(True)


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("offset, scale", [(0.0, 1.0), (100.0, 0.01)])
@pytest.mark.parametrize("weighted", [False, True])
def test_fused_two_component_path_gives_the_bits_of_the_separate_functions(
        K, offset, scale, weighted):
    # K == 2 runs gmmx_f32_uni_resp2 + gmmx_f32_uni_stats2 (one pass each over
    # the chunk); K == 3 never does. Odd chunk sizes exercise the odd last
    # row of the interleaved halves and the tail rows of the 16 lanes.
    X = _rows(20_001, offset, scale, seed=K)
    kp = _model(K, offset, scale)
    sw = np.random.default_rng(3).uniform(0.2, 3.0, X.shape[0]) if weighted else np.empty(0)
    for chunk_rows in [1, 7, 64, 1023, 0]:
        for n_threads in [1, 2]:
            fused = _estep_raw(X, sw, kp, n_threads, chunk_rows)
            separate = _estep_separate(X, sw, kp, n_threads, chunk_rows)
            assert fused[1] == separate[1] == _estep.STATUS_OK
            np.testing.assert_array_equal(fused[0], separate[0])


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fused", [True, False])
def test_chunk_that_overflows_float32_is_computed_in_float64(weighted, fused):
    # z = (x - mu) / sigma = 1e34 squares to infinity in float32 (not in
    # float64): every component's float32 log-density is -inf, and the chunk
    # is redone in float64, identical to the float64 kernel on the same values
    X = _rows(1000, 0.0, 1e-4)
    X[500, 0] = 1e30
    kp = _model(2, 0.0, 1e-4)
    sw = np.random.default_rng(4).uniform(0.2, 3.0, X.shape[0]) if weighted else np.empty(0)
    run = _estep_raw if fused else _estep_separate
    a = run(X, sw, kp, 1, 2000)
    b = _estep_raw(X.astype(np.float64), sw, kp, 1, 2000)
    assert a[1] == b[1] == _estep.STATUS_OK
    np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.parametrize("weighted", [False, True])
def test_non_finite_float32_rows_are_reported(weighted):
    X = _rows(1000)
    X[731, 0] = np.nan
    kp = _model(2)
    sw = np.random.default_rng(5).uniform(0.2, 3.0, X.shape[0]) if weighted else None
    _, status, bad_chunk, _ = _estep_raw(X, np.empty(0) if sw is None else sw, kp, 2, 100)
    assert (status, bad_chunk) == (_estep.STATUS_NONFINITE, 7)
    with pytest.raises(ValueError, match="row 731 contains"):
        _engine.accumulate(X, sw, kp, 2, 100)


def test_zero_weight_component_gets_no_responsibility():
    X = _rows(3000)
    means = np.array([[-1.0], [0.0], [1.0]])
    pc = get_covariance("spherical").precision_cholesky(np.ones(3))
    kp = _engine.kernel_params(np.array([0.0, 0.5, 0.5]), means, pc, "spherical")
    a = _engine.accumulate(X, None, kp, 1)
    b = _engine.accumulate(X.astype(np.float64), None, kp, 1)
    assert a.nk[0] == 0.0 and a.sk[0, 0] == 0.0 and a.Mk[0] == 0.0
    np.testing.assert_allclose(a.nk, b.nk, rtol=1e-6)


def test_vector_exp_f32_is_within_one_ulp():
    x = -np.linspace(0.0, 86.9, 200_001).astype(np.float32)
    y = x.copy()
    _estep._vector_exp_f32(y)
    ref = np.exp(x.astype(np.float64))
    assert y.dtype == np.float32 and np.all(np.isfinite(y))
    ulp = np.spacing(ref.astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(y - ref) / ulp) <= 1.0
    assert y[0] == 1.0
