"""Out-of-core EM over a chunk source (the source driver): initialisation from a
bounded sample, errors that name the chunk, callbacks, progress, scoring."""

import io
import sys
from functools import partial

import numpy as np
import pytest

from conftest import GaussianMixture, assert_same_fit, two_clusters
from conftest import perturbed_init as _init
from gmmx.streaming import ArraySource, ChunkError, ChunkSource, score

pytestmark = pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")

_data = partial(two_clusters, stretch=True)


@pytest.fixture(scope="module")
def X():
    return _data()


def test_default_init_from_small_source_equals_in_memory(tmp_path, X):
    # A source smaller than the reservoir gives all its rows to k-means, so
    # the whole fit (init included) is the in-memory one.
    path = tmp_path / "x.npy"
    np.save(path, X)
    ref = GaussianMixture(3, random_state=5).fit(X)
    m = GaussianMixture(3, random_state=5, chunk_size=500).fit(path)
    assert_same_fit(m, ref)


def test_nan_and_width_errors_name_the_chunk(X):
    init = _init(X)
    bad = X.copy()
    bad[1005, 1] = np.nan
    with pytest.raises(ValueError, match=r"chunk 2 \(starting at row 1000\): row 1005 contains NaN"):
        GaussianMixture(3, **init).fit(ArraySource(bad, chunk_size=500))
    # NaN found in the initialisation pass too
    with pytest.raises(ValueError, match=r"chunk 2 .*NaN"):
        GaussianMixture(3).fit(ArraySource(bad, chunk_size=500))
    blocks = [X[:100], X[100:200, :2]]
    with pytest.raises(ValueError, match=r"chunk 1 .*2 columns but 3 were expected"):
        GaussianMixture(3, **init).fit(blocks)
    with pytest.raises(ValueError, match=r"chunk 0 .*sample_weight has 3 entries for 100 rows"):
        GaussianMixture(3, **init).fit([(X[:100], np.ones(3))])


class _FlakySource(ChunkSource):
    """Raises an I/O error at one chunk of one pass."""

    def __init__(self, X, fail_pass, fail_chunk, size=400):
        self.X, self.fail_pass, self.fail_chunk, self.size = X, fail_pass, fail_chunk, size
        self.n_features = X.shape[1]
        self.passes = 0

    def chunks(self):
        self.passes += 1
        for i, s in enumerate(range(0, len(self.X), self.size)):
            if self.passes == self.fail_pass and i == self.fail_chunk:
                raise OSError("disk read error")
            yield self.X[s:s + self.size]


def test_source_error_keeps_last_completed_iteration(X):
    init = _init(X)
    src = _FlakySource(X, fail_pass=4, fail_chunk=3)
    m = GaussianMixture(3, max_iter=10, tol=0, **init)
    with pytest.raises(ChunkError, match=r"chunk 3 \(starting at row 1200\).*OSError: disk read error") as e:
        m.fit(src)
    assert e.value.chunk_index == 3
    assert isinstance(e.value.__cause__, OSError) and isinstance(e.value, OSError)
    ref = GaussianMixture(3, max_iter=3, tol=0, **init).fit(X)
    assert m.n_iter_ == 3
    np.testing.assert_allclose(m.means_, ref.means_, rtol=1e-10)
    np.testing.assert_allclose(m.covariances_, ref.covariances_, rtol=1e-10)
    assert m.lower_bounds_ == pytest.approx(ref.lower_bounds_, rel=1e-12)


def test_callback_receives_each_iteration(tmp_path, X):
    path = tmp_path / "x.npy"
    np.save(path, X)
    seen = []
    m = GaussianMixture(3, max_iter=50, random_state=0, chunk_size=700,
                        callback=lambda it, lb: seen.append((it, lb))).fit(path)
    assert [it for it, _ in seen] == list(range(1, m.n_iter_ + 1))
    assert [lb for _, lb in seen] == m.lower_bounds_
    assert all(np.diff(m.lower_bounds_) > -1e-12)  # EM never decreases the likelihood


def test_progress_silent_unless_terminal(X, capsys, monkeypatch):
    pytest.importorskip("tqdm")
    init = _init(X)
    GaussianMixture(3, max_iter=2, tol=0, progress=True, **init).fit(np.array_split(X, 3))
    assert capsys.readouterr().err == ""

    class TTY(io.StringIO):
        def isatty(self):
            return True

    fake = TTY()
    monkeypatch.setattr(sys, "stderr", fake)
    GaussianMixture(3, max_iter=2, tol=0, progress=True, **init).fit(ArraySource(X, chunk_size=500))
    out = fake.getvalue()
    assert "pass" in out and "2/2" in out
    fake2 = TTY()
    monkeypatch.setattr(sys, "stderr", fake2)
    GaussianMixture(3, max_iter=2, tol=0, progress=False, **init).fit(ArraySource(X, chunk_size=500))
    assert fake2.getvalue() == ""


def test_large_source_init_uses_bounded_sample(monkeypatch, X):
    import gmmx.streaming as st

    monkeypatch.setattr(st, "INIT_SAMPLE_ROWS", 500)
    seen = {}
    orig = st.SourceDriver.init_sample

    def spy(self, random_state, capacity=500):
        out = orig(self, random_state, capacity)
        seen["n"] = out[0].shape[0]
        return out

    monkeypatch.setattr(st.SourceDriver, "init_sample", spy)
    m = GaussianMixture(2, random_state=0).fit(ArraySource(X, chunk_size=300))
    assert seen["n"] == 500
    ref = GaussianMixture(2, random_state=0).fit(X)
    order = np.argsort(m.means_[:, 0])
    np.testing.assert_allclose(m.means_[order], ref.means_[np.argsort(ref.means_[:, 0])], atol=1e-4)


def test_score_over_a_source(tmp_path, X):
    np.save(tmp_path / "x.npy", X)
    m = GaussianMixture(3, random_state=0).fit(X)
    assert score(m, tmp_path / "x.npy") == pytest.approx(m.score(X), rel=1e-12)
    w = np.linspace(0.1, 2, len(X))
    assert score(m, ArraySource(X, w, chunk_size=100)) == pytest.approx(
        m.score(X, sample_weight=w), rel=1e-12)
    with pytest.raises(ValueError, match="X has 2 features"):
        score(m, [X[:, :2]])
