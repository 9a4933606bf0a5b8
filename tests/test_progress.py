"""Progress bars: terminals, notebooks, and a warning when none can be drawn."""

import io
import re
import sys
import types
import warnings

import numpy as np
import pytest
from conftest import expected_warnings

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
    with expected_warnings():
        GaussianMixture(2, progress=True, max_iter=2, tol=0, chunk_size=1000,
                        random_state=0).fit(str(tmp_path / "x.npy"))
    descs = [d for d, _ in labels]
    assert descs[:4] == ["init sample"] * 4           # the sampling pass moves, chunk by chunk
    assert [n for _, n in labels[:4]] == [0, 1000, 2000, 3000]
    assert set(descs[4:]) == {"rows"}                  # EM passes are labelled as such
    assert len(descs) == 4 * 3


class _FakeNotebookBar:
    """tqdm.notebook.tqdm's bookkeeping: a widget bar (container.children[1].max) that
    close() turns red ('danger') when closed below its total, else green or hidden."""

    bars = []

    def __init__(self, total=None, desc="", leave=True, **kwargs):
        assert "position" not in kwargs  # widgets stack by themselves
        self.total, self.n, self.desc, self.leave = total, 0, desc, leave
        self.container = types.SimpleNamespace(
            children=[None, types.SimpleNamespace(max=total), None])
        self.style = None
        _FakeNotebookBar.bars.append(self)

    def update(self, n=1):
        self.n += n

    def reset(self, total=None):
        self.n = 0
        if total is not None:
            self.total = self.container.children[1].max = total

    def set_postfix_str(self, s="", refresh=True):
        pass

    def set_description_str(self, desc=None, refresh=True):
        self.desc = desc

    def close(self):
        if self.total and self.n < self.total:
            self.style = "danger"
        else:
            self.style = "success" if self.leave else "hidden"


def _fit_in_notebook(monkeypatch, tmp_path, **kwargs):
    from gmmx import GaussianMixture

    monkeypatch.setattr(_progress, "in_notebook", lambda: True)
    X = np.random.default_rng(0).normal(size=(3000, 1)) + np.repeat([0.0, 6.0], 1500)[:, None]
    np.save(tmp_path / "x.npy", X)
    gm = GaussianMixture(2, progress=True, chunk_size=1000, random_state=0, **kwargs)
    return gm.fit(str(tmp_path / "x.npy"))


def test_converged_fit_in_a_notebook_leaves_no_red_bar_and_no_rows_bar(monkeypatch, tmp_path):
    tqdm_notebook = pytest.importorskip("tqdm.notebook")
    monkeypatch.setattr(_progress, "widgets_available", lambda: True)
    monkeypatch.setattr(tqdm_notebook, "tqdm", _FakeNotebookBar)
    monkeypatch.setattr(_FakeNotebookBar, "bars", [])
    gm = _fit_in_notebook(monkeypatch, tmp_path, max_iter=100)
    assert gm.converged_ and gm.n_iter_ < 100
    outer, inner = _FakeNotebookBar.bars
    assert outer.style == "success" and outer.n == outer.total == outer.container.children[1].max
    assert inner.style == "hidden"  # the rows bar is removed, not left at 0%


def test_failed_fit_in_a_notebook_keeps_its_bar_red(monkeypatch):
    tqdm_notebook = pytest.importorskip("tqdm.notebook")
    monkeypatch.setattr(_progress, "in_notebook", lambda: True)
    monkeypatch.setattr(_progress, "widgets_available", lambda: True)
    monkeypatch.setattr(tqdm_notebook, "tqdm", _FakeNotebookBar)
    monkeypatch.setattr(_FakeNotebookBar, "bars", [])
    bars = _progress.PassProgress(True, max_passes=10, n_rows=100)
    with pytest.raises(KeyboardInterrupt):
        try:
            bars.start_pass()
            bars.rows(50)
            raise KeyboardInterrupt
        finally:
            bars.close()
    assert [b.style for b in _FakeNotebookBar.bars] == ["danger", "danger"]


def test_notebook_without_ipywidgets_draws_one_plain_line(monkeypatch, tmp_path, capsys):
    """tqdm.auto would fall back to nested text bars that print a line per refresh in a
    notebook; gmmx draws one text line of passes on standard output instead."""
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    assert not _progress.widgets_available()
    monkeypatch.setattr(_progress, "in_notebook", lambda: True)
    gm = _fit_in_notebook(monkeypatch, tmp_path, max_iter=100)
    out, err = capsys.readouterr()
    assert err == ""
    assert "\x1b[" not in out  # no cursor moves
    frames = [f for f in re.split(r"[\r\n]", out) if f.strip()]
    assert frames and all(f.startswith("EM:") for f in frames), frames
    assert out.count("\n") == 1  # one line, ended when the bar closes
    done = re.search(r"\| (\d+)/(\d+) ", frames[-1])
    assert done and done.group(1) == done.group(2), frames[-1]  # complete, not n/100
    assert int(done.group(1)) >= gm.n_iter_


def test_terminal_keeps_two_bars(monkeypatch):
    monkeypatch.setattr(_progress, "in_notebook", lambda: False)
    bars = _progress.PassProgress(True, max_passes=4, n_rows=10)
    assert bars._style == "terminal"
    outer, inner = bars._bars()
    assert type(outer).__module__ == "tqdm.std" and type(inner).__module__ == "tqdm.std"
    bars.close()


def test_real_notebook_widgets_end_green_and_hidden(monkeypatch, tmp_path):
    """The same with tqdm's own notebook bars (ipywidgets installed): the passes bar
    ends green at its count, the rows bar is hidden."""
    pytest.importorskip("ipywidgets")
    tqdm_notebook = pytest.importorskip("tqdm.notebook")
    made = []

    class Recording(tqdm_notebook.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(tqdm_notebook, "tqdm", Recording)
    monkeypatch.setattr(tqdm_notebook, "display", lambda *a, **k: None)
    gm = _fit_in_notebook(monkeypatch, tmp_path, max_iter=100)
    assert gm.converged_
    outer, inner = made
    bar = outer.container.children[1]
    assert bar.bar_style == "success" and bar.value == bar.max == outer.n
    assert inner.container.layout.visibility == "hidden"
    assert inner.container.children[1].bar_style != "danger"
