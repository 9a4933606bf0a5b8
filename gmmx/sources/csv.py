"""Delimited text files, read in chunks: plain numbers by NumPy, the rest by pandas."""

from __future__ import annotations

import itertools
from typing import Any, Iterator, Optional

import os
import re
import warnings

import numpy as np

from .base import (ChunkSource, ChunkValueError, ColumnInfo, _pick_columns, check_chunk_size,
                   chunk_label)
from .registry import register_format
from .spill import DecodedCopy, SpillCache, check_cache_dir

#: Compressions pandas reads transparently.
_COMPRESSIONS = ("", ".gz", ".bz2", ".xz", ".zst", ".zip")
#: Every text suffix, plain or compressed (``.csv``, ``.tsv.gz``, ``.txt.zst`` ...).
_CSV_SUFFIXES = tuple(text + comp for text in (".csv", ".tsv", ".txt") for comp in _COMPRESSIONS)


class CSVSource(DecodedCopy, ChunkSource):
    """A delimited text file read in chunks with ``pandas.read_csv`` (or NumPy).

    A file of plain numbers (one delimiter character, a point decimal, UTF-8,
    a header without quotes or repeated names, and only the options ``sep``,
    ``decimal``, ``encoding``) is parsed by NumPy, without importing pandas;
    a chunk NumPy cannot parse (text, a missing value, quotes, a wrong field
    count) is parsed by pandas, so the blocks and the errors are those of
    pandas either way.

    Reading is strict: every row must have as many fields as the header (a
    row with an extra field raises ``ValueError`` naming its line, where
    pandas alone would drop or shift values; a trailing delimiter on every
    row is accepted; a row with fewer fields has missing values, NaN).  The
    file's head is examined before pandas parses it: a file with NUL
    characters (binary, or UTF-16 read as UTF-8) or a line with more than
    :attr:`MAX_COLUMNS` fields is refused at once.  All columns of a chunk are
    parsed (that is how extra fields are detected), so the default chunk
    size counts every column of the file.

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
    header : {'infer', True, False}, default='infer'
        Whether the first line names the columns.  'infer': it does unless
        every field of it is a number (a headerless file of numbers: the
        first line is data, not lost as column names).  A file without a
        header has the columns ``'0', '1', ...`` (strings).  :attr:`has_header`
        tells what was decided.
    cache_dir : str or os.PathLike, optional
        A directory on a local disk where the first full pass writes the
        parsed rows (float64), which every later pass then reads
        memory-mapped instead of parsing the file again (parsing costs far
        more than an EM iteration).  The copy is deleted by
        :meth:`clear_cache`, when the source is garbage-collected and at
        exit, and rewritten if the file changes size or modification time;
        see :class:`ParquetSource` and :mod:`gmmx.sources.spill`.  Default
        None: every pass parses the file.
    **read_csv_kwargs
        Passed to ``pandas.read_csv`` (``sep``, ``decimal``, ``skiprows``...).

    Attributes
    ----------
    has_header : bool
        Whether the first line was read as column names.
    """

    #: Rows read by :meth:`list_columns` to tell the column types.
    SNIFF_ROWS = 1000
    #: Most fields a line may have (the header and the lines of the head).
    MAX_COLUMNS = 10_000
    #: Bytes of the (decompressed) head examined before pandas reads the file.
    HEAD_BYTES = 4 << 20

    n_features: int
    chunk_size: int

    def __init__(self, path: Any, columns: Optional[Any] = None,
                 weight_column: Optional[str] = None, chunk_size: Optional[int] = None, *,
                 header: Any = "infer", cache_dir: Any = None,
                 **read_csv_kwargs: Any) -> None:
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"no such CSV file: {self.path!r}")
        self.cache_dir = check_cache_dir(cache_dir)
        self._chunk_size_arg = check_chunk_size(chunk_size) if chunk_size is not None else None
        self.weight_column = weight_column
        self._counted = None  # (size, mtime) of the file version _check_field_counts passed
        self.kwargs = dict(read_csv_kwargs)
        for key in ("chunksize", "iterator", "usecols", "nrows"):
            if key in self.kwargs:
                raise ValueError(f"{key!r} is set by CSVSource; use columns= / chunk_size= instead")
        self._strict = {} if "index_col" in self.kwargs else {"index_col": False}
        self.check_head(self.path, **self.kwargs)
        plain = _plain_header(self.path, header, self.kwargs)
        if plain is not None:  # numbers and a plain header: no pandas needed to start
            self._names, options = plain
            self.kwargs.update(options)
        else:
            pd = _pandas()
            self.kwargs.update(_header_options(pd, self.path, header, self.kwargs,
                                               self._strict))
            head = _read_strict(pd, self.path, nrows=0, **self._strict, **self.kwargs)
            self._names = list(head.columns)
        self._plain_sep = None if plain is None else _plain_sep(read_csv_kwargs)
        self.has_header = self.kwargs.get("header") is not None
        self.columns = _pick_columns(self._names, columns, weight_column, lambda c: True,
                                     f"CSV file {self.path!r}")
        self.n_features = len(self.columns)
        self.n_file_columns = len(self._names)
        self.chunk_size = check_chunk_size(self._chunk_size_arg, self.n_file_columns)
        self._cache = None
        if self.cache_dir is not None:
            self._cache = SpillCache(self.cache_dir, [self.path], repr(self))

    def chunks(self) -> Iterator[Any]:
        """A fresh iterator over the blocks of one pass (from the parsed copy once
        ``cache_dir`` holds one)."""
        return self._pass(self._parsed_pass)

    def _parsed_pass(self):
        if self._plain_sep is not None:
            yield from self._plain_pass()
            return
        import pandas as pd

        # No usecols: with it pandas silently ignores extra fields.
        options = {**self._strict, **_pandas2_options(pd, self.kwargs), **self.kwargs}
        if _pandas2_misses_extra_fields(pd, self.kwargs):
            self._check_field_counts()
        reader = pd.read_csv(self.path, chunksize=self.chunk_size, **options)
        index = 0
        with reader:
            while True:
                try:
                    df = _next_strict(pd, reader, self.path)
                except UnicodeDecodeError as exc:
                    raise self._undecodable(exc) from None
                except ValueError as exc:
                    raise self._locate(exc) from None
                if df is None:
                    return
                yield self._block(df, index)
                index += 1

    def _block(self, df, index):
        """The features (and weights) of chunk ``index``, parsed."""
        try:
            X = df[self.columns].to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise self._non_numeric(df, index) from None
        if self.weight_column is None:
            return X
        return X, df[self.weight_column].to_numpy(dtype=np.float64)

    def _plain_pass(self):
        """One pass parsed by NumPy, chunk by chunk; a chunk NumPy cannot parse
        (text, missing values, quotes, wrong field counts) goes to pandas, as
        the whole file would otherwise."""
        index = {name: j for j, name in enumerate(self._names)}
        cols = [index[c] for c in self.columns]
        wcol = None if self.weight_column is None else index[self.weight_column]
        with _open_text(self.path, self.kwargs) as f:
            if self.has_header:
                for line in f:
                    if line.strip():
                        break
            for index in itertools.count():
                try:
                    lines = list(itertools.islice(f, self.chunk_size))
                except UnicodeDecodeError as exc:
                    raise self._undecodable(exc) from None
                if not lines:
                    return
                block = _plain_block(lines, self._plain_sep, self.n_file_columns)
                if block is None:
                    block = self._pandas_block(lines, index)
                    if block is None:
                        continue
                    yield block
                    continue
                X = np.ascontiguousarray(block[:, cols])
                yield X if wcol is None else (X, np.ascontiguousarray(block[:, wcol]))

    def _pandas_block(self, lines, index):
        """Chunk ``index``, the block of ``lines`` parsed by pandas with the file's options
        (None if empty)."""
        import io

        pd = _pandas()
        options = {k: v for k, v in self.kwargs.items() if k not in ("header", "names")}
        text = io.StringIO("".join(lines))
        try:
            df = _read_strict(pd, text, shown=self.path, header=None, names=self._names,
                              **self._strict, **_pandas2_options(pd, options), **options)
        except pd.errors.EmptyDataError:
            return None
        except ValueError:  # line numbers of the chunk: name the file's line
            found = _first_long_line(self.path, self.kwargs, self.n_file_columns)
            if found is None:
                raise
            raise _strict_failure(self.path, f"Expected {self.n_file_columns} fields in line "
                                             f"{found[0]}, saw {found[1]}: a row with more "
                                             "fields than its header") from None
        if df.shape[0] == 0:
            return None
        return self._block(df, index)

    def _check_field_counts(self):
        """ValueError naming the first row with extra fields (once per file version)."""
        stat = os.stat(self.path)
        version = (stat.st_size, stat.st_mtime_ns)
        if self._counted == version:
            return
        found = _first_long_line(self.path, self.kwargs, self.n_file_columns)
        if found is not None:
            raise _strict_failure(self.path, f"Expected {self.n_file_columns} fields in line "
                                             f"{found[0]}, saw {found[1]}: a row with more "
                                             "fields than its header")
        self._counted = version

    def _non_numeric(self, df, index):
        """:class:`ChunkValueError` naming the chunk, row and value that is not a number."""
        bad = [c for c in self.columns if df[c].dtype.kind not in "fiub"]
        first_row = index * self.chunk_size
        position = _first_text_row(df, bad)
        row = None if position is None else first_row + position
        where = "" if row is None else f" (first at row {row})"
        return ChunkValueError(
            f"{chunk_label(index, first_row)}CSV columns {bad} contain non-numeric "
            f"values{_example(df, bad)}{where}; select numeric columns with columns=[...] "
            "or clean the file", index, first_row if row is None else row)

    def _undecodable(self, exc):
        """:class:`ChunkValueError` naming the first line that is not text in the
        file's encoding (binary data), its row and its chunk."""
        encoding = self.kwargs.get("encoding") or "utf-8"
        line = _first_undecodable_line(self.path, self.kwargs.get("compression", "infer"),
                                       encoding)
        first = 2 if self.has_header else 1  # the line of row 0
        if line is None or line < first:
            return ValueError(f"CSV file {self.path!r} is not text in {encoding}: {exc}; "
                              "pass its encoding (encoding=...)")
        row = line - first  # (blank lines would shift this)
        index = row // self.chunk_size
        return ChunkValueError(
            f"{chunk_label(index, index * self.chunk_size)}line {line} of CSV file "
            f"{self.path!r} (row {row}) is not {encoding} text ({exc.reason}): binary data in the file; remove it, or pass "
            "the file's encoding (encoding=...)", index, row)

    def _locate(self, exc):
        """``exc``, naming the line when it is about extra fields and does not yet."""
        if "more fields than its header" not in str(exc):
            return exc
        found = _first_long_line(self.path, self.kwargs, self.n_file_columns)
        if found is None:
            return exc
        line, fields = found
        return _strict_failure(self.path, f"Expected {self.n_file_columns} fields in line "
                                          f"{line}, saw {fields}: a row with more fields than "
                                          "its header")

    @classmethod
    def list_columns(cls, path: Any, *, header: Any = "infer",
                     **read_csv_kwargs: Any) -> list[ColumnInfo]:
        """The columns of a CSV file and which are numeric.

        Reads only the header and the first :attr:`SNIFF_ROWS` rows (their
        types are pandas' guess from those rows: a column numeric there may
        still hold text further down, which is reported when it is read).

        Parameters
        ----------
        path : str or os.PathLike
        header : {'infer', True, False}, default='infer'
            As for the constructor: without a header the columns are
            ``'0', '1', ...``.
        **read_csv_kwargs
            Passed to ``pandas.read_csv`` (``sep``, ``decimal``...), as to
            the constructor.

        Returns
        -------
        list of ColumnInfo
            ``dtype`` is the pandas dtype guessed from the first rows.

        Raises
        ------
        FileNotFoundError
            If the file is missing.
        ValueError
            If the file is empty or cannot be parsed.
        ImportError
            Without pandas.
        """
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no such CSV file: {path!r}")
        for key in ("chunksize", "iterator", "nrows"):
            if key in read_csv_kwargs:
                raise ValueError(f"{key!r} is set by CSVSource.list_columns")
        cls.check_head(path, **read_csv_kwargs)
        plain = _plain_header(path, header, read_csv_kwargs)
        if plain is not None:  # plain numbers in the first rows: no pandas needed
            names, options = plain
            lines = _head_lines(path, 1 << 20)[options["header"] == 0:][:cls.SNIFF_ROWS]
            if lines and _plain_block(lines, _plain_sep(read_csv_kwargs), len(names)) \
                    is not None:
                return [ColumnInfo(c, True, "float64") for c in names]
        pd = _pandas()
        strict = {} if "index_col" in read_csv_kwargs else {"index_col": False}
        read_csv_kwargs = {**read_csv_kwargs,
                           **_header_options(pd, path, header, read_csv_kwargs, strict)}
        try:
            head = _read_strict(pd, path, nrows=cls.SNIFF_ROWS, **strict, **read_csv_kwargs)
        except pd.errors.EmptyDataError:
            raise ValueError(f"CSV file {path!r} is empty") from None
        return [ColumnInfo(c, head[c].dtype.kind in "fiub", str(head[c].dtype))
                for c in head.columns]

    @classmethod
    def check_head(cls, path: Any, **read_csv_kwargs: Any) -> None:
        """Refuse a file whose head is not delimited text of at most :attr:`MAX_COLUMNS` columns.

        Reads at most :attr:`HEAD_BYTES` (decompressed) bytes, before pandas
        parses anything: a header of a million columns, or a million numbers
        on one line, would otherwise take minutes and gigabytes to parse.

        Parameters
        ----------
        path : str or os.PathLike
        **read_csv_kwargs
            The ``pandas.read_csv`` options (``sep``, ``encoding``, ``compression``).

        Raises
        ------
        ValueError
            If the head's first two lines hold NUL characters (not a text
            file; NULs further down are reported by the pass that reads
            them, as a :class:`ChunkValueError` naming their chunk and
            row), a line with more than
            :attr:`MAX_COLUMNS` fields, or a first line longer than
            :attr:`HEAD_BYTES`.
        """
        path = os.fspath(path)
        raw = _read_head(path, read_csv_kwargs.get("compression", "infer"), cls.HEAD_BYTES)
        if not raw:
            return  # empty, or a compression only pandas opens: pandas reports it
        encoding = read_csv_kwargs.get("encoding") or "utf-8"
        try:
            text = raw.decode(encoding, errors="replace")
        except LookupError:
            return  # an unknown encoding: pandas says so
        nul = text.find("\x00")
        if 0 <= nul and text.count("\n", 0, nul) < 2:  # later NULs: a pass names their chunk
            raise ValueError(
                f"CSV file {path!r} contains NUL characters: it is not a text file in "
                f"{encoding} (binary data, or UTF-16 text: pass encoding='utf-16')"
            )
        lines = text.splitlines()
        truncated = len(raw) >= cls.HEAD_BYTES
        sep = read_csv_kwargs.get("sep", read_csv_kwargs.get("delimiter", ","))
        for i, line in enumerate(lines):
            n = _count_fields(line, sep)
            if n > cls.MAX_COLUMNS:
                raise ValueError(
                    f"line {i + 1} of CSV file {path!r} has {'at least ' if truncated and i == len(lines) - 1 else ''}"
                    f"{n} fields; gmmx reads CSV files of at most {cls.MAX_COLUMNS} columns "
                    "(CSVSource.MAX_COLUMNS)"
                )
        if truncated and len(lines) <= 1:
            raise ValueError(
                f"the first line of CSV file {path!r} is longer than {cls.HEAD_BYTES} bytes; "
                "it is not a CSV header"
            )

    @staticmethod
    def default_read_options(path: Any) -> dict[str, Any]:
        """The ``pandas.read_csv`` options a file name implies.

        ``.tsv``: tab-separated; ``.txt``: values separated by commas or
        blanks (``sep=r"[,\\s]+"``, python parser); otherwise none (commas).
        Compression suffixes are looked through.  :func:`as_source` does not
        apply them (pass them as keyword arguments); the ``gmmx`` command does.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        dict
        """
        name = os.path.basename(os.fspath(path)).lower()
        for comp in _COMPRESSIONS[1:]:
            if name.endswith(comp):
                name = name[: -len(comp)]
        if name.endswith(".tsv"):
            return {"sep": "\t"}
        if name.endswith(".txt"):
            return {"sep": r"[,\s]+", "engine": "python"}
        return {}

    @classmethod
    def sniff_read_options(cls, path: Any, sep: Optional[str] = None,
                           decimal: Optional[str] = None) -> dict[str, Any]:
        """The delimiter and decimal mark of a delimited text file, from its head.

        Looks at the first :attr:`HEAD_BYTES` (decompressed) bytes: the
        delimiter is the one of ``, ; <tab> |`` that splits every line of the
        head into the same number (> 1) of fields; the decimal mark is ``,``
        when the delimiter is not a comma and the fields are numbers written
        with a decimal comma (``1,5``), else ``.``.  ``.txt`` files keep
        :meth:`default_read_options`.  What is given (``sep``, ``decimal``)
        is kept.

        Parameters
        ----------
        path : str or os.PathLike
        sep, decimal : str, optional
            Given by the user; not guessed.

        Returns
        -------
        dict
            ``pandas.read_csv`` options (``sep``, ``decimal``).

        Raises
        ------
        ValueError
            If the head is ambiguous: several delimiters split every line
            alike, or a comma-separated file has quoted numbers with decimal
            commas.  The message names the options that settle it.
        """
        options = cls.default_read_options(path)
        if sep is not None:
            options = {"sep": sep} if sep != "\\s+" else {"sep": r"\s+", "engine": "python"}
        if decimal is not None:
            options["decimal"] = decimal
        if sep is not None or "sep" in options and (decimal is not None
                                                     or options["sep"] != ","):
            # a given (or name-implied) delimiter is kept, never re-guessed
            if (decimal is None and options["sep"] != ","
                    and _sniff_decimal(_head_lines(path), options["sep"]) == ","):
                options["decimal"] = ","
            return options
        lines = _head_lines(path)
        if not lines:
            return options
        counts = {d: {_count_fields(line, d) for line in lines} for d in (",", ";", "\t", "|")}
        consistent = [d for d, c in counts.items() if len(c) == 1 and min(c) > 1]
        if len(consistent) > 1:
            shown = ", ".join(repr(d) for d in consistent)
            raise ValueError(
                f"cannot tell the delimiter of {os.fspath(path)!r}: {shown} each split every "
                "line alike; pass it with --sep (e.g. --sep ';') and the decimal mark with "
                "--decimal"
            )
        chosen = consistent[0] if consistent else ","
        if chosen != ",":
            options["sep"] = chosen
        options.setdefault("decimal", _sniff_decimal(lines, chosen))
        if options["decimal"] == ",":
            if chosen == ",":
                raise ValueError(
                    f"{os.fspath(path)!r} separates fields with commas and writes numbers "
                    "with decimal commas; pass --sep and --decimal to read it")
        else:
            options.pop("decimal")
        return options

    def __repr__(self):
        return f"CSVSource({self.path!r}, columns={self.columns}, chunk_size={self.chunk_size})"


#: ``pandas.read_csv`` options the NumPy reader of plain files honours.
_PLAIN_OPTIONS = frozenset({"sep", "delimiter", "decimal", "encoding"})


def _plain_sep(kwargs):
    """The one-character delimiter when NumPy can read the file, else None.

    Files of plain numbers (a point decimal, one delimiter character other
    than a blank or a quote, UTF-8) are read without pandas: importing it
    costs far more than parsing a small file.
    """
    if set(kwargs) - _PLAIN_OPTIONS:
        return None
    sep = kwargs.get("sep", kwargs.get("delimiter", ","))
    if not isinstance(sep, str) or len(sep) != 1 or sep in ' "\'\r\n#':
        return None
    if kwargs.get("decimal", ".") != "." or str(kwargs.get("encoding") or "utf-8").lower() \
            not in ("utf-8", "utf8"):
        return None
    return sep


def _plain_header(path, header, kwargs):
    """``(names, read_csv options)`` of a plain file read without pandas, or None.

    None (pandas decides) unless :func:`_plain_sep` accepts the options and
    the first line is plain: no quotes, distinct non-empty names (pandas
    would rename them) or all numbers (no header; see :func:`_header_options`).
    """
    if header is None:
        header = False
    if header not in ("infer", True, False):
        raise ValueError(f"header must be 'infer', True or False, got {header!r}")
    sep = _plain_sep(kwargs)
    if sep is None:
        return None
    lines = _head_lines(path, 1 << 16)
    if not lines or '"' in lines[0] or lines[0].startswith("\ufeff"):
        return None
    fields = lines[0].split(sep)
    numbers = _fields_are_numbers(fields)
    if header is False or (header == "infer" and numbers):
        names = [str(j) for j in range(len(fields))]
        return names, {"header": None, "names": names}
    if len(set(fields)) != len(fields) or not all(f.strip() for f in fields):
        return None
    return fields, {"header": 0}


def _fields_are_numbers(fields):
    """Every field a number or empty, at least one a number."""
    seen = False
    for field in fields:
        text = field.strip()
        if not text:
            continue
        try:
            float(text)
        except ValueError:
            return False
        seen = True
    return seen


def _plain_block(lines, sep, n_fields):
    """``lines`` parsed by NumPy as an ``(n, n_fields)`` float64 block, or None.

    None when any field is not a plain number (text, a missing value, a
    quote) or a line has another number of fields: pandas then parses them.
    """
    try:
        block = np.loadtxt(lines, delimiter=sep, comments=None, dtype=np.float64, ndmin=2)
    except ValueError:
        return None
    if block.shape[0] == 0:
        return np.empty((0, n_fields))
    return block if block.shape[1] == n_fields else None


class _open_text:
    """Context manager: the (decompressed) text stream of a CSV file."""

    def __init__(self, path, kwargs):
        self.binary = _open_binary(path, kwargs.get("compression", "infer"))

    def __enter__(self):
        import io

        raw = self.binary.__enter__()
        if raw is None:
            raise OSError(f"cannot open {self.binary.path!r}")
        return io.TextIOWrapper(raw, encoding="utf-8", newline=None)

    def __exit__(self, *exc):
        return self.binary.__exit__(*exc)


def _header_options(pd, path, header, kwargs, strict):
    """The ``pandas.read_csv`` options of ``header`` ('infer', True or False).

    Without a header the columns are named ``'0', '1', ...``; 'infer' finds
    no header when every field of the first line is a number (or missing,
    with at least one number).
    """
    if header is None:  # pandas' spelling of "no header"
        header = False
    if header not in ("infer", True, False):
        raise ValueError(f"header must be 'infer', True or False, got {header!r}")
    if "header" in kwargs or "names" in kwargs:
        if header != "infer":
            raise ValueError("pass header= alone, not with pandas' header/names options")
        return {}  # the caller's pandas options decide
    if header is True:
        return {"header": 0}
    try:
        first = _read_strict(pd, path, nrows=1, header=None, dtype=str, **strict, **kwargs)
    except pd.errors.EmptyDataError:
        return {"header": 0} if header == "infer" else {"header": None}
    if header == "infer" and not _all_numbers(first, kwargs.get("decimal", ".")):
        return {"header": 0}
    return {"header": None, "names": [str(j) for j in range(first.shape[1])]}


def _all_numbers(df, decimal):
    """Whether the first row of ``df`` (strings) holds only numbers and missing values."""
    if df.shape[0] == 0:
        return False
    seen = False
    for value in df.iloc[0]:
        if not isinstance(value, str):  # missing
            continue
        text = value.strip()
        if decimal != ".":
            text = text.replace(decimal, ".")
        try:
            float(text)
        except ValueError:
            return False
        seen = True
    return seen


_DECIMAL_COMMA = re.compile(r'^\s*"?[-+]?\d+,\d+(?:[eE][-+]?\d+)?"?\s*$')


def _head_lines(path, n_bytes=1 << 16):
    """The complete lines of a text file's first ``n_bytes`` (decompressed)."""
    raw = _read_head(os.fspath(path), "infer", n_bytes)
    if not raw:
        return []
    lines = raw.decode("utf-8", errors="replace").splitlines()
    if len(raw) >= n_bytes and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut
    return [line for line in lines if line.strip()]


def _sniff_decimal(lines, sep):
    """``','`` if the data fields (after the header) use decimal commas, else ``'.'``."""
    if sep == ",":
        # Quoted fields like "1,5" are the only way a comma file holds decimal commas.
        fields = [f for line in lines[1:] for f in re.findall(r'"[^"]*"', line)]
    else:
        fields = [f for line in lines[1:] for f in (re.split(sep, line) if len(sep) > 1
                                                      else line.split(sep))]
    return "," if any(_DECIMAL_COMMA.match(f) for f in fields) else "."


def _count_fields(line, sep):
    """Fields of one line: an upper bound (quoted separators count too)."""
    if sep is None:  # sniffed by pandas: count commas
        sep = ","
    if len(sep) == 1:
        return line.count(sep) + 1
    try:
        return len(re.split(sep, line.strip()))
    except re.error:
        return line.count(sep) + 1


_DECOMPRESSORS = ((".gz", "gzip"), (".bz2", "bz2"), (".xz", "xz"), (".zst", "zstd"),
                  (".zip", "zip"))


class _open_binary:
    """Context manager: the decompressed binary stream of ``path``, or None if not openable here."""

    def __init__(self, path, compression):
        self.path, self.compression, self.stack = os.fspath(path), compression, None

    def __enter__(self):
        import contextlib

        self.stack = contextlib.ExitStack()
        try:
            return self._open()
        except _open_errors():
            return None  # pandas reports what is wrong with the file

    def __exit__(self, *exc):
        self.stack.close()
        return False

    def _open(self):
        import bz2
        import gzip
        import lzma
        import zipfile

        compression = self.compression
        if isinstance(compression, dict):
            compression = compression.get("method")
        if compression == "infer":
            name = self.path.lower()
            compression = next((c for suffix, c in _DECOMPRESSORS if name.endswith(suffix)), None)
        enter = self.stack.enter_context
        if compression is None:
            return enter(open(self.path, "rb"))
        if compression in ("gzip", "bz2", "xz"):
            opener = {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}[compression]
            return enter(opener(self.path, "rb"))
        if compression == "zip":
            zf = enter(zipfile.ZipFile(self.path))
            names = zf.namelist()
            return enter(zf.open(names[0])) if len(names) == 1 else None
        if compression == "zstd":
            import zstandard

            raw = enter(open(self.path, "rb"))
            return enter(zstandard.ZstdDecompressor().stream_reader(raw))
        return None


def _open_errors():
    import lzma
    import zipfile
    import zlib

    return (OSError, EOFError, ValueError, ImportError, zlib.error, lzma.LZMAError,
            zipfile.BadZipFile)


def _read_head(path, compression, n):
    """At most ``n`` decompressed bytes of the file's start (b"" if not openable here)."""
    with _open_binary(path, compression) as f:
        if f is None:
            return b""
        try:
            return f.read(n)
        except _open_errors():
            return b""


def _strict_failure(path, exc):
    text = " ".join(str(exc).split()).replace("Error tokenizing data. C error: ", "")
    return ValueError(
        f"CSV file {path!r} cannot be parsed: {text[:300]}; every row must have as many "
        "fields as the header"
    )


def _read_strict(pd, path, shown=None, **kwargs):
    """``pd.read_csv`` where a row with more fields than the header is an error.

    ``shown``: the file named in messages when ``path`` is a buffer of its lines.
    """
    shown = path if shown is None else shown
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        try:
            df = pd.read_csv(path, **kwargs)
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise _strict_failure(shown, exc) from None
    _check_caught(pd, shown, caught)
    return df


def _next_strict(pd, reader, path):
    """The next chunk of ``reader`` (None at the end), strict about field counts."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        try:
            df = next(reader)
        except StopIteration:
            df = None
        except pd.errors.ParserError as exc:
            raise _strict_failure(path, exc) from None
    _check_caught(pd, path, caught)
    return df


def _check_caught(pd, path, caught):
    for w in caught:
        if issubclass(w.category, pd.errors.ParserWarning) and "does not match" in str(w.message):
            raise ValueError(
                f"CSV file {path!r} has rows with more fields than its header; every row "
                "must have as many fields as the header"
            )
    for w in caught:  # anything else: pass it on
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _pandas_before_3(pd):
    return int(pd.__version__.split(".")[0]) < 3


def _pandas2_options(pd, kwargs):
    """Options that make the C parser of pandas < 3 parse floats exactly (pandas 3 does).

    Its default conversion is off by an ulp for about a third of 17-digit
    values; ``float_precision="round_trip"`` is exact.
    """
    if (_pandas_before_3(pd) and kwargs.get("engine", "c") == "c"
            and "float_precision" not in kwargs):
        return {"float_precision": "round_trip"}
    return {}


def _pandas2_misses_extra_fields(pd, kwargs):
    """True when pandas could drop extra fields silently (see :meth:`CSVSource.chunks`).

    Reading in chunks, the C parser of pandas < 3 does not check the field
    count of the first row of each later chunk.
    """
    sep = kwargs.get("sep", kwargs.get("delimiter", ","))
    return (_pandas_before_3(pd) and kwargs.get("engine", "c") == "c"
            and isinstance(sep, str) and len(sep) == 1)


def _first_long_line(path, kwargs, n_fields):
    """``(line, fields)`` of the first line with more than ``n_fields`` fields, or None.

    One trailing separator is not a field (pandas keeps such rows whole);
    lines with quotes are split by :mod:`csv`, the others by counting.
    """
    import csv

    sep = kwargs.get("sep", kwargs.get("delimiter", ","))
    if not isinstance(sep, str) or len(sep) != 1:
        return None
    quote = kwargs.get("quotechar", '"')
    encoding = kwargs.get("encoding") or "utf-8"
    with _open_binary(path, kwargs.get("compression", "infer")) as f:
        if f is None:
            return None
        number, rest = 0, b""
        while True:
            block = f.read(1 << 20)
            lines = (rest + block).split(b"\n")
            rest = lines.pop() if block else b""
            for raw in lines:
                number += 1
                line = raw.decode(encoding, errors="replace").rstrip("\r")
                if line.count(sep) < n_fields:  # the common case, fast
                    continue
                fields = (len(next(csv.reader([line], delimiter=sep, quotechar=quote)))
                          if quote in line else line.count(sep) + 1)
                fields -= line.endswith(sep)
                if fields > n_fields:
                    return number, fields
            if not block:
                return None


def _pandas():
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - optional dependency
        raise ImportError("reading CSV needs pandas: pip install 'gmmx-em[pandas]'") from None
    return pd


def _first_text_row(df, bad):
    """Position in ``df`` of the first row whose ``bad`` columns hold a value that is
    not a number, or None."""
    import pandas as pd

    rows = [int(np.flatnonzero(mask)[0]) for c in bad
            if (mask := (df[c].notna() & pd.to_numeric(df[c], errors="coerce").isna())
                .to_numpy()).any()]
    return min(rows) if rows else None


def _first_undecodable_line(path, compression, encoding):
    """1-based number of the first line of the file that does not decode, or None."""
    import codecs

    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError:
        return None
    with _open_binary(path, compression) as f:
        if f is None:
            return None
        for number, line in enumerate(f, 1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError:
                return number
    return None


def _example(df, bad):
    """`` (e.g. 'oops' in column 'a')``: the first value of ``bad`` columns that
    is not a number, or an empty string."""
    import pandas as pd

    for c in bad:
        col = df[c]
        text = col[col.notna() & pd.to_numeric(col, errors="coerce").isna()]
        if len(text):
            return f" (e.g. {text.iloc[0]!r} in column {c!r})"
    return ""


def _from_path(path, columns=None, chunk_size=None, weight_column=None, sample_weight=None,
               **read_csv_kwargs):
    """:func:`gmmx.sources.as_source` for a delimited text file (``header=`` as :class:`CSVSource`)."""
    if sample_weight is not None:
        raise ValueError("pass weight_column=... for Parquet/CSV sources, not sample_weight")
    return CSVSource(path, columns, weight_column, chunk_size, **read_csv_kwargs)


register_format("csv", _CSV_SUFFIXES, _from_path, read_options=True,
                list_columns=CSVSource.list_columns, cache_dir=True)
