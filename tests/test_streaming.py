"""Out-of-core EM over chunk sources: equal to the in-memory fit."""

import io
import sys

import numpy as np
import pytest

from gmmx import GaussianMixture as _GaussianMixture
from gmmx.streaming import (
    ArraySource,
    ChunkError,
    ChunkSource,
    CSVSource,
    IterableSource,
    NpySource,
    ParquetSource,
    Reservoir,
    as_source,
    fit_minibatch,
    score,
)

pytestmark = pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")

COV_TYPES = ["full", "tied", "diag", "spherical"]



def GaussianMixture(*args, **kwargs):
    """One kernel thread by default: tests stay fast on a loaded 2-core box."""
    kwargs.setdefault("n_threads", 1)
    return _GaussianMixture(*args, **kwargs)

def _data(n=3000, d=3, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(-2.0, 1.0, (n // 2, d))
    b = rng.normal(2.0, 0.5, (n - n // 2, d)) * np.linspace(1, 2, d)
    X = np.concatenate([a, b])
    rng.shuffle(X)
    return X


def _init(X, K=3, cov="full", seed=0):
    m = GaussianMixture(K, covariance_type=cov, random_state=seed, max_iter=3).fit(X)
    return dict(weights_init=m.weights_, means_init=m.means_ + 0.1, precisions_init=m.precisions_)


def assert_same_fit(a, b, rtol=1e-10):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        x, y = getattr(a, name), getattr(b, name)
        scale = np.max(np.abs(y))
        np.testing.assert_allclose(x, y, rtol=0, atol=rtol * scale, err_msg=name)
    assert a.n_iter_ == b.n_iter_
    assert abs(a.lower_bound_ - b.lower_bound_) <= rtol * abs(b.lower_bound_)


@pytest.fixture(scope="module")
def X():
    return _data()


@pytest.mark.parametrize("cov", COV_TYPES)
@pytest.mark.parametrize("chunk_size", [7, 1000, 10**6])
def test_npy_path_equals_in_memory(tmp_path, X, cov, chunk_size):
    path = tmp_path / "x.npy"
    np.save(path, X)
    init = _init(X, cov=cov)
    ref = GaussianMixture(3, covariance_type=cov, max_iter=15, tol=0, **init).fit(X)
    m = GaussianMixture(3, covariance_type=cov, max_iter=15, tol=0, chunk_size=chunk_size,
                        **init).fit(str(path))
    assert_same_fit(m, ref)


def test_npy_source_float32_and_memmap(tmp_path, X):
    X32 = X.astype(np.float32)
    path = tmp_path / "x32.npy"
    np.save(path, X32)
    init = _init(X)
    ref = GaussianMixture(3, max_iter=10, tol=0, n_threads=2, **init).fit(X32)
    m = GaussianMixture(3, max_iter=10, tol=0, n_threads=2, **init).fit(NpySource(path, chunk_size=512))
    assert_same_fit(m, ref)
    mm = np.load(path, mmap_mode="r")
    m2 = GaussianMixture(3, max_iter=10, tol=0, **init).fit(ArraySource(mm, chunk_size=999))
    assert_same_fit(m2, ref)


def test_weighted_array_source_equals_weighted_fit(X):
    w = np.random.default_rng(1).uniform(0, 3, X.shape[0])
    init = _init(X)
    ref = GaussianMixture(3, max_iter=10, tol=0, **init).fit(X, sample_weight=w)
    src = as_source(X, chunk_size=256, sample_weight=w)
    m = GaussianMixture(3, max_iter=10, tol=0, **init).fit(src)
    assert_same_fit(m, ref)


def test_default_init_from_small_source_equals_in_memory(tmp_path, X):
    # A source smaller than the reservoir gives all its rows to k-means, so
    # the whole fit (init included) is the in-memory one.
    path = tmp_path / "x.npy"
    np.save(path, X)
    ref = GaussianMixture(3, random_state=5).fit(X)
    m = GaussianMixture(3, random_state=5, chunk_size=500).fit(path)
    assert_same_fit(m, ref)


def test_parquet_file_and_directory(tmp_path, X):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    w = np.random.default_rng(2).uniform(0.5, 2, X.shape[0])
    table = pa.table({"a": X[:, 0], "label": np.arange(len(X)).astype(str), "b": X[:, 1],
                      "c": X[:, 2].astype(np.float32), "w": w})
    pq.write_table(table, tmp_path / "one.parquet", row_group_size=700)
    init = _init(X[:, [2, 0]], K=2)
    Xsel = np.column_stack([X[:, 2].astype(np.float32).astype(np.float64), X[:, 0]])
    ref = GaussianMixture(2, max_iter=10, tol=0, **init).fit(Xsel, sample_weight=w)
    m = GaussianMixture(2, max_iter=10, tol=0, **init).fit(
        ParquetSource(tmp_path / "one.parquet", columns=["c", "a"], weight_column="w",
                      chunk_size=333))
    assert_same_fit(m, ref)
    # directory of several files, read in sorted order; _SUCCESS-style files skipped
    d = tmp_path / "dir"
    d.mkdir()
    for i, s in enumerate(np.array_split(np.arange(len(X)), 3)):
        pq.write_table(table.take(s), d / f"part-{i}.parquet", row_group_size=400)
    (d / "_SUCCESS").write_text("")
    src = as_source(str(d), columns=["c", "a"], weight_column="w", chunk_size=250)
    assert src.n_rows == len(X) and src.n_features == 2 and src.random_access
    m2 = GaussianMixture(2, max_iter=10, tol=0, **init).fit(src)
    assert_same_fit(m2, ref)


def test_parquet_column_errors(tmp_path, X):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"a": X[:, 0], "s": ["x"] * len(X)}), tmp_path / "t.parquet")
    with pytest.raises(ValueError, match=r"columns \['zz'\] are not in"):
        ParquetSource(tmp_path / "t.parquet", columns=["a", "zz"])
    with pytest.raises(ValueError, match="not numeric"):
        ParquetSource(tmp_path / "t.parquet", columns=["a", "s"])
    assert ParquetSource(tmp_path / "t.parquet").columns == ["a"]


def test_csv_equals_in_memory(tmp_path, X):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=["x", "y", "z"])
    df["name"] = "tick"
    path = tmp_path / "x.csv"
    df.to_csv(path, index=False)
    Xr = pd.read_csv(path)[["z", "x"]].to_numpy()
    init = _init(Xr, K=2)
    ref = GaussianMixture(2, max_iter=10, tol=0, **init).fit(Xr)
    m = GaussianMixture(2, max_iter=10, tol=0, chunk_size=400, **init).fit(
        as_source(path, columns=["z", "x"], chunk_size=400))
    assert_same_fit(m, ref)
    with pytest.raises(ValueError, match=r"chunk 0 .*non-numeric") as e:
        GaussianMixture(2).fit(CSVSource(path))
    assert isinstance(e.value, ChunkError)


def test_iterables_and_callables(X):
    init = _init(X)
    w = np.random.default_rng(3).uniform(0, 1, len(X))
    ref = GaussianMixture(3, max_iter=8, tol=0, **init).fit(X)
    refw = GaussianMixture(3, max_iter=8, tol=0, **init).fit(X, sample_weight=w)
    blocks = np.array_split(X, 5)
    assert_same_fit(GaussianMixture(3, max_iter=8, tol=0, **init).fit(blocks), ref)

    def gen():
        for s in range(0, len(X), 701):
            yield X[s:s + 701], w[s:s + 701]

    assert_same_fit(GaussianMixture(3, max_iter=8, tol=0, **init).fit(gen), refw)
    assert_same_fit(GaussianMixture(3, max_iter=8, tol=0, **init).fit(IterableSource(gen)), refw)
    with pytest.raises(ValueError, match="one-shot iterator"):
        GaussianMixture(3, **init).fit(gen())


class _MySource(ChunkSource):
    """A user-defined source following the documented protocol."""

    def __init__(self, X):
        self.X = X
        self.n_features = X.shape[1]

    def chunks(self):
        for s in range(0, len(self.X), 123):
            yield self.X[s:s + 123].astype(np.float32)


def test_user_source_subclass(X):
    init = _init(X)
    ref = GaussianMixture(3, max_iter=5, tol=0, **init).fit(X.astype(np.float32))
    assert_same_fit(GaussianMixture(3, max_iter=5, tol=0, **init).fit(_MySource(X)), ref)


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


def test_as_source_dispatch_and_errors(tmp_path, X):
    np.save(tmp_path / "a.npy", X)
    assert isinstance(as_source(tmp_path / "a.npy"), NpySource)
    assert isinstance(as_source(X), ArraySource)
    src = ArraySource(X)
    assert as_source(src) is src
    assert isinstance(as_source(lambda: iter([X])), IterableSource)
    (tmp_path / "a.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="cannot tell the format"):
        as_source(tmp_path / "a.bin")
    with pytest.raises(FileNotFoundError):
        as_source(tmp_path / "missing.npy")
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        as_source(X, chunk_size=0)
    with pytest.raises(ValueError, match="sample_weight cannot be passed with a chunk source"):
        GaussianMixture(2).fit(tmp_path / "a.npy", sample_weight=np.ones(len(X)))
    with pytest.raises(ValueError, match="yielded no rows"):
        GaussianMixture(2).fit([np.empty((0, 3))])


def test_reservoir_bounded_and_weighted():
    rng = np.random.default_rng(0)
    X = np.arange(10_000, dtype=np.float64).reshape(-1, 1)
    # fits: exactly all rows, weights kept
    r = Reservoir(20_000, seed=1)
    w = rng.uniform(0, 1, len(X))
    for s in range(0, len(X), 999):
        r.add(X[s:s + 999], w[s:s + 999], start=s)
    Xs, ws = r.result()
    np.testing.assert_array_equal(Xs, X)
    np.testing.assert_array_equal(ws, w)
    # overflow: capacity rows, in source order, zero-weight rows never drawn
    w = np.where(np.arange(len(X)) % 2 == 0, 0.0, 1.0)
    r = Reservoir(1000, seed=2)
    for s in range(0, len(X), 777):
        r.add(X[s:s + 777], w[s:s + 777], start=s)
    Xs, ws = r.result()
    assert Xs.shape == (1000, 1) and ws is None
    assert np.all(Xs[:, 0] % 2 == 1)
    assert np.all(np.diff(Xs[:, 0]) > 0)
    # uniform: the sample mean is close to the population mean
    r = Reservoir(2000, seed=3)
    for s in range(0, len(X), 500):
        r.add(X[s:s + 500], None, start=s)
    Xs, _ = r.result()
    assert abs(Xs.mean() - X.mean()) < 4 * X.std() / np.sqrt(2000)
    # merging two reservoirs equals a bounded sample of the union
    a, b = Reservoir(300, seed=4), Reservoir(300, seed=5)
    a.add(X[:200], None, 0)
    b.add(X[200:400], None, 200)
    Xm, _ = a.merge(b).result()
    assert Xm.shape == (300, 1) and len(np.unique(Xm)) == 300


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


def test_reservoir_key_slices_do_not_change_the_sample(monkeypatch):
    import gmmx.drivers.sampling as st

    X = np.random.default_rng(0).normal(size=(5000, 2))
    w = np.random.default_rng(1).uniform(0, 1, 5000)

    def sample():
        r = Reservoir(300, seed=9)
        for s in range(0, 5000, 2500):
            r.add(X[s:s + 2500], w[s:s + 2500], start=s)
        return r.result()[0]

    whole = sample()
    monkeypatch.setattr(st, "_KEY_BLOCK", 128)
    np.testing.assert_array_equal(sample(), whole)


def test_as_source_dataframe(X):
    pd = pytest.importorskip("pandas")
    src = as_source(pd.DataFrame(X), chunk_size=1000)
    assert isinstance(src, ArraySource) and src.n_chunks == 3
    init = _init(X)
    ref = GaussianMixture(3, max_iter=3, tol=0, **init).fit(X)
    assert_same_fit(GaussianMixture(3, max_iter=3, tol=0, **init).fit(src), ref)


def test_score_over_a_source(tmp_path, X):
    np.save(tmp_path / "x.npy", X)
    m = GaussianMixture(3, random_state=0).fit(X)
    assert score(m, tmp_path / "x.npy") == pytest.approx(m.score(X), rel=1e-12)
    w = np.linspace(0.1, 2, len(X))
    assert score(m, ArraySource(X, w, chunk_size=100)) == pytest.approx(
        m.score(X, sample_weight=w), rel=1e-12)
    with pytest.raises(ValueError, match="X has 2 features"):
        score(m, [X[:, :2]])


def test_weights_from_npy_and_csv_columns(tmp_path, X):
    pd = pytest.importorskip("pandas")
    w = np.random.default_rng(7).uniform(0.1, 3, len(X))
    init = _init(X)
    ref = GaussianMixture(3, max_iter=5, tol=0, **init).fit(X, sample_weight=w)
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "w.npy", w)
    src = NpySource(tmp_path / "x.npy", sample_weight=tmp_path / "w.npy", chunk_size=640)
    assert_same_fit(GaussianMixture(3, max_iter=5, tol=0, **init).fit(src), ref)
    df = pd.DataFrame(X, columns=["a", "b", "c"]).assign(w=w)
    df.to_csv(tmp_path / "x.csv", index=False, float_format="%.17g")
    src = CSVSource(tmp_path / "x.csv", weight_column="w", chunk_size=700)
    assert src.columns == ["a", "b", "c"]
    assert_same_fit(GaussianMixture(3, max_iter=5, tol=0, **init).fit(src), ref)


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


def test_default_chunk_size_reads_about_8_mib(tmp_path):
    from gmmx.streaming import ArraySource, NpySource

    path = tmp_path / "one.npy"
    np.save(path, np.zeros((10, 1), dtype=np.float32))
    assert NpySource(path).chunk_size == 8 * 2**20 // 4          # 2,097,152 float32 rows
    assert ArraySource(np.zeros((10, 8))).chunk_size == 131_072   # 8 MiB of float64 rows
    assert ArraySource(np.zeros((10, 500))).chunk_size == 65_536  # never below 65,536
    assert ArraySource(np.zeros((10, 1)), chunk_size=7).chunk_size == 7
    with pytest.raises(ValueError, match="chunk_size"):
        ArraySource(np.zeros((10, 1)), chunk_size=0)
