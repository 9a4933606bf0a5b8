"""The chunk-source protocol and what every source shares.

A chunk source hands the out-of-core, online and Dask drivers of
:mod:`gmmx.streaming` the rows of a data set one block at a time, so data
larger than memory can be fitted.  EM makes one pass per iteration, so a
source must be able to start a fresh pass whenever asked.

What a pass yields
------------------
:meth:`ChunkSource.chunks` returns a fresh iterator over one full pass.  Each
item it yields is

* a 2-D array ``(n_i, d)`` (float32 and float64 are used as they are; other
  numeric types are converted to float64; a 1-D array is one feature; a
  pandas DataFrame is converted with ``to_numpy``), or
* a pair ``(X_i, w_i)`` with non-negative sample weights ``w_i`` of shape
  ``(n_i,)``.

Every pass must yield the same rows, and every block the same number of
columns.  :func:`as_block` is the validation applied to each yielded item.

Random access
-------------
A source that knows its number of chunks (``n_chunks``) and implements
:meth:`ChunkSource.read_chunk` can be read in any chunk order:
:func:`gmmx.streaming.fit_minibatch` then visits chunks in shuffled order.
If it also implements :meth:`ChunkSource.chunk_start`, errors in shuffled
chunks name absolute rows too.

Errors
------
Every failure of one chunk is a :class:`ChunkError` naming the chunk and the
absolute row where it starts (or the row at fault): a failure while the
chunk is read (also an ``OSError`` / ``ValueError`` / ``MemoryError`` when
the original was one), and bad content (:class:`ChunkValueError`, a
``ValueError``): a block of the wrong width or type, invalid weights, NaN or
infinity when fitting.  :func:`iter_blocks` is the validated sequential pass
that :meth:`ChunkSource.read_all` and the out-of-core driver share.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any, Iterator, NamedTuple, Optional

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import NDArray

import numpy as np

from .._validation import masked_as_nan

#: Rows per chunk when none is given.
DEFAULT_CHUNK_ROWS = 65536
DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024


class ChunkError(Exception):
    """A chunk of a source failed: it could not be read, or its content is bad.

    The original exception (if any) is the ``__cause__``; ``chunk_index`` is
    the 0-based index of the chunk that failed and ``row`` the 0-based
    absolute row of the data at fault (the chunk's first row when no single
    row is), or None when unknown.  When the original is an ``OSError``,
    ``ValueError`` or ``MemoryError`` the raised error is also an instance of
    that class (``except OSError`` keeps working); bad content is a
    :class:`ChunkValueError`.
    """

    def __init__(self, message: str, chunk_index: Optional[int] = None,
                 row: Optional[int] = None) -> None:
        super().__init__(message)
        self.chunk_index = chunk_index
        self.row = row

    def __reduce__(self):  # keep the attributes across processes (Dask workers)
        return (type(self), (str(self), self.chunk_index, self.row))


class ChunkOSError(ChunkError, OSError):
    """:class:`ChunkError` caused by an ``OSError`` (I/O failure)."""


class ChunkValueError(ChunkError, ValueError):
    """:class:`ChunkError` caused by a ``ValueError`` (bad content)."""


class ChunkMemoryError(ChunkError, MemoryError):
    """:class:`ChunkError` caused by a ``MemoryError``."""


def _chunk_error(exc, message, index, row=None):
    for base, cls in ((OSError, ChunkOSError), (ValueError, ChunkValueError),
                      (MemoryError, ChunkMemoryError)):
        if isinstance(exc, base):
            return cls(message, index, row)
    return ChunkError(message, index, row)


def chunk_label(i: int, first_row: Optional[int]) -> str:
    """Prefix naming a chunk in error messages: ``"chunk 3 (starting at row 1200): "``."""
    if first_row is None:
        return f"chunk {i}: "
    return f"chunk {i} (starting at row {first_row}): "


def short_repr(obj: Any, limit: int = 160) -> str:
    """``repr(obj)`` cut to ``limit`` characters (a source's repr can list 10,000 columns)."""
    text = repr(obj)
    return text if len(text) <= limit else text[:limit - 5] + " ...)"


def check_block_finite(X: NDArray[Any], index: int, first_row: Optional[int],
                       label: Optional[str] = None) -> None:
    """Raise :class:`ChunkValueError` naming the first row of ``X`` with NaN or infinity,
    or a value too large for float64 arithmetic.

    As :func:`gmmx._validation.check_finite` for in-memory data: float64
    values whose squares overflow (beyond ~1.3e154, e.g. the bytes of a
    corrupted file read as numbers) are refused, since no covariance can
    describe them. One pass over the chunk (its sum of squares) covers both
    checks.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    index : int
        The chunk's index.
    first_row : int or None
        Absolute row of the chunk's first row (None: unknown, e.g. a mixed batch).
    label : str, optional
        Message prefix; default :func:`chunk_label`.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if X.dtype == np.float64 and X.flags.c_contiguous:
            flat = X.reshape(-1)
            total = np.dot(flat, flat)
        else:
            total = np.add.reduce(X, axis=None, dtype=np.float64)
    if np.isfinite(total):
        return
    finite = np.isfinite(X)
    bad = np.flatnonzero(~finite.all(axis=1))
    if bad.size:
        problem = ("contains NaN or infinity; remove or impute non-finite values before "
                   "fitting, or (for NaN, missing values) pass nan_policy='omit' to drop such "
                   "rows or nan_policy='marginalize' to fit them")
    elif X.dtype == np.float64:  # the sum of squares overflowed; the values are finite
        with np.errstate(over="ignore"):
            huge = ~np.isfinite(np.square(X))
        bad = np.flatnonzero(huge.any(axis=1))
        if not bad.size:  # many large values, none absurd alone
            return
        col = int(np.flatnonzero(huge[bad[0]])[0])
        problem = (f"column {col} holds {X[bad[0], col]:.3g}, a value too large for float64 "
                   "arithmetic (squared deviations from it overflow): a corrupted file or "
                   "an outlier. Remove or winsorise the row, or rescale the column")
    else:
        return
    label = chunk_label(index, first_row) if label is None else label
    if first_row is None:
        where, row = f"row {int(bad[0])} of the chunk", None
    else:
        row = first_row + int(bad[0])
        where = f"row {row}"
    raise ChunkValueError(f"{label}{where} {problem}", index, row)


def iter_blocks(source: Any, n_features: Optional[int] = None) -> Iterator[
        tuple[int, int, NDArray[Any], Optional[NDArray[Any]]]]:
    """One sequential pass of ``source``, validated: ``(index, first_row, X, w)`` per block.

    Every block goes through :func:`as_block` (empty blocks included, so
    indices count every item the source yields).  Any failure is a
    :class:`ChunkError` naming the chunk and its first row: one raised by the
    source while opening the pass or reading a chunk (the original is the
    ``__cause__``), or a block that is not valid (:class:`ChunkValueError`).

    Parameters
    ----------
    source : ChunkSource
    n_features : int, optional
        Expected width; default that of the first block.

    Yields
    ------
    index : int
    first_row : int
    X : ndarray of shape (n_i, d)
    w : ndarray of shape (n_i,) or None
    """
    try:
        it = iter(source.chunks())
    except Exception as exc:
        raise _chunk_error(exc, f"the source {short_repr(source)} could not be opened: "
                                f"{type(exc).__name__}: {exc}", 0, 0) from exc
    i, first_row, d = 0, 0, n_features
    try:
        while True:
            try:
                item = next(it)
            except StopIteration:
                return
            except ChunkError:  # the source named the chunk itself
                raise
            except Exception as exc:
                raise _chunk_error(
                    exc, f"{chunk_label(i, first_row)}{short_repr(source)} could not be read: "
                    f"{type(exc).__name__}: {exc}", i, first_row) from exc
            try:
                X, w = as_block(item, chunk_label(i, first_row), d)
            except ValueError as exc:
                raise ChunkValueError(str(exc), i, first_row) from exc
            d = X.shape[1]
            yield i, first_row, X, w
            first_row += X.shape[0]
            i += 1
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()


class ColumnInfo(NamedTuple):
    """One column of a file, as the ``list_columns`` of a file source reports it.

    Attributes
    ----------
    name : str
        The name to select it with (``columns=[...]``).
    numeric : bool
        True if it is read as numbers (integer, floating-point, boolean, or
        decimal for Parquet).
    dtype : str
        The file's type of the column (numpy, pandas or Arrow spelling).
    """

    name: str
    numeric: bool
    dtype: str


class ChunkSource:
    """Base class of chunk sources; the protocol every source follows.

    Subclasses implement :meth:`chunks`.  They may set the attributes below
    when they are known without reading the data (``None`` otherwise), and
    implement :meth:`read_chunk` for random access, which lets
    :func:`gmmx.streaming.fit_minibatch` visit chunks in shuffled order.

    Attributes
    ----------
    n_features : int or None
        Columns per row.
    n_rows : int or None
        Rows per pass (drives progress bars).
    n_chunks : int or None
        Number of chunks, if :meth:`read_chunk` is supported.
    """

    n_features: Optional[int] = None
    n_rows: Optional[int] = None
    n_chunks: Optional[int] = None

    def chunk_start(self, i: int) -> Optional[int]:
        """Absolute first row of chunk ``i`` for random access, or None if unknown."""
        return None

    def chunks(self) -> Iterator[Any]:
        """A fresh iterator over the blocks of one full pass.

        Yields
        ------
        ndarray of shape (n_i, d), or a pair (X_i, sample_weight_i)
        """
        raise NotImplementedError(f"{type(self).__name__} must implement chunks()")

    def read_chunk(self, i: int) -> Any:
        """Block ``i`` (0 <= i < n_chunks), for sources with random access."""
        raise NotImplementedError(f"{type(self).__name__} has no random access")

    def read_all(self, dtype: Any = None) -> tuple[NDArray[Any], Optional[NDArray[Any]]]:
        """Read one full pass into memory: the blocks concatenated.

        Each block is validated as the fitting drivers do (:func:`as_block`):
        the same number of columns in every block, valid weights.  NaN and
        infinite values are kept (dropping or rejecting them is the caller's
        choice).

        Parameters
        ----------
        dtype : None, numpy.float32 or numpy.float64, default=None
            dtype of the result.  None keeps the blocks' type (float32 only
            if every block is float32).  With a dtype and a known ``n_rows``
            the result is filled in place, without a second copy of the data.

        Returns
        -------
        X : ndarray of shape (n_rows, n_features)
            A new C-contiguous array (never a view of the source's data).
        sample_weight : ndarray of shape (n_rows,) or None
            None if no block carried weights; otherwise the weights, with 1
            for the rows of blocks that had none.

        Raises
        ------
        ChunkError
            Naming the chunk, as :func:`iter_blocks`: a :class:`ChunkValueError`
            for a block that is not valid, or the source's own error wrapped
            (the original is the ``__cause__``; an ``OSError`` stays an
            ``OSError``, a ``ValueError`` a ``ValueError``).
        """
        if dtype is not None:
            dtype = np.dtype(dtype)
            if dtype not in (np.float32, np.float64):
                raise ValueError(f"dtype must be None, float32 or float64, got {dtype}")
        d = self.n_features
        out = None
        if dtype is not None and self.n_rows is not None and d:
            out = np.empty((int(self.n_rows), int(d)), dtype=dtype)
        blocks, weights, n = [], [], 0
        for _, _, X, w in iter_blocks(self, d):
            d = X.shape[1]
            m = X.shape[0]
            if out is not None and n + m > out.shape[0]:  # more rows than n_rows said
                blocks, out = [out[:n]], None
            if out is not None:
                out[n:n + m] = X
            else:
                blocks.append(X if dtype is None else X.astype(dtype, copy=False))
            weights.append((m, w))
            n += m
        if out is not None:
            X = out if n == out.shape[0] else out[:n].copy()
        elif not blocks:
            X = np.empty((0, d or 0), dtype=dtype or np.float64)
        else:
            X = np.concatenate(blocks)  # a new array, even for one block
        if all(w is None for _, w in weights):
            return X, None
        w = np.concatenate([np.ones(m) if w is None else w for m, w in weights])
        return X, w

    @property
    def random_access(self) -> bool:
        """True if :meth:`read_chunk` and ``n_chunks`` are available."""
        return self.n_chunks is not None and type(self).read_chunk is not ChunkSource.read_chunk

    def __iter__(self):
        return iter(self.chunks())

    def __repr__(self):
        return f"{type(self).__name__}()"


def check_chunk_size(chunk_size: Any, n_features: Optional[int] = None, itemsize: int = 8) -> int:
    """Rows per chunk; ``None`` picks about ``DEFAULT_CHUNK_BYTES`` of rows.

    Each chunk is one kernel call, whose fixed cost (~0.1 ms) must stay small
    next to the work: 65,536 one-feature rows take about as long as that cost
    (measured: 0.40 s per pass of 1e8 rows, against 0.18 s with 1M-row chunks).

    Parameters
    ----------
    chunk_size : int or None
        Rows per chunk as given by the user.
    n_features : int, optional
        Columns per row, for the default (without it: ``DEFAULT_CHUNK_ROWS``).
    itemsize : int, default=8
        Bytes per value, for the default.

    Returns
    -------
    int
        ``chunk_size``, or ``max(DEFAULT_CHUNK_ROWS, DEFAULT_CHUNK_BYTES //
        (itemsize * n_features))`` when it is None.

    Raises
    ------
    ValueError
        If ``chunk_size`` is not a positive integer or None.
    """
    if chunk_size is None:
        if not n_features:
            return DEFAULT_CHUNK_ROWS
        return max(DEFAULT_CHUNK_ROWS, DEFAULT_CHUNK_BYTES // (int(itemsize) * int(n_features)))
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral) or chunk_size < 1:
        raise ValueError(
            f"chunk_size must be a positive integer (rows per chunk) or None, got {chunk_size!r}"
        )
    return int(chunk_size)


def _shown(names, limit=20):
    """At most ``limit`` names, each cut to 40 characters, for an error message."""
    names = [n if len(str(n)) <= 40 else str(n)[:37] + "..." for n in list(names)[:limit]]
    return str(names) if len(names) < limit else str(names)[:-1] + ", ...]"


def _pick_columns(available, columns, weight_column, numeric, what):
    available = list(available)
    if weight_column is not None and weight_column not in available:
        raise ValueError(
            f"weight_column {weight_column!r:.60} is not in {what}; available columns: "
            f"{_shown(available)}"
        )
    if columns is None:
        columns = [c for c in available if c != weight_column and numeric(c)]
        if not columns:
            raise ValueError(f"{what} has no numeric columns; pass columns=[...]")
    else:
        if isinstance(columns, str):
            columns = [columns]
        columns = list(columns)
        missing = [c for c in columns if c not in available]
        if missing:
            raise ValueError(
                f"columns {_shown(missing)} are not in {what}; available columns: "
                f"{_shown(available)}"
            )
        if weight_column in columns:
            raise ValueError(f"weight_column {weight_column!r} is also listed in columns")
    return columns


def as_block(item: Any, where: str, n_features: Optional[int] = None
             ) -> tuple[NDArray[Any], Optional[NDArray[Any]]]:
    """Validate one yielded item: ``(X, w)`` with X C-contiguous float32/64.

    Raises
    ------
    ValueError
        Naming the chunk (``where``) when the item is not a 2-D numeric
        block, has the wrong width or invalid weights.
    """
    w = None
    if isinstance(item, tuple):
        if len(item) != 2:
            raise ValueError(
                f"{where}a tuple block must be (X, sample_weight), got a tuple of length {len(item)}"
            )
        item, w = item
    if hasattr(item, "to_numpy"):
        item = item.to_numpy()
    X = np.asarray(masked_as_nan(item))
    if X.dtype.kind in "iub":
        X = X.astype(np.float64)
    elif X.dtype.kind == "f" and X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    elif X.dtype.kind != "f":
        raise ValueError(f"{where}block has dtype {X.dtype}; blocks must be numeric arrays")
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    elif X.ndim != 2:
        raise ValueError(f"{where}block has {X.ndim} dimensions; blocks must be 2-D (rows, features)")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"{where}block has {X.shape[1]} columns but {n_features} were expected "
            "(every chunk must have the same features)"
        )
    X = np.ascontiguousarray(X)
    if w is not None:
        w = np.ascontiguousarray(np.asarray(w, dtype=np.float64).reshape(-1))
        if w.shape[0] != X.shape[0]:
            raise ValueError(
                f"{where}sample_weight has {w.shape[0]} entries for {X.shape[0]} rows"
            )
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError(f"{where}sample_weight must be finite and non-negative")
    return X, w

