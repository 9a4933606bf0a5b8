"""Out-of-core (one sequence per chunk) and Dask (one sequence per block) HMM fits
equal the in-memory fit."""

import pickle

import numpy as np
import pytest
from conftest import random_hmm

from gmmx.hmm import GaussianHMM
from gmmx.hmm._forward_backward import emission_kernel_params
from gmmx.hmm._passes import _dask_block_stats

LENGTHS = [700, 1, 450, 849]
COVS = ["full", "tied", "diag", "spherical"]


def sample(cov, seed=0, d=2):
    rng = np.random.default_rng(seed)
    truth = random_hmm(rng, 3, d, cov, stay=0.95)
    X, _ = model(truth, cov).sample(sum(LENGTHS), random_state=seed)
    return X, random_hmm(rng, 3, d, cov, stay=0.7)


def model(values, cov, **kwargs):
    m = GaussianHMM(3, covariance_type=cov, init_params="", n_iter=10, tol=-np.inf, **kwargs)
    m.startprob_, m.transmat_, m.means_, m.covars_ = values
    return m


def pieces(X, w=None):
    ends = np.cumsum(LENGTHS)
    starts = ends - LENGTHS
    if w is None:
        return [X[a:b] for a, b in zip(starts, ends)]
    return [(X[a:b], w[a:b]) for a, b in zip(starts, ends)]


def assert_same(a, b, rtol=1e-10):
    for name in ("startprob_", "transmat_", "means_", "_covars_"):
        x, y = getattr(a, name), getattr(b, name)
        np.testing.assert_allclose(x, y, rtol=0, atol=rtol * np.max(np.abs(y)), err_msg=name)
    np.testing.assert_allclose(list(a.monitor_.history), list(b.monitor_.history), rtol=rtol)


@pytest.mark.parametrize("cov", COVS)
def test_chunk_source_equals_in_memory(cov):
    X, start = sample(cov)
    ref = model(start, cov).fit(X, LENGTHS)
    assert_same(model(start, cov).fit(pieces(X)), ref)


def test_npy_file_sequences_are_its_chunks(tmp_path):
    X, start = sample("diag", seed=1)
    path = tmp_path / "ticks.npy"
    np.save(path, X[:2000])
    ref = model(start, "diag").fit(X[:2000], [500] * 4)
    assert_same(model(start, "diag", chunk_size=500).fit(str(path)), ref)


def test_weighted_sources_and_default_initialisation():
    X, start = sample("full", seed=2)
    w = np.random.default_rng(0).uniform(0.0, 2.0, X.shape[0])
    ref = model(start, "full").fit(X, LENGTHS, sample_weight=w)
    assert_same(model(start, "full").fit(pieces(X, w)), ref)
    # a small source is sampled whole: the same initialisation as in memory
    a = GaussianHMM(3, covariance_type="full", random_state=3, n_iter=5).fit(X, LENGTHS)
    b = GaussianHMM(3, covariance_type="full", random_state=3, n_iter=5).fit(pieces(X))
    assert_same(a, b)


@pytest.mark.parametrize("cov", ["full", "spherical"])
def test_dask_blocks_equal_in_memory(cov):
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    X, start = sample(cov, seed=3)
    w = np.random.default_rng(1).uniform(0.5, 1.5, X.shape[0])
    ref = model(start, cov).fit(X, LENGTHS, sample_weight=w)
    dX = da.from_array(X, chunks=(tuple(LENGTHS), X.shape[1]))
    dw = da.from_array(w, chunks=(tuple(LENGTHS),))
    with dask.config.set(scheduler="sync"):
        got = model(start, cov).fit(dX, sample_weight=dw)
    assert_same(got, ref)


def test_dask_block_task_pickles():
    X, start = sample("full", seed=4)
    m = model(start, "full")
    m._check()
    params = pickle.loads(pickle.dumps(m._model_params()))
    fn = pickle.loads(pickle.dumps(_dask_block_stats))
    st = fn(X[:300], None, params, 1, 0, 2)
    assert st.n_sequences == 1 and st.trans.sum() == pytest.approx(299)
    assert emission_kernel_params(params).means.shape == (3, 2)


def test_source_errors_are_clear():
    X, start = sample("diag", seed=5)
    with pytest.raises(ValueError, match="each chunk .* is one sequence"):
        model(start, "diag").fit(pieces(X), lengths=LENGTHS)
    with pytest.raises(ValueError, match="yield .X, sample_weight. pairs"):
        model(start, "diag").fit(pieces(X), sample_weight=np.ones(X.shape[0]))
    bad = pieces(X)
    bad[2] = bad[2].copy()
    bad[2][5, 0] = np.nan
    with pytest.raises(ValueError, match="chunk 2 .*NaN"):
        model(start, "diag").fit(bad)
