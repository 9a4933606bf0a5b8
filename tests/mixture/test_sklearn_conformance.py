"""A true drop-in for scikit-learn: common checks, exception classes, dtypes, names."""

import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.base import BaseEstimator, DensityMixin, clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning as SKConvergenceWarning  # noqa: E402
from sklearn.exceptions import NotFittedError as SKNotFittedError  # noqa: E402
from sklearn.mixture import GaussianMixture as SKGaussianMixture  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

import gmmx  # noqa: E402
from gmmx.mixture import expected_failed_checks  # noqa: E402

from conftest import blobs  # noqa: E402

FITTED = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


def test_check_estimator_passes_every_check_but_the_declared_ones():
    est = gmmx.GaussianMixture(n_components=2, random_state=0, n_threads=1)
    expected = expected_failed_checks(est)
    results = []
    with warnings.catch_warnings():
        # scikit-learn's checks warn in many ways; gmmx's RuntimeWarnings stay errors
        warnings.simplefilter("ignore")
        warnings.filterwarnings("error", category=RuntimeWarning, module=r"gmmx\.")
        check_estimator(est, expected_failed_checks=expected, on_fail=None,
                        callback=lambda **kw: results.append(kw))
    status = {r["check_name"]: r["status"] for r in results}
    assert len(status) > 40
    failed = [name for name, s in status.items() if s == "failed"]
    assert failed == [], failed
    # the declared ones are really failing (not silently skipped), each with a reason
    assert {n for n, s in status.items() if s == "xfail"} == set(expected)
    assert all(len(reason) > 40 for reason in expected.values())


def test_is_a_scikit_learn_estimator():
    gm = gmmx.GaussianMixture(2)
    assert isinstance(gm, BaseEstimator) and isinstance(gm, DensityMixin)
    assert "<style" in gm._repr_html_()          # the notebook repr
    assert gm.__sklearn_tags__().estimator_type == "density_estimator"
    assert clone(gm).get_params() == gm.get_params()


def test_sklearn_exception_classes_catch_gmmx_errors():
    with pytest.raises(SKNotFittedError):
        gmmx.GaussianMixture(2).predict(np.zeros((3, 2)))
    assert issubclass(gmmx.NotFittedError, SKNotFittedError)
    assert issubclass(gmmx.NotFittedError, ValueError) and issubclass(gmmx.NotFittedError,
                                                                      AttributeError)
    X, _, _ = blobs(300, 2, 2, seed=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=SKConvergenceWarning)
        gmmx.GaussianMixture(2, max_iter=1, tol=0, random_state=0).fit(X)
    assert not [w for w in caught if "did not converge" in str(w.message)]
    assert issubclass(gmmx.ConvergenceWarning, SKConvergenceWarning)
    # the classes pickle by name
    assert pickle.loads(pickle.dumps(gmmx.NotFittedError("x"))).args == ("x",)


def test_warnings_point_at_the_callers_line():
    X, _, _ = blobs(300, 2, 2, seed=1)
    with pytest.warns(gmmx.ConvergenceWarning) as record:
        gmmx.GaussianMixture(2, max_iter=1, tol=0, random_state=0).fit(X)
    assert record[0].filename == __file__
    with pytest.warns(gmmx.RegCovarWarning) as record:
        gmmx.GaussianMixture(1, reg_covar=1.0, random_state=0).fit(X * 1e-3)
    assert record[0].filename == __file__


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_float32_in_float32_out(covariance_type):
    X, _, _ = blobs(2000, 3, 2, seed=2, dtype=np.float32)
    gm = gmmx.GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    for name in FITTED:
        assert getattr(gm, name).dtype == np.float32, name
    assert gm.score_samples(X).dtype == np.float32
    assert gm.predict_proba(X).dtype == np.float32
    assert gm.sample(5)[0].dtype in (np.float32, np.float64)
    sk = SKGaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    for name in FITTED:
        assert getattr(sk, name).dtype == getattr(gm, name).dtype, name
    # float64 in, float64 out; and a float32 model scores float64 data in float64
    gm64 = gmmx.GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(
        X.astype(np.float64))
    assert all(getattr(gm64, name).dtype == np.float64 for name in FITTED)
    assert gm.score_samples(X.astype(np.float64)).dtype == np.float64


def test_float32_through_partial_fit():
    X, _, _ = blobs(2000, 2, 2, seed=3, dtype=np.float32)
    gm = gmmx.GaussianMixture(2, random_state=0).partial_fit(X[:1000]).partial_fit(X[1000:])
    assert all(getattr(gm, name).dtype == np.float32 for name in FITTED)


def test_sparse_input_is_refused_with_sklearns_words():
    sparse = pytest.importorskip("scipy.sparse")
    X = sparse.csr_array(np.eye(5))
    with pytest.raises(TypeError, match="Sparse data was passed for X, but dense data is required"):
        gmmx.GaussianMixture(2).fit(X)
    gm = gmmx.GaussianMixture(1, random_state=0).fit(np.random.default_rng(0).normal(size=(50, 5)))
    with pytest.raises(TypeError, match="dense data is required"):
        gm.predict(sparse.csr_matrix(np.eye(5)))


@pytest.mark.parametrize("kwargs, message", [
    (dict(weights_init=[0.5, 0.6]), "The parameter 'weights' should be normalized"),
    (dict(weights_init=[0.5]), r"The parameter 'weights' should have the shape of \(2,\)"),
    (dict(weights_init=[1.5, -0.5]), r"The parameter 'weights' should be in the range \[0, 1\]"),
    (dict(means_init=np.zeros((2, 3))), r"The parameter 'means' should have the shape of \(2, 2\)"),
    (dict(precisions_init=np.ones((2, 3, 3))), "The parameter 'full precision' should have the shape"),
    (dict(precisions_init=np.array([[[1, 2], [0, 1]], [[1, 0], [0, 1.0]]])),
     "'full precision' should be symmetric, positive-definite"),
    (dict(precisions_init=-np.ones(2), covariance_type="spherical"),
     "'spherical precision' should be positive"),
])
def test_init_array_messages_match_sklearn(kwargs, message):
    X = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.raises(ValueError, match=message):
        gmmx.GaussianMixture(2, **kwargs).fit(X)
    with pytest.raises(ValueError, match=message):
        SKGaussianMixture(2, **kwargs).fit(X)


def test_sample_zero_message_matches_sklearn():
    gm = gmmx.GaussianMixture(1).fit(np.random.default_rng(0).normal(size=(20, 2)))
    with pytest.raises(ValueError, match="Invalid value for 'n_samples': 0 . The sampling requires"):
        gm.sample(0)


def test_1d_predict_on_a_wider_model_says_reshape():
    gm = gmmx.GaussianMixture(1).fit(np.random.default_rng(0).normal(size=(20, 3)))
    with pytest.raises(ValueError, match="Reshape your data"):
        gm.predict(np.zeros(3))


def _frame():
    pd = pytest.importorskip("pandas")
    X, _, _ = blobs(400, 3, 2, seed=4)
    return pd.DataFrame(X, columns=["spx", "ndx", "vix"])


def test_feature_names_are_recorded_and_checked_like_sklearn():
    df = _frame()
    gm = gmmx.GaussianMixture(2, random_state=0).fit(df)
    sk = SKGaussianMixture(2, random_state=0).fit(df)
    np.testing.assert_array_equal(gm.feature_names_in_, sk.feature_names_in_)
    assert gm.feature_names_in_.dtype == object
    gm.predict(df)  # same columns: fine, no warning
    for bad in (df[["ndx", "spx", "vix"]], df.rename(columns={"vix": "vol"})):
        with pytest.raises(ValueError, match="feature names should match") as ours:
            gm.predict(bad)
        with pytest.raises(ValueError, match="feature names should match") as theirs:
            sk.predict(bad)
        assert str(ours.value) == str(theirs.value)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        gm.score_samples(df.to_numpy())
    plain = gmmx.GaussianMixture(2, random_state=0).fit(df.to_numpy())
    assert not hasattr(plain, "feature_names_in_")
    with pytest.warns(UserWarning, match="X has feature names, but GaussianMixture was fitted without"):
        plain.predict(df)
    # refitting on unnamed data forgets the names
    gm.fit(df.to_numpy())
    assert not hasattr(gm, "feature_names_in_")


def test_feature_names_from_partial_fit():
    df = _frame()
    gm = gmmx.GaussianMixture(2, random_state=0).partial_fit(df)
    assert list(gm.feature_names_in_) == ["spx", "ndx", "vix"]
    with pytest.raises(ValueError, match="same order"):
        gm.partial_fit(df[["vix", "ndx", "spx"]])


def test_names_and_float32_survive_save_and_load(tmp_path):
    df = _frame().astype(np.float32)
    gm = gmmx.GaussianMixture(2, random_state=0).fit(df)
    gm.save(tmp_path / "m.npz")
    back = gmmx.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.feature_names_in_, gm.feature_names_in_)
    for name in FITTED:
        assert getattr(back, name).dtype == np.float32
        np.testing.assert_array_equal(getattr(back, name), getattr(gm, name))
    with pytest.raises(ValueError, match="same order"):
        back.predict(df[["vix", "ndx", "spx"]])


def _sklearn_mixture_tests_on_gmmx():
    """scikit-learn's installed test_gaussian_mixture.py with gmmx's GaussianMixture in
    place of its own (its code is read at test time, not copied)."""
    import importlib.util
    import types

    spec = importlib.util.find_spec("sklearn.mixture.tests.test_gaussian_mixture")
    if spec is None or spec.origin is None:
        pytest.skip("scikit-learn's tests are not installed")
    with open(spec.origin, encoding="utf-8") as f:
        source = f.read()
    original = "from sklearn.mixture import GaussianMixture\n"
    assert source.count(original) == 1, "scikit-learn's test module changed its import"
    source = source.replace(original, "from gmmx import GaussianMixture\n")
    module = types.ModuleType("sklearn_test_gaussian_mixture_on_gmmx")
    module.__file__ = spec.origin
    exec(compile(source, spec.origin, "exec"), module.__dict__)
    assert module.GaussianMixture is gmmx.GaussianMixture
    return module


@pytest.mark.parametrize("name", ["test_check_weights", "test_check_precisions"])
def test_sklearns_own_parameter_checks_pass_on_gmmx(name):
    """scikit-learn's test_check_weights / test_check_precisions, run on gmmx: its
    messages, word for word."""
    getattr(_sklearn_mixture_tests_on_gmmx(), name)()


_IC_EXPECTED_FAILED_CHECKS = {
    "check_no_attributes_set_in_init": (
        "GaussianMixtureIC takes any GaussianMixture parameter through **params and keeps "
        "each as an attribute (get_params lists them all), which the check reads as "
        "attributes that are not constructor parameters"),
    "check_do_not_raise_errors_in_init_or_set_params": (
        "the check passes 'params' (the name of **params) as a parameter; GaussianMixtureIC "
        "refuses names that are neither its own nor GaussianMixture's"),
    "check_parameters_default_constructible": (
        "n_components defaults to range(1, 10), mclust's grid of K, which is not one of the "
        "default types the check allows"),
    "check_fit1d": expected_failed_checks()["check_fit1d"],
}


def test_check_estimator_on_gaussian_mixture_ic():
    est = gmmx.GaussianMixtureIC(n_components=[1, 2], covariance_type="full",
                                 random_state=0, n_threads=1)
    results = []
    with warnings.catch_warnings():
        # scikit-learn's checks warn in many ways; gmmx's RuntimeWarnings stay errors
        warnings.simplefilter("ignore")
        warnings.filterwarnings("error", category=RuntimeWarning, module=r"gmmx\.")
        check_estimator(est, expected_failed_checks=_IC_EXPECTED_FAILED_CHECKS, on_fail=None,
                        callback=lambda **kw: results.append(kw))
    status = {r["check_name"]: r["status"] for r in results}
    assert len(status) > 40
    assert [name for name, s in status.items() if s == "failed"] == []
    assert {n for n, s in status.items() if s == "xfail"} == set(_IC_EXPECTED_FAILED_CHECKS)
