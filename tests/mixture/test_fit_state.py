"""What an estimator holds after a fit that failed, was interrupted or collapsed.

A fit changes the fitted attributes as one consistent set: parameters,
``n_features_in_`` and the convergence record always describe the same model.
"""


import numpy as np
import pytest

from conftest import blobs, expected_warnings
from gmmx import ConvergenceWarning, GaussianMixture
from gmmx.core import kernel


def _quiet(model, X, **kw):
    with expected_warnings():
        return model.fit(X, **kw)


def _state(gm):
    return {name: np.array(getattr(gm, name), copy=True) for name in
            ("weights_", "means_", "covariances_", "precisions_cholesky_", "n_features_in_",
             "n_iter_", "lower_bound_", "converged_")}


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.parametrize("bad", [
    np.ones((100, 3)) * np.r_[1.0, 1.0, 1e200],  # fails in validation
    np.ones((100, 3)),                            # fails in initialisation (reg_covar=0)
], ids=["validation", "initialisation"])
def test_failed_refit_on_other_width_keeps_the_previous_model(bad):
    X, _, _ = blobs(300, 2, 2, seed=1)
    gm = _quiet(GaussianMixture(2, random_state=0, reg_covar=0.0), X)
    before = _state(gm)
    with pytest.raises(ValueError):
        gm.fit(bad)
    _assert_same_state(_state(gm), before)
    assert gm.predict(X).shape == (300,)


def test_failed_first_fit_leaves_the_estimator_unfitted():
    gm = GaussianMixture(2, reg_covar=0.0, warm_start=True)
    with pytest.raises(ValueError, match="ill-defined"):
        gm.fit(np.ones((50, 2)))
    assert not hasattr(gm, "n_features_in_") and not hasattr(gm, "converged_")
    # and a later fit starts afresh (warm_start has nothing to start from)
    X, _, _ = blobs(300, 2, 2, seed=2)
    assert _quiet(gm, X).predict(X).shape == (300,)


def test_interrupt_in_a_later_restart_keeps_the_best_completed_one():
    X, _, _ = blobs(600, 2, 3, seed=3)
    runs = []

    def interrupt_second_restart(n_iter, lower_bound):
        if n_iter == 1:
            runs.append([])
        runs[-1].append(lower_bound)
        if len(runs) == 2 and n_iter == 1:
            raise KeyboardInterrupt

    gm = GaussianMixture(3, n_init=3, random_state=0, tol=1e-6, max_iter=200,
                         callback=interrupt_second_restart)
    with pytest.raises(KeyboardInterrupt):
        gm.fit(X)
    first = GaussianMixture(3, n_init=1, random_state=0, tol=1e-6, max_iter=200).fit(X)
    assert gm.lower_bound_ == first.lower_bound_ == runs[0][-1]
    np.testing.assert_array_equal(gm.means_, first.means_)
    assert gm.n_iter_ == first.n_iter_ and gm.converged_


def test_interrupt_keeps_a_partial_restart_that_is_better():
    # With this seed the first random start converges to a poor local optimum
    # and the second overtakes it after ~30 iterations; interrupt it there.
    X, _, _ = blobs(600, 2, 4, seed=4)
    runs = []

    def interrupt_once_ahead(n_iter, lower_bound):
        if n_iter == 1:
            runs.append([])
        runs[-1].append(lower_bound)
        if len(runs) == 2 and lower_bound > runs[0][-1]:
            raise KeyboardInterrupt

    gm = GaussianMixture(4, n_init=3, init_params="random", random_state=0, tol=1e-4,
                         max_iter=300, callback=interrupt_once_ahead)
    with pytest.raises(KeyboardInterrupt):
        gm.fit(X)
    assert len(runs) == 2 and len(runs[1]) > 1
    assert gm.lower_bound_ == runs[1][-1] > runs[0][-1]
    assert gm.n_iter_ == len(gm.lower_bounds_) == len(runs[1]) and not gm.converged_


def test_list_of_row_tuples_is_data_not_a_chunk_source():
    rows = [(0.0, 1.0), (1.0, 2.0), (0.5, 1.5), (5.0, 6.0), (5.5, 6.5), (6.0, 7.0)]
    gm = GaussianMixture(2, random_state=0).fit(rows)
    ref = GaussianMixture(2, random_state=0).fit(np.array(rows))
    np.testing.assert_array_equal(gm.means_, ref.means_)
    np.testing.assert_array_equal(gm.predict(rows), ref.predict(np.array(rows)))
    # pairs of (2-D block, weights) are still a chunk source
    X = np.array(rows)
    blocks = [(X[:3], np.ones(3)), (X[3:], np.ones(3))]
    np.testing.assert_allclose(GaussianMixture(2, random_state=0).fit(blocks).means_[:, 0].sum(),
                               ref.means_[:, 0].sum(), rtol=1e-6)


@pytest.mark.parametrize("n_threads", [2**31, 2**63, 10**6])
def test_huge_thread_counts_are_capped(n_threads):
    X, _, _ = blobs(2000, 2, 2, seed=5)
    gm = GaussianMixture(2, n_threads=n_threads, random_state=0).fit(X)
    ref = GaussianMixture(2, n_threads=1, random_state=0).fit(X)
    np.testing.assert_array_equal(gm.means_, ref.means_)
    assert 1 <= kernel.resolve_n_threads(n_threads) <= kernel.MAX_THREADS


def test_collapse_with_reg_covar_zero_ends_the_run_like_sklearn_18216():
    # scikit-learn's regression test for its issue 18216: these initial
    # parameters make spherical components collapse onto single points.
    rnd = np.random.RandomState(0)
    X = rnd.uniform(size=(30, 3))
    means_init = np.array([
        [0.670637869618158, 0.21038256107384043, 0.12892629765485303],
        [0.09394051075844147, 0.5759464955561779, 0.929296197576212],
        [0.5033230372781258, 0.9569852381759425, 0.08654043447295741],
        [0.18578301420435747, 0.5531158970919143, 0.19388943970532435],
        [0.4548589928173794, 0.35182513658825276, 0.568146063202464],
        [0.609279894978321, 0.7929063819678847, 0.9620097270828052],
    ])
    precisions_init = np.array([999999.999604483, 999999.9990869573, 553.7603944542167,
                                204.78596008931834, 15.867423501783637, 85.4595728389735])
    weights_init = [0.03333333333333341, 0.03333333333333341, 0.06666666666666674,
                    0.06666666666666674, 0.7000000000000001, 0.10000000000000007]
    for max_iter in (1, 5):
        gm = GaussianMixture(6, covariance_type="spherical", reg_covar=0, means_init=means_init,
                             weights_init=weights_init, precisions_init=precisions_init,
                             random_state=rnd, max_iter=max_iter)
        with pytest.warns(ConvergenceWarning, match="collapsed"):
            gm.fit(X)
        assert not gm.converged_
        assert gm.n_iter_ == len(gm.lower_bounds_) >= 1
        assert np.isfinite(gm.lower_bound_) and gm.lower_bound_ == gm.lower_bounds_[-1]
        assert np.all(gm.covariances_ > 0) and np.all(np.isfinite(gm.precisions_cholesky_))
        assert np.all(np.isfinite(gm.score_samples(X)))


def test_collapse_keeps_the_last_valid_iteration():
    X = np.r_[np.zeros(50), np.random.default_rng(2).normal(size=50)].reshape(-1, 1)
    with pytest.warns(ConvergenceWarning, match="collapsed"):
        gm = GaussianMixture(2, reg_covar=0.0, means_init=[[0.0], [0.5]], max_iter=50,
                             random_state=0).fit(X)
    n = gm.n_iter_
    # the same run stopped by max_iter one step earlier has the same parameters
    ref = _quiet(GaussianMixture(2, reg_covar=0.0, means_init=[[0.0], [0.5]],
                                 max_iter=n - 1, tol=0, random_state=0), X)
    np.testing.assert_array_equal(gm.means_, ref.means_)
    np.testing.assert_array_equal(gm.covariances_, ref.covariances_)
    assert gm.lower_bounds_[:-1] == ref.lower_bounds_
