"""Out-of-core and online EM: chunk sources and the drivers that feed them to
the one E-step kernel.

Exact out-of-core EM
    ``GaussianMixture(...).fit(source)`` runs each EM iteration as one pass
    over the source: every chunk goes through :func:`gmmx._engine.accumulate`
    and the chunk statistics are summed, so the result equals the in-memory
    fit whatever the chunk size.  Initialisation uses one sampling pass (a
    bounded reservoir of at most :data:`INIT_SAMPLE_ROWS` rows).

Online EM
    ``GaussianMixture.partial_fit`` is stepwise EM (Cappé & Moulines, 2009)
    on the same statistics; :func:`fit_minibatch` drives it over a source in
    shuffled chunk order, optionally followed by exact polishing passes.

Scoring
    :func:`score` is the mean log-likelihood of any source in one pass (for
    BIC/AIC on data larger than memory).

The chunk-source protocol
-------------------------
A source is anything :func:`as_source` accepts.  To plug in your own, either
pass a callable returning a fresh iterator (``lambda: my_blocks()``) or a
re-iterable object, or subclass :class:`ChunkSource` and implement
:meth:`ChunkSource.chunks`.  Each item a pass yields is

* a 2-D array ``(n_i, d)`` (float32 and float64 are used as they are; other
  numeric types are converted to float64; a 1-D array is one feature; a
  pandas DataFrame is converted with ``to_numpy``), or
* a pair ``(X_i, w_i)`` with non-negative sample weights ``w_i`` of shape
  ``(n_i,)``.

Every pass must yield the same rows: EM makes one pass per iteration.
"""

from __future__ import annotations

import os
import numbers

import numpy as np

from . import _engine
from ._progress import PassProgress, progress_enabled
from ._stats import SufficientStats, m_step
from ._validation import as_float_array, check_finite, check_random_state, check_sample_weight

__all__ = [
    "ArraySource",
    "CSVSource",
    "ChunkError",
    "ChunkOSError",
    "ChunkValueError",
    "ChunkSource",
    "IterableSource",
    "NpySource",
    "OnlineEM",
    "ParquetSource",
    "Reservoir",
    "SourceDriver",
    "as_source",
    "fit_minibatch",
    "score",
]

#: Rows kept for initialisation from a source (reservoir sample).
INIT_SAMPLE_ROWS = 200_000

#: Rows per chunk when none is given.
DEFAULT_CHUNK_ROWS = 65536
DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024

_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zst",
                 ".tsv.gz", ".csv.zip")


class ChunkError(Exception):
    """A chunk source failed while a chunk was being read.

    The original exception is the ``__cause__``; ``chunk_index`` is the
    0-based index of the chunk that failed.  When the original is an
    ``OSError``, ``ValueError`` or ``MemoryError`` the raised error is also an
    instance of that class (``except OSError`` keeps working).
    """

    def __init__(self, message, chunk_index=None):
        super().__init__(message)
        self.chunk_index = chunk_index


class ChunkOSError(ChunkError, OSError):
    """:class:`ChunkError` caused by an ``OSError`` (I/O failure)."""


class ChunkValueError(ChunkError, ValueError):
    """:class:`ChunkError` caused by a ``ValueError`` (bad content)."""


class ChunkMemoryError(ChunkError, MemoryError):
    """:class:`ChunkError` caused by a ``MemoryError``."""


def _chunk_error(exc, message, index):
    for base, cls in ((OSError, ChunkOSError), (ValueError, ChunkValueError),
                      (MemoryError, ChunkMemoryError)):
        if isinstance(exc, base):
            return cls(message, index)
    return ChunkError(message, index)


# --------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------


class ChunkSource:
    """Base class of chunk sources; the protocol every source follows.

    Subclasses implement :meth:`chunks`.  They may set the attributes below
    when they are known without reading the data (``None`` otherwise), and
    implement :meth:`read_chunk` for random access, which lets
    :func:`fit_minibatch` visit chunks in shuffled order.

    Attributes
    ----------
    n_features : int or None
        Columns per row.
    n_rows : int or None
        Rows per pass (drives progress bars).
    n_chunks : int or None
        Number of chunks, if :meth:`read_chunk` is supported.
    """

    n_features = None
    n_rows = None
    n_chunks = None

    def chunks(self):
        """A fresh iterator over the blocks of one full pass.

        Yields
        ------
        ndarray of shape (n_i, d), or a pair (X_i, sample_weight_i)
        """
        raise NotImplementedError(f"{type(self).__name__} must implement chunks()")

    def read_chunk(self, i):
        """Block ``i`` (0 <= i < n_chunks), for sources with random access."""
        raise NotImplementedError(f"{type(self).__name__} has no random access")

    @property
    def random_access(self):
        """True if :meth:`read_chunk` and ``n_chunks`` are available."""
        return self.n_chunks is not None and type(self).read_chunk is not ChunkSource.read_chunk

    def __iter__(self):
        return iter(self.chunks())

    def __repr__(self):
        return f"{type(self).__name__}()"


def _check_chunk_size(chunk_size, n_features=None, itemsize=8):
    """Rows per chunk; ``None`` picks about ``DEFAULT_CHUNK_BYTES`` of rows.

    Each chunk is one kernel call, whose fixed cost (~0.1 ms) must stay small
    next to the work: 65,536 one-feature rows take about as long as that cost
    (measured: 0.40 s per pass of 1e8 rows, against 0.18 s with 1M-row chunks).
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


class ArraySource(ChunkSource):
    """Row blocks of an array-like that supports slicing: ndarray, np.memmap,
    h5py / zarr datasets.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or (n_samples,)
    sample_weight : array-like of shape (n_samples,), optional
    chunk_size : int
        Rows per chunk.
    """

    def __init__(self, X, sample_weight=None, chunk_size=None):
        shape = getattr(X, "shape", None)
        if shape is None or len(shape) not in (1, 2):
            raise ValueError(
                "ArraySource needs a 1-D or 2-D array-like with a shape, got "
                f"{type(X).__name__} of shape {shape}"
            )
        self.X = X
        self.n_rows = int(shape[0])
        self.n_features = int(shape[1]) if len(shape) == 2 else 1
        itemsize = getattr(getattr(X, "dtype", None), "itemsize", 8)
        self.chunk_size = _check_chunk_size(chunk_size, self.n_features, itemsize)
        self.n_chunks = -(-self.n_rows // self.chunk_size)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight)
            if sample_weight.shape != (self.n_rows,):
                raise ValueError(
                    f"sample_weight must have shape ({self.n_rows},) to match the "
                    f"array, got {sample_weight.shape}"
                )
        self.sample_weight = sample_weight

    def read_chunk(self, i):
        start = i * self.chunk_size
        stop = min(start + self.chunk_size, self.n_rows)
        X = self.X[start:stop]
        if self.sample_weight is None:
            return X
        return X, self.sample_weight[start:stop]

    def chunks(self):
        for i in range(self.n_chunks):
            yield self.read_chunk(i)

    def __repr__(self):
        return (f"{type(self).__name__}(shape=({self.n_rows}, {self.n_features}), "
                f"chunk_size={self.chunk_size})")


class NpySource(ArraySource):
    """A ``.npy`` file, memory-mapped and read chunk by chunk.

    The file is opened with ``np.load(path, mmap_mode='r')``: pages are read
    on demand (the next chunk is prefetched with ``madvise``), so only one
    chunk's worth of data needs to be resident and nothing is copied into
    anonymous memory for float32/float64 C-order files.

    Parameters
    ----------
    path : str or os.PathLike
    sample_weight : str, os.PathLike or array-like, optional
        A ``.npy`` path (memory-mapped too) or an array of shape (n_rows,).
    chunk_size : int
        Rows per chunk; for d = 1 a few million rows make the kernel call
        overhead negligible.
    """

    def __init__(self, path, sample_weight=None, chunk_size=None):
        self.path = os.fspath(path)
        X = _open_npy(self.path)
        if isinstance(sample_weight, (str, os.PathLike)):
            sample_weight = _open_npy(os.fspath(sample_weight))
        super().__init__(X, sample_weight, chunk_size)
        self._mm = getattr(X, "_mmap", None)
        self._row_bytes = X.dtype.itemsize * self.n_features
        off = int(getattr(X, "offset", 0))
        import mmap

        self._mm_start = off % mmap.ALLOCATIONGRANULARITY
        self._page = mmap.PAGESIZE

    def _prefetch(self, i):
        if self._mm is None or i >= self.n_chunks or not hasattr(self._mm, "madvise"):
            return
        import mmap

        start = self._mm_start + i * self.chunk_size * self._row_bytes
        length = min(self.chunk_size, self.n_rows - i * self.chunk_size) * self._row_bytes
        aligned = start - start % self._page
        try:
            self._mm.madvise(mmap.MADV_WILLNEED, aligned, length + (start - aligned))
        except (OSError, ValueError, AttributeError):  # pragma: no cover - platform
            self._mm = None

    def chunks(self):
        for i in range(self.n_chunks):
            self._prefetch(i + 1)
            yield self.read_chunk(i)

    def __repr__(self):
        return f"NpySource({self.path!r}, chunk_size={self.chunk_size})"


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


def _parquet_files(path):
    if os.path.isdir(path):
        files = []
        for root, dirs, names in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
            for name in sorted(names):
                if name.startswith((".", "_")):
                    continue
                if name.endswith(_PARQUET_SUFFIXES) or "." not in name:
                    files.append(os.path.join(root, name))
        if not files:
            raise ValueError(f"directory {path!r} contains no Parquet files (*.parquet, *.pq)")
        return files
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such Parquet file or directory: {path!r}")
    return [path]


def _pick_columns(available, columns, weight_column, numeric, what):
    available = list(available)
    if weight_column is not None and weight_column not in available:
        raise ValueError(
            f"weight_column {weight_column!r} is not in {what}; available columns: {available}"
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
                f"columns {missing} are not in {what}; available columns: {available}"
            )
        if weight_column in columns:
            raise ValueError(f"weight_column {weight_column!r} is also listed in columns")
    return columns


def _columns_to_array(cols):
    """Stack 1-D column arrays into a C-contiguous 2-D float array."""
    dtype = np.float32 if all(c.dtype == np.float32 for c in cols) else np.float64
    n = len(cols[0]) if cols else 0
    out = np.empty((n, len(cols)), dtype=dtype)
    for j, c in enumerate(cols):
        out[:, j] = c
    return out


class ParquetSource(ChunkSource):
    """A Parquet file or directory of Parquet files, streamed with pyarrow.

    A pass reads record batches of ``chunk_size`` rows with
    ``ParquetFile.iter_batches`` (only the selected columns are read, without
    pre-buffering, so memory stays near a few batches whatever the row-group
    size); random access for :func:`fit_minibatch` reads one row group at a
    time.  Null values become NaN and are reported as such.

    Parameters
    ----------
    path : str or os.PathLike
        A file, or a directory searched recursively for ``*.parquet`` files
        (names starting with ``_`` or ``.`` are skipped), read in sorted order.
    columns : list of str, optional
        Feature columns, in order; default all numeric columns except the
        weight column.
    weight_column : str, optional
        Column holding sample weights.
    chunk_size : int
        Rows per record batch.
    """

    def __init__(self, path, columns=None, weight_column=None, chunk_size=None):
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:  # pragma: no cover - optional dependency
            raise ImportError(
                "reading Parquet needs pyarrow: pip install 'gmmx-em[parquet]'"
            ) from None
        self.path = os.fspath(path)
        self._chunk_size_arg = _check_chunk_size(chunk_size) if chunk_size is not None else None
        self.files = _parquet_files(self.path)
        self.weight_column = weight_column
        try:
            first = pq.ParquetFile(self.files[0])
        except (OSError, pa.ArrowException) as exc:
            raise ValueError(f"{self.files[0]!r} is not a readable Parquet file: {exc}") from None
        schema = first.schema_arrow
        types = {f.name: f.type for f in schema}

        def numeric(name):
            t = types[name]
            return pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_boolean(t)

        self.columns = _pick_columns(schema.names, columns, weight_column, numeric,
                                     f"Parquet file {self.files[0]!r}")
        bad = [c for c in self.columns if not numeric(c)]
        if bad:
            raise ValueError(
                f"columns {bad} of {self.files[0]!r} are not numeric "
                f"({[str(types[c]) for c in bad]}); select numeric columns only"
            )
        self.n_features = len(self.columns)
        self.chunk_size = _check_chunk_size(self._chunk_size_arg, self.n_features)
        self._groups = []  # (file index, row group, rows)
        n_rows = 0
        for fi, f in enumerate(self.files):
            md = first.metadata if fi == 0 else pq.ParquetFile(f).metadata
            for g in range(md.num_row_groups):
                rows = md.row_group(g).num_rows
                self._groups.append((fi, g, rows))
                n_rows += rows
        self.n_rows = n_rows
        self.n_chunks = len(self._groups)

    def _read_cols(self):
        cols = list(self.columns)
        if self.weight_column is not None:
            cols.append(self.weight_column)
        return cols

    def _to_block(self, batch):
        arrays = [batch.column(i).to_numpy(zero_copy_only=False) for i in range(batch.num_columns)]
        if self.weight_column is not None:
            w = np.asarray(arrays.pop(), dtype=np.float64)
            return _columns_to_array(arrays), w
        return _columns_to_array(arrays)

    def chunks(self):
        import pyarrow.parquet as pq

        cols = self._read_cols()
        for f in self.files:
            # No pre-buffering (it holds whole row groups, or the whole file,
            # in memory); buffered column reads keep memory near one batch.
            # Memory-mapped reads land in the page cache, not in anonymous memory.
            with pq.ParquetFile(f, pre_buffer=False, buffer_size=1 << 20, memory_map=True) as pf:
                missing = [c for c in cols if c not in pf.schema_arrow.names]
                if missing:
                    raise ValueError(f"Parquet file {f!r} lacks columns {missing}")
                for batch in pf.iter_batches(batch_size=self.chunk_size, columns=cols):
                    yield self._to_block(batch)

    def read_chunk(self, i):
        import pyarrow.parquet as pq

        fi, g, _ = self._groups[i]
        with pq.ParquetFile(self.files[fi], memory_map=True) as pf:
            table = pf.read_row_group(g, columns=self._read_cols())
        return self._to_block(table)

    def __repr__(self):
        return f"ParquetSource({self.path!r}, columns={self.columns}, chunk_size={self.chunk_size})"


class CSVSource(ChunkSource):
    """A delimited text file read in chunks with ``pandas.read_csv``.

    Parameters
    ----------
    path : str or os.PathLike
        Compressed files (.gz, .bz2, .xz, .zst, .zip) are read transparently.
    columns : list of str, optional
        Feature columns; default every column except the weight column (all
        must be numeric).
    weight_column : str, optional
    chunk_size : int
        Rows per chunk.
    **read_csv_kwargs
        Passed to ``pandas.read_csv`` (``sep``, ``header``, ``decimal``, ``skiprows``...).
    """

    def __init__(self, path, columns=None, weight_column=None, chunk_size=None,
                 **read_csv_kwargs):
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - optional dependency
            raise ImportError("reading CSV needs pandas: pip install 'gmmx-em[pandas]'") from None
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"no such CSV file: {self.path!r}")
        self._chunk_size_arg = _check_chunk_size(chunk_size) if chunk_size is not None else None
        self.weight_column = weight_column
        self.kwargs = dict(read_csv_kwargs)
        for key in ("chunksize", "iterator", "usecols", "nrows"):
            if key in self.kwargs:
                raise ValueError(f"{key!r} is set by CSVSource; use columns= / chunk_size= instead")
        head = pd.read_csv(self.path, nrows=0, **self.kwargs)
        self.columns = _pick_columns(head.columns, columns, weight_column, lambda c: True,
                                     f"CSV file {self.path!r}")
        self.n_features = len(self.columns)
        self.chunk_size = _check_chunk_size(self._chunk_size_arg, self.n_features)

    def chunks(self):
        import pandas as pd

        usecols = list(self.columns) + ([self.weight_column] if self.weight_column else [])
        reader = pd.read_csv(self.path, usecols=usecols, chunksize=self.chunk_size, **self.kwargs)
        with reader:
            for df in reader:
                try:
                    X = df[self.columns].to_numpy(dtype=np.float64)
                except (TypeError, ValueError):
                    bad = [c for c in self.columns if df[c].dtype.kind not in "fiub"]
                    raise ValueError(
                        f"CSV columns {bad} contain non-numeric values; select numeric "
                        "columns with columns=[...] or clean the file"
                    ) from None
                if self.weight_column is None:
                    yield X
                else:
                    yield X, df[self.weight_column].to_numpy(dtype=np.float64)

    def __repr__(self):
        return f"CSVSource({self.path!r}, columns={self.columns}, chunk_size={self.chunk_size})"


class IterableSource(ChunkSource):
    """Blocks from a re-iterable object or a callable returning an iterator.

    Parameters
    ----------
    obj : callable or re-iterable
        ``obj()`` (called with no arguments) or ``iter(obj)`` must return a
        fresh iterator over the blocks at every pass.  A one-shot iterator
        (a generator object) cannot serve the many passes of EM: wrap the
        generator function instead, ``IterableSource(lambda: gen(...))``, or
        feed the batches to ``partial_fit``.
    n_features : int, optional
        If known (otherwise read from the first block).
    """

    def __init__(self, obj, n_features=None):
        if not callable(obj):
            try:
                it = iter(obj)
            except TypeError:
                raise ValueError(
                    f"cannot read chunks from {type(obj).__name__}: pass an array, a file "
                    "path, a re-iterable of 2-D blocks or a callable returning an iterator"
                ) from None
            if it is obj:
                raise ValueError(
                    "a one-shot iterator (e.g. a generator) cannot be read more than once, "
                    "but EM makes one pass per iteration; pass a callable returning a "
                    "fresh iterator (lambda: my_generator()) or a list of blocks, or use "
                    "partial_fit on each batch"
                )
        self.obj = obj
        self.n_features = n_features

    def chunks(self):
        it = self.obj() if callable(self.obj) else iter(self.obj)
        try:
            it = iter(it)
        except TypeError:
            raise ValueError(
                f"the source callable returned {type(it).__name__}, not an iterator of blocks"
            ) from None
        return it

    def __repr__(self):
        return f"IterableSource({self.obj!r})"


def _suffix_kind(path):
    low = path.lower()
    if os.path.isdir(path) or low.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    if low.endswith(".npy"):
        return "npy"
    if low.endswith(_CSV_SUFFIXES):
        return "csv"
    return None


def as_source(obj, columns=None, chunk_size=None, *, weight_column=None,
              sample_weight=None, **kwargs):
    """Turn ``obj`` into a :class:`ChunkSource`.

    Parameters
    ----------
    obj : ChunkSource, path, array-like, re-iterable or callable
        * a :class:`ChunkSource`: returned unchanged;
        * a path (str or os.PathLike): ``.npy`` -> :class:`NpySource`,
          ``.parquet``/``.pq`` or a directory -> :class:`ParquetSource`,
          ``.csv``/``.tsv``/``.txt`` (optionally compressed) -> :class:`CSVSource`;
        * an array with a shape (ndarray, np.memmap, h5py dataset) ->
          :class:`ArraySource`;
        * a callable returning an iterator, or a re-iterable (list of
          blocks) -> :class:`IterableSource`.
    columns : list of str, optional
        Feature columns (Parquet and CSV).
    chunk_size : int or None, default=None
        Rows per chunk (files and arrays; iterables decide their own blocks).
        None: about 8 MiB of rows, at least 65,536.
    weight_column : str, optional
        Sample-weight column (Parquet and CSV).
    sample_weight : str, path or array-like, optional
        Sample weights for array and ``.npy`` sources.
    **kwargs
        Passed to ``pandas.read_csv`` for CSV sources.

    Returns
    -------
    ChunkSource
    """
    if isinstance(obj, ChunkSource):
        return obj
    if isinstance(obj, (str, os.PathLike)):
        path = os.fspath(obj)
        kind = _suffix_kind(path)
        if kind is None:
            if not os.path.exists(path):
                raise FileNotFoundError(f"no such file or directory: {path!r}")
            raise ValueError(
                f"cannot tell the format of {path!r} from its name; use a .npy, "
                ".parquet/.pq (or a directory of them) or .csv/.tsv/.txt file, or build "
                "NpySource / ParquetSource / CSVSource explicitly"
            )
        if kind != "csv" and kwargs:
            raise ValueError(f"unexpected keyword arguments for a {kind} source: {sorted(kwargs)}")
        if kind == "npy":
            if columns is not None or weight_column is not None:
                raise ValueError("columns / weight_column apply to Parquet and CSV sources, not .npy")
            return NpySource(path, sample_weight=sample_weight, chunk_size=chunk_size)
        if sample_weight is not None:
            raise ValueError("pass weight_column=... for Parquet/CSV sources, not sample_weight")
        if kind == "parquet":
            return ParquetSource(path, columns, weight_column, chunk_size)
        return CSVSource(path, columns, weight_column, chunk_size, **kwargs)
    if kwargs or columns is not None or weight_column is not None:
        raise ValueError("columns / weight_column / read options apply only to file paths")
    if hasattr(obj, "to_numpy") and hasattr(obj, "shape"):  # pandas DataFrame / Series
        return ArraySource(obj.to_numpy(), sample_weight, chunk_size)
    if hasattr(obj, "shape") and hasattr(obj, "__getitem__"):
        return ArraySource(obj, sample_weight, chunk_size)
    if sample_weight is not None:
        raise ValueError(
            "sample_weight cannot be given for an iterable source; yield (X, sample_weight) pairs"
        )
    return IterableSource(obj)


# --------------------------------------------------------------------------
# Block validation
# --------------------------------------------------------------------------


def as_block(item, where, n_features=None):
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
    X = np.asarray(item)
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


# --------------------------------------------------------------------------
# Reservoir sample for initialisation
# --------------------------------------------------------------------------


_KEY_BLOCK = 1 << 18


class Reservoir:
    """Bounded sample of rows in one pass (also mergeable, for Dask).

    All rows are kept while they fit in ``capacity``, so a small source gives
    exactly its rows (and the same initialisation as an in-memory fit).
    Beyond that it is Efraimidis-Spirakis weighted sampling without
    replacement (keys ``log(u) / w``; uniform without weights).  Random keys
    are drawn only once the capacity is exceeded.

    Parameters
    ----------
    capacity : int
    seed : int or None
        Seed of the key generator (drawn from ``random_state`` if None).
    random_state : numpy RandomState, optional
    """

    def __init__(self, capacity=INIT_SAMPLE_ROWS, seed=None, random_state=None):
        self.capacity = int(capacity)
        self._seed = seed
        self._random_state = random_state
        self._rng = None
        self.X = None
        self.w = None  # None until a weighted block is seen
        self.order = np.empty(0, dtype=np.int64)
        self.keys = None
        self.weighted = False
        self.n_seen = 0

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_random_state"] = None
        return state

    @property
    def size(self):
        return 0 if self.X is None else self.X.shape[0]

    def _gen(self):
        if self._rng is None:
            seed = self._seed
            if seed is None:
                rs = self._random_state if self._random_state is not None else np.random.mtrand._rand
                seed = int(rs.randint(np.iinfo(np.int32).max))
            self._rng = np.random.default_rng(seed)
        return self._rng

    def _make_keys(self, w, n):
        u = self._gen().random(n)
        with np.errstate(divide="ignore"):
            logu = np.log(u)
            return logu if w is None else logu / w

    def _ensure_keys(self):
        if self.keys is None:
            self.keys = self._make_keys(self.w, self.size)

    def _append(self, X, w, order, keys):
        if w is not None and not self.weighted:
            self.weighted = True
            if self.X is not None:
                self.w = np.ones(self.size)
        if self.weighted and w is None:
            w = np.ones(X.shape[0])
        if self.X is None:
            self.X, self.w, self.order = X, (w if self.weighted else None), order
            self.keys = keys
            return
        self.X = np.concatenate([self.X, X])
        if self.weighted:
            self.w = np.concatenate([self.w, w])
        self.order = np.concatenate([self.order, order])
        if keys is not None:
            self.keys = np.concatenate([self.keys, keys])

    def _truncate(self):
        if self.size > self.capacity:
            keep = np.argpartition(-self.keys, self.capacity - 1)[: self.capacity]
            keep.sort()
            self.X = self.X[keep]
            self.order = self.order[keep]
            self.keys = self.keys[keep]
            if self.w is not None:
                self.w = self.w[keep]

    def add(self, X, w=None, start=0):
        """Offer the rows of block ``X`` (global row index ``start + i``)."""
        n = X.shape[0]
        if n == 0:
            return
        if n > _KEY_BLOCK and (self.keys is not None or self.size + n > self.capacity):
            # draw keys a slice at a time: bounded scratch memory for big chunks
            for s in range(0, n, _KEY_BLOCK):
                self.add(X[s:s + _KEY_BLOCK], None if w is None else w[s:s + _KEY_BLOCK], start + s)
            return
        self.n_seen += n
        order = start + np.arange(n, dtype=np.int64)
        if self.keys is None and self.size + n <= self.capacity:
            self._append(np.array(X), None if w is None else np.array(w, dtype=np.float64), order, None)
            return
        self._ensure_keys()
        keys = self._make_keys(w, n)
        if self.size >= self.capacity:
            sel = np.flatnonzero(keys > self.keys.min())
            X, order, keys = X[sel], order[sel], keys[sel]
            w = None if w is None else w[sel]
        self._append(np.array(X), None if w is None else np.array(w, dtype=np.float64), order, keys)
        self._truncate()

    def merge(self, other):
        """Combine with another reservoir (``self`` is updated and returned)."""
        if other is None or other.size == 0:
            return self
        self.n_seen += other.n_seen
        if self.keys is None and other.keys is None and self.size + other.size <= self.capacity:
            self._append(other.X, other.w, other.order, None)
            return self
        self._ensure_keys()
        other._ensure_keys()
        self._append(other.X, other.w, other.order, other.keys)
        self._truncate()
        return self

    def result(self):
        """``(X_sample, w_sample)`` in source order; weights are None once
        rows were sampled (the sampling already accounts for them)."""
        if self.X is None:
            return None, None
        idx = np.argsort(self.order, kind="stable")
        X, w = self.X[idx], (None if self.w is None else self.w[idx])
        if self.keys is not None:
            keep = np.isfinite(self.keys[idx])
            return np.ascontiguousarray(X[keep]), None
        return np.ascontiguousarray(X), w


# --------------------------------------------------------------------------
# Out-of-core driver
# --------------------------------------------------------------------------


class SourceDriver:
    """EM driver over a :class:`ChunkSource`: one pass per iteration.

    Parameters
    ----------
    X : source
        Anything :func:`as_source` accepts.
    model : GaussianMixture
        Supplies ``chunk_size``, ``n_threads`` and ``progress``.
    """

    def __init__(self, X, model):
        self.source = as_source(X, chunk_size=model.chunk_size)
        self.n_threads = model._n_threads()
        self._n_features = self.source.n_features
        self.n_rows = self.source.n_rows
        max_passes = None
        if isinstance(model.max_iter, int) and isinstance(model.n_init, int):
            max_passes = model.max_iter * model.n_init
        self.progress = PassProgress(progress_enabled(model.progress), max_passes, self.n_rows)

    @property
    def n_features(self):
        """Columns of the source (read from its first block if not declared)."""
        if self._n_features is None:
            for _, _, X, _ in self.blocks():
                self._n_features = X.shape[1]
                break
            else:
                raise ValueError(f"the source {self.source!r} yielded no rows")
        return self._n_features

    def blocks(self, order=None):
        """Validated blocks ``(index, first_row, X, w)`` of one pass.

        ``order``: chunk indices to read with ``read_chunk`` (random-access
        sources), else one sequential pass.  Errors raised by the source are
        re-raised as :class:`ChunkError` naming the chunk.
        """
        src = self.source
        if order is not None:
            for i in order:
                i = int(i)
                try:
                    item = src.read_chunk(i)
                except Exception as exc:
                    raise _chunk_error(
                        exc, f"chunk {i} of {src!r} could not be read: {type(exc).__name__}: {exc}", i
                    ) from exc
                X, w = as_block(item, f"chunk {i}: ", self._n_features)
                if self._n_features is None:
                    self._n_features = X.shape[1]
                yield i, None, X, w
            return
        i = 0
        first_row = 0
        try:
            it = iter(src.chunks())
        except Exception as exc:
            raise _chunk_error(
                exc, f"the source {src!r} could not be opened: {type(exc).__name__}: {exc}", 0
            ) from exc
        try:
            while True:
                try:
                    item = next(it)
                except StopIteration:
                    return
                except Exception as exc:
                    raise _chunk_error(
                        exc, f"chunk {i} (starting at row {first_row}) of {src!r} could not "
                        f"be read: {type(exc).__name__}: {exc}", i
                    ) from exc
                X, w = as_block(item, f"chunk {i} (starting at row {first_row}): ", self._n_features)
                if self._n_features is None:
                    self._n_features = X.shape[1]
                if X.shape[0]:
                    yield i, first_row, X, w
                first_row += X.shape[0]
                i += 1
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    @staticmethod
    def _where(i, first_row):
        if first_row is None:
            return f"chunk {i}: "
        return f"chunk {i} (starting at row {first_row}): "

    def accumulate(self, params, covariance_type):
        """Sufficient statistics of one full pass over the source."""
        total = None
        self.progress.start_pass()
        for i, first_row, X, w in self.blocks():
            st = _engine.accumulate(X, w, params, covariance_type, self.n_threads,
                                    where=self._where(i, first_row))
            total = st if total is None else total + st
            self.progress.rows(X.shape[0])
        if total is None:
            raise ValueError(f"the source {self.source!r} yielded no rows")
        self.progress.end_pass(total.log_likelihood / total.weight_sum)
        return total

    def init_sample(self, random_state, capacity=INIT_SAMPLE_ROWS):
        """A bounded sample for initialisation, from one pass (see :class:`Reservoir`).

        The sample is drawn once and reused by further initialisations
        (``n_init > 1``), as an in-memory fit reuses its array.
        """
        cached = getattr(self, "_sample", None)
        if cached is not None and cached[0] == capacity:
            return cached[1]
        res = Reservoir(capacity, random_state=random_state)
        self.progress.start_pass("init sample")
        for i, first_row, X, w in self.blocks():
            check_finite(X, f"chunk {i} (starting at row {first_row})")
            res.add(X, w, first_row)
            self.progress.rows(X.shape[0])
        Xs, ws = res.result()
        if Xs is None:
            raise ValueError(f"the source {self.source!r} yielded no rows")
        if self.n_rows is None:
            self.n_rows = res.n_seen
            self.progress.n_rows = res.n_seen
        self._sample = (capacity, (Xs, ws))
        return Xs, ws

    def close(self):
        """Close the progress bars."""
        self.progress.close()


# --------------------------------------------------------------------------
# Online (stepwise) EM
# --------------------------------------------------------------------------


def check_step_exponent(kappa):
    """``step_exponent`` must be in (0.5, 1]."""
    if (isinstance(kappa, bool) or not isinstance(kappa, numbers.Real)
            or not np.isfinite(kappa) or not 0.5 < kappa <= 1.0):
        raise ValueError(
            f"step_exponent must be a number in (0.5, 1] (the step sizes are "
            f"(t + 2) ** -step_exponent), got {kappa!r}"
        )
    return float(kappa)


class OnlineEM:
    """State of stepwise EM: the running statistics and the update count.

    The b-th batch (b = 1, 2, ...) updates the running per-row statistics by
    ``S <- (1 - eta_b) S + eta_b s_hat`` with ``eta_b = b ** -kappa``
    (``(t + 2) ** -kappa`` with ``t = b - 2`` counting from the second batch),
    where ``s_hat`` are the batch's statistics divided by its total weight.
    The first batch sets ``S = s_hat``, so one batch equal to the whole data
    is exactly one EM iteration.  Before combining, the running statistics
    are recentred at the current means (the batch's centres).

    Parameters
    ----------
    stats : SufficientStats or None
    n_updates : int
    """

    def __init__(self, stats=None, n_updates=0):
        self.stats = stats
        self.n_updates = int(n_updates)
        self._anchor = None

    def step_size(self, kappa):
        """Step for the next batch: ``(n_updates + 1) ** -kappa``."""
        return float((self.n_updates + 1) ** -kappa)

    def update(self, batch_stats, kappa):
        """Absorb the statistics of one batch; returns the new running stats."""
        if batch_stats.weight_sum <= 0:
            raise ValueError("the batch carries no weight (all sample weights are zero)")
        s_hat = batch_stats.scaled(1.0 / batch_stats.weight_sum)
        if self.stats is None or self.n_updates == 0:
            self.stats = s_hat
        else:
            eta = self.step_size(kappa)
            # s_hat is centred at the current means; the running stats are
            # recentred there by `+`.
            self.stats = s_hat.scaled(eta) + self.stats.scaled(1.0 - eta)
        self.n_updates += 1
        return self.stats

    def anchor(self, model):
        """Remember the parameters this state produced (to detect a refit)."""
        self._anchor = (model.weights_.copy(), model.means_.copy())

    def matches(self, model):
        """True if ``model``'s parameters are the ones this state produced."""
        if self._anchor is None or not hasattr(model, "means_"):
            return False
        w, m = self._anchor
        return (w.shape == model.weights_.shape and m.shape == model.means_.shape
                and np.array_equal(w, model.weights_) and np.array_equal(m, model.means_))

    def to_arrays(self, prefix="online_"):
        """Plain arrays for :mod:`gmmx.io`."""
        out = {prefix + "n_updates": np.array([self.n_updates], dtype=np.int64)}
        if self.stats is not None:
            out.update(self.stats.to_arrays(prefix + "stats_"))
        return out

    @classmethod
    def from_arrays(cls, covariance_type, arrays, prefix="online_"):
        """Inverse of :meth:`to_arrays`."""
        n = int(np.asarray(arrays[prefix + "n_updates"]).reshape(-1)[0])
        stats = None
        if (prefix + "stats_nk") in arrays:
            stats = SufficientStats.from_arrays(covariance_type, arrays, prefix + "stats_")
        return cls(stats, n)


_MAX_LOWER_BOUNDS = 10_000


def online_step(model, X, w, where="partial_fit batch: ", random_state=None, step_exponent=None):
    """One stepwise-EM update of ``model`` with a validated block ``(X, w)``.

    Initialises the model from the block on the first call (or uses
    ``weights_init`` / ``means_init`` / ``precisions_init``).
    ``step_exponent`` overrides ``model.step_exponent``.
    """
    from .mixture import ArrayDriver

    if step_exponent is None:
        step_exponent = getattr(model, "step_exponent", 0.6)
    kappa = check_step_exponent(step_exponent)
    d = X.shape[1]
    fitted = hasattr(model, "precisions_cholesky_")
    if fitted and d != model.n_features_in_:
        prefix = "" if where == "partial_fit batch: " else where
        raise ValueError(
            f"{prefix}X has {d} features, but {type(model).__name__} is expecting "
            f"{model.n_features_in_} features as input (every batch must have the "
            "same columns as the first)"
        )
    model._check_parameters(d)
    n_threads = model._n_threads()
    state = getattr(model, "_online_state", None)
    if fitted:
        if state is None or not state.matches(model):
            state = OnlineEM()
        params = model._get_parameters()
    else:
        if X.shape[0] < model.n_components:
            raise ValueError(
                f"{where}the first batch has {X.shape[0]} rows but n_components = "
                f"{model.n_components}; the first batch must have at least n_components rows"
            )
        rs = check_random_state(model.random_state) if random_state is None else random_state
        params = model._initial_params(ArrayDriver(X, w, n_threads), rs)
        model.n_features_in_ = d
        model.lower_bounds_ = []
        state = OnlineEM()
    cov_type = model.covariance_type
    kparams = _engine.kernel_params(params[0], params[1], params[3], cov_type)
    stats = _engine.accumulate(X, w, kparams, cov_type, n_threads, where=where)
    running = state.update(stats, kappa)
    new = m_step(running, model.reg_covar, prev_covariances=params[2])
    model._set_parameters(new)
    lower_bound = stats.log_likelihood / stats.weight_sum
    model.lower_bound_ = lower_bound
    bounds = list(getattr(model, "lower_bounds_", []))
    bounds.append(lower_bound)
    model.lower_bounds_ = bounds[-_MAX_LOWER_BOUNDS:]
    model.n_iter_ = state.n_updates
    model.converged_ = False
    state.anchor(model)
    model._online_state = state
    if model.callback is not None:
        model.callback(state.n_updates, lower_bound)
    return model


def partial_fit(model, X, sample_weight=None):
    """Stepwise-EM update of ``model`` with one batch (``GaussianMixture.partial_fit``)."""
    X = as_float_array(X, ensure_min_samples=1)
    w = check_sample_weight(sample_weight, X.shape[0])
    return online_step(model, X, w)


# --------------------------------------------------------------------------
# Mini-batch fitting
# --------------------------------------------------------------------------


def _mixed_blocks(driver, rng, window, shuffle):
    """Mini-batches whose rows come from ``window`` chunks.

    Tick data are time-ordered, so one chunk is one stretch of time.  Chunks
    are read in random order when the source allows it (and ``shuffle``),
    pooled ``window`` at a time, their rows permuted and split into as many
    batches as chunks were pooled.
    """
    src = driver.source
    if shuffle and src.random_access:
        blocks = driver.blocks(order=rng.permutation(src.n_chunks))
    else:
        blocks = driver.blocks()
    buf = []

    def flush():
        if len(buf) == 1 or not shuffle:
            for i, first_row, X, w in buf:
                yield i, first_row, X, w
            return
        Xs = np.concatenate([b[2] for b in buf])
        ws = None
        if any(b[3] is not None for b in buf):
            ws = np.concatenate([b[3] if b[3] is not None else np.ones(b[2].shape[0]) for b in buf])
        perm = rng.permutation(Xs.shape[0])
        for idx in np.array_split(perm, len(buf)):
            yield buf[0][0], None, np.ascontiguousarray(Xs[idx]), (None if ws is None else ws[idx])

    if shuffle and src.random_access and src.n_chunks:
        # balanced windows: 20 chunks with window 8 -> 7, 7, 6
        n_windows = -(-src.n_chunks // window)
        sizes = [len(a) for a in np.array_split(np.arange(src.n_chunks), n_windows)]
    else:
        sizes = None
    for i, first_row, X, w in blocks:
        check_finite(X, SourceDriver._where(i, first_row).rstrip(": "))
        buf.append((i, first_row, X, w))
        if len(buf) >= (sizes[0] if sizes else window):
            yield from flush()
            buf = []
            if sizes and len(sizes) > 1:
                sizes.pop(0)
    if buf:
        yield from flush()


def fit_minibatch(model, X, *, n_epochs=1, polish_iter=0, shuffle=True, shuffle_buffer=8,
                  step_exponent=1.0):
    """Fit ``model`` by mini-batch (stepwise) EM over a source, then optionally
    polish with exact EM passes.

    For sources too large for many exact passes.  Each batch of about
    ``model.chunk_size`` rows is one stepwise-EM update (as ``partial_fit``,
    step sizes ``b ** -step_exponent``).  Tick data are time-ordered,
    so a chunk is one stretch of time: chunks are read in random order when
    the source allows it (arrays, .npy, Parquet row groups), pooled
    ``shuffle_buffer`` at a time, and their rows permuted into batches, so
    every batch mixes several stretches of time.  When the model is
    initialised from the source's reservoir sample (the default), that
    sample's statistics are the first batch, so the running statistics start
    from a representative sample.

    Parameters
    ----------
    model : GaussianMixture
        Initialised from one sampling pass unless ``warm_start`` is set and it
        is fitted, or ``weights_init``/``means_init``/``precisions_init`` are given.
    X : source
        Anything :func:`as_source` accepts (arrays included).
    n_epochs : int, default=1
        Passes of mini-batch updates.
    polish_iter : int, default=0
        Exact EM passes afterwards (the estimator's own EM loop, with ``tol``).
    shuffle : bool, default=True
        False: chunks in source order, one batch each.
    shuffle_buffer : int, default=8
        Chunks pooled per mixing window (memory: that many chunks).
    step_exponent : float in (0.5, 1] or None, default=1.0
        Step sizes ``b ** -step_exponent``.  For a finite source the running
        average (1.0) is best: time-ordered chunks bias every batch, and
        averaging cancels that bias, whereas smaller exponents (suited to
        drifting live streams) let the last batches pull the fit.  None uses
        ``model.step_exponent``.

    Returns
    -------
    model
        ``n_iter_`` counts the exact polishing iterations if any, else the
        mini-batch updates; ``model.callback`` is called after every batch
        and every polishing iteration.
    """
    if isinstance(n_epochs, bool) or not isinstance(n_epochs, numbers.Integral) or n_epochs < 1:
        raise ValueError(f"n_epochs must be a positive integer, got {n_epochs!r}")
    if isinstance(polish_iter, bool) or not isinstance(polish_iter, numbers.Integral) or polish_iter < 0:
        raise ValueError(f"polish_iter must be a non-negative integer, got {polish_iter!r}")
    if isinstance(shuffle_buffer, bool) or not isinstance(shuffle_buffer, numbers.Integral) or shuffle_buffer < 1:
        raise ValueError(f"shuffle_buffer must be a positive integer, got {shuffle_buffer!r}")
    kappa = check_step_exponent(model.step_exponent if step_exponent is None else step_exponent)
    driver = SourceDriver(X, model)
    try:
        d = driver.n_features
        model._check_parameters(d)
        rs = check_random_state(model.random_state)
        if not (model.warm_start and hasattr(model, "precisions_cholesky_")):
            for name in ("weights_", "means_", "covariances_", "precisions_",
                         "precisions_cholesky_", "_online_state"):
                if hasattr(model, name):
                    delattr(model, name)
            params = model._initial_params(driver, rs)
            sample = getattr(driver, "_sample", None)  # set if init read the source
            model._set_parameters(params)
            model.n_features_in_ = d
            model.lower_bounds_ = []
            model._online_state = OnlineEM()
            model._online_state.anchor(model)
            if sample is not None:
                online_step(model, *sample[1], where="initial sample: ", step_exponent=kappa)
        else:
            if d != model.n_features_in_:
                raise ValueError(
                    f"the source has {d} features, but the warm-started model was fitted "
                    f"with {model.n_features_in_}"
                )
            model._online_state = OnlineEM()
            model._online_state.anchor(model)
        rng = np.random.default_rng(rs.randint(np.iinfo(np.int32).max))
        driver.progress._desc = "mini-batch"
        driver.progress._max_passes = n_epochs + polish_iter
        for _epoch in range(n_epochs):
            driver.progress.start_pass()
            for i, first_row, Xb, wb in _mixed_blocks(driver, rng, shuffle_buffer, shuffle):
                online_step(model, Xb, wb, where=SourceDriver._where(i, first_row),
                            step_exponent=kappa)
                driver.progress.rows(Xb.shape[0])
            driver.progress.end_pass(model.lower_bound_)
        if polish_iter:
            saved = (model.warm_start, model.max_iter)
            model.warm_start, model.max_iter = True, int(polish_iter)
            model.lower_bound_ = -np.inf
            try:
                model._fit_driver(driver)
            finally:
                model.warm_start, model.max_iter = saved
    finally:
        driver.close()
    return model


def score(model, X):
    """Mean (weighted) log-likelihood per row of any data a fit accepts.

    One kernel pass over ``X`` under the fitted parameters: an array, a chunk
    source (path, :class:`ChunkSource`, iterable; weights from its
    ``(X, w)`` pairs or weight column) or a dask collection.  For BIC/AIC on
    data larger than memory: ``-2 * score * n + n_params * log(n)``.

    Returns
    -------
    float
    """
    model._check_is_fitted()
    driver = model._make_driver(X, None)
    try:
        if driver.n_features != model.n_features_in_:
            raise ValueError(
                f"X has {driver.n_features} features, but {type(model).__name__} is "
                f"expecting {model.n_features_in_} features as input"
            )
        stats = driver.accumulate(model._kernel_params(), model.covariance_type)
    finally:
        close = getattr(driver, "close", None)
        if close is not None:
            close()
    return float(stats.log_likelihood / stats.weight_sum)
