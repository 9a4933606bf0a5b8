"""Reading fitted models and raw parameters (gmmx.finance._models): checks and expansion."""

import numpy as np
import pytest

from gmmx import GaussianMixture, GaussianMixtureIC, NotFittedError
from gmmx.finance import (MultivariateMixture, UnivariateMixture, expected_shortfall,
                          full_covariances, mixture_mean_covariance, mixture_moments,
                          value_at_risk)


def test_unfitted_or_foreign_objects_are_refused():
    with pytest.raises(ValueError, match="fitted"):
        mixture_moments(GaussianMixture(n_components=2))
    with pytest.raises(ValueError, match="expected a fitted mixture model") as info:
        mixture_moments(object())
    assert not isinstance(info.value, NotFittedError)


@pytest.mark.parametrize("call", [
    lambda gm: value_at_risk(gm, 0.01),
    lambda gm: expected_shortfall(gm, 0.01),
    lambda gm: value_at_risk(gm, 0.01, weights=[0.5, 0.5]),
    lambda gm: expected_shortfall(gm, 0.01, weights=[0.5, 0.5]),
    lambda gm: mixture_moments(gm),
    lambda gm: mixture_mean_covariance(gm),
    lambda gm: UnivariateMixture.from_model(gm),
    lambda gm: MultivariateMixture.from_model(gm),
])
def test_finance_functions_raise_not_fitted_error_on_an_unfitted_model(call):
    """Every finance function taking a model says NotFittedError (scikit-learn's class,
    also a ValueError) for an estimator before fit."""
    for est in (GaussianMixture(n_components=2), GaussianMixtureIC()):
        with pytest.raises(NotFittedError, match="is not fitted yet. Call 'fit'"):
            call(est)


@pytest.mark.parametrize("kwargs, match", [
    (dict(weights=[-0.1, 1.1], means=[0, 1], stds=[1, 1]), "non-negative"),
    (dict(weights=[0.5, 0.4], means=[0, 1], stds=[1, 1]), "sum to 1"),
    (dict(weights=[0.5, 0.5], means=[0, 1, 2], stds=[1, 1]), "same length"),
    (dict(weights=[0.5, 0.5], means=[0, 1], stds=[1, 0]), "positive"),
    (dict(weights=[0.5, 0.5], means=[0, 1], variances=[1, -1]), "positive"),
    (dict(weights=[0.5, 0.5], means=[0, np.nan], stds=[1, 1]), "NaN"),
    (dict(weights=[0.5, 0.5], means=[0, 1]), "exactly one"),
])
def test_bad_parameters_get_a_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        mixture_moments(**kwargs)


def test_full_covariances_expands_each_type():
    K, d = 2, 3
    diag = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(full_covariances(diag, "diag", K, d)[1], np.diag(diag[1]))
    sph = np.array([0.5, 2.0])
    np.testing.assert_array_equal(full_covariances(sph, "spherical", K, d)[1], 2.0 * np.eye(3))
    tied = np.array([[2.0, 0.3, 0], [0.3, 1.0, 0], [0, 0, 1.0]])
    out = full_covariances(tied, "tied", K, d)
    assert out.shape == (2, 3, 3) and np.all(out == tied)
    with pytest.raises(ValueError, match="shape"):
        full_covariances(diag, "full", K, d)
    with pytest.raises(ValueError, match="covariance_type"):
        full_covariances(diag, "banana", K, d)
