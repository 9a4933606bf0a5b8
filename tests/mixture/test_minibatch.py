"""fit_minibatch: online EM over shuffled chunks, then exact polishing passes."""

from functools import partial

import numpy as np
import pytest

from conftest import GaussianMixture, ticks, two_clusters
from gmmx.streaming import ArraySource, ChunkError, NpySource, fit_minibatch

pytestmark = pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")

_data = partial(two_clusters, stretch=True)


@pytest.fixture(scope="module")
def X():
    return _data()


def test_minibatch_then_polish_reaches_exact_fit():
    X = _data(n=20_000, d=2, seed=4)
    X = X[np.argsort(X[:, 0])]  # worst case of time order: every chunk is one narrow slice
    ref = GaussianMixture(2, random_state=0, tol=1e-10, max_iter=500).fit(X)
    m = GaussianMixture(2, random_state=0, chunk_size=1000, tol=1e-10, max_iter=500)
    # one read chunk per update, as before mini-batches were cut from chunks
    fit_minibatch(m, X, n_epochs=2, batch_size=None)
    key = lambda g: np.argsort(g.means_[:, 0])  # noqa: E731
    # shuffled, mixed chunks and averaged statistics: already close ...
    np.testing.assert_allclose(m.means_[key(m)], ref.means_[key(ref)], atol=0.01)
    assert m._online_state.n_updates == 41  # the initial sample, then 20 chunks x 2
    # ... and exact polishing passes converge to the in-memory optimum
    fit_minibatch(m, X, n_epochs=1, polish_iter=500)
    np.testing.assert_allclose(m.means_[key(m)], ref.means_[key(ref)], rtol=1e-6)
    np.testing.assert_allclose(m.weights_[key(m)], ref.weights_[key(ref)], rtol=1e-6)
    assert m.converged_ and m.n_iter_ < 500


def test_minibatch_regime_stream_with_forgetting():
    # regimes persist for 500 rows; batches of 1000 rows, sequential source
    rng = np.random.default_rng(1)
    lab = np.repeat(rng.integers(0, 2, 40), 500)
    X = np.where(lab[:, None] == 0, rng.normal(-1, 1, (20_000, 2)), rng.normal(1.5, 0.7, (20_000, 2)))
    ref = GaussianMixture(2, random_state=0, tol=1e-8, max_iter=500).fit(X)
    blocks = np.array_split(X, 20)
    m = GaussianMixture(2, random_state=0, chunk_size=1000, step_exponent=0.6)
    fit_minibatch(m, blocks, n_epochs=1, step_exponent=None, shuffle_buffer=4)
    key = lambda g: np.argsort(g.means_[:, 0])  # noqa: E731
    np.testing.assert_allclose(m.means_[key(m)], ref.means_[key(ref)], atol=0.1)
    with pytest.raises(ValueError, match="n_epochs must be a positive integer"):
        fit_minibatch(m, blocks, n_epochs=0)
    with pytest.raises(ValueError, match=r"step_exponent must be a number in \(0.5, 1\]"):
        fit_minibatch(m, blocks, step_exponent=0.4)


class _BrokenRandomAccess(ArraySource):
    def read_chunk(self, i):
        if i == 2:
            raise OSError("bad sector")
        return super().read_chunk(i)


def test_minibatch_read_error_names_the_chunk(X):
    m = GaussianMixture(2, random_state=0)
    with pytest.raises(ChunkError, match=r"chunk 2 .*OSError: bad sector") as e:
        fit_minibatch(m, _BrokenRandomAccess(X, chunk_size=500))
    assert e.value.chunk_index == 2 and isinstance(e.value, OSError)


def _by_weight(g):
    order = np.argsort(g.weights_)[::-1]
    return g.weights_[order], g.covariances_.reshape(-1)[order]


@pytest.fixture(scope="module")
def tick_file(tmp_path_factory):
    """600,000 time-ordered tick returns in a .npy file, and its exact fits."""
    X = ticks(600_000, seed=3)
    path = tmp_path_factory.mktemp("ticks") / "ticks.npy"
    np.save(path, X)
    optimum = GaussianMixture(2, reg_covar=1e-14, random_state=0, tol=1e-9,
                              max_iter=2000).fit(X)
    default = GaussianMixture(2, reg_covar=1e-14, random_state=0).fit(X)
    return path, X, optimum, default


def test_one_epoch_with_defaults_matches_the_exact_fit(tick_file):
    # issue #22: 1M-row read chunks were the batches, so an epoch was a few
    # updates and ended far from the exact fit.  Now: within 1e-3 of its
    # log-likelihood per sample and 0.02 of its weights.
    path, X, optimum, default = tick_file
    m = GaussianMixture(2, reg_covar=1e-14, random_state=0, chunk_size=50_000)
    fit_minibatch(m, NpySource(path, chunk_size=50_000))
    assert abs(m.score(X) - optimum.score(X)) <= 1e-3
    assert m.score(X) >= default.score(X) - 1e-3
    np.testing.assert_allclose(_by_weight(m)[0], _by_weight(optimum)[0], atol=0.02)
    np.testing.assert_allclose(np.sqrt(_by_weight(m)[1]), np.sqrt(_by_weight(optimum)[1]),
                               rtol=0.05)
    assert m.n_iter_ == 1 + 600_000 // 16384  # the sample, then batches of ~16384 rows


def test_from_a_poor_start_defaults_forget_it(tick_file):
    # given initial parameters: no sample to fit, so the steps shrink slowly
    # (kappa 0.6) and the last half of the epoch is averaged
    path, X, optimum, _ = tick_file
    init = dict(weights_init=[0.5, 0.5], means_init=[[0.0], [0.0]],
                precisions_init=np.array([1e8, 0.25e8]).reshape(2, 1, 1))

    def weight_error(**kwargs):
        m = GaussianMixture(2, reg_covar=1e-14, random_state=0, chunk_size=50_000, **init)
        fit_minibatch(m, path, batch_size=1024, **kwargs)
        return np.abs(_by_weight(m)[0] - _by_weight(optimum)[0]).max()

    default = weight_error()
    assert default <= 0.02
    assert default < weight_error(step_exponent=1.0, average=0)


class _CountingReads(ArraySource):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rows_read = 0

    def read_chunk(self, i):
        out = super().read_chunk(i)
        self.rows_read += out.shape[0]
        return out

    def chunks(self):
        for i in range(self.n_chunks):
            yield self.read_chunk(i)


def test_warm_start_continues_without_a_sampling_pass():
    X = _data(n=20_000, d=2, seed=5)
    exact = GaussianMixture(2, random_state=0, tol=1e-10, max_iter=500).fit(X)
    m = GaussianMixture(2, random_state=0, tol=1e-10, max_iter=500).fit(X)
    m.set_params(warm_start=True)
    src = _CountingReads(X, chunk_size=2000)
    fit_minibatch(m, src, batch_size=1000)
    assert src.rows_read == X.shape[0]  # one epoch, no initialisation pass
    assert m._online_state.n_updates == 20  # a fresh online state: `fit` leaves none
    key = lambda g: np.argsort(g.means_[:, 0])  # noqa: E731
    np.testing.assert_allclose(m.means_[key(m)], exact.means_[key(exact)], atol=0.05)
    # a second warm start continues the online state of the first
    fit_minibatch(m, src, batch_size=1000)
    assert m._online_state.n_updates == 40


def test_warm_start_moves_to_new_data():
    old = _data(n=20_000, d=2, seed=6)
    new = old + np.array([3.0, -1.0])
    m = GaussianMixture(2, random_state=0, warm_start=True)
    fit_minibatch(m, old, batch_size=1000)
    ref = GaussianMixture(2, random_state=0, tol=1e-10, max_iter=500).fit(new)
    fit_minibatch(m, new, batch_size=1000, n_epochs=2)
    key = lambda g: np.argsort(g.means_[:, 0])  # noqa: E731
    np.testing.assert_allclose(m.means_[key(m)], ref.means_[key(ref)], atol=0.05)
    with pytest.raises(ValueError, match="the source has 3 features, but the warm-started "
                                         "model was fitted with 2"):
        fit_minibatch(m, _data(n=1000, d=3))


@pytest.mark.parametrize("kwargs, message", [
    (dict(batch_size=0), "batch_size must be a positive integer"),
    (dict(batch_size=2.5), "batch_size must be a positive integer"),
    (dict(average=1.5), r"average must be a number in \[0, 1\]"),
    (dict(average=True), r"average must be a number in \[0, 1\]"),
    (dict(polish_iter=-1), "polish_iter must be a non-negative integer"),
    (dict(shuffle_buffer=0), "shuffle_buffer must be a positive integer"),
    (dict(average="half"), r"average must be a number in \[0, 1\]"),
    (dict(step_exponent="fast"), r"step_exponent must be a number in \(0.5, 1\]"),
])
def test_bad_arguments(X, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit_minibatch(GaussianMixture(2), X, **kwargs)


def test_map_fit_with_averaged_statistics_reaches_the_exact_map_fit():
    # given initial parameters: kappa 0.6 with the last half averaged, on counts
    # (a prior weighs against all the rows seen)
    from gmmx import ConjugatePrior

    X = _data(n=50_000, d=2, seed=1)
    ref = GaussianMixture(2, prior=ConjugatePrior(), random_state=0, tol=1e-10,
                          max_iter=500).fit(X)
    m = GaussianMixture(2, prior=ConjugatePrior(), random_state=0,
                        means_init=[[-1.0, 0.0], [1.0, 0.0]])
    fit_minibatch(m, X, batch_size=1000)
    key = lambda g: np.argsort(g.means_[:, 0])  # noqa: E731
    np.testing.assert_allclose(m.means_[key(m)], ref.means_[key(ref)], atol=0.02)
    np.testing.assert_allclose(m.weights_[key(m)], ref.weights_[key(ref)], atol=0.01)
    # the online state is the averaged one, so partial_fit continues from it
    assert m._online_state.matches(m.weights_, m.means_)
