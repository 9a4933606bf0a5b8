"""Every code path of the full / tied kernel against numpy and scikit-learn.

The kernel picks, per machine and shape, between BLAS (one GEMM per feature
block) and its own row-vectorised loops for the distances and the scatter.
Each test forces every combination, so each path is checked whichever one
the machine running the tests would pick by itself.
"""


import numpy as np
import pytest

from conftest import blobs, brute_force_estep, brute_force_log_densities, brute_force_stats
from conftest import expected_warnings, init_params, random_model
from conftest import scatter_in_use
from gmmx import GaussianMixture
from gmmx._kernels import _estep, layout
from gmmx.core import kernel as _engine
from gmmx.core.covariance import get_covariance

sklearn = pytest.importorskip("sklearn")
from sklearn.mixture import GaussianMixture as SKGaussianMixture  # noqa: E402

# (feature blocks, triangular distance loop, direct scatter loop, direct scatter
# on row-major rows: gmmx_full_scatter_rows, the AVX2 copies' choice)
PATHS = {
    "two-gemm": (1, 0, 0, 0),
    "blocked-gemm": (3, 0, 0, 0),
    "tri-distances+blocked-gemm": (2, 1, 0, 0),
    "gemm-distances+direct-scatter": (2, 0, 1, 0),
    "gemm-distances+row-scatter": (2, 0, 1, 1),
    "direct": (1, 1, 1, 0),
    "direct-rows": (1, 1, 1, 1),
}
paths = pytest.mark.parametrize("path", list(PATHS))
# d = 2..17: fewer features than blocks, d not a multiple of 4 (padding rows),
# and the d = 16 boundary
shapes = pytest.mark.parametrize("d, k", [(2, 1), (3, 3), (5, 2), (9, 4), (16, 3), (17, 2)])
full_tied = pytest.mark.parametrize("covariance_type", ["full", "tied"])


@pytest.fixture
def force_path(request):
    def force(path):
        blocks, tri, direct, rows = PATHS[path]
        _estep._set_full_blocks(blocks)
        _estep._set_full_tri(tri)
        _estep._set_full_direct_scatter(direct)
        _estep._set_full_row_scatter(rows)

    yield force
    _estep._set_full_blocks(0)
    _estep._set_full_tri(-1)
    _estep._set_full_direct_scatter(-1)
    _estep._set_full_row_scatter(-1)


def _model(covariance_type, d, k, n=517, dtype=np.float64):
    rng = np.random.default_rng(100 * d + k)
    X = (rng.normal(size=(n, d)) * 1.5 + 40.0).astype(dtype)  # offset: centring matters
    w, means, cov, full = random_model(rng, k, d, covariance_type)
    means = means + 40.0
    pc = get_covariance(covariance_type).precision_cholesky(cov)
    return rng, X, w, means, full, _engine.kernel_params(w, means, pc, covariance_type)


@paths
@shapes
@full_tied
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_estep_matches_brute_force(force_path, path, covariance_type, d, k, dtype):
    force_path(path)
    rng, X, w, means, full, kp = _model(covariance_type, d, k, dtype=dtype)
    X64 = X.astype(np.float64)
    sw = rng.uniform(0.2, 3.0, X.shape[0])
    norm, resp, nk, sk, Mk, ll = brute_force_estep(X64, sw, w, means, full)
    Mk = scatter_in_use(Mk, covariance_type)
    st = _engine.accumulate(X, sw, kp, n_threads=2, chunk_rows=37)
    scale = np.abs(Mk).max()
    np.testing.assert_allclose(st.nk, nk, rtol=1e-11)
    np.testing.assert_allclose(st.sk, sk, rtol=1e-9, atol=1e-10 * np.abs(sk).max())
    np.testing.assert_allclose(scatter_in_use(st.Mk, covariance_type), Mk, rtol=1e-9,
                               atol=1e-11 * scale)
    assert st.log_likelihood == pytest.approx(ll, rel=1e-12)
    lp = _engine.log_densities(X, kp, n_threads=2)
    ref = brute_force_log_densities(X64, w, means, full)
    np.testing.assert_allclose(lp, ref, rtol=1e-11, atol=1e-11 * np.abs(ref).max())
    np.testing.assert_allclose(_engine.log_prob_norm(X, kp), norm, rtol=1e-12, atol=1e-11)


@paths
@shapes
@full_tied
@pytest.mark.parametrize("chunk_rows", [64, 150])  # 150: the row scatter's blocks of 64 and a tail
def test_stats_given_resp_match_brute_force(force_path, path, covariance_type, d, k, chunk_rows):
    force_path(path)
    rng, X, w, means, full, kp = _model(covariance_type, d, k)
    resp = rng.uniform(0.0, 1.0, (X.shape[0], k))
    st = _engine.accumulate_resp(X, None, resp, kp, n_threads=2, chunk_rows=chunk_rows)
    nk, sk, Mk = brute_force_stats(X, resp, means)
    Mk = scatter_in_use(Mk, covariance_type)
    np.testing.assert_allclose(st.nk, nk, rtol=1e-12)
    np.testing.assert_allclose(st.sk, sk, rtol=1e-9, atol=1e-10 * np.abs(sk).max())
    np.testing.assert_allclose(scatter_in_use(st.Mk, covariance_type), Mk, rtol=1e-9,
                               atol=1e-11 * np.abs(Mk).max())


@paths
@full_tied
@pytest.mark.parametrize("d", [3, 9])
def test_same_bits_for_any_thread_count(force_path, path, covariance_type, d):
    force_path(path)
    rng, X, _, _, _, kp = _model(covariance_type, d, 3, n=2001)
    sw = rng.uniform(0.2, 3.0, X.shape[0])
    for chunk_rows in [7, 64, 0]:
        one = _estep.estep(X, sw, kp.cst, kp.means, kp.prec, kp.ref, kp.shift, kp.n_blocks,
                           kp.kind, 1, chunk_rows)
        assert one[1] == _estep.STATUS_OK
        for n_threads in [2, 3]:
            other = _estep.estep(X, sw, kp.cst, kp.means, kp.prec, kp.ref, kp.shift,
                                 kp.n_blocks, kp.kind, n_threads, chunk_rows)
            np.testing.assert_array_equal(other[0], one[0])


@pytest.mark.parametrize("path", ["direct", "direct-rows", "tri-distances+blocked-gemm"])
def test_kernel_scatter_is_symmetric_when_mirrored(force_path, path):
    # the paths that compute the upper triangle only fill the lower one by mirroring
    force_path(path)
    rng, X, _, _, _, kp = _model("full", 6, 2)
    flat = _estep.estep(X, np.empty(0), kp.cst, kp.means, kp.prec, kp.ref, kp.shift,
                        kp.n_blocks, kp.kind, 2, 50)[0]
    K, d = 2, 6
    G = flat[K:K + K * d * (d + 1)].reshape(d + 1, K * d)
    M = G[:d].reshape(d, K, d).transpose(1, 2, 0)
    if path.startswith("direct"):
        np.testing.assert_array_equal(M, M.transpose(0, 2, 1))
    np.testing.assert_allclose(layout.unpack(flat, K, d, kp.kind).M, M, rtol=1e-13)


@paths
@full_tied
def test_em_matches_sklearn_from_identical_init(force_path, path, covariance_type):
    force_path(path)
    d, k = 13, 3
    X, _, _ = blobs(1200, d, k, seed=7)
    init = init_params(X, k, covariance_type, seed=3)
    kw = dict(n_components=k, covariance_type=covariance_type, max_iter=10, tol=0, **init)
    with expected_warnings():
        ref = SKGaussianMixture(**kw).fit(X)
        got = GaussianMixture(**kw).fit(X)
    for a, b in [(got.weights_, ref.weights_), (got.means_, ref.means_),
                 (got.covariances_, ref.covariances_)]:
        assert np.max(np.abs(a - b)) <= 1e-8 * np.abs(b).max()
    assert got.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-8)


def test_automatic_choice_is_reported_and_sized():
    # the chunk size follows the path chosen for this machine
    d, k = 50, 10
    rows = _estep.default_chunk_rows(d, k, _estep.KIND_FULL)
    assert 64 <= rows <= 4096 and rows % 16 == 0
    assert _estep.full_tri_distances(d) in (True, False)
    assert _estep.full_direct_scatter(d) in (True, False)
    # the row-major scatter is one way of the direct scatter
    assert _estep.full_row_scatter(d) in (True, False)
    assert not _estep.full_row_scatter(d) or _estep.full_direct_scatter(d)
    assert 1 <= _estep.full_blocks(d) <= d
    assert _estep.full_blocks(1) == 1


@pytest.mark.parametrize("d, k", [(3, 2), (7, 8), (8, 4), (9, 4), (4, 16), (8, 8), (16, 8)])
def test_tied_distances_take_blas_once_k_times_d_is_large(simd_target, d, k):
    # one triangular product per component against one BLAS product for all
    # (measured: see full_tri_distances); full models keep the loops
    level = 0 if not _estep.full_direct_scatter(d) else (2 if "512" in simd_target else 1)
    want = level >= 1 and k * d <= _estep.TIED_TRI_MAX_KD and (
        level == 2 or d <= _estep.TIED_TRI_MAX_D_AVX2)
    assert _estep.full_tri_distances(d, True, k) == want
    assert _estep.full_tri_distances(d, False, k) == (level >= 1)
    expect = {(3, 2): True, (7, 8): True, (8, 4): level == 2, (9, 4): level == 2,
              (4, 16): False, (8, 8): False, (16, 8): False}
    assert want == (level >= 1 and expect[(d, k)])


def test_lower_triangle_of_the_factors_is_ignored():
    # precision Cholesky factors are upper triangular; stray values below the
    # diagonal (e.g. from user-set attributes) do not reach the kernel
    rng, X, w, means, full, kp = _model("full", 4, 2)
    pc = get_covariance("full").precision_cholesky(full)
    noisy = pc + np.tril(rng.normal(size=pc.shape), -1)
    kp2 = _engine.kernel_params(w, means, noisy, "full")
    np.testing.assert_array_equal(kp2.prec, kp.prec)
    np.testing.assert_array_equal(kp2.shift, kp.shift)
