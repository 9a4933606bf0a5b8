"""Extreme magnitudes get a fit or an error that names the real problem."""


import numpy as np
import pytest

from conftest import blobs, expected_warnings, init_params
from gmmx import GaussianMixture, SufficientStats
from gmmx.core.mstep import m_step


def _quiet_fit(model, X, **kw):
    with expected_warnings():
        return model.fit(X, **kw)


@pytest.mark.parametrize("value", [1e200, -1e160, 1e300])
def test_huge_outlier_is_named_not_blamed_on_reg_covar(value):
    X, _, _ = blobs(500, 2, 2, seed=1)
    X[7, 1] = value
    with pytest.raises(ValueError, match=r"row 7.*column 1.*too large") as info:
        GaussianMixture(2, random_state=0).fit(X)
    assert "reg_covar" not in str(info.value)
    gm = GaussianMixture(2, random_state=0).fit(np.delete(X, 7, axis=0))
    with pytest.raises(ValueError, match=r"row 7.*too large"):
        gm.score_samples(X)


def test_row_far_outside_a_tight_model_is_named_by_the_kernel():
    # Data finite and moderate, but one row so far from every component of a
    # tight model that its log-density is not finite: the error names the row.
    X, _, _ = blobs(2000, 2, 2, seed=2)
    gm = GaussianMixture(2, random_state=0).fit(X)
    gm.precisions_cholesky_ = gm.precisions_cholesky_ * 1e70
    Xt = X[:50].copy()
    Xt[31] = 1e90
    with pytest.raises(ValueError, match=r"row 31 .*too far from every component"):
        gm.score_samples(Xt)


def test_sample_weight_near_the_float64_limit_fits_as_unit_weights():
    X, _, _ = blobs(300, 2, 2, seed=3)
    ref = GaussianMixture(2, random_state=0).fit(X)
    for w in (1e308, 1e-310):
        gm = GaussianMixture(2, random_state=0).fit(X, sample_weight=np.full(300, w))
        np.testing.assert_allclose(gm.means_, ref.means_, rtol=1e-12)
        np.testing.assert_allclose(gm.covariances_, ref.covariances_, rtol=1e-12)
        assert gm.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-12)


def test_huge_weight_ratios_keep_relative_weights():
    X, _, _ = blobs(400, 2, 2, seed=4)
    w = np.where(np.arange(400) % 2, 1e306, 3e306)  # they sum past 1.8e308
    init = init_params(X, 2, "full", seed=1)
    got = _quiet_fit(GaussianMixture(2, max_iter=5, tol=0, **init), X, sample_weight=w)
    ref = _quiet_fit(GaussianMixture(2, max_iter=5, tol=0, **init), X,
                     sample_weight=w / 1e306)
    np.testing.assert_allclose(got.means_, ref.means_, rtol=1e-12)
    assert got.score(X, sample_weight=w) == pytest.approx(ref.score(X, sample_weight=w / 1e306))


def test_large_but_representable_values_still_fit():
    # The magnitude check only rejects values whose squares overflow.
    X = np.random.default_rng(5).normal(size=(100, 3)) * 1e100
    gm = GaussianMixture(1, reg_covar=0.0).fit(X)
    np.testing.assert_allclose(gm.covariances_[0], np.cov(X.T, bias=True), rtol=1e-10)
    assert np.all(np.isfinite(gm.score_samples(X)))


def test_chunked_weights_that_overflow_their_sum_get_a_clear_error():
    # Chunk sources cannot be rescaled as a whole before the first pass:
    # their weights must at least fail with the cause and the fix.
    X, _, _ = blobs(400, 2, 2, seed=6)
    blocks = [(X[:200], np.full(200, 1e307)), (X[200:], np.full(200, 1e307))]
    with pytest.raises(ValueError, match="weights.*too large.*ratios"):
        GaussianMixture(2, random_state=0).fit(blocks)
    # statistics whose weights add up past float64 (chunk by chunk)
    st = SufficientStats.zeros("diag", np.zeros((2, 2)))
    st.nk[:] = [1e308, 1e308]
    st.weight_sum, st.n_samples = np.inf, 400
    with pytest.raises(ValueError, match="weights sum to more than float64.*ratios"):
        m_step(st, 1e-6)
