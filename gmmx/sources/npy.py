""".npy files, memory-mapped and read chunk by chunk."""

from __future__ import annotations

from typing import Any, Iterator, Optional

import numbers
import os

import numpy as np

from .array import ArraySource
from .base import ColumnInfo
from .pages import MappedRows
from .registry import register_format


class NpySource(ArraySource):
    """A ``.npy`` file, memory-mapped and read chunk by chunk.

    The file is opened with ``np.load(path, mmap_mode='r')``: pages are read
    on demand (the next chunk is prefetched with ``madvise``), and the pages
    of a chunk are released once the next is read (they stay in the page
    cache), so about one chunk is resident, as ``/usr/bin/time`` reports
    it, and nothing is copied into anonymous memory for float32/float64
    C-order files.

    Parameters
    ----------
    path : str or os.PathLike
    sample_weight : str, os.PathLike or array-like, optional
        A ``.npy`` path (memory-mapped too) or an array of shape (n_rows,).
    chunk_size : int
        Rows per chunk; for d = 1 a few million rows make the kernel call
        overhead negligible.
    columns : sequence of int or str, optional
        The columns to read, in order: indices ``0 .. d-1`` or the names
        ``"x0" .. "x{d-1}"`` that :meth:`list_columns` reports.  Default: all.
        Whole rows are still read from the file; the other columns are
        dropped chunk by chunk.

    Attributes
    ----------
    columns : list of int
        Indices of the columns read.
    """

    n_features: int
    n_rows: int
    n_chunks: int
    chunk_size: int

    def __init__(self, path: Any, sample_weight: Any = None, chunk_size: Optional[int] = None,
                 columns: Optional[Any] = None) -> None:
        self.path = os.fspath(path)
        X = _open_npy(self.path)
        if isinstance(sample_weight, (str, os.PathLike)):
            sample_weight = _open_npy(os.fspath(sample_weight))
        self._pages = [MappedRows(X), MappedRows(sample_weight)]
        super().__init__(X, sample_weight, chunk_size)
        self.columns = _column_indices(columns, self.n_features, self.path)
        self._take = None if self.columns == list(range(self.n_features)) else self.columns
        self.n_features = len(self.columns)

    def _rows(self, i):
        start = i * self.chunk_size
        return start, min(start + self.chunk_size, self.n_rows)

    def read_chunk(self, i: int) -> Any:
        """Chunk ``i``; the pages of the chunk read before it are released."""
        for pages in self._pages:
            pages.reading(*self._rows(i))
        item = super().read_chunk(i)
        if self._take is None:
            return item
        if isinstance(item, tuple):
            return item[0][:, self._take], item[1]
        return item[:, self._take]

    def chunks(self) -> Iterator[Any]:
        try:
            for i in range(self.n_chunks):
                if i + 1 < self.n_chunks:
                    for pages in self._pages:
                        pages.prefetch(*self._rows(i + 1))
                yield self.read_chunk(i)
        finally:
            for pages in self._pages:
                pages.done()

    @classmethod
    def list_columns(cls, path: Any) -> list[ColumnInfo]:
        """The columns of a ``.npy`` file, from its header (no rows are read).

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        list of ColumnInfo
            Named ``"x0"``, ``"x1"``, ...; a 1-D array is one column.

        Raises
        ------
        FileNotFoundError, ValueError
            If the file is missing or not a 1-D or 2-D numeric array.
        """
        path = os.fspath(path)
        X = _open_npy(path)
        if X.ndim not in (1, 2):
            raise ValueError(f"{path!r} holds an array of shape {X.shape}; expected a 1-D or "
                             "2-D array (rows, columns)")
        d = 1 if X.ndim == 1 else X.shape[1]
        return [ColumnInfo(name, True, str(X.dtype)) for name in _names(d)]

    def __repr__(self):
        if self._take is not None:
            return (f"NpySource({self.path!r}, columns={self.columns}, "
                    f"chunk_size={self.chunk_size})")
        return f"NpySource({self.path!r}, chunk_size={self.chunk_size})"


def _names(d):
    return [f"x{j}" for j in range(d)]


def _column_indices(columns, d, path):
    """Indices of ``columns`` (indices or ``x<j>`` names) among ``d`` columns."""
    if columns is None:
        return list(range(d))
    if isinstance(columns, (str, numbers.Integral)):
        columns = [columns]
    names = _names(d)
    out = []
    for c in columns:
        if isinstance(c, numbers.Integral) and not isinstance(c, bool) and 0 <= c < d:
            out.append(int(c))
        elif isinstance(c, str) and c in names:
            out.append(names.index(c))
        else:
            raise ValueError(
                f"column {c!r} is not in {path!r}, which has {d} column(s): indices 0 to "
                f"{d - 1} or names x0 to x{d - 1}"
            )
    if not out:
        raise ValueError("columns is empty; select at least one column")
    return out


def _open_npy(path):
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such .npy file: {path!r}")
    try:
        X = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise ValueError(
            f"{path!r} could not be memory-mapped as a numeric .npy array ({exc}); "
            "save it with np.save from a float array"
        ) from None
    if not isinstance(X, np.ndarray):
        raise ValueError(f"{path!r} is not a single .npy array (an .npz archive?); save each array with np.save")
    if X.dtype.kind not in "fiub":
        raise ValueError(f"{path!r} holds dtype {X.dtype}, which is not numeric")
    return X


def _from_path(path, columns=None, chunk_size=None, weight_column=None, sample_weight=None):
    """:func:`gmmx.sources.as_source` for a ``.npy`` path."""
    if columns is not None or weight_column is not None:
        raise ValueError("columns / weight_column apply to Parquet and CSV sources, not .npy")
    return NpySource(path, sample_weight=sample_weight, chunk_size=chunk_size)


register_format("npy", (".npy",), _from_path, list_columns=NpySource.list_columns)
