"""Parquet files and directories of them, streamed with pyarrow."""

from __future__ import annotations

from typing import Any, Iterator, Optional

import os

import numpy as np

from .base import ChunkSource, ColumnInfo, _pick_columns, check_chunk_size
from .readahead import DEFAULT_DEPTH, read_ahead
from .registry import register_format
from .spill import DecodedCopy, SpillCache, check_cache_dir

_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")


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


def _is_numeric(arrow_type):
    """Integer, floating-point, boolean or decimal: columns read as numbers."""
    import pyarrow as pa

    return (pa.types.is_floating(arrow_type) or pa.types.is_integer(arrow_type)
            or pa.types.is_boolean(arrow_type) or pa.types.is_decimal(arrow_type))


def _columns_to_array(cols):
    """Stack 1-D column arrays into a C-contiguous 2-D float array."""
    dtype = np.float32 if all(c.dtype == np.float32 for c in cols) else np.float64
    n = len(cols[0]) if cols else 0
    out = np.empty((n, len(cols)), dtype=dtype)
    for j, c in enumerate(cols):
        out[:, j] = c
    return out


class ParquetSource(DecodedCopy, ChunkSource):
    """A Parquet file or directory of Parquet files, streamed with pyarrow.

    A pass reads record batches of ``chunk_size`` rows with
    ``ParquetFile.iter_batches`` (only the selected columns are read, without
    pre-buffering, so memory stays near a few batches whatever the row-group
    size); random access for :func:`gmmx.streaming.fit_minibatch` reads one
    row group at a time.  Null values become NaN and are reported as such.

    A pass decodes its batches in a background thread, at most
    ``read_ahead`` batches ahead of the fit, so that reading overlaps the
    E-step of the batch before (both release the GIL).  The batches, their
    order and their boundaries are the same with or without it.

    Page checksums are verified (pyarrow's ``page_checksum_verification``) for
    pages written with one (``write_page_checksum=True``); a page that fails,
    or cannot be decoded, is reported as a read error naming the file and
    the row group.

    Parameters
    ----------
    path : str or os.PathLike
        A file, or a directory searched recursively for ``*.parquet`` files
        (names starting with ``_`` or ``.`` are skipped), read in sorted order.
    columns : list of str, optional
        Feature columns, in order; default all numeric columns (integer,
        floating-point, boolean or decimal) except the weight column.
    weight_column : str, optional
        Column holding sample weights.
    chunk_size : int
        Rows per record batch.
    read_ahead : int, default=2
        Batches decoded ahead of the consumer in a background thread (at
        most ``read_ahead + 2`` batches are in memory at once); 0 reads in
        the consumer's thread.
    cache_dir : str or os.PathLike, optional
        A directory on a local disk where the first full pass writes the
        decoded rows (``n_rows * n_features`` values of the blocks' type,
        plus the weights), which every later pass and :meth:`read_chunk`
        then read memory-mapped instead of decoding the file again: after
        the first pass, as fast as an in-memory array, with the same blocks
        and results.  The copy is deleted by :meth:`clear_cache`, when the
        source is garbage-collected and at exit, and rewritten if a file
        changes size or modification time; without room on the disk (at
        least the smaller of 1 GiB and 5% of it must stay free) a
        :class:`~gmmx.exceptions.CacheWarning` is issued and the file is
        decoded on every pass.  Default None: no copy, every pass decodes.
        See :mod:`gmmx.sources.spill`.
    """

    n_features: int
    n_rows: int
    n_chunks: int
    chunk_size: int

    def __init__(self, path: Any, columns: Optional[Any] = None,
                 weight_column: Optional[str] = None, chunk_size: Optional[int] = None,
                 read_ahead: int = DEFAULT_DEPTH, cache_dir: Any = None) -> None:
        pq = _pyarrow_parquet()
        self.path = os.fspath(path)
        self.read_ahead = _check_read_ahead(read_ahead)
        self.cache_dir = check_cache_dir(cache_dir)
        self._chunk_size_arg = check_chunk_size(chunk_size) if chunk_size is not None else None
        self.files = _parquet_files(self.path)
        self.weight_column = weight_column
        first = _open_first(self.files)
        schema = first.schema_arrow
        types = {f.name: f.type for f in schema}

        def numeric(name):
            return _is_numeric(types[name])

        self.columns = _pick_columns(schema.names, columns, weight_column, numeric,
                                     f"Parquet file {self.files[0]!r}")
        bad = [c for c in self.columns if not numeric(c)]
        if bad:
            raise ValueError(
                f"columns {bad} of {self.files[0]!r} are not numeric "
                f"({[str(types[c]) for c in bad]}); select numeric columns only"
            )
        self.n_features = len(self.columns)
        self.chunk_size = check_chunk_size(self._chunk_size_arg, self.n_features)
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
        self._starts = np.concatenate(([0], np.cumsum([r for _, _, r in self._groups])))
        self._cache = None
        if self.cache_dir is not None:
            itemsize = 4 if all(_is_float32(types[c]) for c in self.columns) else 8
            weights = 8 if weight_column is not None else 0
            self._cache = SpillCache(self.cache_dir, self.files, repr(self),
                                     expected_bytes=n_rows * (itemsize * self.n_features + weights))

    def chunk_start(self, i: int) -> int:
        return int(self._starts[int(i)])

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

    def chunks(self) -> Iterator[Any]:
        """A fresh iterator over the blocks of one pass (read ahead in a thread).

        With ``cache_dir``: from the decoded copy once one exists.
        """
        return self._pass(self._decoded_pass)

    def _decoded_pass(self):
        if self.read_ahead and self.n_rows > self.chunk_size:  # else nothing to overlap
            return read_ahead(self._read_blocks, self.read_ahead, name="gmmx-parquet-reader")
        return self._read_blocks()

    def _read_blocks(self):
        """The blocks of one pass, read and converted in the calling thread."""
        import pyarrow as pa

        cols = self._read_cols()
        for fi, f in enumerate(self.files):
            # No pre-buffering (it holds whole row groups, or the whole file,
            # in memory).  Unbuffered reads of the memory-mapped file are
            # slices of the mapping (page cache, not anonymous memory; measured
            # flat from 1M- to 4M-row row groups), without the copy through a
            # read buffer (10% of the decoding time).
            with _open_verified(f, pre_buffer=False) as pf:
                _check_file_columns(f, pf.schema_arrow, cols)
                batches = pf.iter_batches(batch_size=self.chunk_size, columns=cols)
                done = 0
                while True:
                    try:
                        batch = next(batches)
                    except StopIteration:
                        break
                    except (OSError, pa.ArrowException) as exc:
                        raise self._read_error(fi, pf, cols, done, exc) from exc
                    done += batch.num_rows
                    yield self._to_block(batch)

    def _read_error(self, fi, pf, cols, done, exc):
        """The error of a failed read, naming the file and the row group at fault.

        The batch that failed starts at row ``done`` of the file; the row groups
        it spans are read one by one to find the first that fails.
        """
        import pyarrow as pa

        groups = [(g, rows) for f, g, rows in self._groups if f == fi]
        start = 0
        culprit = None
        for g, rows in groups:
            if start + rows > done and start < done + self.chunk_size:
                try:
                    pf.read_row_group(g, columns=cols)
                except (OSError, pa.ArrowException) as again:
                    culprit, exc = (g, start, rows), again
                    break
            start += rows
        cls = OSError if isinstance(exc, OSError) else ValueError
        text = " ".join(str(exc).split())[:300]
        if culprit is None:
            return cls(f"Parquet file {self.files[fi]!r} could not be read from row {done} "
                       f"of the file: {text}")
        g, start, rows = culprit
        return cls(f"Parquet file {self.files[fi]!r}, row group {g} (rows {start} to "
                   f"{start + rows - 1} of the file) could not be read (corrupted page?): {text}")

    def read_chunk(self, i: int) -> Any:
        import pyarrow as pa

        if self._cache is not None:
            block = self._cache.rows(self.chunk_start(i), self.chunk_start(i + 1))
            if block is not None:
                return block
        fi, g, rows = self._groups[i]
        with _open_verified(self.files[fi]) as pf:
            try:
                table = pf.read_row_group(g, columns=self._read_cols())
            except (OSError, pa.ArrowException) as exc:
                cls = OSError if isinstance(exc, OSError) else ValueError
                raise cls(f"Parquet file {self.files[fi]!r}, row group {g} could not be read "
                          f"(corrupted page?): {' '.join(str(exc).split())[:300]}") from exc
        return self._to_block(table)

    @classmethod
    def list_columns(cls, path: Any) -> list[ColumnInfo]:
        """The columns of a Parquet file or directory, from the schema (no rows are read).

        For a directory, the schema of its first file (the files a source
        reads must share their columns).

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        list of ColumnInfo
            ``dtype`` is the Arrow type; integer, floating-point, boolean and
            decimal columns are numeric.

        Raises
        ------
        FileNotFoundError, ValueError
            If the path is missing, or holds no readable Parquet file.
        ImportError
            Without pyarrow.
        """
        _pyarrow_parquet()
        schema = _open_first(_parquet_files(os.fspath(path))).schema_arrow
        return [ColumnInfo(f.name, _is_numeric(f.type), str(f.type)) for f in schema]

    def __repr__(self):
        return f"ParquetSource({self.path!r}, columns={self.columns}, chunk_size={self.chunk_size})"


def _is_float32(arrow_type):
    """True for Arrow's float32 (read as numpy float32)."""
    import pyarrow as pa

    return pa.types.is_float32(arrow_type)


def _check_file_columns(path, schema, cols):
    """Every file of a directory must hold the columns, as numbers."""
    missing = [c for c in cols if c not in schema.names]
    if missing:
        raise ValueError(f"Parquet file {path!r} lacks columns {missing}")
    bad = [c for c in cols if not _is_numeric(schema.field(c).type)]
    if bad:
        types = [str(schema.field(c).type) for c in bad]
        raise ValueError(f"columns {bad} of Parquet file {path!r} are not numeric ({types})")


def _check_read_ahead(read_ahead):
    if (isinstance(read_ahead, bool) or not isinstance(read_ahead, (int, np.integer))
            or read_ahead < 0):
        raise ValueError(f"read_ahead must be a non-negative integer (batches), got {read_ahead!r}")
    return int(read_ahead)


def _pyarrow_parquet():
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - optional dependency
        raise ImportError(
            "reading Parquet needs pyarrow: pip install 'gmmx-em[parquet]'"
        ) from None
    return pq


def _open_verified(path, **kwargs):
    """``ParquetFile`` that verifies page checksums (pages written with one), memory-mapped."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path, memory_map=True, page_checksum_verification=True, **kwargs)
    except TypeError:  # pragma: no cover - pyarrow < 15
        raise ImportError("reading Parquet needs pyarrow >= 15 (page checksum "
                          "verification): pip install -U 'gmmx-em[parquet]'") from None
    except (OSError, pa.ArrowException) as exc:
        cls = OSError if isinstance(exc, OSError) else ValueError
        raise cls(f"Parquet file {path!r} could not be opened: {exc}") from exc


def _open_first(files):
    """The first of ``files`` as a ``pyarrow.parquet.ParquetFile``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(files[0])
    except (OSError, pa.ArrowException) as exc:
        raise ValueError(f"{files[0]!r} is not a readable Parquet file: {exc}") from None


def _from_path(path, columns=None, chunk_size=None, weight_column=None, sample_weight=None,
               cache_dir=None):
    """:func:`gmmx.sources.as_source` for a Parquet file or directory."""
    if sample_weight is not None:
        raise ValueError("pass weight_column=... for Parquet/CSV sources, not sample_weight")
    return ParquetSource(path, columns, weight_column, chunk_size, cache_dir=cache_dir)


register_format("parquet", _PARQUET_SUFFIXES, _from_path, accepts_directory=True,
                list_columns=ParquetSource.list_columns, cache_dir=True)
