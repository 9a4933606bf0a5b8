"""StudentTMixture against scipy.stats and studenttmixture, on every data source."""

import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp

import gmmx
from gmmx import DegreesOfFreedomWarning, StudentTMixture
from gmmx.core.student import dof_update
from conftest import check_estimator_statuses

COV_TYPES = ["full", "tied", "diag", "spherical"]
# short fits on purpose (fixed iteration counts compared across sources)
pytestmark = pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")


def T(*args, **kwargs):
    kwargs.setdefault("n_threads", 1)
    return StudentTMixture(*args, **kwargs)


def two_t_clusters(n=1000, d=2, nu=5.0, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_t(nu, (int(0.6 * n), d)) + 6.0
    b = 0.5 * rng.standard_t(nu, (n - int(0.6 * n), d)) - 6.0
    X = np.vstack([a, b])
    rng.shuffle(X)
    return X


def t_mixture_logpdf(X, model):
    """log p(x) by scipy.stats.multivariate_t, component by component."""
    K, d = model.means_.shape
    from gmmx.finance import full_covariances
    scales = full_covariances(model.scales_, model.covariance_type, K, d)
    comp = np.column_stack([
        stats.multivariate_t(model.means_[k], scales[k], df=model.degrees_of_freedom_[k])
        .logpdf(X).reshape(-1) for k in range(K)])
    return logsumexp(comp + np.log(model.weights_), axis=1)


def test_one_component_equals_scipy_t_fit():
    x = stats.t.rvs(4, loc=1.0, scale=2.0, size=3000, random_state=1)
    m = T(1, tol=1e-12, max_iter=5000).fit(x.reshape(-1, 1))
    df, loc, scale = stats.t.fit(x)
    np.testing.assert_allclose(m.degrees_of_freedom_[0], df, rtol=1e-4)
    np.testing.assert_allclose(m.means_[0, 0], loc, rtol=1e-4)
    np.testing.assert_allclose(np.sqrt(m.scales_[0, 0, 0]), scale, rtol=1e-4)
    ours = m.score(x.reshape(-1, 1)) * x.size
    assert ours >= stats.t.logpdf(x, df, loc, scale).sum() - 1e-9 * abs(ours)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_score_samples_equals_scipy_multivariate_t(covariance_type):
    X = two_t_clusters(400, d=3)
    m = T(2, covariance_type=covariance_type, random_state=0, max_iter=5).fit(X)
    np.testing.assert_allclose(m.score_samples(X), t_mixture_logpdf(X, m), rtol=1e-10)
    resp = m.predict_proba(X)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-12)


def _sorted(m, loc, scale, w):
    order = np.argsort(loc[:, 0])
    return loc[order], scale[order], w[order]


def test_fixed_dof_same_maximum_as_studenttmixture():
    from studenttmixture import EMStudentMixture
    X = two_t_clusters(1000)
    ref = EMStudentMixture(2, df=5.0, fixed_df=True, tol=1e-13, max_iter=10000, reg_covar=0.0)
    ref.fit(X)
    m = T(2, degrees_of_freedom=5.0, tol=1e-14, max_iter=10000, reg_covar=0.0,
          random_state=0).fit(X)
    rl, rs, rw = _sorted(ref, ref.location, np.transpose(ref.scale, (2, 0, 1)), ref.mix_weights)
    gl, gs, gw = _sorted(m, m.means_, m.scales_, m.weights_)
    np.testing.assert_allclose(gl, rl, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gs, rs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gw, rw, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(m.degrees_of_freedom_, [5.0, 5.0])


def test_estimated_dof_no_worse_than_studenttmixture():
    from studenttmixture import EMStudentMixture
    X = two_t_clusters(1000, seed=3)
    ref = EMStudentMixture(2, fixed_df=False, tol=1e-10, max_iter=5000, reg_covar=0.0)
    ref.fit(X)
    m = T(2, tol=1e-10, max_iter=5000, reg_covar=0.0, random_state=0).fit(X)
    assert m.score(X) >= ref.score(X) - 1e-10
    np.testing.assert_allclose(np.sort(m.degrees_of_freedom_), np.sort(ref.df_), rtol=1e-3)


def test_dof_update_root_solves_equation():
    from scipy.special import digamma
    nu, d, A = np.array([7.0]), 2, -1.05
    new = dof_update(np.array([1.0]), np.array([A]), nu, d)
    v = new[0]
    lhs = -digamma(v / 2) + np.log(v / 2) + 1 + A + digamma((7 + d) / 2) - np.log((7 + d) / 2)
    assert abs(lhs) < 1e-12


def _init(X, cov="full"):
    m = T(2, covariance_type=cov, random_state=0, max_iter=2).fit(X)
    return dict(weights_init=m.weights_, means_init=m.means_ + 0.05,
                precisions_init=m.precisions_)


def _assert_same(a, b, rtol=1e-10):
    for name in ("weights_", "means_", "scales_", "degrees_of_freedom_"):
        x, y = getattr(a, name), getattr(b, name)
        np.testing.assert_allclose(x, y, rtol=0, atol=rtol * np.max(np.abs(y)), err_msg=name)
    assert a.n_iter_ == b.n_iter_
    assert abs(a.lower_bound_ - b.lower_bound_) <= rtol * abs(b.lower_bound_)


@pytest.mark.parametrize("source", ["npy", "parquet", "blocks", "dask"])
def test_out_of_core_and_dask_equal_in_memory(source, tmp_path):
    X = two_t_clusters(1500, d=3, seed=5)
    kw = dict(n_components=2, tol=1e-8, max_iter=30, random_state=0, chunk_size=256,
              **_init(X))
    ref = T(**kw).fit(X)
    if source == "npy":
        data = str(tmp_path / "x.npy")
        np.save(data, X)
    elif source == "parquet":
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        data = str(tmp_path / "x.parquet")
        pq.write_table(pa.table({f"c{j}": X[:, j] for j in range(3)}), data, row_group_size=300)
    elif source == "blocks":
        data = [X[:500], X[500:1100], X[1100:]]
    else:
        da = pytest.importorskip("dask.array")
        data = da.from_array(X, chunks=(400, 3))
    _assert_same(T(**kw).fit(data), ref)


def test_sample_weight_equals_repeated_rows():
    X = two_t_clusters(300, seed=2)
    reps = np.random.default_rng(0).integers(0, 3, X.shape[0])
    init = _init(X)
    a = T(2, tol=1e-10, max_iter=50, **init).fit(X, sample_weight=reps.astype(float))
    b = T(2, tol=1e-10, max_iter=50, **init).fit(np.repeat(X, reps, axis=0))
    _assert_same(a, b, rtol=1e-9)


@pytest.mark.parametrize("covariance_type", COV_TYPES)
def test_every_covariance_type_fits_and_round_trips(covariance_type, tmp_path):
    X = two_t_clusters(600, d=3, seed=1)
    m = T(2, covariance_type=covariance_type, random_state=0, n_init=2).fit(X)
    assert m.scales_.shape == gmmx.GaussianMixture(
        2, covariance_type=covariance_type).fit(X).covariances_.shape
    nu = m.degrees_of_freedom_
    K, d = m.means_.shape
    from gmmx.finance import full_covariances
    scales = full_covariances(m.scales_, covariance_type, K, d)
    want = (nu / (nu - 2))[:, None, None] * scales
    got = full_covariances(m.covariances_, "full" if covariance_type == "tied" else
                           covariance_type, K, d)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    path = tmp_path / "t.npz"
    m.save(path)
    back = gmmx.load(path)
    assert isinstance(back, StudentTMixture)
    np.testing.assert_array_equal(back.score_samples(X), m.score_samples(X))
    np.testing.assert_array_equal(back.degrees_of_freedom_, nu)
    assert np.isfinite(m.bic(X)) and m.icl(X) >= m.bic(X) and np.isfinite(m.aic(X))


def test_n_parameters_counts_dof():
    X = two_t_clusters(300)
    free = T(2, random_state=0, max_iter=3).fit(X)
    fixed = T(2, degrees_of_freedom=4.0, random_state=0, max_iter=3).fit(X)
    gauss = gmmx.GaussianMixture(2, random_state=0, max_iter=3).fit(X)
    assert free._n_parameters() == gauss._n_parameters() + 2
    assert fixed._n_parameters() == gauss._n_parameters()


def test_covariances_infinite_where_dof_at_most_two():
    x = stats.t.rvs(1.5, size=4000, random_state=0).reshape(-1, 1)
    m = T(1, tol=1e-8, max_iter=2000).fit(x)
    assert m.degrees_of_freedom_[0] < 2
    assert np.all(np.isinf(m.covariances_)) and np.all(np.isfinite(m.scales_))


def test_partial_fit_one_batch_is_one_em_iteration_and_resumes(tmp_path):
    X = two_t_clusters(800, seed=4)
    init = _init(X)
    a = T(2, **init).partial_fit(X)
    b = T(2, max_iter=1, **init)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gmmx.ConvergenceWarning)
        b.fit(X)
    for name in ("weights_", "means_", "scales_", "degrees_of_freedom_"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-12)
    a.partial_fit(X[:300])
    a.save(tmp_path / "o.npz")
    back = gmmx.load(tmp_path / "o.npz")
    a.partial_fit(X[300:])
    back.partial_fit(X[300:])
    np.testing.assert_array_equal(back.means_, a.means_)
    np.testing.assert_array_equal(back.degrees_of_freedom_, a.degrees_of_freedom_)


def test_sample_has_the_model_tails():
    X = two_t_clusters(2000, seed=6)
    m = T(2, random_state=0, tol=1e-6, max_iter=300).fit(X)
    m.random_state = 1
    S, y = m.sample(20000)
    assert S.shape == (20000, 2) and np.bincount(y).sum() == 20000
    k = int(np.argmax(m.weights_))
    z = (S[y == k, 0] - m.means_[k, 0]) / np.sqrt(m.scales_[k, 0, 0])
    ks = stats.kstest(z, stats.t(m.degrees_of_freedom_[k]).cdf)
    assert ks.pvalue > 1e-3


@pytest.mark.parametrize("bad", [0, -1.0, np.nan, np.inf, "5", True])
def test_bad_degrees_of_freedom(bad):
    with pytest.raises(ValueError, match="degrees_of_freedom must be a finite number > 0"):
        T(1, degrees_of_freedom=bad).fit(np.random.default_rng(0).normal(size=(50, 1)))


def test_dof_running_to_infinity_is_capped_with_a_warning():
    x = np.random.default_rng(0).normal(size=(3000, 1))
    with pytest.warns(DegreesOfFreedomWarning, match=r"component\(s\) \[0\] reached dof_max=50"):
        m = T(1, dof_max=50.0, tol=1e-10, max_iter=3000).fit(x)
    assert m.degrees_of_freedom_[0] == 50.0
    assert np.all(np.isfinite(m.scales_)) and np.isfinite(m.lower_bound_)


def test_dof_collapsing_on_duplicated_rows_is_floored_with_a_warning():
    # three features, rows repeated on two points: the t likelihood grows
    # without bound as nu falls on a component whose rows sit on its location
    X = np.repeat(np.random.default_rng(0).normal(size=(2, 3)), 100, axis=0)
    with pytest.warns(DegreesOfFreedomWarning, match=r"component\(s\) \[.*\] reached the lower "
                      r"bound 0.001.*degenerate"):
        m = T(2, random_state=0).fit(X)
    assert m.degrees_of_freedom_.min() == 0.001
    assert np.all(np.isfinite(m.scales_)) and np.all(np.isfinite(m.score_samples(X)))


def test_identical_rows_give_a_finite_fit():
    X = np.ones((200, 2))
    m = T(1, reg_covar=1e-6).fit(X)
    assert np.all(np.isfinite(m.scales_)) and np.all(np.isfinite(m.degrees_of_freedom_))
    np.testing.assert_allclose(m.means_, [[1.0, 1.0]])
    assert np.all(np.isfinite(m.score_samples(X)))


def test_non_finite_rows_are_rejected():
    X = two_t_clusters(200)
    X[7, 1] = np.nan
    with pytest.raises(ValueError, match="row 7"):
        T(2, random_state=0).fit(X)


def test_sklearn_clone_and_params():
    from sklearn.base import clone
    m = T(3, degrees_of_freedom=4.0, covariance_type="diag")
    c = clone(m)
    assert c.get_params() == m.get_params()
    assert "prior" not in m.get_params()


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random_from_data",
                                         "hierarchical", "random"])
def test_every_start(init_params):
    X = two_t_clusters(600, seed=7)
    m = T(2, init_params=init_params, random_state=0, n_init=3, max_iter=300).fit(X)
    np.testing.assert_allclose(np.sort(m.means_[:, 0]), [-6.0, 6.0], atol=0.15)


def test_float32_input_fits_like_its_float64_values():
    X = two_t_clusters(800, seed=8).astype(np.float32)
    a = T(2, random_state=0, tol=1e-8, max_iter=300).fit(X)
    b = T(2, random_state=0, tol=1e-8, max_iter=300).fit(X.astype(np.float64))
    assert a.means_.dtype == np.float32
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(a.degrees_of_freedom_, b.degrees_of_freedom_, rtol=1e-4)


def test_sklearn_check_estimator():
    est = StudentTMixture(n_components=2, random_state=0, n_threads=1)
    status, expected = check_estimator_statuses(est)
    assert len(status) > 40
    assert [n for n, s in status.items() if s == "failed"] == []


def test_fits_are_identical_for_any_thread_count():
    X = two_t_clusters(10_000, d=3, seed=9)
    kw = dict(n_components=2, tol=1e-8, max_iter=10, **_init(X))
    one = T(**kw).fit(X)
    two = T(**dict(kw, n_threads=2)).fit(X)
    for name in ("weights_", "means_", "scales_", "degrees_of_freedom_"):
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
    np.testing.assert_array_equal(one.predict_proba(X), two.predict_proba(X))
    np.testing.assert_array_equal(one.score_samples(X), two.score_samples(X))
