"""Covariance-type conversions: covariances, precisions and their Cholesky factors."""

import numpy as np
import pytest

from gmmx.core.covariance import get_covariance


def test_precision_helpers_round_trip():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(3, 4, 4))
    cov = A @ A.transpose(0, 2, 1) + np.eye(4)
    pc = get_covariance("full").precision_cholesky(cov)
    np.testing.assert_allclose(get_covariance("full").covariances_from_cholesky(pc), cov, rtol=1e-10)
    P = get_covariance("full").precisions_from_cholesky(pc)
    np.testing.assert_allclose(P, np.linalg.inv(cov), rtol=1e-9)
    pc2 = get_covariance("full").precision_cholesky_from_precisions(P)
    np.testing.assert_allclose(pc2, pc, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="ill-defined"):
        get_covariance("full").precision_cholesky(np.zeros((1, 2, 2)))


def _assert_scipys_factor_or_its_failure(c):
    """``_prec_chol_one(c)`` has the bits of scipy's Cholesky and triangular
    solve, or raises IllDefinedCovarianceError where those fail."""
    from scipy import linalg

    from gmmx.core.covariance import _prec_chol_one
    from gmmx.exceptions import IllDefinedCovarianceError

    try:
        ref = linalg.solve_triangular(linalg.cholesky(c, lower=True), np.eye(c.shape[0]),
                                      lower=True).T
    except linalg.LinAlgError:
        ref = None
    if ref is None or not np.isfinite(ref).all():
        with pytest.raises(IllDefinedCovarianceError):
            _prec_chol_one(c)
    else:
        got = _prec_chol_one(c)
        assert got.shape == ref.shape
        assert got.tobytes() == np.ascontiguousarray(ref).tobytes(), c


def test_precision_factor_has_scipys_bits():
    # d > 1: LAPACK called directly must give exactly what scipy's Cholesky
    # and triangular solve give, and fail where they fail.
    rng = np.random.default_rng(1)
    cases = []
    for d in (2, 3, 8, 17):
        for scale in (1e-150, 1e-8, 1.0, 1e8, 1e150):
            A = rng.normal(size=(3 * d, d))
            cases.append(scale * (A.T @ A) / (3 * d))
        cases.append(np.ones((d, d)))                      # singular
        cases.append(-np.eye(d))                           # negative definite
        B = rng.normal(size=(d, d))
        cases.append(np.asfortranarray(B @ B.T + d * np.eye(d)))  # Fortran order
        cases.append((B @ B.T + d * np.eye(d))[::-1, ::-1])       # negative strides
    for c in cases:
        _assert_scipys_factor_or_its_failure(c)


def test_one_by_one_precision_factor_has_lapacks_bits():
    # The 1 x 1 shortcut must give exactly what scipy's Cholesky and
    # triangular solve give, and fail where they fail.
    rng = np.random.default_rng(0)
    values = np.concatenate([10.0 ** rng.uniform(-300, 300, 2000), rng.uniform(0, 10, 2000),
                             [5e-324, 1e-310, 2.2250738585072014e-308, 1.7e308, 0.0, -0.0,
                              -1.0, -1e-300]])
    for v in values:
        _assert_scipys_factor_or_its_failure(np.array([[v]]))
