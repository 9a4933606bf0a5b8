"""The file-format registry: which source :func:`gmmx.sources.as_source`
builds for a path.

A format is a name, the file-name suffixes it claims and a factory that
builds its :class:`~gmmx.sources.ChunkSource`.  Each format module of
:mod:`gmmx.sources` registers itself when imported::

    register_format("parquet", (".parquet", ".pq", ".parq"), _from_path,
                    accepts_directory=True)

so adding a format is one new module that calls :func:`register_format`,
plus its import line in ``gmmx/sources/__init__.py``.  Formats can also be
registered at run time (by user code or a plug-in).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Optional

__all__ = ["FileFormat", "find_format", "formats", "get_format", "register_format",
           "unregister_format"]


@dataclass(frozen=True)
class FileFormat:
    """A registered file format.

    Attributes
    ----------
    name : str
        Short name (``"npy"``, ``"parquet"``, ``"csv"``).
    suffixes : tuple of str
        File-name endings it claims, lower-case with the leading dot
        (``".csv.gz"`` is one suffix).
    factory : callable
        ``factory(path, columns=None, chunk_size=None, weight_column=None,
        sample_weight=None, **read_options)`` returns a
        :class:`~gmmx.sources.ChunkSource`; it raises ``ValueError`` for the
        arguments its format does not take.
    accepts_directory : bool
        True if a directory can be a source of this format.
    read_options : bool
        True if the factory takes reader keyword arguments (the ``**kwargs``
        of :func:`~gmmx.sources.as_source`); otherwise they are rejected
        before the factory is called.
    list_columns : callable or None
        ``list_columns(path, **read_options)`` returns the file's columns as
        a list of :class:`~gmmx.sources.ColumnInfo` without reading its rows
        (None if the format cannot; see :func:`~gmmx.sources.list_columns`).
    cache_dir : bool
        True if the factory takes ``cache_dir=`` (a directory for a decoded
        copy of the rows, :mod:`gmmx.sources.spill`); otherwise
        :func:`~gmmx.sources.as_source` refuses one for this format.
    """

    name: str
    suffixes: tuple
    factory: Callable
    accepts_directory: bool = False
    read_options: bool = False
    list_columns: Optional[Callable] = None
    cache_dir: bool = False


# name -> FileFormat, in registration order (the first directory format is
# the default for directories).
_FORMATS: dict = {}


def _normalise_suffix(suffix):
    if not isinstance(suffix, str) or not suffix.strip("."):
        raise ValueError(
            f"a format suffix must be a non-empty string such as '.csv', got {suffix!r}"
        )
    suffix = suffix.lower()
    return suffix if suffix.startswith(".") else "." + suffix


def register_format(name: str, suffixes: Any, factory: Callable[..., Any], *,
                    accepts_directory: bool = False, read_options: bool = False,
                    list_columns: Optional[Callable[..., Any]] = None, cache_dir: bool = False,
                    replace: bool = False) -> FileFormat:
    """Register a file format for :func:`~gmmx.sources.as_source`.

    Parameters
    ----------
    name : str
        The format's name.
    suffixes : str or sequence of str
        File-name endings it claims (case-insensitive; the leading dot is
        optional).  Where several registered suffixes match a name, the
        longest wins (``".csv.gz"`` before ``".gz"``).
    factory : callable
        ``factory(path, columns=None, chunk_size=None, weight_column=None,
        sample_weight=None, **read_options)`` -> ChunkSource.  It is always
        called with keyword arguments after the path.
    accepts_directory : bool, default=False
        Directories are sources of this format.  A directory goes to the
        directory format whose suffix its name has, else to the first
        directory format registered (Parquet for the built-in formats).
    read_options : bool, default=False
        The factory takes reader keyword arguments (as ``pandas.read_csv``
        options for CSV).
    list_columns : callable, optional
        ``list_columns(path, **read_options)`` -> list of
        :class:`~gmmx.sources.ColumnInfo`, the file's columns without
        reading its rows (used by :func:`~gmmx.sources.list_columns` and the
        ``gmmx`` command).
    cache_dir : bool, default=False
        The factory takes ``cache_dir=`` (passed only when the caller gives
        one): the format decodes its rows on every pass and can keep a
        decoded copy instead (:class:`~gmmx.sources.spill.SpillCache`).
    replace : bool, default=False
        Replace a format registered under the same name (otherwise that is
        an error).

    Returns
    -------
    FileFormat

    Raises
    ------
    ValueError
        If the name is taken (and not ``replace``), a suffix is claimed by
        another format, or the arguments are malformed.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a format name must be a non-empty string, got {name!r}")
    if not callable(factory):
        raise ValueError(f"the factory of format {name!r} must be callable, got {factory!r}")
    if list_columns is not None and not callable(list_columns):
        raise ValueError(f"list_columns of format {name!r} must be callable, got {list_columns!r}")
    if isinstance(suffixes, str):
        suffixes = (suffixes,)
    suffixes = tuple(dict.fromkeys(_normalise_suffix(s) for s in suffixes))
    if name in _FORMATS and not replace:
        raise ValueError(f"a format named {name!r} is already registered; pass replace=True")
    for other in _FORMATS.values():
        if other.name == name:
            continue
        taken = sorted(set(suffixes) & set(other.suffixes))
        if taken:
            raise ValueError(
                f"suffixes {taken} are already registered by the {other.name!r} format"
            )
    fmt = FileFormat(name, suffixes, factory, bool(accepts_directory), bool(read_options),
                     list_columns, bool(cache_dir))
    _FORMATS[name] = fmt
    return fmt


def unregister_format(name: str) -> FileFormat:
    """Remove the format ``name``; returns its :class:`FileFormat`.

    Raises
    ------
    KeyError
        If no format has that name.
    """
    try:
        return _FORMATS.pop(name)
    except KeyError:
        raise KeyError(f"no format named {name!r} is registered") from None


def get_format(name: str) -> FileFormat:
    """The :class:`FileFormat` registered as ``name``.

    Raises
    ------
    KeyError
        If no format has that name.
    """
    try:
        return _FORMATS[name]
    except KeyError:
        raise KeyError(f"no format named {name!r} is registered") from None


def formats() -> tuple[FileFormat, ...]:
    """The registered formats, in registration order.

    Returns
    -------
    tuple of FileFormat
    """
    return tuple(_FORMATS.values())


def _by_suffix(name, candidates):
    best, best_len = None, 0
    for fmt in candidates:
        for suffix in fmt.suffixes:
            if len(suffix) > best_len and name.endswith(suffix):
                best, best_len = fmt, len(suffix)
    return best


def find_format(path: Any) -> Optional[FileFormat]:
    """The format of ``path``, told from its name (and whether it is a directory).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    FileFormat or None
        None when no registered suffix matches.  The file itself is not
        opened, so a missing file still gets the format of its name.
    """
    path = os.fspath(path)
    name = os.path.basename(os.path.normpath(path)).lower()
    if os.path.isdir(path):
        candidates = [f for f in _FORMATS.values() if f.accepts_directory]
        return _by_suffix(name, candidates) or (candidates[0] if candidates else None)
    return _by_suffix(name, _FORMATS.values())
