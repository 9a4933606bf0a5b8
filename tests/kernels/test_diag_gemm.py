"""The GEMM formulation of diagonal and spherical models (d > 1).

Against brute-force float64 numpy, against the direct loops, across thread
counts and chunk sizes, on price-level data, and in the chunks it hands back
to the direct loops.
"""


import numpy as np
import pytest

from conftest import (blobs, expected_warnings, brute_force_estep, brute_force_log_densities, brute_force_stats,
                      init_params, random_model)
from gmmx import GaussianMixture
from gmmx._kernels import _estep
from gmmx.core import kernel as _engine
from gmmx.core.covariance import get_covariance

DIAG = pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
dtypes = pytest.mark.parametrize("dtype", [np.float64, np.float32])
shapes = pytest.mark.parametrize("d, k", [(2, 1), (3, 3), (16, 8), (9, 64)])


def _setup(covariance_type, d, k, dtype=np.float64, n=1037, diag_gemm=True, seed=0):
    rng = np.random.default_rng(seed + 100 * d + k)
    weights, means, cov, full = random_model(rng, k, d, covariance_type)
    X = (means[rng.integers(0, k, n)] + rng.normal(size=(n, d))).astype(dtype)
    pc = get_covariance(covariance_type).precision_cholesky(cov)
    kp = _engine.kernel_params(weights, means, pc, covariance_type, diag_gemm=diag_gemm)
    return rng, X, kp, (weights, means, full, pc)


def _diag(Mk):
    return np.array([np.diag(m) for m in Mk])


def _price_level_model(separation, d=16, k=32, n=4000, spread=1e-2, seed=0):
    """Narrow diagonal components (spreads ~1e-2) near 1e4, ``separation`` spreads apart."""
    rng = np.random.default_rng(seed)
    level = 1e4 * (1 + np.arange(d) / 10)
    means = level + separation * spread * rng.normal(size=(k, d))
    var = (spread * rng.uniform(0.5, 2.0, (k, d))) ** 2
    labels = rng.integers(0, k, n)
    X = means[labels] + np.sqrt(var[labels]) * rng.normal(size=(n, d))
    weights = rng.dirichlet(np.full(k, 5.0))
    full = np.array([np.diag(v) for v in var])
    return X, labels, weights, means, 1 / np.sqrt(var), full


def test_the_gemm_is_chosen_where_it_is_faster_and_exact():
    rng = np.random.default_rng(0)

    def auto(k, d, covariance_type="diag", scale=3.0):
        means = rng.normal(scale=scale, size=(k, d))
        cov = rng.uniform(0.5, 2.0, (k, d) if covariance_type == "diag" else k)
        pc = get_covariance(covariance_type).precision_cholesky(cov)
        return _engine.kernel_params(np.full(k, 1 / k), means, pc, covariance_type)

    kp = auto(64, 64)  # the benchmark's shape
    assert kp.kind == _estep.KIND_DIAG and kp.ref.shape == (64,) and _engine.uses_blas(kp)
    np.testing.assert_allclose(kp.ref, kp.means.mean(axis=0), rtol=1e-12, atol=1e-12)
    assert auto(32, 16, "spherical").ref.shape == (16,)
    assert auto(64, 8).ref.shape == (8,)
    assert auto(8, 64).ref.shape == (64,)
    # direct loops measured faster (with some BLAS kernels) or the univariate path
    for k, d in [(4, 4), (8, 8), (8, 16), (4, 64), (64, 2), (64, 1)]:
        kp = auto(k, d)
        assert kp.ref.shape == (0,) and not _engine.uses_blas(kp)
    # narrow components far apart: the expansion would cancel
    _, _, weights, means, pc, _ = _price_level_model(1000.0)
    assert _engine.kernel_params(weights, means, pc, "diag").ref.shape == (0,)


def test_without_threadpoolctl_diag_stays_on_the_direct_loops(monkeypatch):
    monkeypatch.setattr(_engine, "_CONTROLLER", False)
    _, _, kp, _ = _setup("diag", 64, 64, diag_gemm=None)
    assert kp.ref.shape == (0,)


def test_blas_is_held_for_the_gemm_path():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    _, _, kp, _ = _setup("diag", 16, 32, diag_gemm=None)
    assert _engine.uses_blas(kp)
    with _engine.blas_threads_for(kp.kind, 2, _engine.uses_blas(kp)) as n:
        assert n == 2
        blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        assert all(i["num_threads"] == 1 for i in blas)


@DIAG
@shapes
@dtypes
def test_log_densities_match_brute_force(covariance_type, d, k, dtype):
    _, X, kp, (weights, means, full, pc) = _setup(covariance_type, d, k, dtype)
    assert kp.ref.shape == (d,)
    ref = brute_force_log_densities(X.astype(np.float64), weights, means, full)
    lp = _engine.log_densities(X, kp, n_threads=2)
    np.testing.assert_allclose(lp, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
    direct = _engine.kernel_params(weights, means, pc, covariance_type, diag_gemm=False)
    np.testing.assert_allclose(lp, _engine.log_densities(X, direct, 2), rtol=1e-12,
                               atol=1e-12 * np.abs(ref).max())


@DIAG
@shapes
@dtypes
@pytest.mark.parametrize("weighted", [False, True])
def test_estep_statistics_match_brute_force(covariance_type, d, k, dtype, weighted):
    rng, X, kp, (weights, means, full, _) = _setup(covariance_type, d, k, dtype)
    n = X.shape[0]
    w = rng.uniform(0.2, 3.0, n) if weighted else np.ones(n)
    st = _engine.accumulate(X, w if weighted else None, kp, n_threads=2, chunk_rows=100)
    norm, resp, nk, sk, Mk, ll = brute_force_estep(X.astype(np.float64), w, weights, means, full)
    Mk = _diag(Mk)
    np.testing.assert_array_equal(st.centers, means)
    np.testing.assert_allclose(st.nk, nk, rtol=1e-12, atol=1e-12 * n)
    np.testing.assert_allclose(st.sk, sk, rtol=1e-9, atol=1e-10 * np.abs(sk).max())
    np.testing.assert_allclose(st.Mk, Mk, rtol=1e-11, atol=1e-12 * np.abs(Mk).max())
    assert st.log_likelihood == pytest.approx(ll, rel=1e-13)
    assert st.weight_sum == pytest.approx(w.sum(), rel=1e-14)
    np.testing.assert_allclose(_engine.log_prob_norm(X, kp, 2), norm, rtol=1e-13)
    np.testing.assert_allclose(_engine.responsibilities(X, kp, 2), resp, atol=1e-13)


@DIAG
@shapes
@pytest.mark.parametrize("weighted", [False, True])
def test_statistics_under_given_responsibilities_match_brute_force(covariance_type, d, k,
                                                                   weighted):
    rng, X, kp, (_, means, _, _) = _setup(covariance_type, d, k)
    n = X.shape[0]
    sw = rng.uniform(0.2, 3.0, n) if weighted else None
    resp = rng.uniform(0.0, 1.0, (n, k))
    st = _engine.accumulate_resp(X, sw, resp, kp, n_threads=2, chunk_rows=64)
    nk, sk, Mk = brute_force_stats(X, resp * (sw[:, None] if weighted else 1.0), means)
    np.testing.assert_array_equal(st.centers, means)
    np.testing.assert_allclose(st.nk, nk, rtol=1e-12)
    np.testing.assert_allclose(st.sk, sk, rtol=1e-10, atol=1e-11 * np.abs(sk).max())
    np.testing.assert_allclose(st.Mk, _diag(Mk), rtol=1e-11, atol=1e-12 * np.abs(Mk).max())
    assert st.log_likelihood == 0.0


@DIAG
@pytest.mark.parametrize("d, k", [(3, 3), (16, 8)])
def test_same_bits_for_any_thread_count(covariance_type, d, k):
    rng, X, kp, _ = _setup(covariance_type, d, k, n=2001)
    Xo = X.copy()
    Xo[1500, 1] = 1e155  # its chunk goes back to the direct loops (x'^2 overflows)
    sw = rng.uniform(0.2, 3.0, X.shape[0])
    resp = rng.dirichlet(np.ones(k), X.shape[0])

    def run(n_threads, chunk_rows):
        lp = _estep.log_densities(X, kp.cst, kp.means, kp.prec, kp.ref, kp.shift, kp.n_blocks,
                                  kp.kind, n_threads, chunk_rows)
        st = _estep.stats_given_resp(Xo, sw, resp, kp.means, kp.ref, kp.kind, n_threads,
                                     chunk_rows)
        assert lp[1] == st[1] == _estep.STATUS_OK
        assert lp[3] == st[3] == (chunk_rows or _estep.default_chunk_rows(d, k, kp.kind, True))
        return lp[0], st[0]

    for chunk_rows in [7, 64, 4096, 0]:
        lp1, st1 = run(1, chunk_rows)
        for n_threads in [2, 3]:
            lp, st = run(n_threads, chunk_rows)
            np.testing.assert_array_equal(lp, lp1)
            np.testing.assert_array_equal(st, st1)
    for chunk_rows in [7, 0]:  # the E-step proper
        out = [_estep.estep(X, sw, kp.cst, kp.means, kp.prec, kp.ref, kp.shift,
                            kp.n_blocks, kp.kind, t, chunk_rows)[0] for t in (1, 2, 3)]
        np.testing.assert_array_equal(out[1], out[0])
        np.testing.assert_array_equal(out[2], out[0])


def test_price_level_data_match_brute_force():
    # Components 10 spreads apart per feature near 1e4: the GEMM, centred at
    # the mixture mean, keeps the log-densities to ~1e-12 and the variances
    # (1e-4) to ~1e-13 relative, where an uncentred expansion would lose all.
    X, labels, weights, means, pc, full = _price_level_model(10.0)
    kp = _engine.kernel_params(weights, means, pc, "diag")
    assert kp.ref.shape == (X.shape[1],)  # chosen automatically
    ref = brute_force_log_densities(X, weights, means, full)
    lp = _engine.log_densities(X, kp, 2)
    own = np.arange(X.shape[0]), labels
    np.testing.assert_allclose(lp[own], ref[own], rtol=0, atol=1e-11)
    np.testing.assert_allclose(lp, ref, rtol=1e-12, atol=1e-11)
    n = X.shape[0]
    norm, _, nk, sk, Mk, ll = brute_force_estep(X, np.ones(n), weights, means, full)
    st = _engine.accumulate(X, None, kp, 2)
    np.testing.assert_allclose(st.nk, nk, rtol=1e-11, atol=1e-11)
    np.testing.assert_allclose(st.sk, sk, rtol=0, atol=1e-12 * np.sqrt(n) * 1e-2)
    np.testing.assert_allclose(st.Mk, _diag(Mk), rtol=1e-11)
    assert st.log_likelihood == pytest.approx(ll, rel=1e-13)


def test_narrow_components_far_apart_use_the_direct_loops():
    # 1000 spreads apart: the expansion would lose ~1e-8 in the log-densities
    # of a row's own component; the model stays on the direct loops and keeps
    # them to brute-force precision.
    X, labels, weights, means, pc, full = _price_level_model(1000.0)
    kp = _engine.kernel_params(weights, means, pc, "diag")
    assert kp.ref.shape == (0,)
    ref = brute_force_log_densities(X, weights, means, full)
    own = np.arange(X.shape[0]), labels
    direct_err = np.abs(_engine.log_densities(X, kp, 2) - ref)[own].max()
    assert direct_err < 1e-13
    forced = _engine.kernel_params(weights, means, pc, "diag", diag_gemm=True)
    assert np.abs(_engine.log_densities(X, forced, 2) - ref)[own].max() > 1e-10  # why
    n = X.shape[0]
    _, _, nk, sk, Mk, ll = brute_force_estep(X, np.ones(n), weights, means, full)
    st = _engine.accumulate(X, None, kp, 2)
    np.testing.assert_allclose(st.Mk, _diag(Mk), rtol=1e-13)
    assert st.log_likelihood == pytest.approx(ll, rel=1e-13)


def test_chunk_the_gemm_cannot_represent_is_redone_by_the_direct_loops():
    # Component 0 is extremely narrow (precision 1e300), component 1 wide. A
    # row 1e5 away makes P x'^2 overflow in the GEMM; its chunk is redone by
    # the direct loops (component 0: -inf, component 1 finite), statistics
    # still about ref.
    d, k, n = 3, 2, 600
    rng = np.random.default_rng(7)
    means = np.array([[0.5, -0.5, 0.25], [0.0, 0.0, 0.0]])
    pc = np.array([[1e150] * d, [0.5] * d])
    weights = np.array([0.3, 0.7])
    X = rng.normal(size=(n, d)) * 2.0
    X[250] = [1e5, -2e5, 3e5]
    gemm = _engine.kernel_params(weights, means, pc, "diag", diag_gemm=True)
    direct = _engine.kernel_params(weights, means, pc, "diag", diag_gemm=False)

    def norm_and_resp(kp):
        norm, resp = np.empty(n), np.empty((n, k))
        _, status, _, _ = _estep.estep(X, np.empty(0), kp.cst, kp.means, kp.prec, kp.ref,
                                       kp.shift, kp.n_blocks, kp.kind, 1, 100, False, norm, resp)
        assert status == _estep.STATUS_OK
        return norm, resp

    norm_gemm, resp_gemm = norm_and_resp(gemm)
    norm_direct, resp_direct = norm_and_resp(direct)
    # rows 200..299: the direct loops' bits; elsewhere the GEMM's
    np.testing.assert_array_equal(norm_gemm[200:300], norm_direct[200:300])
    np.testing.assert_array_equal(resp_gemm[200:300], resp_direct[200:300])
    assert not np.array_equal(norm_gemm[:200], norm_direct[:200])
    np.testing.assert_allclose(norm_gemm, norm_direct, rtol=1e-13)
    assert resp_gemm[250, 0] == 0.0 and np.isfinite(norm_gemm[250])
    a = _engine.accumulate(X, None, gemm, 1, 100)
    b = _engine.accumulate(X, None, direct, 1, 100)
    assert a.nk[0] == b.nk[0] == 0.0
    np.testing.assert_allclose(a.nk, b.nk, rtol=1e-13)
    np.testing.assert_allclose(a.sk, b.sk, rtol=1e-12)
    np.testing.assert_allclose(a.Mk, b.Mk, rtol=1e-12)
    assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=1e-13)


def test_row_far_from_every_component_is_named_on_the_gemm_path():
    _, X, kp, _ = _setup("diag", 16, 32, n=300, diag_gemm=None)
    assert kp.ref.shape == (16,)
    X[31] = 1e200
    with pytest.raises(ValueError, match=r"row 31 .*too far from every component"):
        _engine.log_prob_norm(X, kp)
    with pytest.raises(ValueError, match=r"row 31 .*too far from every component"):
        _engine.accumulate(X, None, kp)


def test_ref_of_the_wrong_length_is_refused():
    _, X, kp, _ = _setup("diag", 3, 2)
    with pytest.raises(ValueError, match="ref"):
        _estep.log_densities(X, kp.cst, kp.means, kp.prec, np.zeros(2), kp.shift, kp.n_blocks,
                             kp.kind, 1)



@DIAG
def test_fit_matches_sklearn_from_identical_init(covariance_type):
    sklearn_mixture = pytest.importorskip("sklearn.mixture")
    d, k = 16, 32
    X, _, _ = blobs(3000, d, k, seed=5)
    init = init_params(X, k, covariance_type, seed=2)
    pc = get_covariance(covariance_type).precision_cholesky(1 / init["precisions_init"])
    kp = _engine.kernel_params(init["weights_init"], init["means_init"], pc, covariance_type)
    assert kp.ref.shape == (d,)  # the GEMM path, chosen automatically
    kw = dict(n_components=k, covariance_type=covariance_type, max_iter=10, tol=0, **init)
    with expected_warnings():
        ref = sklearn_mixture.GaussianMixture(**kw).fit(X)
        got = GaussianMixture(**kw).fit(X)
    assert got.n_iter_ == ref.n_iter_ == 10
    for name in ("weights_", "means_", "covariances_"):
        a, b = getattr(got, name), getattr(ref, name)
        assert np.abs(a - b).max() <= 1e-8 * np.abs(b).max(), name
    assert got.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-8)
