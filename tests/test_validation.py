"""Bad input gets a clear ValueError; degenerate data ends finite or with a clear error."""


import numpy as np
import pytest

from conftest import blobs, expected_warnings
from gmmx import GaussianMixture
from gmmx._validation import as_float_array


@pytest.fixture
def X():
    return blobs(200, 2, 2, seed=0)[0]


@pytest.mark.parametrize("bad, match", [
    (np.nan, "NaN or infinity .first at row 7"),
    (np.inf, "NaN or infinity .first at row 7"),
    (-np.inf, "NaN or infinity"),
])
def test_non_finite_values(X, bad, match):
    X = X.copy()
    X[7, 1] = bad
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2).fit(X)


def test_non_finite_at_predict(X):
    gm = GaussianMixture(2, random_state=0).fit(X)
    Xb = X.copy()
    Xb[3, 0] = np.nan
    for method in (gm.predict, gm.predict_proba, gm.score_samples, gm.score):
        with pytest.raises(ValueError, match="row 3"):
            method(Xb)


def test_wrong_ndim_and_empty():
    with pytest.raises(ValueError, match="2-D"):
        GaussianMixture().fit(np.zeros((3, 2, 2)))
    with pytest.raises(ValueError, match="0 sample"):
        GaussianMixture().fit(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="0 features"):
        GaussianMixture().fit(np.zeros((5, 0)))
    with pytest.raises(ValueError, match="n_samples >= 2"):
        GaussianMixture().fit(np.zeros((1, 2)))


def test_too_few_samples_for_components(X):
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        GaussianMixture(5).fit(X[:3])


def test_feature_mismatch_at_predict(X):
    gm = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 3 features, but GaussianMixture is expecting 2"):
        gm.predict(np.zeros((4, 3)))


def test_non_numeric():
    with pytest.raises(ValueError, match="non-numeric"):
        GaussianMixture().fit(np.array([["a", "b"], ["c", "d"]], dtype=object))
    with pytest.raises(ValueError, match="not numeric"):
        GaussianMixture().fit(np.array([["a", "b"], ["c", "d"]]))


@pytest.mark.parametrize("w, match", [
    (-1.0, "negative"),
    (0.0, "all zero"),
    (np.nan, "NaN or infinity"),
])
def test_bad_sample_weight(X, w, match):
    weights = np.ones(X.shape[0])
    if w == 0.0:
        weights[:] = 0.0
    else:
        weights[5] = w
    with pytest.raises(ValueError, match=match):
        GaussianMixture(2).fit(X, sample_weight=weights)


def test_sample_weight_shape(X):
    with pytest.raises(ValueError, match=r"shape \(200,\)"):
        GaussianMixture(2).fit(X, sample_weight=np.ones(10))


@pytest.mark.parametrize("params, match", [
    (dict(n_components=0), "n_components"),
    (dict(n_components=1.5), "n_components"),
    (dict(covariance_type="banana"), "covariance_type"),
    (dict(tol=-1), "tol"),
    (dict(reg_covar=-1e-3), "reg_covar"),
    (dict(max_iter=-1), "max_iter"),
    (dict(n_init=0), "n_init"),
    (dict(init_params="magic"), "init_params"),
    (dict(n_threads=0), "n_threads"),
    (dict(verbose_interval=0), "verbose_interval"),
    (dict(weights_init=[0.5, 0.6]), "sum to 1"),
    (dict(weights_init=[0.5]), "shape"),
    (dict(means_init=np.zeros((2, 3))), "means_init must have shape"),
    (dict(precisions_init=np.ones((2, 3, 3))), "precisions_init must have shape"),
    (dict(precisions_init=np.array([[[1, 2], [0, 1]], [[1, 0], [0, 1.0]]])), "symmetric"),
    (dict(precisions_init=-np.ones(2), covariance_type="spherical"), "positive"),
])
def test_invalid_parameters(X, params, match):
    params = dict(dict(n_components=2), **params)
    with pytest.raises(ValueError, match=match):
        GaussianMixture(**params).fit(X)


def test_float32_not_copied_to_float64():
    X = np.ones((100, 3), dtype=np.float32)
    out = as_float_array(X)
    assert out.dtype == np.float32 and np.shares_memory(out, X)
    Xf = np.asfortranarray(np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32))
    out = as_float_array(Xf)
    assert out.dtype == np.float32 and out.flags.c_contiguous


def test_constant_column_stays_finite():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=500), np.full(500, 3.0)])
    for cov in ["full", "tied", "diag", "spherical"]:
        gm = GaussianMixture(2, covariance_type=cov, random_state=0).fit(X)
        assert np.all(np.isfinite(gm.covariances_)) and np.all(np.isfinite(gm.means_))
        assert np.all(np.isfinite(gm.score_samples(X)))


def test_many_duplicate_returns_stay_finite():
    # Discrete tick returns: most values identical, a component collapses onto one.
    rng = np.random.default_rng(1)
    r = np.where(rng.random(5000) < 0.6, 0.0, rng.choice([-2e-4, -1e-4, 1e-4, 2e-4], 5000))
    with expected_warnings():
        gm = GaussianMixture(3, reg_covar=1e-12, random_state=0).fit(r)
    assert np.all(np.isfinite(gm.covariances_)) and np.all(gm.covariances_ > 0)
    assert np.all(np.isfinite(gm.weights_)) and gm.weights_.sum() == pytest.approx(1.0)


def test_collapsed_component_without_regularisation_ends_the_run_with_a_warning():
    # As scikit-learn's regression test for its issue 18216: the last valid
    # parameters, converged_ False, no exception (see tests/mixture/test_fit_state.py).
    X = np.r_[np.zeros(50), np.random.default_rng(2).normal(size=50)].reshape(-1, 1)
    with pytest.warns(UserWarning, match="collapsed.*reg_covar"):
        gm = GaussianMixture(2, reg_covar=0.0, means_init=[[0.0], [0.5]], max_iter=50,
                             random_state=0).fit(X)
    assert not gm.converged_ and np.all(gm.covariances_ > 0)


def test_component_that_empties_keeps_finite_parameters():
    X = blobs(400, 2, 1, seed=3)[0]
    far = np.array([[1e3, 1e3]])
    with expected_warnings():
        gm = GaussianMixture(2, means_init=np.r_[X[:1], far], max_iter=20, tol=0,
                             random_state=0).fit(X)
    assert np.all(np.isfinite(gm.means_)) and np.all(np.isfinite(gm.covariances_))
    assert gm.weights_.min() < 1e-10
    assert np.all(np.isfinite(gm.score_samples(X)))
