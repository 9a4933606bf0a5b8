"""Delimited text files, read in chunks with pandas."""

from __future__ import annotations

import os

import numpy as np

from .base import ChunkSource, ColumnInfo, _pick_columns, check_chunk_size
from .registry import register_format

#: Compressions pandas reads transparently.
_COMPRESSIONS = ("", ".gz", ".bz2", ".xz", ".zst", ".zip")
#: Every text suffix, plain or compressed (``.csv``, ``.tsv.gz``, ``.txt.zst`` ...).
_CSV_SUFFIXES = tuple(text + comp for text in (".csv", ".tsv", ".txt") for comp in _COMPRESSIONS)


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

    #: Rows read by :meth:`list_columns` to tell the column types.
    SNIFF_ROWS = 1000

    def __init__(self, path, columns=None, weight_column=None, chunk_size=None,
                 **read_csv_kwargs):
        pd = _pandas()
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"no such CSV file: {self.path!r}")
        self._chunk_size_arg = check_chunk_size(chunk_size) if chunk_size is not None else None
        self.weight_column = weight_column
        self.kwargs = dict(read_csv_kwargs)
        for key in ("chunksize", "iterator", "usecols", "nrows"):
            if key in self.kwargs:
                raise ValueError(f"{key!r} is set by CSVSource; use columns= / chunk_size= instead")
        head = pd.read_csv(self.path, nrows=0, **self.kwargs)
        self.columns = _pick_columns(head.columns, columns, weight_column, lambda c: True,
                                     f"CSV file {self.path!r}")
        self.n_features = len(self.columns)
        self.chunk_size = check_chunk_size(self._chunk_size_arg, self.n_features)

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
                        f"CSV columns {bad} contain non-numeric values{_example(df, bad)}; "
                        "select numeric columns with columns=[...] or clean the file"
                    ) from None
                if self.weight_column is None:
                    yield X
                else:
                    yield X, df[self.weight_column].to_numpy(dtype=np.float64)

    @classmethod
    def list_columns(cls, path, **read_csv_kwargs):
        """The columns of a CSV file and which are numeric.

        Reads only the header and the first :attr:`SNIFF_ROWS` rows (their
        types are pandas' guess from those rows: a column numeric there may
        still hold text further down, which is reported when it is read).

        Parameters
        ----------
        path : str or os.PathLike
        **read_csv_kwargs
            Passed to ``pandas.read_csv`` (``sep``, ``header``...), as to
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
        pd = _pandas()
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no such CSV file: {path!r}")
        for key in ("chunksize", "iterator", "nrows"):
            if key in read_csv_kwargs:
                raise ValueError(f"{key!r} is set by CSVSource.list_columns")
        try:
            head = pd.read_csv(path, nrows=cls.SNIFF_ROWS, **read_csv_kwargs)
        except pd.errors.EmptyDataError:
            raise ValueError(f"CSV file {path!r} is empty") from None
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise ValueError(f"CSV file {path!r} cannot be parsed: {exc}") from None
        return [ColumnInfo(c, head[c].dtype.kind in "fiub", str(head[c].dtype))
                for c in head.columns]

    @staticmethod
    def default_read_options(path):
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

    def __repr__(self):
        return f"CSVSource({self.path!r}, columns={self.columns}, chunk_size={self.chunk_size})"


def _pandas():
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - optional dependency
        raise ImportError("reading CSV needs pandas: pip install 'gmmx-em[pandas]'") from None
    return pd


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
    """:func:`gmmx.sources.as_source` for a delimited text file."""
    if sample_weight is not None:
        raise ValueError("pass weight_column=... for Parquet/CSV sources, not sample_weight")
    return CSVSource(path, columns, weight_column, chunk_size, **read_csv_kwargs)


register_format("csv", _CSV_SUFFIXES, _from_path, read_options=True,
                list_columns=CSVSource.list_columns)
