"""The kernel's log-density and given-responsibility entry points against numpy."""

from types import SimpleNamespace

import numpy as np
import pytest
from scipy.special import logsumexp

from conftest import brute_force_log_densities, brute_force_stats, random_model
from conftest import scatter_in_use
from gmmx.core import kernel as _engine
from gmmx._kernels import _estep
from gmmx.core.covariance import get_covariance

COV_TYPES = ["full", "tied", "diag", "spherical"]
grid = pytest.mark.parametrize("covariance_type", COV_TYPES)
dims = pytest.mark.parametrize("d", [1, 3])
comps = pytest.mark.parametrize("k", [1, 3])
dtypes = pytest.mark.parametrize("dtype", [np.float64, np.float32])


def _setup(covariance_type, d, k, dtype=np.float64, n=517, weights=None):
    """(rng, X, kernel params, model) for a random model and standard normal-ish rows."""
    rng = np.random.default_rng(10 * d + k)
    X = (rng.normal(size=(n, d)) * 1.5).astype(dtype)
    w, means, cov, full = random_model(rng, k, d, covariance_type)
    w = w if weights is None else weights
    pc = get_covariance(covariance_type).precision_cholesky(cov)
    kp = _engine.kernel_params(w, means, pc, covariance_type)
    return rng, X, kp, SimpleNamespace(weights=w, means=means, full=full, pc=pc)


def _expected_m(Mk, covariance_type):
    if covariance_type in ("diag", "spherical"):
        return np.array([np.diag(m) for m in Mk])
    return Mk


def _raw_log_densities(X, kp, n_threads, chunk_rows, out=None):
    return _estep.log_densities(X, kp.cst, kp.means, kp.prec, kp.ref, kp.shift, kp.n_blocks,
                                kp.kind, n_threads, chunk_rows, out)


def _raw_stats(X, sw, resp, kp, n_threads, chunk_rows):
    return _estep.stats_given_resp(X, sw, resp, kp.means, kp.ref, kp.kind, n_threads,
                                   chunk_rows)


@grid
@dims
@comps
@dtypes
def test_log_densities_match_brute_force(covariance_type, d, k, dtype):
    _, X, kp, m = _setup(covariance_type, d, k, dtype)
    X64 = X.astype(np.float64)  # float32 rows are exact in float64
    ref = brute_force_log_densities(X64, m.weights, m.means, m.full)
    lp = _engine.log_densities(X, kp, n_threads=2)
    assert lp.shape == (X.shape[0], k) and lp.dtype == np.float64
    np.testing.assert_allclose(lp, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    # rows log-sum-exp'd are the E-step's log p(x_i)
    np.testing.assert_allclose(logsumexp(lp, axis=1), _engine.log_prob_norm(X, kp),
                               rtol=1e-13, atol=1e-13)
    # packed with unit weights: the pure component densities (HMM emissions)
    pure = _engine.kernel_params(np.ones(k), m.means, m.pc, covariance_type)
    np.testing.assert_allclose(_engine.log_densities(X, pure), ref - np.log(m.weights),
                               rtol=1e-12, atol=1e-12 * np.abs(ref).max())


@grid
@dims
@comps
@dtypes
@pytest.mark.parametrize("weighted", [False, True])
def test_accumulate_resp_matches_brute_force(covariance_type, d, k, dtype, weighted):
    rng, X, kp, m = _setup(covariance_type, d, k, dtype)
    n = X.shape[0]
    sw = rng.uniform(0.2, 3.0, n) if weighted else None
    resp = rng.uniform(0.0, 1.0, (n, k))  # arbitrary, rows need not sum to 1
    st = _engine.accumulate_resp(X, sw, resp, kp, n_threads=2, chunk_rows=64)
    r = resp * (sw[:, None] if weighted else 1.0)
    nk, sk, Mk = brute_force_stats(X.astype(np.float64), r, m.means)
    Mk = scatter_in_use(_expected_m(Mk, covariance_type), covariance_type)
    np.testing.assert_allclose(st.nk, nk, rtol=1e-12)
    np.testing.assert_allclose(st.sk, sk, rtol=1e-10, atol=1e-11 * np.abs(sk).max())
    np.testing.assert_allclose(scatter_in_use(st.Mk, covariance_type), Mk, rtol=1e-11,
                               atol=1e-12 * np.abs(Mk).max())
    np.testing.assert_array_equal(st.centers, m.means)
    assert st.log_likelihood == 0.0
    assert st.weight_sum == pytest.approx(sw.sum() if weighted else n, rel=1e-14)
    assert st.n_samples == n
    assert st.covariance_type == covariance_type


@grid
@dims
@comps
@dtypes
@pytest.mark.parametrize("weighted", [False, True])
def test_accumulate_resp_with_estep_responsibilities_is_accumulate(covariance_type, d, k, dtype,
                                                                   weighted):
    rng, X, kp, _ = _setup(covariance_type, d, k, dtype)
    sw = rng.uniform(0.2, 3.0, X.shape[0]) if weighted else None
    a = _engine.accumulate(X, sw, kp, 2, 100)
    b = _engine.accumulate_resp(X, sw, _engine.responsibilities(X, kp), kp,
                                2, 100)
    if dtype == np.float32 and d == 1:
        # the E-step of float32 rows with one feature computes in float32
        # lanes; the float64 E-step of the same values is what b repeats
        f32 = a
        a = _engine.accumulate(X.astype(np.float64), sw, kp, 2, 100)
        for x, y in [(f32.nk, a.nk), (f32.Mk, a.Mk)]:
            np.testing.assert_allclose(x, y, rtol=1e-6)
        np.testing.assert_allclose(f32.sk, a.sk, rtol=0,
                                   atol=1e-6 * np.sqrt(a.nk * a.Mk.ravel()).max())
    for x, y in [(a.nk, b.nk), (a.sk, b.sk), (a.Mk, b.Mk)]:
        np.testing.assert_allclose(y, x, rtol=1e-10, atol=1e-10 * np.abs(x).max())
    np.testing.assert_array_equal(b.centers, a.centers)
    assert b.weight_sum == a.weight_sum
    assert b.n_samples == a.n_samples
    assert b.log_likelihood == 0.0


@grid
@dims
def test_same_bits_for_any_thread_count(covariance_type, d):
    rng, X, kp, _ = _setup(covariance_type, d, 3, n=2001)
    sw = rng.uniform(0.2, 3.0, X.shape[0])
    resp = rng.dirichlet(np.ones(3), X.shape[0])
    lp_any = _raw_log_densities(X, kp, 1, 0)[0]
    st_any = _raw_stats(X, sw, resp, kp, 1, 0)[0]
    # 7 and 64 do not divide 2001; 4096 is more than the rows (one chunk); 0: default
    for chunk_rows in [7, 64, 4096, 0]:
        lp1, status, bad, used = _raw_log_densities(X, kp, 1, chunk_rows)
        st1, status2, bad2, used2 = _raw_stats(X, sw, resp, kp, 1, chunk_rows)
        assert (status, bad, status2, bad2) == (_estep.STATUS_OK, -1, _estep.STATUS_OK, -1)
        assert used == used2 == (chunk_rows or _estep.default_chunk_rows(d, 3, kp.kind))
        for n_threads in [2, 3]:
            np.testing.assert_array_equal(_raw_log_densities(X, kp, n_threads, chunk_rows)[0],
                                          lp1)
            np.testing.assert_array_equal(_raw_stats(X, sw, resp, kp, n_threads, chunk_rows)[0],
                                          st1)
        # another chunk size changes at most the rounding
        np.testing.assert_allclose(lp1, lp_any, rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(st1, st_any, rtol=1e-12, atol=1e-12 * np.abs(st_any).max())


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_out_argument_is_filled_and_returned(covariance_type):
    _, X, kp, _ = _setup(covariance_type, 3, 3)
    out = np.full((X.shape[0], 3), np.nan)
    got, status, _, _ = _raw_log_densities(X, kp, 2, 50, out)
    assert got is out and status == _estep.STATUS_OK
    np.testing.assert_array_equal(out, _engine.log_densities(X, kp))


@grid
@dims
def test_no_rows(covariance_type, d):
    _, X, kp, m = _setup(covariance_type, d, 3, n=0)
    lp = _engine.log_densities(X, kp, 2)
    assert lp.shape == (0, 3)
    st = _engine.accumulate_resp(X, np.empty(0), np.empty((0, 3)), kp, 2)
    np.testing.assert_array_equal(st.nk, np.zeros(3))
    np.testing.assert_array_equal(st.sk, np.zeros((3, d)))
    assert not st.Mk.any()
    assert (st.weight_sum, st.n_samples, st.log_likelihood) == (0.0, 0, 0.0)
    np.testing.assert_array_equal(st.centers, m.means)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_wrong_shapes_raise(covariance_type):
    _, X, kp, _ = _setup(covariance_type, 3, 3, n=50)
    resp = np.full((50, 3), 1 / 3)
    for bad in [np.ones((50, 2)), np.ones((50, 4)), np.ones((49, 3)), np.ones((51, 3))]:
        with pytest.raises(ValueError, match="resp must have shape"):
            _engine.accumulate_resp(X, None, bad, kp)
    with pytest.raises(ValueError):
        _engine.accumulate_resp(X, None, np.ones(50), kp)  # 1-d
    with pytest.raises(ValueError, match="sample_weight"):
        _engine.accumulate_resp(X, np.ones(49), resp, kp)
    for bad in [np.empty((50, 2)), np.empty((49, 3)), np.empty((50, 4))]:
        with pytest.raises(ValueError, match="out must have shape"):
            _raw_log_densities(X, kp, 1, 0, bad)
    with pytest.raises(ValueError):
        _raw_log_densities(X, kp, 1, 0, np.empty((50, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="means"):
        _estep.stats_given_resp(X, np.empty(0), resp, np.ascontiguousarray(kp.means[:, :2]),
                                kp.ref, kp.kind, 1)
    with pytest.raises(ValueError, match="kind"):
        _estep.stats_given_resp(X, np.empty(0), resp, kp.means, kp.ref, 7, 1)


@grid
@pytest.mark.parametrize("where", ["X", "resp"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_rows_are_reported(covariance_type, where, value):
    rng, X, kp, _ = _setup(covariance_type, 3, 3, n=1000)
    resp = rng.dirichlet(np.ones(3), X.shape[0])
    target = X if where == "X" else resp
    target[731, 1] = value
    target[955, 0] = value  # a later chunk: the first bad chunk is reported
    _, status, bad_chunk, used = _raw_stats(X, np.empty(0), resp, kp, 2, 100)
    assert (status, bad_chunk, used) == (_estep.STATUS_NONFINITE, 7, 100)
    name = "row 731 of resp" if where == "resp" else "row 731 contains"
    with pytest.raises(ValueError, match=f"chunk 2: {name}") as info:
        _engine.accumulate_resp(X, None, resp, kp, 2, 100, where="chunk 2: ")
    assert isinstance(info.value, _engine.NonFiniteChunkError) and info.value.row == 731
    if where == "X":
        _, status, bad_chunk, _ = _raw_log_densities(X, kp, 2, 100)
        assert (status, bad_chunk) == (_estep.STATUS_NONFINITE, 7)
        with pytest.raises(ValueError, match="row 731 contains"):
            _engine.log_densities(X, kp, 2)


def test_non_finite_sample_weight_is_reported():
    rng, X, kp, _ = _setup("diag", 3, 3, n=300)
    sw = np.ones(300)
    sw[123] = np.nan
    with pytest.raises(ValueError, match=r"rows 100\.\.199 .*sample_weight"):
        _engine.accumulate_resp(X, sw, rng.dirichlet(np.ones(3), 300), kp, 1, 100)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_zero_weight_component_has_minus_infinite_log_density(covariance_type):
    _, X, kp, _ = _setup(covariance_type, 3, 3, weights=np.array([0.0, 0.4, 0.6]))
    lp = _engine.log_densities(X, kp)
    assert np.all(lp[:, 0] == -np.inf) and np.all(np.isfinite(lp[:, 1:]))
