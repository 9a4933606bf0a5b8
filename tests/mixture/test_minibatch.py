"""fit_minibatch: online EM over shuffled chunks, then exact polishing passes."""

from functools import partial

import numpy as np
import pytest

from conftest import GaussianMixture, two_clusters
from gmmx.streaming import ArraySource, ChunkError, fit_minibatch

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
    fit_minibatch(m, X, n_epochs=2)
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
