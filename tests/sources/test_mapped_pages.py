"""Memory-mapped sources release the pages behind the reader (issue #22 item 4)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from gmmx.sources import NpySource
from gmmx.sources.pages import MappedRows

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="resident pages are read from /proc (Linux)")


def _resident_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssFile:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("RssFile missing")  # pragma: no cover


@linux_only
def test_a_pass_keeps_about_one_chunk_of_the_file_resident(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.ones((2_000_000, 4)))  # 64 MB
    src = NpySource(path, chunk_size=100_000)  # 3.2 MB chunks
    before = _resident_mb()
    total = 0.0
    for block in src.chunks():
        total += float(block.sum())
        assert _resident_mb() - before < 16
    assert total == 8_000_000
    # random access releases the chunk read before, and the data stay readable
    for i in (7, 3, 19, 3):
        assert float(src.read_chunk(i).sum()) == 400_000
    assert _resident_mb() - before < 16


@linux_only
def test_released_rows_read_back_unchanged(tmp_path):
    X = np.random.default_rng(0).normal(size=(300_000, 3))
    path = tmp_path / "x.npy"
    np.save(path, X)
    src = NpySource(path, chunk_size=10_000)
    views = list(src.chunks())  # every chunk released but the views kept
    np.testing.assert_array_equal(np.concatenate(views), X)


def test_plain_arrays_are_left_alone():
    pages = MappedRows(np.ones((10, 2)))
    pages.reading(0, 5)
    pages.reading(5, 10)
    pages.release(0, 10)  # nothing to release: no error
    pages.done()


# The peak resident set of the process (what `/usr/bin/time -v` reports as the
# maximum RSS).  Read from VmHWM, not ru_maxrss: a child's ru_maxrss starts at
# the RSS of the pytest process that forked it.
FIT = textwrap.dedent("""
    import sys
    import numpy as np
    from gmmx import GaussianMixture
    def peak():
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024
    kw = dict(max_iter=1, tol=0, random_state=0, n_threads=1)
    GaussianMixture(2, **kw).fit(np.random.default_rng(0).normal(size=(1000, 1)))
    base = peak()
    GaussianMixture(2, **kw).fit(sys.argv[1])
    print(peak() - base)
""")


@linux_only
@pytest.mark.filterwarnings("ignore::gmmx.ConvergenceWarning")
def test_out_of_core_fit_peak_rss_is_far_below_the_file(tmp_path):
    # 96 MB of rows: before the pages were released the peak resident set grew
    # by the whole file (~130 MB); the anonymous memory of the fit (the
    # 200,000-row reservoir sample, a chunk in flight) is ~30-40 MB.
    path = tmp_path / "rows.npy"
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float64, shape=(12_000_000, 1))
    rng = np.random.default_rng(1)
    for a in range(0, X.shape[0], 1_000_000):
        X[a:a + 1_000_000, 0] = rng.normal(size=1_000_000)
    X.flush()
    del X
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-W", "ignore", "-c", FIT, str(path)],
                         capture_output=True, text=True, env=env, timeout=600, check=True)
    growth = float(out.stdout.split()[-1])
    assert growth < 64, f"the peak RSS grew by {growth:.0f} MB over a 1,000-row fit"


@linux_only
def test_the_spill_copy_is_not_kept_resident(tmp_path):
    from gmmx.sources.spill import SpillCache

    source_file = tmp_path / "source.bin"
    source_file.write_bytes(b"x")
    blocks = [np.full((100_000, 4), float(i)) for i in range(20)]  # 64 MB
    cache = SpillCache(str(tmp_path), [str(source_file)], "test source")
    for _ in cache.pass_blocks(lambda: iter(blocks)):  # writes the copy
        pass
    assert cache.ready
    before = _resident_mb()
    for i, block in enumerate(cache.pass_blocks(lambda: iter(blocks))):
        assert float(block.sum()) == i * 400_000
        assert _resident_mb() - before < 16
    for start in (1_500_000, 200_000, 1_900_000):
        assert float(cache.rows(start, start + 100_000).sum()) == start // 100_000 * 400_000
    assert _resident_mb() - before < 16


@linux_only
def test_a_minibatch_epoch_keeps_about_a_pool_resident(tmp_path):
    from gmmx import GaussianMixture
    from gmmx.streaming import fit_minibatch

    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(2).normal(size=(2_000_000, 4)))  # 64 MB
    before = _resident_mb()
    peak = []
    m = GaussianMixture(2, covariance_type="diag", random_state=0, n_threads=1,
                        callback=lambda *_: peak.append(_resident_mb() - before))
    # chunks of 3.2 MB pooled 2 at a time: the file's pages are read once, into
    # the pool's copy, and released behind the reader
    fit_minibatch(m, NpySource(path, chunk_size=100_000), shuffle_buffer=2, batch_size=20_000)
    assert len(peak) > 50 and max(peak) < 16
