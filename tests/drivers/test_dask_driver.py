"""Dask driver on a real two-process LocalCluster: equal to the in-memory fit."""

from functools import partial

import numpy as np
import pytest

from conftest import GaussianMixture, assert_same_fit, perturbed_init
from conftest import two_clusters as _data

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")

pytestmark = pytest.mark.filterwarnings(
    "ignore::gmmx.ConvergenceWarning",
    "ignore::DeprecationWarning",
    "ignore:.*[Pp]ort.*:UserWarning",
)

_init = partial(perturbed_init, max_iter=2, shift=0.2)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        silence_logs=40,
    )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.mark.parametrize("cov", ["full", "diag"])
def test_dask_array_equals_in_memory(client, cov):
    X = _data().astype(np.float32)
    w = np.random.default_rng(1).uniform(0, 2, len(X))
    init = _init(X, 3, cov)
    kw = dict(covariance_type=cov, max_iter=6, tol=0, n_threads=1, **init)
    ref = GaussianMixture(3, **kw).fit(X, sample_weight=w)
    dX = da.from_array(X, chunks=(411, 2))  # column chunks are merged
    dw = da.from_array(w, chunks=500)  # rechunked to X's row blocks
    m = GaussianMixture(3, **kw).fit(dX, sample_weight=dw)
    assert_same_fit(m, ref)


def test_dask_dataframe_and_default_init(client):
    X = _data(d=2)
    df = dd.from_pandas(pd.DataFrame(X, columns=["r1", "r2"]), npartitions=4)
    init = _init(X, 2)
    ref = GaussianMixture(2, max_iter=5, tol=0, **init).fit(X)
    assert_same_fit(GaussianMixture(2, max_iter=5, tol=0, **init).fit(df), ref)
    # with weights as a column-derived Series (unknown chunk sizes)
    pdf = pd.DataFrame(X, columns=["r1", "r2"]).assign(w=np.linspace(0.5, 1.5, len(X)))
    ddf = dd.from_pandas(pdf, npartitions=3)
    refw = GaussianMixture(2, max_iter=5, tol=0, **init).fit(X, sample_weight=pdf["w"].to_numpy())
    mw = GaussianMixture(2, max_iter=5, tol=0, **init).fit(ddf[["r1", "r2"]], sample_weight=ddf["w"])
    assert_same_fit(mw, refw)
    # default initialisation: a reservoir sample gathered per block on the workers
    full = GaussianMixture(2, random_state=0, tol=1e-8, max_iter=200).fit(X)
    m = GaussianMixture(2, random_state=0, tol=1e-8, max_iter=200).fit(df)
    key = lambda g: np.argsort(g.means_[:, 0])  # noqa: E731
    np.testing.assert_allclose(m.means_[key(m)], full.means_[key(full)], rtol=1e-6)


def test_dask_errors_name_the_block(client):
    X = _data()
    X[1500, 0] = np.inf
    init = _init(_data(), 3)
    with pytest.raises(ValueError, match=r"dask block 3 \(starting at row 1230\): row 1500 contains NaN or infinity"):
        GaussianMixture(3, **init).fit(da.from_array(X, chunks=(410, 3)))
    with pytest.raises(ValueError, match="non-numeric columns"):
        GaussianMixture(2).fit(dd.from_pandas(pd.DataFrame({"a": [1.0, 2.0], "s": ["x", "y"]}),
                                              npartitions=1))


def test_only_statistics_reach_the_client(client):
    from gmmx import SufficientStats
    from gmmx.core import kernel as _engine
    from gmmx.drivers import DriverOptions
    from gmmx.dask import DaskDriver

    X = _data(n=20_000)
    dX = da.from_array(X, chunks=(1000, 3)).persist()
    model = GaussianMixture(3, n_threads=1)
    driver = DaskDriver(dX, None, DriverOptions(n_threads=model.n_threads))
    ref = GaussianMixture(3, random_state=0, max_iter=1).fit(X)
    kp = _engine.kernel_params(ref.weights_, ref.means_, ref.precisions_cholesky_, "full")
    stats = driver.accumulate(kp)
    assert isinstance(stats, SufficientStats) and stats.n_samples == 20_000
    local = _engine.accumulate(X, None, kp, 1)
    np.testing.assert_allclose(stats.Mk, local.Mk, rtol=1e-10)
    np.testing.assert_allclose(stats.nk, local.nk, rtol=1e-12)


def test_score_on_dask(client):
    from gmmx.streaming import score

    X = _data(n=4000)
    m = GaussianMixture(3, random_state=0).fit(X)
    assert score(m, da.from_array(X, chunks=(1000, 3))) == pytest.approx(m.score(X), rel=1e-12)
