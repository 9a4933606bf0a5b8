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
