"""Optional tqdm progress bars for long (out-of-core, Dask, mini-batch) fits.

tqdm is an optional dependency.  Bars are drawn on a terminal (standard error)
and in Jupyter notebooks (``tqdm.auto`` picks the notebook widget).  When the
estimator's ``progress`` is false every bar is a silent no-op object with the
same methods; when it is true but no bar can be drawn (tqdm missing, output
neither a terminal nor a notebook), a :class:`~gmmx.exceptions.ProgressWarning`
says so once per reason and per process.
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


def make_bar(enabled, **kwargs):
    """A ``tqdm`` bar if ``enabled`` (see :func:`progress_enabled`), else a :class:`NullBar`."""
    if not enabled:
        return NullBar()
    from tqdm.auto import tqdm

    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("file", sys.stderr)
    return tqdm(**kwargs)


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
        self.n_rows = n_rows
        self._desc = desc
        self._outer = None
        self._inner = None
        self._max_passes = max_passes

    def _bars(self):
        if self._outer is None:
            self._outer = make_bar(self.enabled, total=self._max_passes, desc=self._desc,
                                   unit="pass", position=0)
            self._inner = make_bar(self.enabled, total=self.n_rows, desc="rows",
                                   unit="row", unit_scale=True, leave=False, position=1)
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
        """Close both bars."""
        if self._outer is not None:
            self._inner.close()
            self._outer.close()
            self._outer = self._inner = None
