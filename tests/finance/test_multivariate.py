"""MultivariateMixture: densities, moments, portfolios, marginals and conditionals
against closed forms computed independently (scipy.stats, quadrature), and its errors."""

import numpy as np
import pytest
from scipy import integrate, special, stats

from gmmx import GaussianMixture
from gmmx.finance import (MultivariateMixture, UnivariateMixture, full_covariances,
                          mixture_mean_covariance)
from gmmx.finance._models import model_covariances


def random_mixture(seed=0, k=3, d=4, names=None):
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(k, 3.0))
    means = rng.normal(scale=0.02, size=(k, d))
    A = rng.normal(scale=0.01, size=(k, d, d))
    covs = A @ A.transpose(0, 2, 1) + 1e-5 * np.eye(d)
    return MultivariateMixture(weights, means, covs, feature_names=names)


MIX = random_mixture()
NAMED = random_mixture(names=["spx", "ndx", "tlt", "gld"])


def brute_logpdf(mix, x, idx=None):
    """log of sum_k w_k N(x; mu_k[idx], Sigma_k[idx, idx]) with scipy, component by component."""
    idx = np.arange(mix.n_features) if idx is None else np.asarray(idx)
    terms = [np.log(w) + stats.multivariate_normal(m[idx], c[np.ix_(idx, idx)]).logpdf(x)
             for w, m, c in zip(mix.weights, mix.means, mix.covariances)]
    return special.logsumexp(np.stack(terms, axis=-1), axis=-1)


# -- construction ---------------------------------------------------------------

@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_from_model_any_covariance_type_matches_the_fitted_model(covariance_type):
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(0, 1, (150, 3)), rng.normal(3, 0.5, (150, 3))])
    gm = GaussianMixture(n_components=2, covariance_type=covariance_type, random_state=0).fit(X)
    mix = MultivariateMixture.from_model(gm)
    assert mix.covariances.shape == (2, 3, 3)
    np.testing.assert_allclose(mix.covariances, model_covariances(gm), rtol=1e-14)
    np.testing.assert_allclose(mix.weights, gm.weights_, rtol=1e-14)
    np.testing.assert_allclose(mix.logpdf(X[:50]), gm.score_samples(X[:50]), rtol=1e-10)


@pytest.mark.parametrize("covariance_type, covs", [
    ("tied", np.array([[2.0, 0.3], [0.3, 1.0]])),
    ("diag", np.array([[1.0, 2.0], [0.5, 0.25]])),
    ("spherical", np.array([1.5, 0.2])),
])
def test_raw_parameters_of_any_covariance_type_expand_to_full(covariance_type, covs):
    mix = MultivariateMixture([0.4, 0.6], [[0, 0], [1, 1]], covs,
                              covariance_type=covariance_type)
    np.testing.assert_array_equal(mix.covariances,
                                  full_covariances(covs, covariance_type, 2, 2))


def test_parameters_are_read_only_and_from_model_keeps_feature_names():
    with pytest.raises(ValueError, match="read-only"):
        MIX.means[0, 0] = 1.0

    class Fitted:  # an sklearn-style model fitted on a DataFrame
        weights_ = MIX.weights
        means_ = MIX.means
        covariances_ = MIX.covariances
        covariance_type = "full"
        feature_names_in_ = np.array(["a", "b", "c", "d"], dtype=object)

    assert MultivariateMixture.from_model(Fitted()).feature_names == ("a", "b", "c", "d")
    assert MultivariateMixture.from_model(Fitted(), feature_names="wxyz").feature_names == \
        tuple("wxyz")
    assert "feature_names=['spx'" in repr(NAMED)


# -- densities, moments, sampling -------------------------------------------------

def test_logpdf_equals_scipy_for_any_batch_shape():
    x = MIX.rvs((2, 5), random_state=3)
    assert x.shape == (2, 5, 4)
    got = MIX.logpdf(x)
    assert got.shape == (2, 5)
    np.testing.assert_allclose(got, brute_logpdf(MIX, x), rtol=1e-12)
    assert np.shape(MIX.logpdf(x[0, 0])) == ()
    np.testing.assert_allclose(MIX.pdf(x), np.exp(got), rtol=1e-14)


def test_logpdf_is_stable_where_every_density_underflows():
    far = MIX.mean() + 50.0          # thousands of standard deviations out
    got = MIX.logpdf(far)
    assert np.isfinite(got) and got < -1e6
    assert MIX.pdf(far) == 0.0
    np.testing.assert_allclose(got, brute_logpdf(MIX, far), rtol=1e-12)
    assert np.array_equal(MIX.logpdf([[np.inf, 0, 0, 0], [0, -np.inf, 0, 0]]), [-np.inf] * 2)


def test_dataframe_points_are_matched_to_feature_names():
    pd = pytest.importorskip("pandas")
    x = NAMED.rvs(4, random_state=0)
    df = pd.DataFrame(x, columns=NAMED.feature_names)[["tlt", "spx", "gld", "ndx"]]
    np.testing.assert_allclose(NAMED.logpdf(df), NAMED.logpdf(x), rtol=1e-14)
    with pytest.raises(ValueError, match="lacks the columns"):
        NAMED.logpdf(df.drop(columns="gld"))


def test_mean_and_covariance_are_the_mixture_moments():
    mean, cov = mixture_mean_covariance(weights=MIX.weights, means=MIX.means,
                                        covariances=MIX.covariances)
    np.testing.assert_allclose(MIX.mean(), mean, rtol=1e-14)
    np.testing.assert_allclose(MIX.covariance(), cov, rtol=1e-13)


def test_samples_have_the_mixture_moments():
    x = MIX.rvs(200_000, random_state=7)
    sd = np.sqrt(np.diag(MIX.covariance()))
    assert np.all(np.abs(x.mean(axis=0) - MIX.mean()) < 5 * sd / np.sqrt(x.shape[0]))
    np.testing.assert_allclose(np.cov(x.T), MIX.covariance(), rtol=0.03,
                               atol=0.02 * np.outer(sd, sd).max())
    np.testing.assert_array_equal(MIX.rvs(3, random_state=1), MIX.rvs(3, random_state=1))


# -- portfolio ----------------------------------------------------------------

def test_portfolio_is_the_closed_form_mixture_of_w_x():
    w = np.array([0.4, -0.1, 0.5, 0.2])
    port = MIX.portfolio(w)
    assert isinstance(port, UnivariateMixture)
    np.testing.assert_allclose(port.means, MIX.means @ w, rtol=1e-13)
    np.testing.assert_allclose(port.variances,
                               np.einsum("i,kij,j->k", w, MIX.covariances, w), rtol=1e-12)
    mean, cov = mixture_mean_covariance(weights=MIX.weights, means=MIX.means,
                                        covariances=MIX.covariances)
    np.testing.assert_allclose(port.mean(), w @ mean, rtol=1e-12)
    np.testing.assert_allclose(port.var(), w @ cov @ w, rtol=1e-12)


def test_portfolio_weights_by_name_are_matched_not_positional():
    pd = pytest.importorskip("pandas")
    w = np.array([0.4, -0.1, 0.5, 0.2])
    ref = NAMED.portfolio(w)
    by_dict = NAMED.portfolio({"gld": 0.2, "tlt": 0.5, "spx": 0.4, "ndx": -0.1})
    by_series = NAMED.portfolio(pd.Series([0.5, 0.4, 0.2, -0.1],
                                          index=["tlt", "spx", "gld", "ndx"]))
    for port in (by_dict, by_series):
        np.testing.assert_allclose(port.means, ref.means, rtol=1e-15)
        np.testing.assert_allclose(port.stds, ref.stds, rtol=1e-15)
    with pytest.raises(ValueError, match="missing: 'gld'"):
        NAMED.portfolio({"tlt": 0.5, "spx": 0.4, "ndx": -0.1})
    with pytest.raises(ValueError, match="unknown feature 'gold'"):
        NAMED.portfolio({"gold": 0.2, "tlt": 0.5, "spx": 0.4, "ndx": -0.1})
    with pytest.raises(ValueError, match="no feature_names"):
        MIX.portfolio({"spx": 1.0})


# -- marginal -------------------------------------------------------------------

def test_marginal_is_the_sub_mixture_in_the_order_asked():
    m = MIX.marginal([2, 0])
    assert isinstance(m, MultivariateMixture) and m.n_features == 2
    np.testing.assert_array_equal(m.means, MIX.means[:, [2, 0]])
    np.testing.assert_array_equal(m.covariances, MIX.covariances[:, [2, 0]][:, :, [2, 0]])
    x = m.rvs(6, random_state=2)
    np.testing.assert_allclose(m.logpdf(x), brute_logpdf(MIX, x, [2, 0]), rtol=1e-12)
    named = NAMED.marginal(["tlt", "spx"])
    assert named.feature_names == ("tlt", "spx")
    np.testing.assert_array_equal(named.means, m.means)


def test_one_feature_marginal_is_univariate_and_equals_the_integral_of_the_joint():
    mix = random_mixture(seed=5, k=3, d=2)
    for j, other in ((0, 1), (1, 0)):
        m = mix.marginal(j)
        assert isinstance(m, UnivariateMixture)
        assert mix.marginal([j]).means.tolist() == m.means.tolist()
        for t in (-0.05, 0.0, 0.013, 0.06):
            def joint(u):
                x = np.empty(2)
                x[j], x[other] = t, u
                return mix.pdf(x)
            centre = mix.mean()[other]
            spread = 40 * np.sqrt(mix.covariances[:, other, other].max())
            val, _ = integrate.quad(joint, centre - spread, centre + spread,
                                    points=list(mix.means[:, other]), limit=200,
                                    epsabs=0, epsrel=1e-13)
            np.testing.assert_allclose(m.pdf(t), val, rtol=1e-10)


# -- conditional ------------------------------------------------------------------

def test_conditional_density_is_joint_over_marginal():
    a, b = np.array([3, 1]), np.array([0, 2])
    values = np.array([-0.015, 0.01])
    cond = MIX.conditional([3, 1], values)
    assert isinstance(cond, MultivariateMixture) and cond.n_features == 2
    y = cond.rvs(8, random_state=4)
    x = np.empty((8, 4))
    x[:, a], x[:, b] = values, y
    expected = brute_logpdf(MIX, x) - brute_logpdf(MIX, values, a)
    np.testing.assert_allclose(cond.logpdf(y), expected, rtol=1e-10)
    assert np.isclose(cond.weights.sum(), 1.0, rtol=1e-14)


def test_conditional_on_one_of_two_features_is_univariate():
    mix = random_mixture(seed=2, k=2, d=2)
    cond = mix.conditional(0, -0.03)
    assert isinstance(cond, UnivariateMixture)
    for t in (-0.05, -0.01, 0.02):
        expected = np.exp(brute_logpdf(mix, [-0.03, t]) - brute_logpdf(mix, [-0.03], [0]))
        np.testing.assert_allclose(cond.pdf(t), expected, rtol=1e-10)


def test_conditional_by_name_keeps_the_other_names_in_order():
    cond = NAMED.conditional(["gld", "spx"], [0.01, -0.03])
    assert cond.feature_names == ("ndx", "tlt")
    ref = MIX.conditional([3, 0], [0.01, -0.03])
    np.testing.assert_allclose(cond.means, ref.means, rtol=1e-15)
    np.testing.assert_allclose(cond.weights, ref.weights, rtol=1e-15)


def test_scenario_reweights_toward_the_stress_component():
    mix = MultivariateMixture([0.9, 0.1], [[0.0, 0.0], [-0.03, -0.04]],
                              [np.diag([1e-4, 1e-4]) + 5e-5, np.diag([4e-4, 4e-4]) + 3e-4])
    calm, crash = mix.conditional(0, 0.0), mix.conditional(0, -0.06)
    assert calm.weights[0] > 0.9 and crash.weights[1] > 0.99
    assert crash.mean() < calm.mean()


# -- bad input --------------------------------------------------------------------

def near_singular(names=None):
    """PD by Cholesky, but feature 2 = feature 0 + feature 1 up to a ridge of 1e-14."""
    B = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    S = np.eye(4)
    S[:3, :3] = B @ B.T + 1e-14 * np.eye(3)
    return MultivariateMixture([1.0], [[0.0, 0.0, 0.0, 0.0]], S[None], feature_names=names)


@pytest.mark.parametrize("call, match", [
    (lambda: MIX.portfolio([1.0, 2.0]), r"one weight per feature \(4\), got shape \(2,\)"),
    (lambda: MIX.portfolio([[1, 0, 0, 0]]), "1-D array"),
    (lambda: MIX.portfolio([1.0, np.nan, 0, 0]), "NaN"),
    (lambda: MIX.portfolio(np.zeros(4)), "all zero"),
    (lambda: MIX.conditional([0, 1, 2, 3], [0, 0, 0, 0]), "every feature"),
    (lambda: MIX.conditional([0, 4], [0, 0]), r"index 4 is out of range .*0\.\.3"),
    (lambda: MIX.marginal(7), "out of range"),
    (lambda: MIX.marginal([]), "empty"),
    (lambda: MIX.marginal([1, 1]), "more than once"),
    (lambda: MIX.marginal(1.0), "integer positions or names"),
    (lambda: MIX.marginal("spx"), "no feature_names"),
    (lambda: NAMED.marginal("SPX"), "unknown feature 'SPX'"),
    (lambda: MIX.conditional(0, np.nan), "NaN"),
    (lambda: MIX.conditional([0, 1], [0.01, np.inf]), "NaN or inf"),
    (lambda: MIX.conditional([0, 1], [0.01]), r"one value per conditioning feature \(2\)"),
    (lambda: MIX.logpdf([0.0, 0.0]), r"shape \(\.\.\., 4\)"),
    (lambda: MIX.logpdf([0.0, np.nan, 0.0, 0.0]), "NaN"),
])
def test_bad_input_is_a_clear_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_a_singular_conditioning_block_is_refused_by_name():
    with pytest.raises(ValueError, match=r"features 0, 1, 2: .* component 0 is singular"):
        near_singular().conditional([0, 1, 2], [0.0, 0.0, 0.0])
    named = near_singular(names=["a", "b", "index", "gold"])
    with pytest.raises(ValueError, match=r"cannot condition on features 'b', 'index', 'a'"):
        named.conditional(["b", "index", "a"], [0.0, 0.0, 0.0])
    # Any two of the three are fine, and the third follows from them.
    cond = named.conditional(["a", "index"], [0.01, 0.03])
    assert cond.feature_names == ("b", "gold")
    np.testing.assert_allclose(cond.means[0], [0.02, 0.0], atol=1e-12)


def test_invalid_parameters_are_refused():
    good = dict(weights=[0.5, 0.5], means=[[0, 0], [1, 1]], covariances=[np.eye(2)] * 2)
    cases = [
        (dict(means=[0, 0, 1, 1]), r"shape \(K, d\)"),
        (dict(means=[[0, np.nan], [1, 1]]), "means contain NaN"),
        (dict(weights=[0.5, 0.6]), "sum to 1"),
        (dict(covariances=[[[1, 0.5], [0.4, 1]], np.eye(2)]), r"covariances\[0\] is not symmetric"),
        (dict(covariances=[np.eye(2), [[1, 2], [2, 1]]]),
         r"covariances\[1\] is not positive definite"),
        (dict(covariances=[np.eye(2), np.diag([1.0, 0.0])]), "non-positive variance"),
        (dict(covariances=[np.eye(2), np.full((2, 2), np.nan)]), "NaN"),
        (dict(covariances=np.eye(2)), r"must have shape \(2, 2, 2\)"),
        (dict(feature_names=["a"]), "1 names for 2 features"),
        (dict(feature_names=["a", "a"]), "duplicates"),
        (dict(feature_names=[0, 1]), "must be strings"),
    ]
    for change, match in cases:
        with pytest.raises(ValueError, match=match):
            MultivariateMixture(**{**good, **change})
