"""gmmx.BayesianGaussianMixture against scikit-learn's, from identical starts."""

import re
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.mixture import BayesianGaussianMixture as SKBayesian  # noqa: E402

import gmmx  # noqa: E402
from gmmx.core import kernel  # noqa: E402

from conftest import assert_same_bgm, bgm_attributes, check_estimator_statuses  # noqa: E402

COV_TYPES = ["full", "tied", "diag", "spherical"]
PRIOR_TYPES = ["dirichlet_process", "dirichlet_distribution"]


def _three_clusters(n=600, seed=0, d=3):
    rng = np.random.RandomState(seed)
    return np.vstack([rng.randn(n // 2, d), rng.randn(n // 3, d) * 0.5 + 4.0,
                      rng.randn(n - n // 2 - n // 3, d) * 0.3 - 4.0])


def _both(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return SKBayesian(**kw), gmmx.BayesianGaussianMixture(**kw)


def _lb(value):
    return float(np.squeeze(value))  # scikit-learn's tied lower bound is a 1-element array


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_same_start_same_fit_as_scikit_learn(covariance_type, prior_type):
    # init_params='random' draws the same responsibilities from the same seed:
    # an identical start on any data; tol=0 fixes the number of iterations
    X = _three_clusters()
    kw = dict(n_components=5, covariance_type=covariance_type, init_params="random",
              weight_concentration_prior_type=prior_type, random_state=3, max_iter=25, tol=0)
    sk, gm = _both(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk.fit(X)
        gm.fit(X)
    assert gm.n_iter_ == sk.n_iter_ == 25
    assert_same_bgm(gm, sk, rtol=1e-8)
    assert gm.lower_bound_ == pytest.approx(_lb(sk.lower_bound_), rel=1e-10)
    np.testing.assert_allclose(gm.lower_bounds_, np.ravel(sk.lower_bounds_), rtol=1e-10)
    for name in ("weight_concentration_prior_", "mean_precision_prior_", "mean_prior_",
                 "degrees_of_freedom_prior_", "covariance_prior_"):
        np.testing.assert_allclose(getattr(gm, name), getattr(sk, name), rtol=1e-12)
    np.testing.assert_array_equal(gm.predict(X), sk.predict(X))
    np.testing.assert_allclose(gm.predict_proba(X), sk.predict_proba(X), atol=1e-9)
    np.testing.assert_allclose(gm.score_samples(X), sk.score_samples(X), rtol=1e-10)
    assert gm.score(X) == pytest.approx(sk.score(X), rel=1e-10)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_kmeans_start_on_separated_clusters_matches_scikit_learn(covariance_type):
    X = _three_clusters(seed=1)
    kw = dict(n_components=3, covariance_type=covariance_type, random_state=0, max_iter=10,
              tol=0, weight_concentration_prior=0.01)
    sk, gm = _both(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels_sk = sk.fit_predict(X)
        labels_gm = gm.fit_predict(X)
    # both k-means starts find the three clusters; components may be numbered apart
    order = [int(np.argmin(np.abs(sk.means_[:, 0] - m))) for m in gm.means_[:, 0]]
    assert sorted(order) == [0, 1, 2]
    np.testing.assert_array_equal(np.asarray(order)[labels_gm], labels_sk)
    assert order == [0, 1, 2]  # numbered alike here: then the fits are the same
    assert_same_bgm(gm, sk, rtol=1e-8)
    assert gm.lower_bound_ == pytest.approx(_lb(sk.lower_bound_), rel=1e-10)


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_compare_covariance_types_after_the_first_m_step(prior_type):
    # scikit-learn's test_compare_covar_type through the public API (max_iter=0)
    X = _three_clusters(seed=2, d=2)
    scaled = {}
    for ct in COV_TYPES:
        m = gmmx.BayesianGaussianMixture(n_components=4, covariance_type=ct, max_iter=0,
                                         random_state=0, init_params="random",
                                         weight_concentration_prior_type=prior_type)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.fit(X)
        nu = np.asarray(m.degrees_of_freedom_)
        scaled[ct] = m.covariances_ * (nu[:, None, None] if ct == "full" else
                                       nu[:, None] if ct == "diag" else nu)
    np.testing.assert_allclose(scaled["tied"], scaled["full"].mean(0), rtol=1e-12)
    diag = np.array([np.diag(c) for c in scaled["full"]])
    np.testing.assert_allclose(scaled["diag"], diag, rtol=1e-12)
    np.testing.assert_allclose(scaled["spherical"], diag.mean(1), rtol=1e-12)


def _fit(X, **kw):
    m = gmmx.BayesianGaussianMixture(n_components=3, random_state=0, max_iter=15, tol=0, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return m.fit(X)


def test_out_of_core_and_dask_equal_in_memory(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    pa = pytest.importorskip("pyarrow")
    X = _three_clusters(n=3000, seed=4)
    ref = _fit(X)
    np.save(tmp_path / "x.npy", X)
    pq.write_table(pa.table({f"c{j}": X[:, j] for j in range(3)}), tmp_path / "x.parquet",
                   row_group_size=700)
    blocks = [X[i:i + 1000] for i in range(0, 3000, 1000)]
    fits = {"npy": _fit(str(tmp_path / "x.npy")),
            "parquet": _fit(str(tmp_path / "x.parquet")),
            "blocks": _fit(blocks)}
    da = pytest.importorskip("dask.array")
    fits["dask"] = _fit(da.from_array(X, chunks=(800, 3)))
    for name, m in fits.items():
        assert_same_bgm(m, ref, rtol=1e-10)
        assert m.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-10), name


def test_integer_sample_weights_equal_repeated_rows():
    X = _three_clusters(n=300, seed=5)
    w = np.random.RandomState(0).randint(1, 4, len(X))
    start = dict(init_params="k-means++")
    a = _fit(np.repeat(X, w, axis=0), **start)
    b = _fit(X, **start)  # a different start: compare from b's parameters instead
    # from the same start (b's posterior), one weighted pass == one pass over repeats
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c = gmmx.BayesianGaussianMixture(n_components=3, max_iter=1, tol=0, warm_start=True)
        d = gmmx.BayesianGaussianMixture(n_components=3, max_iter=1, tol=0, warm_start=True)
        for m in (c, d):
            m.fit(X, sample_weight=w) if m is c else m.fit(np.repeat(X, w, axis=0))
        for m in (c, d):
            for name, value in bgm_attributes(b).items():
                if name == "weight_concentration_":
                    value = (value[0], value[1]) if value.ndim == 2 else value
                setattr(m, name, value)
            m.fit(X, sample_weight=w) if m is c else m.fit(np.repeat(X, w, axis=0))
    assert_same_bgm(c, d, rtol=1e-10)
    assert np.isfinite(a.lower_bound_)


def test_save_load_round_trip(tmp_path):
    X = _three_clusters(seed=6)
    m = _fit(X, weight_concentration_prior=0.1)
    m.save(tmp_path / "m.npz")
    back = gmmx.load(tmp_path / "m.npz")
    assert type(back) is gmmx.BayesianGaussianMixture
    assert_same_bgm(back, m, rtol=0)
    np.testing.assert_array_equal(back.predict_proba(X), m.predict_proba(X))
    assert back.lower_bound_ == m.lower_bound_ and back.n_iter_ == m.n_iter_
    for name in ("weight_concentration_prior_", "mean_precision_prior_", "mean_prior_",
                 "degrees_of_freedom_prior_", "covariance_prior_"):
        np.testing.assert_array_equal(getattr(back, name), getattr(m, name))
    # online state survives: the next partial_fit step is the same
    o = gmmx.BayesianGaussianMixture(n_components=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        o.partial_fit(X[:300])
        o.partial_fit(X[300:450])
        o.save(tmp_path / "o.npz")
        back = gmmx.load(tmp_path / "o.npz")
        o.partial_fit(X[450:])
        back.partial_fit(X[450:])
    assert_same_bgm(back, o, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_float32_kept_and_agrees_with_float64(covariance_type):
    X = _three_clusters(n=900, seed=7)
    a = _fit(X.astype(np.float32), covariance_type=covariance_type)
    b = _fit(X.astype(np.float32).astype(np.float64), covariance_type=covariance_type)
    for name, value in bgm_attributes(a).items():
        assert np.asarray(getattr(a, name) if name != "weight_concentration_"
                          else value).dtype in (np.float32, np.float64)
    assert a.means_.dtype == a.covariances_.dtype == a.weights_.dtype == np.float32
    assert a.score_samples(X.astype(np.float32)).dtype == np.float32
    assert_same_bgm(a, b, rtol=1e-4)


def test_feature_names_and_sample():
    pd = pytest.importorskip("pandas")
    X = _three_clusters(seed=8)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    m = _fit(df)
    assert list(m.feature_names_in_) == ["a", "b", "c"]
    s, y = m.sample(50)
    assert s.shape == (50, 3) and y.shape == (50,)


@pytest.mark.parametrize("kw, message", [
    (dict(weight_concentration_prior=-1), "The 'weight_concentration_prior' parameter of "
     "BayesianGaussianMixture must be None or a float in the range \\(0.0, inf\\). Got -1"),
    (dict(weight_concentration_prior=np.inf), "weight_concentration_prior"),
    (dict(mean_precision_prior=0), "The 'mean_precision_prior' parameter"),
    (dict(degrees_of_freedom_prior=-1), "The 'degrees_of_freedom_prior' parameter"),
    (dict(degrees_of_freedom_prior=0.5), "The parameter 'degrees_of_freedom_prior' should be "
     "greater than 1, but got 0.500."),
    (dict(covariance_prior=-1.0), "The 'covariance_prior' parameter"),
    (dict(covariance_prior="x"), "The 'covariance_prior' parameter"),
    (dict(mean_prior=[1, 2, 3]), "The parameter 'means' should have the shape of \\(2,\\)"),
    (dict(mean_prior="ab"), "The 'mean_prior' parameter"),
    (dict(mean_prior=[np.nan, 1.0]), "NaN"),
    (dict(weight_concentration_prior_type="x"), "weight_concentration_prior_type"),
    (dict(covariance_prior=np.eye(3)), "The parameter 'full covariance_prior' should have "
     "the shape of \\(2, 2\\)"),
    (dict(covariance_prior=-np.eye(2)), "'full precision' should be symmetric, "
     "positive-definite"),
    (dict(covariance_prior=np.array([[1.0, 2.0], [0.0, 1.0]])), "symmetric"),
    (dict(covariance_type="diag", covariance_prior=[1, -1.0]), "'diag precision' should be "
     "positive"),
    (dict(covariance_type="spherical", covariance_prior=[1.0, 2.0]), "spherical "
     "covariance_prior"),
    (dict(learning_decay=0.3), "learning_decay"),
])
def test_bad_priors_are_refused_with_scikit_learns_messages(kw, message):
    X = np.random.RandomState(0).rand(20, 2)
    with pytest.raises(ValueError, match=message):
        gmmx.BayesianGaussianMixture(n_components=2, **kw).fit(X)


def test_messages_are_scikit_learns():
    X = np.random.RandomState(0).rand(20, 2)
    for kw in (dict(weight_concentration_prior=-1), dict(weight_concentration_prior="a"),
               dict(mean_precision_prior=0), dict(degrees_of_freedom_prior=-1),
               dict(degrees_of_freedom_prior=0.5), dict(covariance_prior=-1.0),
               dict(covariance_prior="x"), dict(mean_prior=[1, 2, 3]), dict(mean_prior="ab"),
               dict(weight_concentration_prior_type="x"), dict(covariance_prior=np.eye(3)),
               dict(covariance_prior=-np.eye(2)),
               dict(covariance_prior=np.array([[1.0, 2.0], [0.0, 1.0]])),
               dict(covariance_type="diag", covariance_prior=[1, -1.0]),
               dict(covariance_type="diag", covariance_prior=[1, 1, 1.0]),
               dict(covariance_type="spherical", covariance_prior=-2.0),
               dict(covariance_type="tied", covariance_prior=np.eye(3))):
        with pytest.raises(ValueError) as theirs:
            SKBayesian(n_components=2, **kw).fit(X)
        with pytest.raises(ValueError) as ours:
            gmmx.BayesianGaussianMixture(n_components=2, **kw).fit(X)
        assert _options_sorted(str(ours.value)) == _options_sorted(str(theirs.value))


def _options_sorted(message):
    """scikit-learn prints a set of options in hash order (it varies per process)."""
    return re.sub(r"\{([^{}]*)\}", lambda m: "{" + ", ".join(sorted(m.group(1).split(", ")))
                  + "}", message)


def test_no_nan_on_degenerate_data():
    # identical rows (discrete prices), a constant column, an emptied component
    X = np.repeat(np.array([[1.0, 5.0], [1.0, 5.0], [2.0, 5.0]]), 50, axis=0)
    m = gmmx.BayesianGaussianMixture(n_components=4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(X)
    for value in bgm_attributes(m).values():
        assert np.all(np.isfinite(value))


def test_partial_fit_reaches_the_maximum_likelihood_fit_on_ticks():
    # reduced acceptance case: 85% sd 1e-4, 15% sd 4e-4, shuffled batches of 20,000
    rng = np.random.default_rng(0)
    n = 200_000
    wide = rng.random(n) < 0.15
    x = np.where(wide, rng.normal(0, 4e-4, n), rng.normal(0, 1e-4, n))[:, None]
    # reg_covar scaled to the data (returns have variances near 1e-8)
    m = gmmx.BayesianGaussianMixture(n_components=6, random_state=0, reg_covar=1e-14)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(0, n, 20_000):
            m.partial_fit(x[i:i + 20_000])
        ml = gmmx.GaussianMixture(2, random_state=0, reg_covar=1e-14, tol=1e-8,
                                  max_iter=500).fit(x)
    kp = kernel.kernel_params(m.weights_, m.means_, m.precisions_cholesky_, "full")
    ll = kernel.log_prob_norm(x, kp).mean()
    assert abs(ll - ml.score(x)) < 2e-3
    assert np.sum(m.weights_ > 0.01) == 2
    assert m.n_iter_ == 10
    assert np.all(np.isfinite(m.covariances_))


def test_check_estimator_passes_every_check_but_the_declared_ones():
    est = gmmx.BayesianGaussianMixture(n_components=2, random_state=0, n_threads=1)
    status, expected = check_estimator_statuses(est)
    assert len(status) > 40
    assert [name for name, s in status.items() if s == "failed"] == []
    assert {n for n, s in status.items() if s == "xfail"} == set(expected)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_price_level_keeps_the_digits_scikit_learn_loses(covariance_type):
    # the fit is translation-equivariant: gmmx at a price level of 1e4 equals
    # scikit-learn at the origin (scikit-learn at 1e4 loses ~1e-6 to cancellation)
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(3000, 2), rng.randn(2000, 2) * 0.5 + 3])
    kw = dict(n_components=4, covariance_type=covariance_type, init_params="random",
              random_state=1, max_iter=10, tol=0)
    sk, gm = _both(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk.fit(X)
        gm.fit(X + 1e4)
    np.testing.assert_allclose(gm.covariances_, sk.covariances_, rtol=1e-9,
                               atol=1e-9 * np.abs(sk.covariances_).max())
    np.testing.assert_allclose(gm.means_ - 1e4, sk.means_, rtol=0, atol=1e-9)
    assert gm.lower_bound_ == pytest.approx(_lb(sk.lower_bound_), rel=1e-9)


def test_partial_fit_after_fit_continues_from_the_fitted_posterior():
    X = _three_clusters(n=3000, seed=9)
    m = gmmx.BayesianGaussianMixture(n_components=4, random_state=0, max_iter=500, tol=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(X)
        before = bgm_attributes(m)
        m.partial_fit(X[::2])
    # a converged posterior is a fixed point of the step on data like the fit's
    assert m.n_iter_ == 2
    np.testing.assert_allclose(m.weights_, before["weights_"], atol=2e-3)
    np.testing.assert_allclose(m.means_, before["means_"], atol=0.05)
    # the posterior counts the fit's rows and the batch's
    assert m.mean_precision_.sum() == pytest.approx(3000 + 1500 + 4, rel=1e-6)
