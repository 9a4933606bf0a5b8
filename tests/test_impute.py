"""MixtureImputer: conditional means under a mixture fitted with the gaps marginalized."""

import numpy as np
import pytest

from conftest import with_missing
from gmmx import GaussianMixture
from gmmx.impute import MixtureImputer


def _panel(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    A = np.array([[1.0, 0.9, 0.5], [0.0, 0.4, 0.3], [0.0, 0.0, 0.6]])
    X = rng.normal(size=(n, 3)) @ A
    return X, with_missing(X, 0.2, seed=seed)


def test_transform_equals_the_mixture_impute():
    _, Xm = _panel()
    imp = MixtureImputer(2, random_state=0, n_threads=1).fit(Xm)
    gm = GaussianMixture(2, random_state=0, n_threads=1, nan_policy="marginalize").fit(Xm)
    np.testing.assert_array_equal(imp.transform(Xm), gm.impute(Xm))
    assert not np.isnan(imp.transform(Xm)).any()


def test_single_normal_imputation_is_the_regression_prediction():
    X, Xm = _panel(seed=1)
    imp = MixtureImputer(1, n_threads=1).fit(Xm)
    mu, S = imp.mixture_.means_[0], imp.mixture_.covariances_[0]
    row = np.array([[0.7, np.nan, np.nan]])
    want = mu[1:] + S[1:, 0] / S[0, 0] * (0.7 - mu[0])
    np.testing.assert_allclose(imp.transform(row)[0, 1:], want, rtol=1e-12)


def test_beats_mean_imputation_on_correlated_data():
    X, Xm = _panel(seed=2)
    gaps = np.isnan(Xm)
    mixture = MixtureImputer(1, n_threads=1).fit_transform(Xm)
    means = np.where(gaps, np.nanmean(Xm, axis=0), Xm)
    err = lambda Y: np.sqrt(np.mean((Y[gaps] - X[gaps]) ** 2))  # noqa: E731
    assert err(mixture) < 0.8 * err(means)


def test_in_a_pipeline():
    sklearn = pytest.importorskip("sklearn")
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline

    X, Xm = _panel(seed=3)
    y = X @ np.array([1.0, -2.0, 0.5])
    pipe = make_pipeline(MixtureImputer(1, n_threads=1), LinearRegression()).fit(Xm, y)
    assert pipe.score(Xm, y) > 0.8
    assert sklearn.base.clone(pipe).get_params()["mixtureimputer__n_components"] == 1


def test_not_fitted():
    from gmmx import NotFittedError

    with pytest.raises(NotFittedError):
        MixtureImputer().transform(np.zeros((2, 2)))
