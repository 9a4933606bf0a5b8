"""gmmx.hmm.GaussianHMM gives hmmlearn's GaussianHMM results from identical parameters."""

import inspect

import numpy as np
import pytest
from conftest import random_hmm

from gmmx.hmm import GaussianHMM

hmm = pytest.importorskip("hmmlearn.hmm")

COVS = ["full", "tied", "diag", "spherical"]
LENGTHS = [400, 1, 250, 349]


def set_params(model, params):
    startprob, transmat, means, covars = params
    model.startprob_ = startprob.copy()
    model.transmat_ = transmat.copy()
    model.means_ = means.copy()
    model.covars_ = covars.copy()
    return model


def hmmlearn_covars(model):
    """hmmlearn's covariances in gmmx's stored shape (spherical: it keeps (K, d))."""
    c = model._covars_
    return c[:, 0] if model.covariance_type == "spherical" and c.ndim == 2 else c


def data(cov, d, seed=0, k=3):
    rng = np.random.default_rng(seed)
    gen = set_params(hmm.GaussianHMM(k, covariance_type=cov), random_hmm(rng, k, d, cov, 0.9))
    X, _ = gen.sample(sum(LENGTHS), random_state=seed)
    start = random_hmm(rng, k, d, cov, 0.6)
    return X, start


def fit_both(cov, d, n_iter=10, seed=0, **kwargs):
    X, start = data(cov, d, seed)
    opts = dict(covariance_type=cov, init_params="", n_iter=n_iter, tol=-np.inf, **kwargs)
    ours = set_params(GaussianHMM(3, **opts), start).fit(X, LENGTHS)
    ref = set_params(hmm.GaussianHMM(3, **opts), start).fit(X, LENGTHS)
    return X, ours, ref


def assert_same_fit(ours, ref, rtol=1e-7):
    np.testing.assert_allclose(ours.startprob_, ref.startprob_, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(ours.transmat_, ref.transmat_, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(ours.means_, ref.means_, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(ours._covars_, hmmlearn_covars(ref), rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(list(ours.monitor_.history), list(ref.monitor_.history),
                               rtol=1e-9)


@pytest.mark.parametrize("d", [1, 3])
@pytest.mark.parametrize("cov", COVS)
def test_ten_iterations_match_hmmlearn(cov, d):
    X, ours, ref = fit_both(cov, d)
    assert_same_fit(ours, ref)
    assert ours.score(X, LENGTHS) == pytest.approx(ref.score(X, LENGTHS), rel=1e-9)
    np.testing.assert_array_equal(ours.predict(X, LENGTHS), ref.predict(X, LENGTHS))
    np.testing.assert_allclose(ours.predict_proba(X, LENGTHS), ref.predict_proba(X, LENGTHS),
                               atol=1e-7)
    lp_ours, path_ours = ours.decode(X, LENGTHS)
    lp_ref, path_ref = ref.decode(X, LENGTHS)
    assert lp_ours == pytest.approx(lp_ref, rel=1e-9)
    np.testing.assert_array_equal(path_ours, path_ref)
    if cov != "spherical" or d == 1:   # hmmlearn's d > 1 spherical covars_ is (K*d, d, d)
        np.testing.assert_allclose(ours.covars_, ref.covars_, rtol=1e-7)


@pytest.mark.parametrize("shape", [(3, 1, 1), (3, 1), (1, 3), (3,)])
def test_spherical_covars_of_any_shape_with_k_values(shape):
    """hmmlearn's own one-feature spherical covars_ (K, 1, 1) -- any array of K values,
    as hmmlearn accepts (its #385) -- sets gmmx's covars_; the fits then agree."""
    X, start = data("spherical", 1)
    ref = set_params(hmm.GaussianHMM(3, covariance_type="spherical", init_params=""), start)
    ref.n_features = 1  # what hmmlearn's fit sets; its covars_ needs it
    assert ref.covars_.shape == (3, 1, 1)
    ours = GaussianHMM(3, covariance_type="spherical", init_params="")
    ours.startprob_, ours.transmat_, ours.means_ = start[0], start[1], start[2]
    ours.covars_ = ref.covars_.reshape(shape)
    np.testing.assert_array_equal(ours._covars_, ref.covars_.ravel())
    ours.fit(X, LENGTHS)
    ref.fit(X, LENGTHS)
    assert_same_fit(ours, ref)
    with pytest.raises(ValueError, match=r"must have shape \(n_components,\)"):
        ours.covars_ = np.ones((3, 2, 2))
    with pytest.raises(ValueError, match=r"must have shape \(n_components,\)"):
        ours.covars_ = np.ones(4)


@pytest.mark.parametrize("cov", COVS)
def test_map_priors_match_hmmlearn(cov):
    rng = np.random.default_rng(3)
    priors = dict(startprob_prior=rng.uniform(1.0, 3.0, 3),
                  transmat_prior=rng.uniform(1.0, 3.0, (3, 3)),
                  means_prior=rng.normal(size=(3, 2)), means_weight=2.5,
                  covars_prior=0.3 if cov in ("full", "tied") else rng.uniform(0.1, 0.5, (3, 2)),
                  covars_weight=4.0)
    _, ours, ref = fit_both(cov, 2, n_iter=6, seed=2, **priors)
    assert_same_fit(ours, ref)


@pytest.mark.parametrize("params", ["st", "mc", "smc", "t", "stm"])
def test_parameter_subsets_match_hmmlearn(params):
    _, ours, ref = fit_both("diag", 2, n_iter=5, seed=4, params=params)
    assert_same_fit(ours, ref)


def test_map_decoder_scaling_implementation_and_criteria_match():
    X, ours, ref = fit_both("full", 2, n_iter=3, seed=5, implementation="scaling",
                            algorithm="map")
    assert_same_fit(ours, ref)
    lp_ours, s_ours = ours.decode(X, LENGTHS)
    lp_ref, s_ref = ref.decode(X, LENGTHS)
    np.testing.assert_array_equal(s_ours, s_ref)
    assert lp_ours == pytest.approx(lp_ref, rel=1e-9)
    ll, post = ours.score_samples(X, LENGTHS)
    ll_ref, post_ref = ref.score_samples(X, LENGTHS)
    assert ll == pytest.approx(ll_ref, rel=1e-9)
    np.testing.assert_allclose(post, post_ref, atol=1e-7)
    assert ours.bic(X, LENGTHS) == pytest.approx(ref.bic(X, LENGTHS), rel=1e-9)
    assert ours.aic(X, LENGTHS) == pytest.approx(ref.aic(X, LENGTHS), rel=1e-9)
    np.testing.assert_allclose(ours.get_stationary_distribution(),
                               ref.get_stationary_distribution(), rtol=1e-7)


def test_default_initialisation_draws_hmmlearn_start_and_transitions():
    X, _ = data("diag", 2, seed=6)
    ours = GaussianHMM(3, random_state=7, n_iter=0).fit(X)
    ref = hmm.GaussianHMM(3, random_state=7, n_iter=0).fit(X)
    np.testing.assert_array_equal(ours.startprob_, ref.startprob_)
    np.testing.assert_array_equal(ours.transmat_, ref.transmat_)
    np.testing.assert_allclose(ours._covars_, ref._covars_, rtol=1e-12)
    order = np.argsort(ours.means_[:, 0])
    np.testing.assert_allclose(ours.means_[order], ref.means_[np.argsort(ref.means_[:, 0])],
                               atol=0.05)


def test_constructor_matches_hmmlearn():
    ours = inspect.signature(GaussianHMM.__init__).parameters
    ref = inspect.signature(hmm.GaussianHMM.__init__).parameters
    for name, p in ref.items():
        assert name in ours, name
        assert ours[name].default == p.default, name
    assert list(ours)[:len(ref)] == list(ref)   # same positional order
