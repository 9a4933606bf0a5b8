"""GaussianMixture against scikit-learn, closed forms and invariances."""

import warnings

import numpy as np
import pytest

from conftest import blobs, blobs_at, expected_warnings, init_params
from gmmx import ConvergenceWarning, GaussianMixture, NotFittedError, RegCovarWarning

sklearn = pytest.importorskip("sklearn")
from sklearn.mixture import GaussianMixture as SKGaussianMixture  # noqa: E402

COV_TYPES = ["full", "tied", "diag", "spherical"]


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def _fit_quiet(model, X, **kw):
    with expected_warnings():
        return model.fit(X, **kw)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("d", [1, 2, 16])
@pytest.mark.parametrize("k", range(1, 9))
def test_matches_sklearn_from_identical_init(covariance_type, d, k):
    X, _, _ = blobs(1500, d, max(k, 2), seed=d * 10 + k)
    init = init_params(X, k, covariance_type, seed=k)
    kw = dict(n_components=k, covariance_type=covariance_type, max_iter=15, tol=0, **init)
    ref = _fit_quiet(SKGaussianMixture(**kw), X)
    got = _fit_quiet(GaussianMixture(**kw), X)
    assert got.n_iter_ == ref.n_iter_ == 15
    assert _rel(got.weights_, ref.weights_) < 1e-8
    assert _rel(got.means_, ref.means_) < 1e-8
    assert _rel(got.covariances_, ref.covariances_) < 1e-8
    # Near-zero entries of the Cholesky factors make an elementwise ratio
    # meaningless; compare against the factor's scale instead.
    diff = np.abs(got.precisions_cholesky_ - ref.precisions_cholesky_).max()
    assert diff < 1e-8 * np.abs(ref.precisions_cholesky_).max()
    assert _rel(got.lower_bound_, ref.lower_bound_) < 1e-8
    assert _rel(got.lower_bounds_, ref.lower_bounds_) < 1e-8


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_inference_matches_sklearn(covariance_type):
    X, _, _ = blobs(800, 3, 3, seed=1)
    kw = dict(n_components=3, covariance_type=covariance_type, random_state=0)
    got = GaussianMixture(**kw).fit(X)
    ref = SKGaussianMixture(**kw)
    ref.fit(X[:50])
    ref._set_parameters(
        (got.weights_, got.means_, got.covariances_, got.precisions_cholesky_)
    )
    Xt = X[::3] + 0.1
    np.testing.assert_allclose(got.score_samples(Xt), ref.score_samples(Xt), rtol=1e-10)
    np.testing.assert_allclose(got.predict_proba(Xt), ref.predict_proba(Xt), atol=1e-12)
    np.testing.assert_array_equal(got.predict(Xt), ref.predict(Xt))
    assert got.score(Xt) == pytest.approx(ref.score(Xt), rel=1e-12)
    assert got.bic(Xt) == pytest.approx(ref.bic(Xt), rel=1e-10)
    assert got.aic(Xt) == pytest.approx(ref.aic(Xt), rel=1e-10)
    np.testing.assert_allclose(got.precisions_, ref.precisions_, rtol=1e-10)


def test_convergence_and_warning_like_sklearn():
    X, _, _ = blobs(1000, 2, 3, seed=3)
    init = init_params(X, 3, "full", seed=3)
    ref = SKGaussianMixture(3, tol=1e-6, max_iter=500, **init).fit(X)
    got = GaussianMixture(3, tol=1e-6, max_iter=500, **init).fit(X)
    assert got.converged_ and ref.converged_
    assert got.n_iter_ == ref.n_iter_
    with pytest.warns(ConvergenceWarning):
        GaussianMixture(3, max_iter=2, tol=0, **init).fit(X)


SEPARATED = np.array([[0.0, 0.0], [12.0, 0.0], [0.0, 12.0]])


def _separated(n, seed):
    return blobs_at(SEPARATED, n, seed)


def test_recovers_well_separated_clusters_with_native_kmeans():
    X, labels, centers = _separated(3000, 7)
    gm = GaussianMixture(3, random_state=0).fit(X)
    assert gm.converged_
    order = [int(np.argmin(np.linalg.norm(gm.means_ - c, axis=1))) for c in centers]
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_allclose(gm.means_[order], centers, atol=0.1)
    pred = gm.predict(X)
    mapped = np.array(order)[labels]
    assert np.mean(pred == mapped) > 0.99


@pytest.mark.parametrize("init_params_", ["kmeans", "k-means++", "random", "random_from_data"])
def test_every_init_scheme_fits(init_params_):
    X, _, centers = _separated(600, 2)
    gm = GaussianMixture(3, init_params=init_params_, n_init=5, random_state=0,
                         max_iter=300).fit(X)
    assert np.all(np.isfinite(gm.means_)) and np.all(np.isfinite(gm.covariances_))
    ref = SKGaussianMixture(3, random_state=0).fit(X)
    assert gm.score(X) == pytest.approx(ref.score(X), abs=1e-3)
    got = gm.means_[np.argsort(gm.means_[:, 0] + 2 * gm.means_[:, 1])]
    np.testing.assert_allclose(got, centers, atol=0.2)


def test_n_init_keeps_the_best_start():
    X, _, _ = blobs(500, 2, 4, seed=4)
    single = [GaussianMixture(4, init_params="random", random_state=s, max_iter=200).fit(X).lower_bound_
              for s in range(3)]
    best = GaussianMixture(4, init_params="random", n_init=3, random_state=0, max_iter=200).fit(X)
    assert best.lower_bound_ >= min(single) - 1e-12


def test_warm_start_continues_from_previous_fit():
    X, _, _ = blobs(500, 2, 2, seed=5)
    init = init_params(X, 2, "full", seed=5)
    a = _fit_quiet(GaussianMixture(2, max_iter=3, tol=0, warm_start=True, **init), X)
    _fit_quiet(a, X)
    b = _fit_quiet(GaussianMixture(2, max_iter=6, tol=0, **init), X)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-12)
    np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_integer_weights_equal_repeated_rows(covariance_type):
    X, _, _ = blobs(400, 3, 2, seed=6)
    w = np.random.default_rng(0).integers(0, 4, X.shape[0])
    init = init_params(X, 2, covariance_type, seed=1)
    kw = dict(n_components=2, covariance_type=covariance_type, max_iter=10, tol=0, **init)
    a = _fit_quiet(GaussianMixture(**kw), X, sample_weight=w)
    b = _fit_quiet(GaussianMixture(**kw), np.repeat(X, w, axis=0))
    for name in ["weights_", "means_", "covariances_"]:
        assert _rel(getattr(a, name), getattr(b, name)) < 1e-10, name
    assert a.lower_bound_ == pytest.approx(b.lower_bound_, rel=1e-12)


def test_scaling_all_weights_changes_nothing():
    X, _, _ = blobs(400, 2, 3, seed=8)
    w = np.random.default_rng(1).uniform(0.1, 2.0, X.shape[0])
    init = init_params(X, 3, "full", seed=2)
    kw = dict(n_components=3, max_iter=10, tol=0, **init)
    a = _fit_quiet(GaussianMixture(**kw), X, sample_weight=w)
    b = _fit_quiet(GaussianMixture(**kw), X, sample_weight=w * 1234.5)
    for name in ["weights_", "means_", "covariances_"]:
        assert _rel(getattr(a, name), getattr(b, name)) < 1e-12, name
    assert a.lower_bound_ == pytest.approx(b.lower_bound_, rel=1e-12)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("d", [1, 3])
def test_price_level_offset_does_not_cancel(covariance_type, d):
    X, _, _ = blobs(2000, d, 2, seed=9)
    Xs = X + 1e6
    init = init_params(X, 2, covariance_type, seed=3)
    kw = dict(n_components=2, covariance_type=covariance_type, max_iter=10, tol=0)
    a = _fit_quiet(GaussianMixture(**kw, **init), X)
    shifted = dict(init, means_init=init["means_init"] + 1e6)
    b = _fit_quiet(GaussianMixture(**kw, **shifted), Xs)
    assert _rel(b.means_, a.means_ + 1e6) < 1e-9
    # The data themselves are rounded at 1e6 * eps ~ 1e-10: covariances agree to that.
    assert _rel(b.covariances_, a.covariances_) < 1e-7
    assert _rel(b.weights_, a.weights_) < 1e-7


def test_float32_input_is_kept_and_agrees():
    X, _, _ = blobs(3000, 4, 3, seed=10)
    X32 = X.astype(np.float32)
    init = init_params(X, 3, "full", seed=4)
    kw = dict(n_components=3, max_iter=10, tol=0, **init)
    a = _fit_quiet(GaussianMixture(**kw), X32)
    same = _fit_quiet(GaussianMixture(**kw), X32.astype(np.float64))
    rounded = _fit_quiet(GaussianMixture(**kw), X)
    # Identical values: float32 is accumulated in float64, so the fit is the float64
    # fit; float32 in gives float32 parameters out (as scikit-learn >= 1.6), which are
    # exactly the float64 ones rounded.
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert getattr(a, name).dtype == np.float32
        np.testing.assert_array_equal(getattr(a, name), getattr(same, name).astype(np.float32))
    # Against the unrounded data: float32 precision.
    assert _rel(a.means_, rounded.means_) < 1e-5
    assert _rel(a.covariances_, rounded.covariances_) < 1e-5
    assert a.score_samples(X32).dtype == np.float32


@pytest.mark.parametrize("covariance_type", COV_TYPES)
@pytest.mark.parametrize("d", [1, 5])
def test_one_and_two_threads_agree(covariance_type, d):
    X, _, _ = blobs(20000, d, 3, seed=11)
    init = init_params(X, 3, covariance_type, seed=5)
    kw = dict(n_components=3, covariance_type=covariance_type, max_iter=8, tol=0, **init)
    a = _fit_quiet(GaussianMixture(n_threads=1, **kw), X)
    b = _fit_quiet(GaussianMixture(n_threads=2, **kw), X)
    # Chunks are grouped independently of the thread count and groups are
    # summed in order, so the results are not just close: they are identical.
    for name in ["weights_", "means_", "covariances_"]:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.lower_bound_ == b.lower_bound_
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))


def test_same_run_is_reproducible():
    X, _, _ = blobs(5000, 3, 3, seed=12)
    a = GaussianMixture(3, random_state=1, n_threads=2).fit(X)
    b = GaussianMixture(3, random_state=1, n_threads=2).fit(X)
    np.testing.assert_array_equal(a.means_, b.means_)
    np.testing.assert_array_equal(a.covariances_, b.covariances_)


def test_pandas_inputs():
    pd = pytest.importorskip("pandas")
    X, _, _ = blobs(300, 2, 2, seed=13)
    df = pd.DataFrame(X, columns=["a", "b"])
    a = GaussianMixture(2, random_state=0).fit(df)
    b = GaussianMixture(2, random_state=0).fit(X)
    np.testing.assert_allclose(a.means_, b.means_)
    s = pd.Series(X[:, 0], name="ret")
    c = GaussianMixture(2, random_state=0).fit(s)
    assert c.n_features_in_ == 1
    assert c.predict(s).shape == (300,)
    assert GaussianMixture(2, random_state=0).fit(list(X[:, 0])).means_.shape == (2, 1)


def test_sample_shapes_and_moments():
    X, _, _ = blobs(2000, 2, 2, seed=14)
    for cov in COV_TYPES:
        gm = GaussianMixture(2, covariance_type=cov, random_state=0).fit(X)
        Xs, ys = gm.sample(20000)
        assert Xs.shape == (20000, 2) and ys.shape == (20000,)
        for k in range(2):
            np.testing.assert_allclose(Xs[ys == k].mean(axis=0), gm.means_[k], atol=0.1)
        assert np.bincount(ys, minlength=2) / 20000 == pytest.approx(gm.weights_, abs=0.02)


def test_sklearn_clone_pipeline_gridsearch():
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, _, _ = blobs(300, 2, 3, seed=15)
    gm = GaussianMixture(2, covariance_type="diag", random_state=0)
    c = clone(gm)
    assert c.get_params() == gm.get_params() and c is not gm
    pipe = make_pipeline(StandardScaler(), GaussianMixture(3, random_state=0)).fit(X)
    assert pipe.predict(X).shape == (300,)
    search = GridSearchCV(GaussianMixture(random_state=0), {"n_components": [1, 2, 3, 4]}, cv=3)
    search.fit(X)
    assert search.best_params_["n_components"] >= 3
    assert "GaussianMixture(" in repr(gm) and "covariance_type='diag'" in repr(gm)


def test_set_params_rejects_unknown():
    with pytest.raises(ValueError, match="Invalid parameter 'foo'"):
        GaussianMixture().set_params(foo=1)
    gm = GaussianMixture().set_params(n_components=3)
    assert gm.n_components == 3


def test_reg_covar_warning_for_tick_scale_returns():
    r = np.random.default_rng(0).normal(0, 1e-4, 5000)  # variance 1e-8
    with pytest.warns(RegCovarWarning, match="reg_covar"):
        GaussianMixture(2, random_state=0).fit(r)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RegCovarWarning)
        gm = GaussianMixture(2, reg_covar=1e-14, random_state=0).fit(r)
    assert gm.covariances_.ravel().max() < 5e-8


def test_reg_covar_warning_where_the_variance_underflows():
    # deviations near 1e-300: their squares underflow float64, so np.var is
    # 0; the feature is not constant and reg_covar swamps it
    x = np.random.default_rng(0).normal(size=(500, 2)) * 1e-300
    with pytest.warns(RegCovarWarning, match="underflows float64"):
        GaussianMixture(2, random_state=0).fit(x)
    with warnings.catch_warnings():  # a constant feature is no such case
        warnings.simplefilter("error", RegCovarWarning)
        GaussianMixture(1, random_state=0).fit(np.c_[np.ones(500), np.arange(500.0)])


def test_failure_mid_fit_keeps_last_completed_iteration():
    X, _, _ = blobs(500, 2, 2, seed=16)
    init = init_params(X, 2, "full", seed=6)
    seen = []

    def stop_at_three(n_iter, lb):
        seen.append(lb)
        if n_iter == 3:
            raise KeyboardInterrupt

    gm = GaussianMixture(2, max_iter=10, tol=0, callback=stop_at_three, **init)
    with pytest.raises(KeyboardInterrupt):
        gm.fit(X)
    ref = _fit_quiet(GaussianMixture(2, max_iter=3, tol=0, **init), X)
    assert gm.n_iter_ == 3
    np.testing.assert_allclose(gm.means_, ref.means_, rtol=1e-13)
    assert seen == pytest.approx(ref.lower_bounds_)
    assert gm.predict(X).shape == (500,)


def test_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted"):
        GaussianMixture().predict(np.zeros((3, 1)))


def test_default_fit_is_identical_for_any_thread_count():
    # k-means initialisation included: every kernel groups chunks independently
    # of the number of threads.
    X, _, _ = blobs(60_000, 3, 4, seed=17)
    fits = [GaussianMixture(4, n_threads=t, random_state=0).fit(X) for t in (1, 2, 3)]
    for other in fits[1:]:
        np.testing.assert_array_equal(other.means_, fits[0].means_)
        np.testing.assert_array_equal(other.covariances_, fits[0].covariances_)
        assert other.n_iter_ == fits[0].n_iter_


def test_progress_bar_for_in_memory_fits(monkeypatch, capsys):
    pytest.importorskip("tqdm")
    import gmmx._progress as progress

    monkeypatch.setattr(progress, "progress_enabled", lambda flag, stream=None: bool(flag))
    X, _, _ = blobs(500, 2, 2, seed=18)
    gm = GaussianMixture(2, progress=True, max_iter=5, tol=0, random_state=0)
    with expected_warnings():
        gm.fit(X)
    err = capsys.readouterr().err
    assert "pass" in err and "5/5" in err
