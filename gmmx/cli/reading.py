"""Reading the data of ``gmmx fit``: the file, its columns, missing values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import os

import numpy as np

from ._common import CLIError, _names

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import NDArray


def _split_columns(text):
    if text is None:
        return None
    cols = [c.strip() for c in text.split(",")]
    if not all(cols):
        raise CLIError(f"--columns has an empty name: {text!r}")
    return cols


def _unknown(col, available):
    return CLIError(f"unknown column {col[:60]!r}; the file has: {_names(available)}")


class Dataset:
    """What ``gmmx fit`` reads: the file, its format and the resolved columns.

    The file is read through :mod:`gmmx.sources`: the format is the one the
    sources' format registry tells from the name, the columns and their
    types come from :func:`gmmx.sources.list_columns`, and the in-memory and
    the streamed fit read the same chunk source.

    Parameters
    ----------
    path : str
    columns : str or None
        As given with ``--columns`` (comma-separated).
    sep, decimal : str or None
        ``--sep`` / ``--decimal``; detected from the file's head when None.
    header : {'infer', True, False}
        ``--header`` / ``--no-header`` of a delimited text file.
    """

    def __init__(self, path: Any, columns: Any, sep: str | None = None, decimal: str | None = None,
                 header: Any = "infer") -> None:
        from ..sources import CSVSource, find_format

        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise CLIError(f"no such file or directory: {self.path}")
        fmt = find_format(self.path)
        if fmt is None:
            raise CLIError(
                f"cannot tell the format of {self.path!r} from its name: use a .csv, .tsv "
                "or .txt file (optionally .gz/.bz2/.xz/.zst/.zip), .parquet/.pq (or a "
                "directory of them) or .npy"
            )
        self.kind = fmt.name
        # .tsv: tab-separated, .txt: commas or blanks
        self.options = {}
        if self.kind == "csv":
            try:
                self.options = CSVSource.sniff_read_options(self.path, sep, decimal)
            except ValueError as exc:
                raise CLIError(str(exc)) from None
            if header != "infer":  # CSVSource infers it by default
                self.options["header"] = header
        elif sep is not None or decimal is not None or header != "infer":
            raise CLIError("--sep, --decimal, --header and --no-header apply to delimited "
                           "text files only")
        self.skipped: list[str] = []
        self.columns, self.indices = self._resolve(_split_columns(columns))
        self.headerless_inferred = False
        if self.kind == "csv" and header == "infer":
            # the source decides; a headerless file has the columns '0', '1', ...
            self.headerless_inferred = not self.source().has_header

    # Column names of the file and which of them are numeric.
    def _schema(self):
        from ..sources import list_columns

        cols = list_columns(self.path, **self.options)
        return [str(c.name) for c in cols], [c.numeric for c in cols]

    def _resolve(self, wanted):
        names, numeric = self._schema()
        self.n_file_columns = len(names)
        if wanted is None:
            keep = [j for j, ok in enumerate(numeric) if ok]
            self.skipped = [names[j] for j, ok in enumerate(numeric) if not ok]
            if not keep:
                raise CLIError(f"{self.path}: no numeric columns (columns: {_names(names)})")
            return [names[j] for j in keep], keep
        indices = []
        for col in wanted:
            if col in names:
                j = names.index(col)
            elif self.kind == "npy" and col.isdigit() and int(col) < len(names):
                j = int(col)
            else:
                raise _unknown(col, names)
            if not numeric[j]:
                raise CLIError(f"column {col[:60]!r} is not numeric; pick numeric columns "
                               "with --columns")
            indices.append(j)
        return [names[j] for j in indices], indices

    def load(self) -> NDArray[Any]:
        """Read the selected columns into memory as float64 (NaN kept).

        Returns
        -------
        ndarray of shape (n, d)
        """
        X, _ = self.source().read_all(dtype=np.float64)
        return X

    def source(self, chunk_size: int | None = None, cache_dir: Any = None) -> Any:
        """A chunk source over the selected columns.

        Parameters
        ----------
        chunk_size : int, optional
            Rows per chunk (default: about 8 MiB of rows).
        cache_dir : str, optional
            Directory for a decoded copy of a Parquet or CSV file
            (:mod:`gmmx.sources.spill`).

        Returns
        -------
        gmmx.sources.ChunkSource
        """
        from ..sources import NpySource, as_source

        if self.kind == "npy":
            if cache_dir is not None:
                raise CLIError("--cache-dir applies to Parquet and CSV files; a .npy file is "
                               "read memory-mapped already")
            return NpySource(self.path, chunk_size=chunk_size, columns=self.indices)
        return as_source(self.path, columns=self.columns, chunk_size=chunk_size,
                         cache_dir=cache_dir, **self.options)


def _check_cache_dir_option(path, stream):
    """CLIError unless ``--cache-dir`` names a writable directory, with ``--stream``."""
    if not stream:
        raise CLIError("--cache-dir needs --stream (in memory, the file is read once)")
    if not os.path.isdir(path):
        raise CLIError(f"--cache-dir {path!r} is not a directory; create it first "
                       "(mkdir), or drop --cache-dir to decode the file on every pass")
    if not os.access(path, os.W_OK | os.X_OK):
        raise CLIError(f"--cache-dir {path!r} is not writable; pick a directory on a local "
                       "disk you can write to")


def _drop_note(n_bad, what="rows with missing or non-finite values"):
    return f"dropped {n_bad:,} {what}"


def _finite_rows(X, notes):
    """``X`` without the rows holding a missing or non-finite value (noted)."""
    ok = np.isfinite(X).all(axis=1)
    n_bad = int(X.shape[0] - ok.sum())
    if n_bad:
        notes.append(_drop_note(n_bad))
        X = X[ok]
    if X.shape[0] == 0:
        raise CLIError("no rows with finite values left")
    return X


def _finite_prices(p, notes):
    """The finite prices of ``p`` (missing ones noted, and the returns that span them)."""
    ok = np.isfinite(p)
    if not ok.all():
        notes.append(_drop_note(int((~ok).sum()), "missing or non-finite prices"))
        inner = ok[np.argmax(ok):len(ok) - np.argmax(ok[::-1])] if ok.any() else ok[:0]
        gaps = int(np.count_nonzero(np.diff(inner.astype(np.int8)) == -1))
        if gaps:
            notes.append(f"{gaps} return(s) span a gap of missing prices: each is the log "
                         "return from the last price before the gap to the first after it")
    return p[ok]


def _reservoir(src, capacity, seed):
    from ..drivers.sampling import Reservoir

    res = Reservoir(capacity, seed=seed)
    for item in src.chunks():
        X = np.asarray(item[0] if isinstance(item, tuple) else item, dtype=np.float64)
        res.add(X.reshape(X.shape[0], -1))
    X, _ = res.result()
    return X

