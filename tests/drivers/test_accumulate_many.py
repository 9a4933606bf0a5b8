"""drivers: statistics of several models from one pass (driver.accumulate_many)."""

import numpy as np
import pytest

from conftest import CountingSource, blobs
from gmmx import GaussianMixture
from gmmx.drivers import DriverOptions, accumulate_many, make_driver


def _models(X):
    return [GaussianMixture(k, covariance_type=c, random_state=0, max_iter=2).fit(X)
            for k, c in ((1, "full"), (2, "diag"), (3, "tied"), (2, "spherical"))]


def _kp(m):
    return m._kernel_params(m._get_parameters())


def _assert_same(a, b):
    np.testing.assert_allclose(a.nk, b.nk, rtol=1e-12)
    np.testing.assert_allclose(a.recentred(b.centers).Mk, b.Mk, rtol=1e-10, atol=1e-10)
    assert a.log_likelihood == pytest.approx(b.log_likelihood, rel=1e-12)


@pytest.fixture(scope="module")
def data():
    X, _, _ = blobs(500, 3, 3, seed=2)
    return X, _models(X)


def test_a_source_is_read_once_for_all_models(data):
    X, models = data
    src = CountingSource(X, chunk_rows=64)
    driver = make_driver(src, None, DriverOptions())
    driver.n_features  # reads the first block only
    before = src.passes
    many = driver.accumulate_many([_kp(m) for m in models])
    assert src.passes - before == 1
    array = make_driver(X, None, DriverOptions())
    for st, m in zip(many, models):
        _assert_same(st, array.accumulate(_kp(m)))


def test_dask_computes_once_for_all_models(data, monkeypatch):
    dask = pytest.importorskip("dask")
    da = pytest.importorskip("dask.array")
    X, models = data
    driver = make_driver(da.from_array(X, chunks=(128, 3)), None, DriverOptions())
    calls = []
    real = dask.compute
    monkeypatch.setattr(dask, "compute", lambda *a, **k: calls.append(1) or real(*a, **k))
    many = driver.accumulate_many([_kp(m) for m in models])
    assert len(calls) == 1
    array = make_driver(X, None, DriverOptions())
    for st, m in zip(many, models):
        _assert_same(st, array.accumulate(_kp(m)))


def test_fallback_for_drivers_without_accumulate_many(data):
    X, models = data

    class Plain:
        def __init__(self):
            self.inner = make_driver(X, None, DriverOptions())
            self.calls = 0

        def accumulate(self, params):
            self.calls += 1
            return self.inner.accumulate(params)

    plain = Plain()
    out = accumulate_many(plain, [_kp(m) for m in models])
    assert plain.calls == len(models) and len(out) == len(models)
