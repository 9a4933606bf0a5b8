"""float32 input: the fit (float32 lanes for one feature) against float64 fits."""

import numpy as np
import pytest

from conftest import GaussianMixture

pytestmark = pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")

U = 2.0 ** -24  # float32 unit roundoff


def _returns_at(offset, scale, n=20_000, seed=0):
    """Two-regime univariate data around ``offset`` with spread ``scale``."""
    rng = np.random.default_rng(seed)
    calm = rng.random(n) < 0.3
    x = np.where(calm, rng.normal(-1.0, 0.6, n), rng.normal(1.5, 1.2, n))
    return (offset + scale * x)[:, None]


def _fit(X, offset, scale, **kw):
    init = dict(weights_init=[0.5, 0.5], means_init=[[offset - scale], [offset + scale]],
                precisions_init=np.full((2, 1, 1), 1.0 / scale ** 2))
    return GaussianMixture(2, tol=0, max_iter=60, **init, **kw).fit(X)


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.max(np.abs(a - b) / np.abs(b))


def _rel_params(a, b):
    """Relative differences of weights_, means_ (to max(|mean|, sd): a mean
    near 0 has no relative precision of its own) and covariances_."""
    sd = np.sqrt(np.asarray(b.covariances_, dtype=np.float64)).reshape(len(b.weights_), -1)
    scale = np.maximum(np.abs(b.means_), sd[:, :1])
    return {"weights_": _rel(a.weights_, b.weights_),
            "means_": np.max(np.abs(a.means_.astype(np.float64) - b.means_) / scale),
            "covariances_": _rel(a.covariances_, b.covariances_)}


@pytest.mark.parametrize("offset, scale", [(0.0, 1.0), (100.0, 0.01), (4000.0, 0.5),
                                           (100.0, 0.001)])
def test_float32_fit_agrees_with_float64_fit_of_the_same_values(offset, scale):
    X32 = _returns_at(offset, scale).astype(np.float32)
    a = _fit(X32, offset, scale)
    b = _fit(X32.astype(np.float64), offset, scale)
    assert a.means_.dtype == np.float32 and b.means_.dtype == np.float64
    for name, err in _rel_params(a, b).items():
        assert err <= 1e-5, name
    assert a.lower_bound_ == pytest.approx(b.lower_bound_, rel=1e-5)
    assert a.n_iter_ == b.n_iter_


@pytest.mark.parametrize("offset, scale", [(0.0, 1.0), (100.0, 0.01), (100.0, 0.001)])
def test_float32_fit_against_original_float64_data_within_the_input_rounding(offset, scale):
    # The documented limit: rounding the input to float32 moves each value by
    # up to U |x|, so weights and covariances may move by U |x|max / sigma_min
    # relative and the means by U |x|max (plus the float32 rounding of means_).
    X64 = _returns_at(offset, scale)
    a = _fit(X64.astype(np.float32), offset, scale)
    b = _fit(X64, offset, scale)
    limit = U * np.abs(X64).max() / np.sqrt(b.covariances_.min())
    assert _rel(a.weights_, b.weights_) <= max(limit, 1e-5)
    assert _rel(a.covariances_, b.covariances_) <= max(limit, 1e-5)
    assert np.abs(a.means_.astype(np.float64) - b.means_).max() <= (
        2 * U * np.abs(X64).max() + 1e-5 * scale)
    assert a.lower_bound_ == pytest.approx(b.lower_bound_, rel=max(limit, 1e-5))
    if offset == 0.0:  # no price level: the plain 1e-5 agreement
        for name, err in _rel_params(a, b).items():
            assert err <= 1e-5, name


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_float32_fit_with_sample_weight_and_three_components(covariance_type):
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(-3, 0.5, 4000), rng.normal(0, 1, 5000),
                        rng.normal(4, 0.7, 3000)])[:, None]
    w = rng.uniform(0.2, 3.0, X.shape[0])
    prec = {"full": np.ones((3, 1, 1)), "diag": np.ones((3, 1)), "spherical": np.ones(3)}
    init = dict(weights_init=[0.3, 0.4, 0.3], means_init=[[-2.0], [0.5], [3.0]],
                precisions_init=prec[covariance_type], random_state=0)
    a = GaussianMixture(3, covariance_type=covariance_type, tol=0, max_iter=40, **init)
    b = GaussianMixture(3, covariance_type=covariance_type, tol=0, max_iter=40, **init)
    a.fit(X.astype(np.float32), sample_weight=w)
    b.fit(X.astype(np.float32).astype(np.float64), sample_weight=w)
    for name, err in _rel_params(a, b).items():
        assert err <= 1e-5, name
    assert a.lower_bound_ == pytest.approx(b.lower_bound_, rel=1e-5)


def test_float32_predict_paths_keep_float32_and_float32_precision():
    X64 = _returns_at(100.0, 0.01)
    X32 = X64.astype(np.float32)
    m = _fit(X32, 100.0, 0.01)
    ref = X32.astype(np.float64)
    proba, score = m.predict_proba(X32), m.score_samples(X32)
    assert proba.dtype == np.float32 and score.dtype == np.float32
    proba64, score64 = m.predict_proba(ref), m.score_samples(ref)
    assert proba64.dtype == np.float64
    np.testing.assert_allclose(proba, proba64, rtol=4 * U, atol=1e-30)
    np.testing.assert_allclose(score, score64, rtol=4 * U)
    np.testing.assert_array_equal(m.predict(X32), m.predict(ref))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("d", [1, 2])
def test_data_near_float32_max_keep_float64_parameters(covariance_type, d):
    """Covariances beyond float32's range (data near 3.4e38) are kept in float64, finite,
    and agree with scikit-learn's float64 fit from the same initial parameters."""
    sk_mixture = pytest.importorskip("sklearn.mixture")
    rng = np.random.default_rng(3)
    side = np.where(rng.random((2000, 1)) < 0.4, -3e38, 3e38)
    X = (side + 1e37 * rng.standard_normal((2000, d))).astype(np.float32)
    assert np.isfinite(X).all()
    K = 2
    cov = {"full": np.tile(np.eye(d), (K, 1, 1)), "tied": np.eye(d),
           "diag": np.ones((K, d)), "spherical": np.ones(K)}[covariance_type] * 1e-74
    init = dict(weights_init=[0.5, 0.5], means_init=np.full((K, d), [[-2e38], [2e38]]),
                precisions_init=cov, covariance_type=covariance_type, tol=0, max_iter=5)
    gm = GaussianMixture(K, **init).fit(X)
    ref = sk_mixture.GaussianMixture(K, **init).fit(X.astype(np.float64))
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        value = getattr(gm, name)
        assert value.dtype == np.float64, name
        assert np.all(np.isfinite(value)) and np.all(np.abs(value) < np.inf), name
        np.testing.assert_allclose(value, getattr(ref, name), rtol=1e-5, err_msg=name)
    assert np.all(gm.predict(X) == ref.predict(X.astype(np.float64)))


@pytest.mark.parametrize("family", ["student_t", "bayesian"])
def test_other_families_near_float32_max_keep_float64_parameters(family):
    """As GaussianMixture: fitted attributes float32 cannot hold are kept in
    float64 and finite (they overflowed to inf in the cast before)."""
    from gmmx import BayesianGaussianMixture, StudentTMixture

    rng = np.random.default_rng(0)
    X = (1e37 * rng.standard_t(4, size=(500, 3))).astype(np.float32)
    assert np.isfinite(X).all()
    if family == "student_t":
        m = StudentTMixture(2, random_state=0).fit(X)
        names = ("weights_", "means_", "scales_", "covariances_", "precisions_",
                 "precisions_cholesky_")
    else:
        m = BayesianGaussianMixture(n_components=2, random_state=0, max_iter=20).fit(X)
        names = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")
    for name in names:
        value = getattr(m, name)
        assert value.dtype == np.float64, name
        assert np.all(np.isfinite(value)), name
    assert np.isfinite(m.score(X))
    # ordinary float32 data keeps float32 attributes
    small = StudentTMixture(2, random_state=0).fit(X / np.float32(1e37))
    assert small.scales_.dtype == np.float32 and small.means_.dtype == np.float32
