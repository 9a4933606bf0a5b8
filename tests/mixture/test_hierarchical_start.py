"""init_params="hierarchical" reaches mclust's optima with one deterministic start."""

import warnings

import numpy as np
import pytest

from conftest import MCLUST_MODELS, mclust_reference, reference_data
from gmmx import GaussianMixture


@pytest.mark.parametrize("data", ["faithful", "iris"])
@pytest.mark.parametrize("model", MCLUST_MODELS)
def test_one_start_reaches_mclusts_optimum(data, model):
    # mclust: me(X, model, z = unmap(hclass(hc(X, "VVV", use = "SVD"), G)),
    #         control = emControl(tol = 1e-12)) for G = 1..5 (tests/data/mclust_reference.R)
    X = reference_data(data)
    want = mclust_reference()[data]["loglik_tight"][model]
    got = []
    for K in range(1, 6):
        m = GaussianMixture(K, covariance_type=MCLUST_MODELS[model], init_params="hierarchical",
                            reg_covar=0, tol=1e-13, max_iter=3000)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # converges, no warning
            m.fit(X)
        got.append(m.score_samples(X).sum())
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_old_faithful_full_k4_reaches_mclusts_default_fit():
    # Mclust(faithful, G = 4, modelNames = "VVV")$loglik = -1111.28 (mclust's
    # default tolerance); 20 k-means restarts end near -1114.69.
    X = reference_data("faithful")
    m = GaussianMixture(4, init_params="hierarchical", tol=1e-6, max_iter=1000).fit(X)
    assert m.score_samples(X).sum() > -1111.28


def test_deterministic_and_weighted(rng):
    X = reference_data("iris")
    a = GaussianMixture(3, init_params="hierarchical", random_state=1).fit(X)
    b = GaussianMixture(3, init_params="hierarchical", random_state=2).fit(X)
    np.testing.assert_array_equal(a.means_, b.means_)  # no randomness below 2,000 rows
    w = rng.uniform(0.5, 2.0, X.shape[0])
    c = GaussianMixture(3, init_params="hierarchical").fit(X, sample_weight=w)
    assert c.converged_ and np.all(np.isfinite(c.means_))


def test_big_data_subset(rng, monkeypatch):
    from gmmx.core import hierarchical

    monkeypatch.setattr(hierarchical, "HC_MAX_ROWS", 200)
    X = np.r_[rng.normal(0, 1, (3000, 2)), rng.normal(6, 1, (3000, 2))]
    m = GaussianMixture(2, init_params="hierarchical", random_state=0).fit(X)
    np.testing.assert_allclose(np.sort(m.means_[:, 0]), [0, 6], atol=0.1)
