"""GaussianMixture.bic / aic / icl with sample weights, and ICL from statistics."""

import numpy as np
import pytest
from scipy.special import xlogy

from conftest import blobs
from gmmx import GaussianMixture
from gmmx.core import kernel
from gmmx.core.covariance import COVARIANCE_TYPES
from gmmx.core.criteria import complete_log_likelihood, criteria, entropy


@pytest.fixture(scope="module")
def data():
    X, _, _ = blobs(400, 2, 3, seed=5, scale=2.5)
    w = np.random.default_rng(1).integers(0, 4, 400).astype(float)
    return X, w


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_integer_weights_are_repeated_rows(data, cov):
    X, w = data
    m = GaussianMixture(3, covariance_type=cov, random_state=0).fit(X, sample_weight=w)
    Xr = np.repeat(X, w.astype(int), axis=0)
    for name in ("bic", "aic", "icl"):
        assert getattr(m, name)(X, sample_weight=w) == pytest.approx(getattr(m, name)(Xr),
                                                                     rel=1e-10)


def test_icl_is_bic_plus_twice_the_entropy(data):
    X, w = data
    m = GaussianMixture(3, random_state=0).fit(X)
    r = m.predict_proba(X)
    en = -np.sum(xlogy(r, r))
    assert m.icl(X) == pytest.approx(m.bic(X) + 2 * en, rel=1e-12)
    assert m.icl(X) > m.bic(X)
    ll = m.score_samples(X)
    assert m.bic(X) == pytest.approx(-2 * ll.sum() + m._n_parameters() * np.log(400))
    assert m.aic(X, w) == pytest.approx(-2 * w @ ll + 2 * m._n_parameters())
    with pytest.raises(ValueError, match="sample_weight"):
        m.bic(X, np.ones(3))


@pytest.mark.parametrize("cov", COVARIANCE_TYPES)
def test_entropy_from_statistics_equals_the_direct_sum(data, cov):
    X, w = data
    m = GaussianMixture(3, covariance_type=cov, random_state=0, max_iter=3).fit(X)
    params = m._get_parameters()
    st = kernel.accumulate(X, w, m._kernel_params(params))
    r = m.predict_proba(X)
    direct = -np.sum(w[:, None] * xlogy(r, r))
    assert entropy(st, m.weights_, m.means_, m.precisions_cholesky_, cov) == pytest.approx(
        direct, rel=1e-9, abs=1e-9)
    q = complete_log_likelihood(st, m.weights_, m.means_, m.precisions_cholesky_, cov)
    assert q <= st.log_likelihood
    c = criteria(st.log_likelihood, st.weight_sum, m._n_parameters(), direct)
    assert c["bic"] == pytest.approx(m.bic(X, w), rel=1e-12)
    assert c["icl"] == pytest.approx(m.icl(X, w), rel=1e-9)
