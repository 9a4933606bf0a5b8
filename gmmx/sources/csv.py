"""Delimited text files, read in chunks with pandas."""

from __future__ import annotations

import os

import numpy as np

from .base import ChunkSource, _pick_columns, check_chunk_size
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

    def __init__(self, path, columns=None, weight_column=None, chunk_size=None,
                 **read_csv_kwargs):
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - optional dependency
            raise ImportError("reading CSV needs pandas: pip install 'gmmx-em[pandas]'") from None
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

    def __repr__(self):
        return f"CSVSource({self.path!r}, columns={self.columns}, chunk_size={self.chunk_size})"


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


register_format("csv", _CSV_SUFFIXES, _from_path, read_options=True)
