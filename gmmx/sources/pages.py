"""Prefetch ahead of, and release behind, a reader of a memory-mapped array.

A memory-mapped file's pages stay mapped into the process once read, so a
pass over a 400 MB ``.npy`` leaves 400 MB in the resident set size that
``/usr/bin/time`` and ``ru_maxrss`` report, though the pages are the
kernel's reclaimable page cache, not the process's memory.  Releasing each
chunk's pages once the next is read (``madvise(MADV_DONTNEED)``; the data
stay in the page cache, and a later touch maps them again from there) keeps
the resident set at about one chunk.  Where ``madvise`` is missing (Windows,
Python < 3.8 builds) nothing is released.
"""

from __future__ import annotations

import mmap
from typing import Any, Optional, Tuple

__all__ = ["MappedRows"]


class MappedRows:
    """Row ranges of a memory-mapped array: prefetch ahead, release behind.

    Parameters
    ----------
    array : numpy.memmap or ndarray
        Rows of a file mapping (``np.load(..., mmap_mode="r")``,
        ``np.memmap``); for any other array the methods do nothing.
    """

    def __init__(self, array: Any) -> None:
        mm: Any = getattr(array, "_mmap", None)
        offset: Any = getattr(array, "offset", None)
        strides: Any = getattr(array, "strides", None)
        self._mm = None
        self._start = self._row_bytes = 0
        if (mm is not None and offset is not None and strides and hasattr(mm, "madvise")
                and hasattr(mmap, "MADV_DONTNEED") and array.flags.c_contiguous):
            self._mm = mm
            # numpy maps from the offset rounded down to the allocation granularity
            self._start = int(offset) % mmap.ALLOCATIONGRANULARITY
            self._row_bytes = int(strides[0])
        self._page = mmap.PAGESIZE
        self._last: Optional[Tuple[int, int]] = None

    def _advise(self, option: int, start: int, stop: int) -> None:
        if self._mm is None or stop <= start:
            return
        a = self._start + start * self._row_bytes
        b = min(self._start + stop * self._row_bytes, len(self._mm))
        aligned = a - a % self._page
        if b <= aligned:
            return
        try:
            self._mm.madvise(option, aligned, b - aligned)
        except (OSError, ValueError):  # pragma: no cover - platform, closed mapping
            self._mm = None

    def prefetch(self, start: int, stop: int) -> None:
        """Ask the kernel to read rows ``start:stop`` ahead (``MADV_WILLNEED``)."""
        self._advise(mmap.MADV_WILLNEED, start, stop)

    def release(self, start: int, stop: int) -> None:
        """Unmap the pages of rows ``start:stop`` from the process (``MADV_DONTNEED``).

        Safe while views of those rows are alive: reading them maps the
        pages again from the page cache.
        """
        self._advise(mmap.MADV_DONTNEED, start, stop)

    def reading(self, start: int, stop: int) -> None:
        """Rows ``start:stop`` are read next: release the range read before them."""
        last, self._last = self._last, (start, stop)
        if last is not None and last != (start, stop):
            self.release(*last)

    def done(self) -> None:
        """Release the range read last (the end of a pass)."""
        last, self._last = self._last, None
        if last is not None:
            self.release(*last)
