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
# Sampling, drivers and online/mini-batch fitting live in gmmx.drivers,
# gmmx.core.online and gmmx.mixture; their 0.1 names are kept here.
# --------------------------------------------------------------------------

from .core.online import OnlineEM, check_step_exponent  # noqa: E402
from .drivers.sampling import INIT_SAMPLE_ROWS, Reservoir  # noqa: E402
from .drivers.source import SourceDriver  # noqa: E402
from .mixture import fit_minibatch  # noqa: E402


def partial_fit(model, X, sample_weight=None):
    """Stepwise-EM update of ``model`` with one batch (same as ``model.partial_fit``)."""
    return model.partial_fit(X, sample_weight=sample_weight)


def score(model, X):
    """Mean (weighted) log-likelihood per row of any data a fit accepts.

    Same as ``model.score_data(X)``: one kernel pass over ``X`` (an array, a
    chunk source or a dask collection) under the fitted parameters.  For
    BIC/AIC on data larger than memory: ``-2 * score * n + n_params * log(n)``.

    Returns
    -------
    float
    """
    return model.score_data(X)
