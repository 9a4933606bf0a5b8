"""GaussianMixtureIC: grid fits in lockstep, criteria, selection, sources, Dask, CV."""

import warnings

import numpy as np
import pytest

from conftest import MCLUST_MODELS, CountingSource, blobs, mclust_reference, reference_data
from gmmx import ConjugatePrior, ConvergenceWarning, GaussianMixtureIC
from gmmx.core import kernel
from gmmx.exceptions import NotFittedError

TIGHT = dict(reg_covar=0, tol=1e-10, max_iter=3000)


def _quiet_fit(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args, **kwargs)


@pytest.mark.parametrize("data", ["faithful", "iris"])
def test_picks_mclusts_model_and_reproduces_its_bic_table(data):
    # mclust: summary(mclustBIC(X, G = 1:5, modelNames = c("VVV", "EEE", "VVI", "VII")))
    # picks EEE,3 (faithful) and VVV,2 (iris); mclust's BIC is -1 x gmmx's.
    ref = mclust_reference()[data]
    X = reference_data(data)
    sel = GaussianMixtureIC(range(1, 6), **TIGHT).fit(X)
    best = ref["bic_best"]
    assert (sel.n_components_, sel.covariance_type_) == (best["G"],
                                                         MCLUST_MODELS[best["modelName"]])
    n = X.shape[0]
    for i, (k, cov) in enumerate(zip(sel.results_["n_components"],
                                     sel.results_["covariance_type"])):
        model = {v: m for m, v in MCLUST_MODELS.items()}[cov]
        ll = ref["loglik_tight"][model][k - 1]
        want = -2 * ll + sel.results_["n_parameters"][i] * np.log(n)
        assert sel.criteria_[i] == pytest.approx(want, abs=1e-4), sel.results_["candidate"][i]
    # mclust's own table (its default tolerance) agrees where both converged alike
    assert sel.criteria_[sel.best_index_] == pytest.approx(
        -ref["bic_table"][best["modelName"]][best["G"] - 1], abs=0.05)
    # gmmx's defaults pick the same model
    default = _quiet_fit(GaussianMixtureIC(range(1, 6)), X)
    assert (default.n_components_, default.covariance_type_) == (sel.n_components_,
                                                                 sel.covariance_type_)


def test_fitted_attributes_results_table_and_delegation():
    pd = pytest.importorskip("pandas")
    X, _, _ = blobs(300, 2, 2, seed=3)
    sel = GaussianMixtureIC([1, 2, 3], ("full", "diag"), random_state=0).fit(X)
    assert [e.n_components for e in sel.estimators_] == [1, 2, 3, 1, 2, 3]
    assert [e.covariance_type for e in sel.estimators_] == ["full"] * 3 + ["diag"] * 3
    assert sel.criteria_.shape == (6,) and sel.n_components_ == 2
    best = sel.best_estimator_
    assert best is sel.estimators_[int(np.argmin(sel.criteria_))]
    table = pd.DataFrame(sel.results_)
    assert {"candidate", "bic", "aic", "icl", "log_likelihood", "n_parameters", "converged",
            "n_iter"} <= set(table.columns)
    assert len(table) == 6 and table["candidate"][0] == "K=1 full"
    # the criteria are exact: they equal the fitted candidates' own bic/aic/icl
    for i, e in enumerate(sel.estimators_):
        assert table["bic"][i] == pytest.approx(e.bic(X), rel=1e-10)
        assert table["aic"][i] == pytest.approx(e.aic(X), rel=1e-10)
        assert table["icl"][i] == pytest.approx(e.icl(X), rel=1e-8)
    np.testing.assert_array_equal(sel.predict(X), best.predict(X))
    np.testing.assert_array_equal(sel.predict_proba(X), best.predict_proba(X))
    np.testing.assert_array_equal(sel.score_samples(X), best.score_samples(X))
    assert sel.score(X) == best.score(X) and sel.bic(X) == best.bic(X)
    assert sel.aic(X) == best.aic(X) and sel.icl(X) == best.icl(X)
    assert sel.sample(5)[0].shape == (5, 2)


@pytest.mark.parametrize("criterion", ["aic", "icl"])
def test_other_criteria(criterion):
    X, _, _ = blobs(300, 2, 3, seed=4)
    sel = GaussianMixtureIC(range(1, 5), "full", criterion=criterion, random_state=0).fit(X)
    np.testing.assert_array_equal(sel.criteria_, sel.results_[criterion])
    assert sel.n_components_ == 3


def test_over_a_chunk_source_one_pass_per_iteration_for_the_whole_grid(monkeypatch):
    X = reference_data("iris")
    kw = dict(n_components=range(1, 5), tol=1e-6, max_iter=300)
    mem = GaussianMixtureIC(**kw).fit(X)
    src = CountingSource(X, chunk_rows=40)
    calls = []
    real = kernel.accumulate
    monkeypatch.setattr(kernel, "accumulate", lambda *a, **k: calls.append(1) or real(*a, **k))
    streamed = GaussianMixtureIC(**kw).fit(src)
    most = max(streamed.results_["n_iter"])
    assert src.passes <= most + 1  # EM passes + the one initialisation sample
    assert src.rows_read <= (most + 1) * X.shape[0] + 40  # + the first block, for n_features
    assert streamed.n_passes_ == most + 1
    # candidates that converged stopped consuming kernel calls: 4 chunks per pass each
    assert len(calls) == 4 * sum(streamed.results_["n_iter"])
    assert streamed.best_index_ == mem.best_index_
    np.testing.assert_allclose(streamed.criteria_, mem.criteria_, rtol=1e-9)
    assert streamed.results_["n_iter"] == mem.results_["n_iter"]


def test_dask_one_compute_per_iteration(monkeypatch):
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    X = reference_data("faithful")
    w = np.random.default_rng(0).integers(1, 3, X.shape[0]).astype(float)
    kw = dict(n_components=[1, 2, 3], covariance_type=("full", "tied"), tol=1e-6, max_iter=1000)
    mem = GaussianMixtureIC(**kw).fit(X, sample_weight=w)
    computes = []
    real = dask.compute
    monkeypatch.setattr(dask, "compute", lambda *a, **k: computes.append(1) or real(*a, **k))
    sel = GaussianMixtureIC(**kw).fit(da.from_array(X, chunks=(100, 2)),
                                      sample_weight=da.from_array(w, chunks=100))
    assert len(computes) == sel.n_passes_ == max(sel.results_["n_iter"]) + 1
    np.testing.assert_allclose(sel.criteria_, mem.criteria_, rtol=1e-9)


def test_sample_weight_is_honoured_everywhere():
    X, _, _ = blobs(200, 2, 2, seed=8, scale=6)
    w = np.random.default_rng(2).integers(1, 4, 200)
    kw = dict(n_components=[1, 2, 3], covariance_type="diag", init_params="kmeans",
              random_state=0, tol=1e-10, max_iter=500)
    a = _quiet_fit(GaussianMixtureIC(**kw), X, sample_weight=w.astype(float))
    b = _quiet_fit(GaussianMixtureIC(**kw), np.repeat(X, w, axis=0))
    assert a.best_index_ == b.best_index_
    for name in ("bic", "aic", "icl"):
        np.testing.assert_allclose(a.results_[name], b.results_[name], rtol=1e-6)


def test_cross_validated_log_likelihood():
    X, _, _ = blobs(400, 2, 2, seed=11)
    sel = GaussianMixtureIC([1, 2, 3], "full", criterion="cv", cv=3, random_state=0).fit(X)
    assert sel.n_components_ == 2 and len(sel.results_["cv"]) == 3
    np.testing.assert_array_equal(sel.criteria_, sel.results_["cv"])
    # the held-out deviance of K=1 is worse than K=2's
    assert sel.results_["cv"][0] > sel.results_["cv"][1]
    folds = [(np.arange(0, 200), np.arange(200, 400)), (np.arange(200, 400), np.arange(200))]
    by_hand = GaussianMixtureIC([2], "full", criterion="cv", cv=folds, random_state=0).fit(X)
    fold_fit = GaussianMixtureIC([2], "full", random_state=0).fit(X[:200]).best_estimator_
    assert np.isfinite(by_hand.criteria_[0])
    assert by_hand.criteria_[0] < -2 * fold_fit.score_samples(X[200:]).sum() + 1e6


def test_prior_and_regularisation_go_to_every_candidate():
    X = reference_data("iris")
    sel = _quiet_fit(GaussianMixtureIC([2, 3], ("full", "spherical"), prior=ConjugatePrior(),
                                       covariance_shrinkage=0.1, reg_covar=0), X)
    for e in sel.estimators_:
        assert e.prior_ is not None and e.prior_.spec == sel.prior
        assert e.covariance_shrinkage == 0.1


def test_failed_candidates_are_excluded_with_a_warning():
    X = np.random.default_rng(0).normal(size=(5, 2))
    with pytest.warns(ConvergenceWarning, match="failed"):
        sel = GaussianMixtureIC([1, 2, 8], "spherical").fit(X)
    assert np.isinf(sel.criteria_[2]) and sel.results_["error"][2]
    assert not hasattr(sel.estimators_[2], "means_") and sel.n_components_ in (1, 2)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_components=[]), "n_components is empty"),
    (dict(covariance_type=()), "covariance_type is empty"),
    (dict(n_components=[0, 1]), "n_components must be an integer >= 1"),
    (dict(covariance_type=("full", "weird")), "covariance_type must be one of"),
    (dict(criterion="hqic"), "criterion must be one of"),
    (dict(warm_start=True), "warm_start"),
    (dict(prior=ConjugatePrior(mean=[1.0, 2.0, 3.0])), "prior.mean"),
    (dict(weight_concentration=0.5), "weight_concentration"),
    (dict(min_eigenvalue=-1.0), "min_eigenvalue"),
])
def test_bad_input_names_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixtureIC(**kwargs).fit(reference_data("faithful"))


def test_cv_needs_an_array():
    X = reference_data("faithful")
    with pytest.raises(ValueError, match="criterion='cv' needs an in-memory array"):
        GaussianMixtureIC(criterion="cv").fit(CountingSource(X, 100))
    with pytest.raises(ValueError, match="cv=500 folds need at least 500 rows"):
        GaussianMixtureIC([1], criterion="cv", cv=500).fit(X)


def test_params_clone_and_not_fitted():
    from sklearn.base import clone
    sel = GaussianMixtureIC([1, 2], "diag", reg_covar=1e-4, prior=ConjugatePrior())
    c = clone(sel)
    assert c.reg_covar == 1e-4 and c.get_params()["covariance_type"] == "diag"
    assert c.prior == sel.prior and c.init_params == "hierarchical"
    assert "reg_covar=0.0001" in repr(c) and "tol" not in repr(c)
    c.set_params(n_components=[3], tol=1e-5)
    assert c.n_components == [3] and c.tol == 1e-5
    with pytest.raises(ValueError, match="Invalid parameter 'bogus'"):
        c.set_params(bogus=1)
    with pytest.raises(TypeError, match="unexpected parameter"):
        GaussianMixtureIC(bogus=1)
    with pytest.raises(NotFittedError):
        c.predict(np.zeros((2, 2)))


def test_plot_information_criteria_draws_the_grid(tmp_path):
    pytest.importorskip("matplotlib")
    from gmmx.plotting import plot_information_criteria

    X = reference_data("faithful")
    sel = _quiet_fit(GaussianMixtureIC(range(1, 4), ("full", "tied")), X)
    ax = plot_information_criteria(sel)
    lines = [ln for ln in ax.get_lines() if ln.get_label() in ("full", "tied")]
    assert len(lines) == 2
    ks, vals = lines[1].get_data()
    np.testing.assert_array_equal(ks, [1, 2, 3])
    np.testing.assert_allclose(vals, sel.criteria_[3:])
    ax.figure.savefig(tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 1000


def test_one_hierarchical_tree_for_the_whole_grid(monkeypatch):
    from gmmx.core import hierarchical

    calls = []
    real = hierarchical.hc_vvv
    monkeypatch.setattr(hierarchical, "hc_vvv", lambda *a: calls.append(1) or real(*a))
    X = reference_data("iris")
    GaussianMixtureIC(range(1, 5), ("full", "diag", "spherical")).fit(X)
    assert len(calls) == 1


def test_fit_predict_fits_then_labels_with_the_best_model():
    X, truth, _ = blobs(400, 2, 3, seed=8)
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    for weights in (None, w):
        sel = GaussianMixtureIC([2, 3, 4], ("full", "spherical"), random_state=0)
        labels = sel.fit_predict(X, sample_weight=weights)
        assert hasattr(sel, "best_estimator_")  # it fitted
        ref = GaussianMixtureIC([2, 3, 4], ("full", "spherical"), random_state=0)
        np.testing.assert_array_equal(labels, ref.fit(X, sample_weight=weights).predict(X))
        np.testing.assert_array_equal(labels, sel.best_estimator_.predict(X))
        assert labels.shape == truth.shape and labels.max() < sel.n_components_
