"""Progress bars: terminals, notebooks, and a warning when none can be drawn."""

import io
import sys
import types
import warnings

import numpy as np
import pytest

from gmmx import _progress
from gmmx.exceptions import ProgressWarning

pytest.importorskip("tqdm")


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch):
    monkeypatch.setattr(_progress, "_WARNED", set())


class _TTY(io.StringIO):
    def isatty(self):
        return True


def test_non_terminal_warns_once_and_draws_nothing():
    with pytest.warns(ProgressWarning, match="neither a terminal nor a Jupyter notebook"):
        assert _progress.progress_enabled(True, io.StringIO()) is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _progress.progress_enabled(True, io.StringIO()) is False  # said once


def test_disabled_flag_is_silent_and_terminal_draws():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _progress.progress_enabled(False, io.StringIO()) is False
        assert _progress.progress_enabled(True, _TTY()) is True


def test_missing_tqdm_is_said(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    with pytest.warns(ProgressWarning, match="needs tqdm"):
        assert _progress.progress_enabled(True, _TTY()) is False


def test_jupyter_kernel_draws_although_stderr_is_not_a_terminal(monkeypatch):
    class ZMQInteractiveShell:
        pass

    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: ZMQInteractiveShell()
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert _progress.in_notebook()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _progress.progress_enabled(True, io.StringIO()) is True


def test_plain_ipython_terminal_is_not_a_notebook(monkeypatch):
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: None
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert not _progress.in_notebook()


def test_inner_bar_is_relabelled_after_the_sampling_pass(monkeypatch, tmp_path):
    from gmmx import GaussianMixture

    monkeypatch.setattr(_progress, "progress_enabled", lambda flag, stream=None: bool(flag))
    labels = []
    orig_rows = _progress.PassProgress.rows

    def rows(self, n):
        inner = self._bars()[1]
        labels.append((inner.desc, inner.n))
        orig_rows(self, n)

    monkeypatch.setattr(_progress.PassProgress, "rows", rows)
    X = np.random.default_rng(0).normal(size=(4000, 1))
    np.save(tmp_path / "x.npy", X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        GaussianMixture(2, progress=True, max_iter=2, tol=0, chunk_size=1000,
                        random_state=0).fit(str(tmp_path / "x.npy"))
    descs = [d for d, _ in labels]
    assert descs[:4] == ["init sample"] * 4           # the sampling pass moves, chunk by chunk
    assert [n for _, n in labels[:4]] == [0, 1000, 2000, 3000]
    assert set(descs[4:]) == {"rows"}                  # EM passes are labelled as such
    assert len(descs) == 4 * 3
