"""GaussianHMM with missing entries: emissions marginalize the NaN entries."""

import numpy as np
import pytest

from conftest import brute_force_hmm, brute_force_marginal_log_densities, random_hmm, with_missing
from gmmx import GaussianHMM

COVS = ["full", "tied", "diag", "spherical"]


def _model(cov, seed=0, K=3, d=3, **kw):
    startprob, transmat, means, covars = random_hmm(np.random.default_rng(seed), K, d, cov)
    m = GaussianHMM(K, covariance_type=cov, init_params="", n_threads=1, **kw)
    m.startprob_, m.transmat_, m.means_, m.covars_ = startprob, transmat, means, covars
    return m


def _data(m, n=300, seed=0):
    X, _ = m.sample(n, random_state=seed)
    return with_missing(X, 0.2, seed=seed)


@pytest.mark.parametrize("cov", COVS)
def test_log_likelihood_equals_forward_recursion_over_observed(cov):
    m = _model(cov, nan_policy="marginalize")
    X = _data(m)
    lengths = [120, 180]
    lp = brute_force_marginal_log_densities(X, np.ones(3), m.means_, m.covars_)
    want = sum(brute_force_hmm(lp[a:b], m.startprob_, m.transmat_)[0]
               for a, b in ((0, 120), (120, 300)))
    assert m.score(X, lengths) == pytest.approx(want, rel=1e-11)
    gamma = np.concatenate([brute_force_hmm(lp[a:b], m.startprob_, m.transmat_)[1]
                            for a, b in ((0, 120), (120, 300))])
    np.testing.assert_allclose(m.predict_proba(X, lengths), gamma, atol=1e-10)


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_fit_step_uses_expected_complete_data_statistics(cov):
    """One Baum-Welch iteration: means from posteriors and conditional means."""
    m = _model(cov, nan_policy="marginalize", n_iter=1, params="m", means_weight=0)
    X = _data(m, seed=1)
    lp = brute_force_marginal_log_densities(X, np.ones(3), m.means_, m.covars_)
    gamma = brute_force_hmm(lp, m.startprob_, m.transmat_)[1]
    full, means0 = m.covars_, m.means_.copy()
    want = np.zeros_like(means0)
    for k in range(3):
        filled = X.copy()
        for i in range(X.shape[0]):
            o, mis = ~np.isnan(X[i]), np.isnan(X[i])
            if mis.any():
                S = full[k]
                B = S[np.ix_(mis, o)] @ np.linalg.inv(S[np.ix_(o, o)])
                filled[i, mis] = means0[k, mis] + B @ (X[i, o] - means0[k, o])
        want[k] = gamma[:, k] @ filled / gamma[:, k].sum()
    m.fit(X)
    np.testing.assert_allclose(m.means_, want, atol=1e-10)


def test_fit_source_and_dask_equal_in_memory(tmp_path):
    da = pytest.importorskip("dask.array")
    import dask

    m = _model("full")
    X = _data(m, n=400, seed=2)
    kw = dict(n_iter=3, tol=-np.inf, nan_policy="marginalize")
    ref = _model("full", **kw).fit(X, [100] * 4)
    blocks = [X[i:i + 100] for i in range(0, 400, 100)]
    src = _model("full", **kw).fit(blocks)
    with dask.config.set(scheduler="synchronous"):
        dsk = _model("full", **kw).fit(da.from_array(X, chunks=(100, 3)))
    for other in (src, dsk):
        np.testing.assert_allclose(other.means_, ref.means_, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(other.covars_, ref.covars_, rtol=1e-10, atol=1e-12)


def test_default_initialisation_with_missing_values():
    m = _model("diag")
    X = _data(m, n=600, seed=3)
    fitted = GaussianHMM(3, n_iter=5, random_state=0, nan_policy="marginalize",
                         n_threads=1).fit(X)
    assert np.isfinite(fitted.score(X))


def test_bad_input():
    m = _model("diag")
    X = _data(m, seed=4)
    first = int(np.flatnonzero(np.isnan(X).any(axis=1))[0])
    with pytest.raises(ValueError, match=f"row {first}.*nan_policy"):
        GaussianHMM(3, n_threads=1).fit(X)
    with pytest.raises(ValueError, match=f"row {first}.*nan_policy"):
        m.score(np.ma.masked_invalid(X))
    Y = X.copy()
    Y[7] = np.nan
    with pytest.raises(ValueError, match="row 7 has no observed value"):
        _model("diag", nan_policy="marginalize").score(Y)
    Y[7] = np.inf
    with pytest.raises(ValueError, match="row 7"):
        _model("diag", nan_policy="marginalize").score(Y)
    with pytest.raises(ValueError, match="does not support nan_policy='omit'"):
        GaussianHMM(3, nan_policy="omit").fit(X)
