"""Optional tqdm progress bars for long (out-of-core, Dask, mini-batch) fits.

tqdm is an optional dependency.  Bars are drawn on a terminal (standard error:
a bar of passes and one of the rows within a pass) and in Jupyter notebooks:
as widgets when ipywidgets is installed (the ``progress`` extra has both),
else as one plain text line of passes (text bars nested with cursor moves,
what ``tqdm.auto`` falls back to, print a new line at every refresh in a
notebook).  When the estimator's ``progress`` is false every bar is a silent
no-op object with the same methods; when it is true but no bar can be drawn
(tqdm missing, output neither a terminal nor a notebook), a
:class:`~gmmx.exceptions.ProgressWarning` says so once per reason and per
process.  A fit that ends early (converged before ``max_iter``) completes its
bars: tqdm's notebook widget turns a bar closed short of its total red.
"""

from __future__ import annotations

import sys

from .exceptions import ProgressWarning, warn_user

_WARNED: set = set()


class NullBar:
    """A progress bar that shows nothing (same methods as ``tqdm``)."""

    def update(self, n=1):
        pass

    def reset(self, total=None):
        pass

    def set_postfix_str(self, s="", refresh=True):
        pass

    def set_description_str(self, desc=None, refresh=True):
        pass

    def close(self):
        pass


def _warn_once(reason, message):
    if reason not in _WARNED:
        _WARNED.add(reason)
        warn_user(message, ProgressWarning)


def in_notebook():
    """True inside a Jupyter (IPython kernel) session."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # pragma: no cover - broken IPython installs
        return False
    return shell is not None and (
        type(shell).__name__ == "ZMQInteractiveShell" or hasattr(shell, "kernel")
    )


def widgets_available():
    """True if ipywidgets can be imported (tqdm's notebook bars need it)."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def bar_style():
    """``"widget"`` (a notebook with ipywidgets), ``"line"`` (a notebook without
    them: one plain text line) or ``"terminal"``."""
    if not in_notebook():
        return "terminal"
    return "widget" if widgets_available() else "line"


def progress_enabled(flag, stream=None):
    """True if a bar should be drawn: ``flag`` set, tqdm importable, a terminal or a notebook.

    When ``flag`` is set but no bar can be drawn, warns once (per reason and
    process) with a :class:`~gmmx.exceptions.ProgressWarning` saying why.
    """
    if not flag:
        return False
    try:
        import tqdm  # noqa: F401
    except ImportError:
        _warn_once("tqdm", "progress=True needs tqdm (pip install tqdm, or the "
                   "'progress' extra of gmmx-em); no progress bar is drawn")
        return False
    if in_notebook():
        return True
    stream = sys.stderr if stream is None else stream
    try:
        tty = bool(stream.isatty())
    except (AttributeError, ValueError):
        tty = False
    if not tty:
        _warn_once("stream", "progress=True, but standard error is neither a terminal "
                   "nor a Jupyter notebook, so no progress bar is drawn")
    return tty


def make_bar(enabled, style=None, **kwargs):
    """A ``tqdm`` bar if ``enabled`` (see :func:`progress_enabled`), else a :class:`NullBar`.

    ``style`` (default :func:`bar_style`) picks tqdm's notebook widget, a
    plain one-line text bar on standard output (a notebook without
    ipywidgets: no cursor moves, no fixed position) or the terminal bar.
    """
    if not enabled:
        return NullBar()
    style = bar_style() if style is None else style
    if style == "widget":
        from tqdm.notebook import tqdm as notebook_tqdm

        kwargs.pop("position", None)
        return notebook_tqdm(**kwargs)
    from tqdm.std import tqdm

    if style == "line":
        kwargs.pop("position", None)
        kwargs.setdefault("file", sys.stdout)  # a notebook shows stderr on red
        kwargs.setdefault("ncols", 100)
        kwargs.setdefault("ascii", True)
        return tqdm(**kwargs)
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("file", sys.stderr)
    return tqdm(**kwargs)


def finish(bar):
    """End ``bar`` at its count: a bar whose work ended early (EM converged before
    ``max_iter`` passes, a pass not taken) shows as complete, not failed.

    tqdm's notebook widget turns a bar closed below its total red and keeps a
    ``leave=False`` bar visible then; with the total set to the count it turns
    green, or disappears when ``leave=False``.
    """
    total, n = getattr(bar, "total", None), getattr(bar, "n", 0)
    if total and n < total:
        bar.total = n
        container = getattr(bar, "container", None)  # tqdm.notebook: (text, bar, text)
        if container is not None:
            container.children[1].max = n


class PassProgress:
    """Two bars for an EM fit: passes (outer) and rows within a pass (inner).

    Parameters
    ----------
    enabled : bool
        Draw the bars (usually ``progress_enabled(model.progress)``).
    max_passes : int or None
        Upper bound on the number of passes (``max_iter * n_init``).
    n_rows : int or None
        Rows per pass, if known.
    """

    def __init__(self, enabled, max_passes=None, n_rows=None, desc="EM"):
        self.enabled = enabled
        self._style = bar_style() if enabled else "terminal"
        self.n_rows = n_rows
        self._desc = desc
        self._outer = None
        self._inner = None
        self._max_passes = max_passes

    def _bars(self):
        if self._outer is None:
            self._outer = make_bar(self.enabled, self._style, total=self._max_passes,
                                   desc=self._desc, unit="pass", position=0)
            # one text line in a notebook without widgets: the passes only
            self._inner = make_bar(self.enabled and self._style != "line", self._style,
                                   total=self.n_rows, desc="rows", unit="row",
                                   unit_scale=True, leave=False, position=1)
        return self._outer, self._inner

    def start_pass(self, desc="rows"):
        """Start the inner bar over the rows of one pass, labelled ``desc``."""
        _, inner = self._bars()
        inner.reset(total=self.n_rows)
        inner.set_description_str(desc)

    def rows(self, n):
        """Advance the inner bar by ``n`` rows."""
        self._bars()[1].update(n)

    def end_pass(self, lower_bound=None):
        """Count one pass on the outer bar, showing the per-row log-likelihood."""
        outer, _ = self._bars()
        if lower_bound is not None:
            outer.set_postfix_str(f"log-lik/row {lower_bound:.6g}")
        outer.update(1)

    def close(self):
        """Close both bars; complete them unless an exception is propagating (then a
        notebook shows the failure in red)."""
        if self._outer is not None:
            failed = sys.exc_info()[0] is not None  # closed from a finally: on an error
            for bar in (self._inner, self._outer):
                if not failed:
                    finish(bar)
                bar.close()
            self._outer = self._inner = None
