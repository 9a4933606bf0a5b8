"""GaussianMixtureIC over Gaussian and Student-t families in the same passes."""

import numpy as np
import pytest

from gmmx import GaussianMixtureIC, StudentTMixture

pytestmark = pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")


def heavy_tailed(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.standard_t(3, (n // 2, 2)) + 5, rng.standard_t(3, (n - n // 2, 2)) - 5])
    rng.shuffle(X)
    return X


def test_t_family_wins_on_heavy_tails_and_criteria_equal_the_estimators():
    X = heavy_tailed()
    sel = GaussianMixtureIC(n_components=[1, 2, 3], covariance_type="full",
                            family=("gaussian", "student_t"), criterion="bic",
                            n_threads=1, max_iter=200, tol=1e-6).fit(X)
    assert sel.family_ == "student_t" and sel.n_components_ == 2
    assert isinstance(sel.best_estimator_, StudentTMixture)
    assert sel.results_["family"] == ["gaussian"] * 3 + ["student_t"] * 3
    assert sel.results_["candidate"][4] == "K=2 full student_t"
    for i, est in enumerate(sel.estimators_):
        assert sel.results_["bic"][i] == pytest.approx(est.bic(X), rel=1e-10)
        assert sel.results_["icl"][i] == pytest.approx(est.icl(X), rel=1e-9)


def test_gaussian_only_is_unchanged_by_default():
    X = heavy_tailed(400)
    sel = GaussianMixtureIC(n_components=[1, 2], covariance_type="diag", n_threads=1).fit(X)
    assert sel.family_ == "gaussian" and set(sel.results_["family"]) == {"gaussian"}


def test_bad_family():
    with pytest.raises(ValueError, match="family must be one of"):
        GaussianMixtureIC(family="cauchy").fit(heavy_tailed(100))


def test_families_over_a_chunk_source_equal_in_memory():
    X = heavy_tailed(900, seed=2)
    kw = dict(n_components=[1, 2], covariance_type="diag", family=("gaussian", "student_t"),
              n_threads=1, max_iter=30, tol=1e-6)
    mem = GaussianMixtureIC(**kw).fit(X)
    blocks = GaussianMixtureIC(**kw).fit([X[:400], X[400:]])
    np.testing.assert_allclose(blocks.criteria_, mem.criteria_, rtol=1e-10)
    assert blocks.results_["n_iter"] == mem.results_["n_iter"]
