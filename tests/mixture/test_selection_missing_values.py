"""GaussianMixtureIC with nan_policy: given to every candidate, criteria marginalize too.

References: each candidate's own ``bic``/``aic``/``icl`` (per-row marginal
densities and posteriors, tested against brute force in
test_missing_values.py and test_student_missing_values.py), and the grid
fitted on the complete rows for ``'omit'``.
"""

import warnings

import numpy as np
import pytest

from conftest import blobs, with_missing
from gmmx import GaussianMixtureIC
from gmmx.sources import ArraySource

pytestmark = pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")


def _ic(**kw):
    kw = dict(dict(n_components=[1, 2, 3], covariance_type=["full", "diag"],
                   family=("gaussian", "student_t"), max_iter=15, random_state=0,
                   n_threads=1), **kw)
    return GaussianMixtureIC(**kw)


def _fit(ic, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ic.fit(X)


def test_marginalize_reaches_every_candidate_and_criterion():
    X = with_missing(blobs(300, 3, 3, seed=0)[0], 0.2, seed=0)
    ic = _fit(_ic(nan_policy="marginalize"), X)
    assert np.all(np.isfinite(ic.criteria_))
    for i, est in enumerate(ic.estimators_):
        assert est.nan_policy == "marginalize"
        for name in ("bic", "aic", "icl"):
            np.testing.assert_allclose(ic.results_[name][i], getattr(est, name)(X),
                                       rtol=1e-9, err_msg=f"{name} {ic.results_['candidate'][i]}")
    assert np.all(np.isfinite(ic.predict_proba(X)))


def test_marginalize_chunk_source_equals_in_memory():
    X = with_missing(blobs(300, 3, 3, seed=1)[0], 0.2, seed=1)
    a = _fit(_ic(nan_policy="marginalize", family="gaussian"), X)
    b = _fit(_ic(nan_policy="marginalize", family="gaussian"), ArraySource(X, chunk_size=64))
    np.testing.assert_allclose(a.criteria_, b.criteria_, rtol=1e-10)


def test_omit_equals_grid_on_complete_rows():
    X = with_missing(blobs(300, 3, 3, seed=2)[0], 0.1, seed=2)
    keep = ~np.isnan(X).any(axis=1)
    a = _fit(_ic(nan_policy="omit", family="gaussian"), X)
    b = _fit(_ic(family="gaussian"), X[keep])
    np.testing.assert_allclose(a.criteria_, b.criteria_, rtol=1e-10)
    cv_a = _fit(_ic(nan_policy="omit", family="gaussian", criterion="cv", cv=3,
                    n_components=[1, 2]), X)
    cv_b = _fit(_ic(family="gaussian", criterion="cv", cv=3, n_components=[1, 2]), X[keep])
    np.testing.assert_allclose(cv_a.criteria_, cv_b.criteria_, rtol=1e-10)


def test_raise_and_bad_policy_and_masked_array():
    X = with_missing(blobs(200, 3, 2, seed=3)[0], 0.1, seed=3)
    with pytest.raises(ValueError, match="nan_policy"):
        _fit(_ic(), X)
    with pytest.raises(ValueError, match="nan_policy must be one of"):
        _fit(_ic(nan_policy="drop"), X)
    masked = np.ma.masked_invalid(np.nan_to_num(X, nan=1e6))
    masked[np.isnan(X)] = np.ma.masked
    with pytest.raises(ValueError, match="nan_policy"):
        _fit(_ic(), masked)
    a = _fit(_ic(nan_policy="marginalize", family="gaussian"), masked)
    b = _fit(_ic(nan_policy="marginalize", family="gaussian"), X)
    np.testing.assert_allclose(a.criteria_, b.criteria_, rtol=1e-12)
