"""Optional tqdm progress bars for long (out-of-core, Dask, mini-batch) fits.

tqdm is an optional dependency: without it, or when the estimator's
``progress`` is false, or when standard error is not a terminal, every bar is
a silent no-op object with the same methods.
"""

from __future__ import annotations

import sys


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


def progress_enabled(flag, stream=None):
    """True if a bar should be drawn: ``flag`` set, tqdm importable, a terminal."""
    if not flag:
        return False
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


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

    def start_pass(self, desc=None):
        _, inner = self._bars()
        inner.reset(total=self.n_rows)
        if desc is not None:
            inner.set_description_str(desc)

    def rows(self, n):
        self._bars()[1].update(n)

    def end_pass(self, lower_bound=None):
        outer, _ = self._bars()
        if lower_bound is not None:
            outer.set_postfix_str(f"log-lik/row {lower_bound:.6g}")
        outer.update(1)

    def close(self):
        if self._outer is not None:
            self._inner.close()
            self._outer.close()
            self._outer = self._inner = None
