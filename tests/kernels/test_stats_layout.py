"""gmmx._kernels.layout: the one decoder of the kernel's flat statistics."""

import numpy as np
import pytest

from conftest import brute_force_stats, random_model
from gmmx.core import kernel as _engine
from gmmx._kernels import _estep, layout
from gmmx.core.covariance import get_covariance

KINDS = [layout.KIND_FULL, layout.KIND_DIAG]


def test_kinds_are_the_kernels():
    assert (layout.KIND_FULL, layout.KIND_DIAG) == (_estep.KIND_FULL, _estep.KIND_DIAG)


@pytest.mark.parametrize("kind", KINDS)
def test_stats_size_agrees_with_the_kernel(kind):
    for d in [1, 2, 3, 17]:
        for k in [1, 2, 5]:
            assert layout.stats_size(d, k, kind) == _estep.stats_size(d, k, kind)


def test_unpack_diag_layout():
    K, d = 3, 2
    flat = np.arange(layout.stats_size(d, K, layout.KIND_DIAG), dtype=np.float64)
    u = layout.unpack(flat, K, d, layout.KIND_DIAG)
    np.testing.assert_array_equal(u.nk, [0, 1, 2])
    np.testing.assert_array_equal(u.s, [[3, 4], [5, 6], [7, 8]])
    np.testing.assert_array_equal(u.M, [[9, 10], [11, 12], [13, 14]])
    assert (u.log_likelihood, u.weight_sum) == (15.0, 16.0)
    assert all(a.dtype == np.float64 and a.flags.owndata for a in (u.nk, u.s, u.M))


def test_unpack_full_layout_is_column_major_and_symmetrised():
    rng = np.random.default_rng(0)
    K, d = 2, 3
    s = rng.normal(size=(K, d))
    M = rng.normal(size=(K, d, d))  # not symmetric: unpack symmetrises
    G = np.empty((K * d, d + 1))  # G[k*d + j, c] = M[k, j, c]; G[k*d + j, d] = s[k, j]
    G[:, :d] = M.reshape(K * d, d)
    G[:, d] = s.reshape(-1)
    flat = np.concatenate([[4.0, 5.0], G.reshape(-1, order="F"), [-7.0, 9.0]])
    assert flat.size == layout.stats_size(d, K, layout.KIND_FULL)
    u = layout.unpack(flat, K, d, layout.KIND_FULL)
    np.testing.assert_array_equal(u.nk, [4.0, 5.0])
    np.testing.assert_array_equal(u.s, s)
    np.testing.assert_array_equal(u.M, 0.5 * (M + M.transpose(0, 2, 1)))
    assert (u.log_likelihood, u.weight_sum) == (-7.0, 9.0)


def test_unpack_rejects_wrong_length_and_kind():
    with pytest.raises(ValueError, match="entries"):
        layout.unpack(np.zeros(10), 2, 3, layout.KIND_FULL)
    with pytest.raises(ValueError, match="kind"):
        layout.unpack(np.zeros(10), 2, 3, 7)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("d", [1, 3])
def test_unpack_reads_the_kernels_vector(covariance_type, d):
    """Kernel output decoded by layout: about ref (KIND_FULL) or the means."""
    rng = np.random.default_rng(d)
    K = 3
    X = rng.normal(size=(300, d))
    sw = rng.uniform(0.5, 2.0, 300)
    resp = rng.dirichlet(np.ones(K), 300)
    weights, means, cov, _ = random_model(rng, K, d, covariance_type)
    kp = _engine.kernel_params(weights, means, get_covariance(covariance_type).precision_cholesky(cov),
                               covariance_type)
    flat, status, _, _ = _estep.stats_given_resp(X, sw, resp, kp.means, kp.ref, kp.kind, 1, 64)
    assert status == _estep.STATUS_OK
    u = layout.unpack(flat, K, d, kp.kind)
    full = kp.kind == layout.KIND_FULL
    centers = np.broadcast_to(kp.ref, (K, d)) if full else means
    nk, sk, Mk = brute_force_stats(X, resp * sw[:, None], centers)
    if not full:
        Mk = np.array([np.diag(m) for m in Mk])
    np.testing.assert_allclose(u.nk, nk, rtol=1e-13)
    np.testing.assert_allclose(u.s, sk, rtol=1e-11, atol=1e-12 * np.abs(sk).max())
    np.testing.assert_allclose(u.M, Mk, rtol=1e-12, atol=1e-13 * np.abs(Mk).max())
    assert u.log_likelihood == 0.0
    assert u.weight_sum == pytest.approx(sw.sum(), rel=1e-14)
    assert full == (covariance_type in ("full", "tied") and d > 1)
