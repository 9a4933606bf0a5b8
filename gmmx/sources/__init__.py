"""Chunk sources: data read one block of rows at a time.

``GaussianMixture.fit``, :func:`gmmx.streaming.fit_minibatch`,
:func:`gmmx.streaming.score` and the ``gmmx`` command accept anything
:func:`as_source` turns into a :class:`ChunkSource`:

* :class:`ArraySource`: an array with a shape that supports row slicing
  (ndarray, np.memmap, h5py / zarr datasets);
* :class:`NpySource`: a ``.npy`` file, memory-mapped;
* :class:`ParquetSource`: a Parquet file or a directory of them (pyarrow);
* :class:`CSVSource`: a delimited text file, optionally compressed (pandas);
* :class:`IterableSource`: a callable returning a fresh iterator of blocks,
  or a re-iterable (a list of blocks).

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

Every pass must yield the same rows: EM makes one pass per iteration, and
the drivers check that every pass has the row count and total weight of the
first.  Sources that implement :meth:`ChunkSource.read_chunk` (and know
``n_chunks``) offer random access, which lets
:func:`gmmx.streaming.fit_minibatch` visit chunks in shuffled order.  Every
failure of one chunk is a :class:`ChunkError` naming the chunk and the
absolute row.  See :mod:`gmmx.sources.base` for the details.

Decoding once
-------------
Parquet and CSV sources decode their file on every pass, which costs about
an E-step (Parquet) or far more (CSV).  Given ``cache_dir=`` (a directory on
a local disk), their first full pass writes the decoded rows there and the
later passes read them memory-mapped: the same blocks and results, at the
speed of an in-memory array.  See :mod:`gmmx.sources.spill`.

Reading files without fitting
-----------------------------
:func:`list_columns` tells a file's columns and which are numeric without
reading its rows; :meth:`ChunkSource.read_all` reads a whole source into one
in-memory ``(X, sample_weight)``; :class:`NpySource` selects columns by
index.  The ``gmmx`` command reads its files through these.

Transforms
----------
:class:`FiniteRows` drops rows with missing values, :class:`LogReturns` turns
a price column into log returns across chunks, and :func:`stream_moments`
gives rows, means and variances in one pass (see :mod:`gmmx.sources.transforms`).

File formats
------------
Paths are dispatched by a registry of file formats (:mod:`gmmx.sources.registry`):
each format module registers its suffixes and a factory with
:func:`register_format`.  Adding a format is one new module in
``gmmx/sources/`` plus its import line below.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import os

from .base import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_CHUNK_ROWS,
    ChunkError,
    ChunkMemoryError,
    ChunkOSError,
    ChunkSource,
    ChunkValueError,
    ColumnInfo,
    _chunk_error,
    as_block,
    check_chunk_size,
)
from .registry import (
    FileFormat,
    find_format,
    formats,
    get_format,
    register_format,
    unregister_format,
)

# One import line per format module: importing it registers the format.  The
# order is the registration order (the first directory format, Parquet, is
# the default for directories).
from .parquet import ParquetSource
from .npy import NpySource
from .csv import CSVSource

from .array import ArraySource
from .iterable import IterableSource
from .transforms import FiniteRows, LogReturns, stream_moments

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "DEFAULT_CHUNK_ROWS",
    "ArraySource",
    "CSVSource",
    "ChunkError",
    "ChunkMemoryError",
    "ChunkOSError",
    "ChunkSource",
    "ChunkValueError",
    "ColumnInfo",
    "FileFormat",
    "FiniteRows",
    "IterableSource",
    "LogReturns",
    "NpySource",
    "ParquetSource",
    "as_block",
    "as_source",
    "check_chunk_size",
    "find_format",
    "formats",
    "get_format",
    "list_columns",
    "register_format",
    "stream_moments",
    "unregister_format",
]


def as_source(obj: Any, columns: Optional[Sequence[str]] = None,
              chunk_size: Optional[int] = None, *, weight_column: Optional[str] = None,
              sample_weight: Any = None, cache_dir: Any = None,
              **kwargs: Any) -> ChunkSource:
    """Turn ``obj`` into a :class:`ChunkSource`.

    Parameters
    ----------
    obj : ChunkSource, path, array-like, re-iterable or callable
        * a :class:`ChunkSource`: returned unchanged;
        * a path (str or os.PathLike): the registered format its name has
          (:func:`find_format`): ``.npy`` -> :class:`NpySource`,
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
    cache_dir : str or os.PathLike, optional
        For files decoded on every pass (Parquet, CSV): a directory where the
        first full pass writes the decoded rows, read memory-mapped by the
        later passes (:mod:`gmmx.sources.spill`).
    **kwargs
        For CSV sources, ``header=`` ('infer', True, False; see
        :class:`CSVSource`) and options of ``pandas.read_csv`` (passed to the
        factory of formats registered with ``read_options=True``).

    Returns
    -------
    ChunkSource
    """
    if isinstance(obj, ChunkSource):
        if cache_dir is not None:
            raise ValueError("cache_dir applies to file paths; give it to the source's "
                             f"constructor instead ({type(obj).__name__}(..., cache_dir=...))")
        return obj
    if isinstance(obj, (str, os.PathLike)):
        path = os.fspath(obj)
        fmt = _path_format(path, kwargs)
        if cache_dir is not None:
            if not fmt.cache_dir:
                raise ValueError(
                    f"cache_dir does not apply to {fmt.name} files (they are not decoded on "
                    "every pass); it applies to Parquet and CSV files")
            kwargs["cache_dir"] = cache_dir
        return fmt.factory(path, columns=columns, chunk_size=chunk_size,
                           weight_column=weight_column, sample_weight=sample_weight, **kwargs)
    if kwargs or columns is not None or weight_column is not None:
        raise ValueError("columns / weight_column / read options apply only to file paths")
    if cache_dir is not None:
        raise ValueError("cache_dir applies only to Parquet and CSV file paths (arrays and "
                         "iterables are not decoded on every pass)")
    if hasattr(obj, "to_numpy") and hasattr(obj, "shape"):  # pandas DataFrame / Series
        return ArraySource(obj.to_numpy(), sample_weight, chunk_size)
    if hasattr(obj, "shape") and hasattr(obj, "__getitem__"):
        return ArraySource(obj, sample_weight, chunk_size)
    if sample_weight is not None:
        raise ValueError(
            "sample_weight cannot be given for an iterable source; yield (X, sample_weight) pairs"
        )
    return IterableSource(obj)


def _path_format(path, read_options):
    """The registered format of ``path``; errors for an unknown name or for
    reader options the format does not take."""
    fmt = find_format(path)
    if fmt is None:
        if not os.path.exists(path):
            raise FileNotFoundError(f"no such file or directory: {path!r}")
        raise ValueError(
            f"cannot tell the format of {path!r} from its name; use a .npy, "
            ".parquet/.pq (or a directory of them) or .csv/.tsv/.txt file, or build "
            "NpySource / ParquetSource / CSVSource explicitly"
        )
    if not fmt.read_options and read_options:
        raise ValueError(f"unexpected keyword arguments for a {fmt.name} source: {sorted(read_options)}")
    return fmt


def list_columns(path: Any, **read_options: Any) -> list[ColumnInfo]:
    """The columns of a data file and which are numeric, without reading its rows.

    Dispatched by format like :func:`as_source`: :meth:`NpySource.list_columns`
    (columns ``x0``, ``x1``, ...), :meth:`ParquetSource.list_columns` (the
    schema), :meth:`CSVSource.list_columns` (the header, types guessed from
    the first rows).

    Parameters
    ----------
    path : str or os.PathLike
    **read_options
        Reader options of formats that take them (``pandas.read_csv``
        options for CSV: ``sep``...).

    Returns
    -------
    list of ColumnInfo
        ``(name, numeric, dtype)`` per column, in file order.

    Raises
    ------
    FileNotFoundError
        If the path does not exist.
    ValueError
        If the format is unknown or cannot list columns, or the file is not
        readable as its format.
    """
    path = os.fspath(path)
    fmt = _path_format(path, read_options)
    if fmt.list_columns is None:
        raise ValueError(f"the {fmt.name} format cannot list the columns of {path!r}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file or directory: {path!r}")
    return fmt.list_columns(path, **read_options)
