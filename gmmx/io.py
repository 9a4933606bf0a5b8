"""Save and load models in a safe format: a ``.npz`` of plain numeric arrays
plus one JSON metadata string, read with ``allow_pickle=False``.

Loading never unpickles or executes anything and never trusts a size it
has not checked: the zip directory is bounded, the metadata is capped in
size and nesting before it is parsed as JSON, and only the members the model
asks for are read, each after its ``.npy`` header has been checked (numeric
dtype, the shape the metadata implies, a size inside the file; members are
stored, never decompressed).  The model class then checks the values
(weights on the simplex, positive-definite and mutually consistent
precisions / covariances, finite numbers, non-negative counts).  A
truncated, corrupted or tampered file raises :class:`ValueError` naming the
member at fault.

File layout (``FORMAT_VERSION`` 1)
    ``__gmmx_metadata__``: 0-d unicode array holding JSON with ``format``,
    ``format_version``, ``gmmx_version``, ``class``, ``params`` (JSON-able
    constructor parameters), ``skipped_params`` (names of parameters that
    could not be stored, e.g. a callback), ``fitted`` (scalars) and
    ``online`` (whether online-EM state is present);
    ``fit_*`` arrays: the fitted attributes; ``param_*`` arrays:
    ``weights_init`` / ``means_init`` / ``precisions_init``; ``online_*``
    arrays: the running statistics of :class:`gmmx.core.online.OnlineEM`.

This module is a leaf: it knows the archive format, never an estimator.
Estimator classes register themselves (:func:`register_model_class`) with a
function that rebuilds a model from the metadata and arrays; they write
themselves through :func:`write_archive`.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, TypeVar, Union, overload

import hashlib
import importlib
import json
import math
import numbers
import os
import re
import secrets
import socket
import struct
import time
import zipfile
from collections import Counter
from collections.abc import Mapping

import numpy as np

from ._version import __version__

FORMAT = "gmmx-model"
FORMAT_VERSION = 1
_META_KEY = "__gmmx_metadata__"

__all__ = [
    "FORMAT_VERSION",
    "ModelArchive",
    "check_array",
    "invalid",
    "json_value",
    "load",
    "read_archive",
    "register_model_class",
    "register_model_module",
    "save",
    "write_archive",
]

_MODEL_CLASSES: dict = {}
_MODEL_MODULES: dict = {}


def register_model_module(name: str, module: str) -> None:
    """Name the module whose import registers model class ``name``.

    ``gmmx/__init__.py`` wires the estimators this way, so that :func:`load`
    can rebuild a model before its package was imported, without this
    module importing any estimator itself.
    """
    _MODEL_MODULES[name] = module


def register_model_class(name: str, from_archive: Callable[..., Any]) -> None:
    """Make ``load`` rebuild models whose metadata names class ``name``.

    Parameters
    ----------
    name : str
        The ``class`` entry written in the metadata.
    from_archive : callable
        ``from_archive(meta, arrays, path) -> model``; raises ``ValueError``
        (see :func:`invalid`) for malformed content.
    """
    _MODEL_CLASSES[name] = from_archive


def json_value(value: Any) -> Any:
    """``value`` as a JSON-able object, or raise TypeError."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not np.isfinite(value):
            raise TypeError("non-finite float")
        return value
    raise TypeError(type(value).__name__)


def save(model: Any, path: Union[str, "os.PathLike[str]"]) -> None:
    """Save ``model`` to ``path`` (written atomically); same as ``model.save(path)``.

    Parameters
    ----------
    model : GaussianMixture (or another registered model class)
    path : str or os.PathLike
        Written as given (no suffix is added); ``.npz`` is conventional.

    Raises
    ------
    TypeError
        If ``model`` is not a gmmx model (it has no ``save`` method).
    """
    method = getattr(model, "save", None)
    if not callable(method):
        raise TypeError(f"gmmx.io.save saves gmmx models (GaussianMixture, GaussianHMM, ...), "
                        f"got {type(model).__name__}")
    method(path)


def write_archive(path: Any, class_name: str, meta: dict[str, Any],
                  arrays: Mapping[str, Any]) -> None:
    """Write ``arrays`` plus JSON metadata to ``path`` atomically.

    The archive is written to a temporary file beside ``path`` (named
    ``.gmmx-<target>-<host>-<pid>-<random>.tmp``), flushed to disk and renamed
    over ``path``.  The new file gets the permissions the process's umask
    gives a new file (``0o666 & ~umask``).  Temporary files that an earlier,
    killed save of the same target left behind are removed first: those of a
    process of this host that no longer runs, and any untouched for
    :data:`STALE_TEMP_SECONDS`.

    Parameters
    ----------
    path : str or os.PathLike
    class_name : str
        Registered with :func:`register_model_class` by the model class.
    meta : dict
        JSON-able metadata; ``format``, ``format_version``, ``gmmx_version``
        and ``class`` are added.
    arrays : dict of str to ndarray
        Plain numeric arrays.
    """
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "gmmx_version": __version__,
        "class": class_name,
        **meta,
    }
    arrays = dict(arrays)
    arrays[_META_KEY] = np.array(json.dumps(meta))
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    target = _target_tag(os.path.basename(path))
    _remove_stale_temps(directory, target)
    fd, tmp = _create_temp(directory, target)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ----------------------------------------------------------------- temp files
#: A save's temporary file untouched for this long is stale (its writer died).
STALE_TEMP_SECONDS = 3600.0
_TEMP_RE = re.compile(r"^\.gmmx-([0-9a-f]{12})-([0-9a-f]{8})-([0-9]+)-[0-9a-f]{8}\.tmp$")
# Names that tempfile.mkstemp gave the temporary files of gmmx 0.1.
_OLD_TEMP_RE = re.compile(r"^\.gmmx-[a-z0-9_]{8}\.tmp$")


def _digest(text, n):
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:n]


def _target_tag(basename):
    return _digest(basename, 12)


def _host_tag():
    return _digest(socket.gethostname(), 8)


def _create_temp(directory, target):
    """A new temporary file (fd, path); mode 0o666 so the umask applies."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        name = f".gmmx-{target}-{_host_tag()}-{os.getpid()}-{secrets.token_hex(4)}.tmp"
        tmp = os.path.join(directory, name)
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue
    raise FileExistsError(f"could not create a temporary file in {directory!r}")  # pragma: no cover


def _pid_alive(pid):
    if os.name != "posix":  # pragma: no cover - os.kill(pid, 0) is not a probe on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def _remove_stale_temps(directory, target):
    """Delete temporary files left by killed saves of the same target."""
    now = time.time()
    host = _host_tag()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        m = _TEMP_RE.match(entry.name)
        if m is None and not _OLD_TEMP_RE.match(entry.name):
            continue
        if m is not None and m.group(1) != target:
            continue  # another target's save: not ours to judge
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
            dead = (m is not None and m.group(2) == host and int(m.group(3)) != os.getpid()
                    and not _pid_alive(int(m.group(3))))
            if dead or age > STALE_TEMP_SECONDS:
                os.unlink(entry.path)
        except OSError:
            continue


def invalid(path: Any, why: str) -> ValueError:
    """The ``ValueError`` for a file that is not a valid model archive."""
    return ValueError(f"{path!r} is not a valid gmmx model file: {why}")


# ----------------------------------------------------------------- reading
#: Most characters of JSON metadata read.
MAX_METADATA_CHARS = 1 << 20
#: Deepest nesting of JSON arrays / objects in the metadata.
MAX_METADATA_DEPTH = 32
#: Most members (entries of the zip directory) an archive may have.
MAX_MEMBERS = 4096
_NPY_MAX_HEADER = 10_000
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_EOCD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_EOCD = b"PK\x06\x06"


def _check_zip_directory(f, size, path):
    """Refuse a zip directory with more than MAX_MEMBERS entries before zipfile parses it."""
    tail_len = min(size, 22 + 65535)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    i = tail.rfind(_ZIP_EOCD)
    if i < 0 or len(tail) < i + 22:
        return  # not a zip: zipfile says so
    entries, cd_size = struct.unpack("<HI", tail[i + 10:i + 16])
    j = i - 20
    if (entries == 0xFFFF or cd_size == 0xFFFFFFFF) and j >= 0 and tail[j:j + 4] == _ZIP64_LOCATOR:
        (offset,) = struct.unpack("<Q", tail[j + 8:j + 16])
        if offset < size:
            f.seek(offset)
            record = f.read(56)
            if len(record) == 56 and record[:4] == _ZIP64_EOCD:
                entries, cd_size = struct.unpack("<QQ", record[32:48])
    if entries > MAX_MEMBERS or cd_size > MAX_MEMBERS * 1024:
        raise invalid(path, f"its zip directory declares {entries} members "
                            f"({cd_size} bytes); a model has a few dozen")


def _json_depth(text):
    """Deepest nesting of ``[`` / ``{`` in JSON text (strings ignored)."""
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    codes = np.frombuffer(stripped.encode("utf-8", "replace"), dtype=np.uint8)
    step = (np.isin(codes, (ord("["), ord("{"))).astype(np.int64)
            - np.isin(codes, (ord("]"), ord("}"))))
    return int(np.cumsum(step).max(initial=0))


class ModelArchive(Mapping):
    """The arrays of a model archive, each read only when asked for.

    A read-only mapping from array name (the member name without ``.npy``) to
    ndarray.  Before an array is read, its ``.npy`` header is parsed and
    checked: a numeric dtype, the declared shape (against what the caller
    expects, see :meth:`read`), and a data size that matches the shape and
    lies inside the file.  Members are never decompressed: gmmx writes them
    stored, and any other method is refused.  Members nobody asks for are
    never read.

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: Any) -> None:
        self.path = path
        self._zf: Any = None
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as f:
                head = f.read(len(_NPY_MAGIC))
                if head == _NPY_MAGIC:
                    raise invalid(path, "it is a single .npy array, not a model archive "
                                        "(models are written by GaussianMixture.save)")
                if size == 0:
                    raise invalid(path, "the file is empty")
                _check_zip_directory(f, size, path)
            self._size = size
            self._zf = zipfile.ZipFile(path)
            infos = self._zf.infolist()
        except (FileNotFoundError, PermissionError):
            self.close()
            raise
        except ValueError as exc:
            self.close()
            if "not a valid gmmx model file" in str(exc):
                raise
            raise invalid(path, f"it is not a readable zip archive ({exc})") from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, struct.error,
                NotImplementedError, UnicodeDecodeError) as exc:
            self.close()
            raise invalid(path, f"it is truncated or corrupted, not a zip archive "
                                f"({type(exc).__name__}: {exc})") from None
        counts = Counter(info.filename for info in infos)
        if len(counts) != len(infos):
            dup = sorted(n for n, c in counts.items() if c > 1)
            self.close()
            raise invalid(path, f"members {dup[:5]} appear more than once (tampered archive)")
        self._infos = {info.filename[:-4]: info for info in infos
                       if info.filename.endswith(".npy")}

    # -- Mapping
    def __getitem__(self, key):
        return self.read(key)

    def __iter__(self):
        # The metadata member is not an array: read_archive returns it apart.
        return (name for name in self._infos if name != _META_KEY)

    def __len__(self):
        return len(self._infos) - (_META_KEY in self._infos)

    def __contains__(self, key):
        return key in self._infos

    def close(self) -> None:
        """Close the archive file."""
        if self._zf is not None:
            self._zf.close()
            self._zf = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    # -- reading
    def _bad(self, key, why):
        return invalid(self.path, f"array {key!r} {why}")

    def header(self, key: str) -> tuple[tuple[int, ...], Any]:
        """``(shape, dtype)`` that member ``key`` declares; checks its size.

        Raises
        ------
        KeyError
            If there is no such member.
        ValueError
            If the member is compressed or encrypted, its ``.npy`` header is
            malformed or of an object/structured dtype, or its size does not
            match the declared shape or lies outside the file.
        """
        shape, dtype, _ = self._header(key)
        return shape, dtype

    def _header(self, key):
        info = self._infos[key]
        if info.flag_bits & 0x1:
            raise self._bad(key, "is encrypted")
        if info.compress_type != zipfile.ZIP_STORED:
            raise self._bad(key, f"is stored with zip compression method {info.compress_type}; "
                                 "gmmx model files store their members uncompressed")
        if info.compress_size != info.file_size or info.header_offset + info.file_size > self._size:
            raise self._bad(key, f"declares {info.file_size} bytes, more than the file holds "
                                 "(truncated or tampered)")
        try:
            with self._zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    header = np.lib.format.read_array_header_1_0(f, _NPY_MAX_HEADER)
                elif version == (2, 0):
                    header = np.lib.format.read_array_header_2_0(f, _NPY_MAX_HEADER)
                else:
                    raise ValueError(f".npy format version {version} is not supported")
                offset = f.tell()
        except (zipfile.BadZipFile, EOFError, OSError) as exc:  # e.g. a bad CRC
            raise self._bad(key, f"is corrupted ({type(exc).__name__}: {exc})") from None
        except (ValueError, TypeError, SyntaxError, NotImplementedError) as exc:
            raise self._bad(key, f"is not .npy data ({type(exc).__name__}: {exc})") from None
        shape, fortran, dtype = header
        if dtype.hasobject or dtype.names is not None or dtype.subdtype is not None:
            raise self._bad(key, f"has dtype {dtype}: it cannot be loaded safely (pickled "
                                 "objects are refused; the file may be tampered with)")
        nbytes = math.prod(int(n) for n in shape) * dtype.itemsize
        if info.file_size - offset != nbytes:
            raise self._bad(key, f"declares shape {tuple(shape)} of {dtype} ({nbytes} bytes) "
                                 f"but holds {info.file_size - offset} bytes")
        return tuple(int(n) for n in shape), dtype, (info, offset, fortran)

    def read(self, key: str, shape: Optional[tuple[int, ...]] = None, ndim: Optional[int] = None,
             kinds: str = "fiu") -> Any:
        """Member ``key`` as an ndarray, its header checked before the data are read.

        Parameters
        ----------
        key : str
        shape : tuple of (int or None), optional
            Expected shape; None entries match any length.
        ndim : int, optional
            Expected number of dimensions.
        kinds : str, default="fiu"
            Accepted dtype kinds.

        Raises
        ------
        KeyError
            If the member is missing.
        ValueError
            Naming the member, if it is malformed or does not match.
        """
        got, dtype, (info, offset, fortran) = self._header(key)
        if dtype.kind not in kinds:
            raise self._bad(key, f"has dtype {dtype}, expected "
                                 f"{'numbers' if kinds == 'fiu' else 'kind ' + kinds}")
        _check_shape(self.path, key, got, shape, ndim)
        try:
            with self._zf.open(info) as f:
                f.seek(offset)
                data = f.read()  # exactly nbytes (checked); reading to the end checks the CRC
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise self._bad(key, f"is corrupted ({type(exc).__name__}: {exc})") from None
        order: Any = "F" if fortran else "C"
        return np.array(np.frombuffer(data, dtype=dtype).reshape(got, order=order), order="C")


def _check_shape(path, key, got, shape, ndim):
    if ndim is not None and len(got) != ndim:
        raise invalid(path, f"array {key!r} has {len(got)} dimensions, expected {ndim}")
    if shape is not None:
        want = tuple(shape)
        if len(got) != len(want) or any(w is not None and g != w for g, w in zip(got, want)):
            shown = tuple("any" if w is None else w for w in want)
            raise invalid(path, f"array {key!r} has shape {got}, expected {shown}")


def check_array(arrays: Any, key: str, path: Any, shape: Optional[tuple[int, ...]] = None,
                ndim: Optional[int] = None, finite: bool = True) -> Any:
    """Archive member ``key`` as float64, checked for dtype, shape and finiteness.

    For a :class:`ModelArchive` the declared shape is checked before the
    data are read.

    Parameters
    ----------
    arrays : ModelArchive or dict of str to ndarray
    key : str
    path : str
        For error messages.
    shape : tuple of (int or None), optional
        Expected shape; None entries match any length.
    ndim : int, optional
    finite : bool, default=True
        Refuse NaN and infinity.

    Raises
    ------
    ValueError
        Naming the array: missing, non-numeric, wrong shape, non-finite.
    """
    if key not in arrays:
        raise invalid(path, f"array {key!r} is missing")
    if isinstance(arrays, ModelArchive):
        a = np.asarray(arrays.read(key, shape, ndim), dtype=np.float64)  # a fresh array
    else:
        a = np.asarray(arrays[key])
        if a.dtype.kind not in "fiu":
            raise invalid(path, f"array {key!r} has dtype {a.dtype}, expected numbers")
        _check_shape(path, key, a.shape, shape, ndim)
        a = np.array(a, dtype=np.float64)
    if finite and not np.all(np.isfinite(a)):
        raise invalid(path, f"array {key!r} contains NaN or infinity")
    return a


def _read_metadata(archive, path):
    if _META_KEY not in archive:
        raise invalid(path, "the metadata entry is missing")
    _, dtype = archive.header(_META_KEY)
    if dtype.kind != "U":
        raise invalid(path, "the metadata entry is not a text string")
    if dtype.itemsize // 4 > MAX_METADATA_CHARS:
        raise invalid(path, f"the metadata entry holds {dtype.itemsize // 4} characters, more "
                            f"than the {MAX_METADATA_CHARS} a model's metadata can have")
    text = str(archive.read(_META_KEY, shape=(), kinds="U")[()])
    depth = _json_depth(text)
    if depth > MAX_METADATA_DEPTH:
        raise invalid(path, f"the metadata nests {depth} levels deep (at most "
                            f"{MAX_METADATA_DEPTH}); it is not gmmx metadata")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise invalid(path, f"the metadata is not valid JSON ({exc})") from None


def read_archive(path: Any) -> tuple[dict[str, Any], ModelArchive]:
    """Metadata and arrays of a model archive, with the format checked.

    Only the metadata is read here; the arrays are read one by one, each
    checked before its data are read, when the returned mapping is indexed
    (see :class:`ModelArchive`).

    Returns
    -------
    meta : dict
    arrays : ModelArchive
        A read-only mapping of the archive's arrays; close it (or use it as
        a context manager) when done.

    Raises
    ------
    ValueError
        If the file is truncated, corrupted, tampered with (e.g. contains
        pickled objects, oversized or deeply nested metadata) or written by
        a newer format version.
    """
    path = os.fspath(path)
    archive = ModelArchive(path)
    try:
        meta = _read_metadata(archive, path)
        _check_metadata(meta, path)
    except BaseException:
        archive.close()
        raise
    return meta, archive


def _check_metadata(meta, path):
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise invalid(path, "the metadata does not describe a gmmx model")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise invalid(path, f"bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path!r} was written in gmmx model format {version} (gmmx "
            f"{meta.get('gmmx_version')!s:.40}), newer than this gmmx reads ({FORMAT_VERSION}); "
            "upgrade gmmx"
        )
    if not isinstance(meta.get("class"), str):
        raise invalid(path, "the metadata names no model class")
    for key, kind in (("gmmx_version", str), ("params", dict), ("fitted", dict),
                      ("skipped_params", list), ("online", bool)):
        if key in meta and meta[key] is not None and not isinstance(meta[key], kind):
            raise invalid(path, f"metadata entry {key!r} should be a {kind.__name__}, "
                                f"got {type(meta[key]).__name__}")


_Model = TypeVar("_Model")


@overload
def load(path: Union[str, "os.PathLike[str]"]) -> Any: ...


@overload
def load(path: Union[str, "os.PathLike[str]"], expected: type[_Model]) -> _Model: ...


def load(path: Union[str, "os.PathLike[str]"], expected: Optional[type[Any]] = None) -> Any:
    """Load a model saved by :func:`save` / ``GaussianMixture.save``.

    Parameters
    ----------
    path : str or os.PathLike
    expected : class, optional
        The class the file must hold (e.g. ``GaussianMixture``): a file of
        another class is refused, and type checkers know the result's type
        (``gm = gmmx.load(path, GaussianMixture)`` is a ``GaussianMixture``
        to mypy; without ``expected`` the result is untyped).

    Returns
    -------
    GaussianMixture, GaussianHMM, ...
        The saved model, with its fitted attributes and, if it was saved,
        the online-EM state (so ``partial_fit`` continues as if
        uninterrupted).

    Raises
    ------
    FileNotFoundError, PermissionError
        If the file cannot be opened.
    TypeError
        If ``expected`` is given and the file holds another class.
    ValueError
        For anything wrong with the content, naming the member: as
        :func:`read_archive`, a model class this gmmx does not know, arrays
        whose shapes disagree with the metadata, or values a fitted model
        cannot have (weights off the simplex, covariances that are not
        positive definite or disagree with the precisions, non-finite
        numbers, negative counts).
    """
    path = os.fspath(path)
    meta, arrays = read_archive(path)
    with arrays:
        name = meta.get("class")
        if isinstance(name, str) and name not in _MODEL_CLASSES and name in _MODEL_MODULES:
            importlib.import_module(_MODEL_MODULES[name])
        from_archive = _MODEL_CLASSES.get(name) if isinstance(name, str) else None
        if from_archive is None:
            raise invalid(path, f"unknown model class {meta.get('class')!r:.80}")
        if expected is not None and not (isinstance(expected, type)
                                         and _holds(expected, from_archive)):
            raise TypeError(f"{path!r} holds a {name}, not a "
                            f"{getattr(expected, '__name__', expected)!r}")
        model = from_archive(meta, arrays, path)
    if expected is not None and not isinstance(model, expected):
        raise TypeError(f"{path!r} holds a {type(model).__name__}, not a {expected.__name__}")
    return model


def _holds(expected: type, from_archive: Any) -> bool:
    """Whether the class that ``from_archive`` builds is ``expected`` or a subclass."""
    owner = getattr(from_archive, "__self__", None)
    return not isinstance(owner, type) or issubclass(owner, expected)
