"""Online (stepwise) EM through partial_fit."""

from functools import partial

import numpy as np
import pytest

from conftest import GaussianMixture, assert_same_fit, perturbed_init, two_clusters

pytestmark = pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")

COV_TYPES = ["full", "tied", "diag", "spherical"]

_data = partial(two_clusters, n=4000, d=2, locs=(-1.5, 2.0), scales=(1.0, 0.6))
_init = partial(perturbed_init, max_iter=2, shift=0.2)
_close = partial(assert_same_fit, same_run=False)


@pytest.mark.parametrize("cov", COV_TYPES)
def test_one_batch_is_one_em_iteration(cov):
    X = _data(d=3)
    w = np.random.default_rng(1).uniform(0, 2, len(X))
    init = _init(X, 3, cov)
    ref = GaussianMixture(3, covariance_type=cov, max_iter=1, **init).fit(X, sample_weight=w)
    m = GaussianMixture(3, covariance_type=cov, **init).partial_fit(X, sample_weight=w)
    _close(m, ref)
    assert m.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-12)
    assert m.n_iter_ == 1 and m.n_features_in_ == 3


def test_first_call_initialises_like_fit():
    X = _data()
    ref = GaussianMixture(2, random_state=3, max_iter=1).fit(X)
    m = GaussianMixture(2, random_state=3).partial_fit(X)
    _close(m, ref)


def test_stream_of_batches_converges():
    X = _data(n=40_000, seed=2)
    ref = GaussianMixture(2, random_state=0, tol=1e-8, max_iter=300).fit(X)
    m = GaussianMixture(2, random_state=0, step_exponent=0.7)
    seen = []
    m.callback = lambda n, lb: seen.append(n)
    for batch in np.array_split(X, 80):
        m.partial_fit(batch)
    key = lambda g: np.argsort(g.means_[:, 0])  # noqa: E731
    np.testing.assert_allclose(m.means_[key(m)], ref.means_[key(ref)], atol=0.05)
    np.testing.assert_allclose(m.weights_[key(m)], ref.weights_[key(ref)], atol=0.02)
    assert seen == list(range(1, 81)) and m.n_iter_ == 80
    assert len(m.lower_bounds_) == 80


def test_feature_mismatch_and_bad_batches():
    X = _data()
    m = GaussianMixture(2, random_state=0).partial_fit(X[:500])
    with pytest.raises(ValueError, match="X has 3 features, but GaussianMixture is expecting 2 features as input"):
        m.partial_fit(np.ones((10, 3)))
    with pytest.raises(ValueError, match="NaN"):
        m.partial_fit(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="at least n_components rows"):
        GaussianMixture(3).partial_fit(X[:2])
    with pytest.raises(ValueError, match="sample_weight"):
        m.partial_fit(X[:10], sample_weight=np.ones(3))


@pytest.mark.parametrize("bad", [0.5, 0.3, 1.2, "x"])
def test_step_exponent_validated(bad):
    with pytest.raises(ValueError, match=r"step_exponent must be a number in \(0.5, 1\]"):
        GaussianMixture(2, step_exponent=bad).partial_fit(_data()[:100])


def test_step_exponent_is_a_constructor_param():
    m = GaussianMixture(2, step_exponent=0.9)
    assert m.get_params()["step_exponent"] == 0.9
    sklearn_base = pytest.importorskip("sklearn.base")
    assert sklearn_base.clone(m).step_exponent == 0.9


def test_partial_fit_after_fit_continues_from_fitted_params():
    X = _data()
    m = GaussianMixture(2, random_state=0).fit(X)
    means = m.means_.copy()
    ref = GaussianMixture(2, max_iter=1, weights_init=m.weights_, means_init=means,
                          precisions_init=m.precisions_).fit(X[:1000])
    m.partial_fit(X[:1000])  # a fresh recursion from the fitted parameters
    _close(m, ref)
    # refitting discards the stale online state
    m.fit(X)
    m.partial_fit(X[:1000])
    assert m._online_state.n_updates == 1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_streaming_partial_fit_is_one_em_iteration_of_scikit_learn():
    SkGaussianMixture = pytest.importorskip("sklearn.mixture").GaussianMixture
    from gmmx import streaming

    X = _data(d=2, seed=7)
    init = _init(X, 2, "full")
    ref = SkGaussianMixture(2, max_iter=1, reg_covar=1e-6, **init).fit(X)
    m = GaussianMixture(2, **init)
    assert streaming.partial_fit(m, X) is m
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_allclose(getattr(m, name), getattr(ref, name), rtol=1e-10, atol=1e-12)
    # its sample_weight reaches the update: whole weights are repeated rows
    w = np.random.default_rng(8).integers(0, 4, len(X))
    a = streaming.partial_fit(GaussianMixture(2, **init), X, sample_weight=w)
    b = streaming.partial_fit(GaussianMixture(2, **init), np.repeat(X, w, axis=0))
    _close(a, b)
    assert streaming.partial_fit(a, X[:100]).n_iter_ == 2
