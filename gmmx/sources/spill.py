"""A decoded copy of a file source's rows on local disk, for the passes after the first.

EM reads its data once per iteration.  Decoding a Parquet or CSV file costs
as much CPU per pass as the E-step itself (pyarrow's decoding and the
column-to-row copy; pandas' parsing costs far more), so a source given a
``cache_dir`` writes the blocks of its first full pass, as decoded, to one
binary file there, and every later pass yields slices of that file
memory-mapped: the same blocks, with the same boundaries and values, read
at the speed of an in-memory array.  The data then sits in the page cache
(reclaimable), not in the process's memory, and each block's pages are
unmapped once the next is read, so they do not stay in its resident set.

The copy belongs to its source: it is deleted by ``clear_cache()``, when the
source is garbage-collected, and at interpreter exit.  It is used only while
every file it came from keeps its size and modification time (checked at the
start of every pass); otherwise it is dropped and the next full pass decodes
and writes it again.  When the disk is nearly full, or a write fails, a
:class:`gmmx.exceptions.CacheWarning` says so and the passes go on decoding
the file: a cache never makes a fit fail.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import threading
import weakref
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ..exceptions import CacheWarning, warn_user
from .pages import MappedRows

#: Free space the cache always leaves on its disk: the smaller of this and 5% of the disk.
RESERVE_BYTES = 1 << 30

# Free space is checked again after every this many bytes written.
_RECHECK_BYTES = 256 << 20


def check_cache_dir(cache_dir: Any) -> Optional[str]:
    """``cache_dir`` as a path to an existing writable directory, or None.

    Raises
    ------
    ValueError
        If it is not None, a path, or names no writable directory.
    """
    if cache_dir is None:
        return None
    if isinstance(cache_dir, bool) or not isinstance(cache_dir, (str, os.PathLike)):
        raise ValueError(f"cache_dir must be a directory path or None, got {cache_dir!r:.80}")
    path = os.fspath(cache_dir)
    if not os.path.isdir(path):
        raise ValueError(f"cache_dir {path!r} is not a directory; create it first, or pass "
                         "cache_dir=None to decode the file on every pass")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"cache_dir {path!r} is not writable; pick a directory on a local "
                         "disk you can write to")
    return path


def _file_stamp(paths: Sequence[str]) -> Tuple[Tuple[int, int], ...]:
    out = []
    for p in paths:
        st = os.stat(p)
        out.append((st.st_size, st.st_mtime_ns))
    return tuple(out)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _reserve(directory: str) -> int:
    total = shutil.disk_usage(directory).total
    return min(RESERVE_BYTES, total // 20)


class _Copy:
    """One complete decoded copy: the mapped rows, weights and block sizes.

    The pages of a block are released once the next is read (see
    :mod:`gmmx.sources.pages`), so the copy does not stay in the resident set.
    """

    def __init__(self, X: np.ndarray, w: Optional[np.ndarray], sizes: List[int],
                 stamp: Tuple[Tuple[int, int], ...]):
        self.X, self.w, self.sizes, self.stamp = X, w, sizes, stamp
        self.starts = np.concatenate(([0], np.cumsum(sizes, dtype=np.int64)))
        self._pages = [MappedRows(X), MappedRows(w)]

    def blocks(self) -> Iterator[Any]:
        try:
            for i, m in enumerate(self.sizes):
                a = int(self.starts[i])
                if i + 1 < len(self.sizes):
                    for pages in self._pages:
                        pages.prefetch(int(self.starts[i + 1]), int(self.starts[i + 2]))
                yield self.rows(a, a + m)
        finally:
            for pages in self._pages:
                pages.done()

    def rows(self, start: int, stop: int) -> Any:
        for pages in self._pages:
            pages.reading(start, stop)
        return self.X[start:stop] if self.w is None else (self.X[start:stop], self.w[start:stop])


class SpillCache:
    """The decoded rows of a file source, written on its first pass and mapped after.

    Parameters
    ----------
    directory : str
        Where the copy is written (a local disk; not a RAM-backed ``/tmp``
        if the data is larger than memory).
    files : sequence of str
        The files the rows come from; the copy is valid while none of them
        changes size or modification time.
    label : str
        Names the source in warnings.
    expected_bytes : int, optional
        Size of the copy if known in advance (checked against free space
        before writing).
    """

    def __init__(self, directory: str, files: Sequence[str], label: str,
                 expected_bytes: Optional[int] = None) -> None:
        self.directory = directory
        self.files = list(files)
        self.label = label
        self.expected_bytes = expected_bytes
        self._copy: Optional[_Copy] = None
        self._finalizer: Optional[weakref.finalize] = None
        self._lock = threading.Lock()
        self._writing = False
        self.disabled_reason: Optional[str] = None

    def __reduce__(self):
        # The copy lives on one machine's disk: an unpickled cache starts empty.
        return (type(self), (self.directory, self.files, self.label, self.expected_bytes))

    @property
    def ready(self) -> bool:
        """True if a complete copy exists (it may still be found stale on the next pass)."""
        return self._copy is not None

    def pass_blocks(self, decode: Callable[[], Iterator[Any]]) -> Iterator[Any]:
        """The blocks of one pass: from the copy if it is current, else decoded (and copied).

        Parameters
        ----------
        decode : callable
            Returns a fresh iterator over the decoded blocks of one pass.
        """
        copy = self._current()
        if copy is not None:
            yield from copy.blocks()
            return
        with self._lock:  # one pass writes; a pass started meanwhile only decodes
            write = not self._writing and self.disabled_reason is None
            self._writing = self._writing or write
        if not write:
            yield from _closing(decode())
            return
        try:
            yield from self._write_through(decode)
        finally:
            with self._lock:
                self._writing = False

    def rows(self, start: int, stop: int) -> Any:
        """Rows ``start:stop`` from a current copy, or None without one (random access)."""
        copy = self._current()
        return None if copy is None else copy.rows(start, stop)

    def clear(self) -> None:
        """Drop the copy and delete its files (the next full pass writes it again)."""
        self._copy = None
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None

    def _current(self) -> Optional[_Copy]:
        copy = self._copy
        if copy is None:
            return None
        try:
            stamp = _file_stamp(self.files)
        except OSError:
            stamp = None
        if stamp != copy.stamp:
            self.clear()
            return None
        return copy

    def _write_through(self, decode: Callable[[], Iterator[Any]]) -> Iterator[Any]:
        stamp = _file_stamp(self.files)
        writer = self._start_writer()
        try:
            for block in _closing(decode()):
                if writer is not None:
                    writer = self._write(writer, block)
                yield block
            if writer is not None:
                self._finish(writer, stamp)
                writer = None
        finally:
            if writer is not None:  # the pass failed or stopped early
                writer.abandon()

    def _start_writer(self) -> Optional["_Writer"]:
        reason = self._lacks_space(self.expected_bytes or 0)
        if reason:
            self._give_up(reason, permanent=False)
            return None
        try:
            return _Writer(self.directory, self.expected_bytes)
        except OSError as exc:
            self._give_up(f"it could not be created in {self.directory!r}: {exc}",
                          permanent=exc.errno != errno.ENOSPC)
            return None

    def _write(self, writer: "_Writer", block: Any) -> Optional["_Writer"]:
        X, w = block if isinstance(block, tuple) else (block, None)
        X = np.asarray(X)
        problem = writer.shape_problem(X, w)
        if problem:
            writer.abandon()
            self._give_up(problem, permanent=True)
            return None
        beyond_reserved = writer.written + X.nbytes > writer.reserved  # an estimate
        if beyond_reserved and writer.since_check + X.nbytes > _RECHECK_BYTES:
            reason = self._lacks_space(X.nbytes)
            if reason:
                writer.abandon()
                self._give_up(reason, permanent=False)
                return None
            writer.since_check = 0
        try:
            writer.append(X, w)
        except OSError as exc:
            writer.abandon()
            self._give_up(f"writing it failed: {exc}", permanent=False)
            return None
        return writer

    def _finish(self, writer: "_Writer", stamp: Tuple[Tuple[int, int], ...]) -> None:
        try:
            X, w = writer.close_and_map()
        except OSError as exc:
            writer.abandon()
            self._give_up(f"it could not be mapped: {exc}", permanent=False)
            return
        try:
            changed = _file_stamp(self.files) != stamp
        except OSError:
            changed = True
        if changed:  # the file changed while it was read: the copy may mix versions
            writer.abandon()
            return
        self.clear()
        self._finalizer = weakref.finalize(self, _remove_all, list(writer.paths))
        self._copy = _Copy(X, w, writer.sizes, stamp)

    def _lacks_space(self, more: int) -> str:
        try:
            free = shutil.disk_usage(self.directory).free
            reserve = _reserve(self.directory)
        except OSError as exc:
            return f"the free space of {self.directory!r} could not be read: {exc}"
        if free - more < reserve:
            return (f"{self.directory!r} has {free / 2**30:.1f} GiB free and the copy needs "
                    f"{more / 2**30:.1f} GiB more while leaving {reserve / 2**30:.1f} GiB")
        return ""

    def _give_up(self, reason: str, permanent: bool) -> None:
        if permanent:
            self.disabled_reason = reason
        warn_user(f"{self.label}: no decoded copy in cache_dir ({reason}); every pass "
                  "decodes the file, which is slower but gives the same result",
                  CacheWarning)


class DecodedCopy:
    """Mixin of sources with ``cache_dir``: ``cached``, ``clear_cache()`` and the pass.

    The source sets ``_cache`` (a :class:`SpillCache` or None) and calls
    :meth:`_pass` with its decoding pass.
    """

    _cache: Optional[SpillCache] = None

    @property
    def cached(self) -> bool:
        """True once a full pass has written the decoded copy to ``cache_dir``."""
        return self._cache is not None and self._cache.ready

    def clear_cache(self) -> None:
        """Delete the decoded copy in ``cache_dir`` (the next full pass writes it again)."""
        if self._cache is not None:
            self._cache.clear()

    def _pass(self, decode: Callable[[], Iterator[Any]]) -> Iterator[Any]:
        """One pass: ``decode()``, or from the copy once ``cache_dir`` holds a current one."""
        return decode() if self._cache is None else self._cache.pass_blocks(decode)


def _preallocate(fd: int, nbytes: Optional[int]) -> bool:
    """Reserve ``nbytes`` for the file (True if reserved): a full disk fails here,
    before any row is written, and ext4/xfs allocate the blocks at once (a 128 MB
    copy: 30 -> 17 ms).  Filesystems without the call (or macOS, Windows) are
    written as they come."""
    if not nbytes or not hasattr(os, "posix_fallocate"):
        return False
    try:
        os.posix_fallocate(fd, 0, int(nbytes))
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise
        return False
    return True


def _closing(it: Iterator[Any]) -> Iterator[Any]:
    """Yield from ``it`` and close it however the loop ends (stops a read-ahead thread)."""
    try:
        yield from it
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()


def _remove_all(paths: Sequence[str]) -> None:
    for p in paths:
        _remove(p)


class _Writer:
    """Appends blocks to a raw rows file (and a weights file, if the blocks have weights)."""

    def __init__(self, directory: str, reserve: Optional[int] = None):
        fd, self.x_path = tempfile.mkstemp(prefix="gmmx-cache-", suffix=".rows", dir=directory)
        try:
            # bytes the disk already holds for the copy: free space is not rechecked for them
            self.reserved = int(reserve or 0) if _preallocate(fd, reserve) else 0
        except OSError:
            os.close(fd)
            _remove(self.x_path)
            raise
        self.x_file = os.fdopen(fd, "wb")
        self.written = 0
        self.w_path: Optional[str] = None
        self.w_file: Any = None
        self.sizes: List[int] = []
        self.dtype: Optional[np.dtype] = None
        self.width: Optional[int] = None
        self.weighted: Optional[bool] = None
        self.since_check = 0

    @property
    def paths(self) -> List[str]:
        return [p for p in (self.x_path, self.w_path) if p is not None]

    def shape_problem(self, X: np.ndarray, w: Optional[np.ndarray]) -> str:
        if X.ndim != 2 or X.dtype not in (np.float32, np.float64):
            return f"a block is not a 2-D float32/float64 array ({X.dtype}, {X.ndim}-D)"
        if self.dtype is None:
            return ""
        if X.dtype != self.dtype or X.shape[1] != self.width:
            return (f"the blocks differ in type or width ({self.dtype}, {self.width} columns, "
                    f"then {X.dtype}, {X.shape[1]} columns)")
        if (w is not None) != self.weighted:
            return "some blocks have sample weights and others not"
        return ""

    def append(self, X: np.ndarray, w: Optional[np.ndarray]) -> None:
        if self.dtype is None:
            self.dtype, self.width, self.weighted = X.dtype, X.shape[1], w is not None
            if self.weighted:
                fd, self.w_path = tempfile.mkstemp(prefix="gmmx-cache-", suffix=".weights",
                                                   dir=os.path.dirname(self.x_path))
                self.w_file = os.fdopen(fd, "wb")
        self.x_file.write(np.ascontiguousarray(X).data.cast("B"))
        self.written += X.nbytes
        if w is not None:
            self.w_file.write(np.ascontiguousarray(w, dtype=np.float64).data.cast("B"))
        self.sizes.append(int(X.shape[0]))
        self.since_check += X.nbytes

    def close_and_map(self) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        self.x_file.flush()
        os.ftruncate(self.x_file.fileno(), self.written)  # drop what was reserved beyond
        self.x_file.close()
        if self.w_file is not None:
            self.w_file.close()
        n = sum(self.sizes)
        dtype = self.dtype if self.dtype is not None else np.dtype(np.float64)
        width = self.width or 0
        if n == 0 or width == 0:  # np.memmap cannot map an empty file
            X = np.empty((n, width), dtype=dtype)
            w = np.empty(n) if self.weighted else None
            return X, w
        X = np.memmap(self.x_path, dtype=dtype, mode="r", shape=(n, width))
        w = None
        if self.w_path is not None:
            w = np.memmap(self.w_path, dtype=np.float64, mode="r", shape=(n,))
        return X, w

    def abandon(self) -> None:
        for f in (self.x_file, self.w_file):
            if f is not None:
                try:
                    f.close()
                except OSError:
                    pass
        _remove_all(self.paths)
