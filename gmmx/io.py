"""Save and load models in a safe format: a ``.npz`` of plain numeric arrays
plus one JSON metadata string, read with ``allow_pickle=False``.

Loading never unpickles or executes anything: object arrays are refused by
numpy, the metadata is parsed as JSON, and every array is checked for dtype,
shape and finiteness before a model is built.  A truncated, corrupted or
tampered file raises :class:`ValueError`.

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

import importlib
import json
import numbers
import os
import tempfile
import zipfile

import numpy as np

from ._version import __version__

FORMAT = "gmmx-model"
FORMAT_VERSION = 1
_META_KEY = "__gmmx_metadata__"

__all__ = [
    "FORMAT_VERSION",
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

_MODEL_CLASSES = {}
_MODEL_MODULES = {}


def register_model_module(name, module):
    """Name the module whose import registers model class ``name``.

    ``gmmx/__init__.py`` wires the estimators this way, so that :func:`load`
    can rebuild a model before its package was imported, without this
    module importing any estimator itself.
    """
    _MODEL_MODULES[name] = module


def register_model_class(name, from_archive):
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


def json_value(value):
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


def save(model, path):
    """Save ``model`` to ``path`` (written atomically); same as ``model.save(path)``.

    Parameters
    ----------
    model : GaussianMixture (or another registered model class)
    path : str or os.PathLike
        Written as given (no suffix is added); ``.npz`` is conventional.
    """
    model.save(path)


def write_archive(path, class_name, meta, arrays):
    """Write ``arrays`` plus JSON metadata to ``path`` atomically.

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
    fd, tmp = tempfile.mkstemp(prefix=".gmmx-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def invalid(path, why):
    """The ``ValueError`` for a file that is not a valid model archive."""
    return ValueError(f"{path!r} is not a valid gmmx model file: {why}")


def _read_all(path):
    """Every array of the archive, read eagerly with allow_pickle=False."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise invalid(path, "it is a single .npy array, not a model archive "
                                 "(models are written by GaussianMixture.save)")
        with loaded as npz:
            return {key: npz[key] for key in npz.files}
    except FileNotFoundError:
        raise
    except ValueError as exc:
        if "not a valid gmmx model file" in str(exc):
            raise
        raise invalid(path, f"it contains data that cannot be loaded safely ({exc}); "
                             "it may be tampered with (pickled objects are refused)") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, TypeError) as exc:
        raise invalid(path, f"it is truncated or corrupted ({type(exc).__name__}: {exc})") from None
    except AttributeError as exc:  # numpy < 2 NpzFile path
        raise invalid(path, f"unreadable archive ({exc})") from None


def check_array(arrays, key, path, shape=None, ndim=None):
    """Archive member ``key`` as float64, checked for dtype and shape."""
    if key not in arrays:
        raise invalid(path, f"array {key!r} is missing")
    a = arrays[key]
    if a.dtype.kind not in "fi":
        raise invalid(path, f"array {key!r} has dtype {a.dtype}, expected numbers")
    a = np.array(a, dtype=np.float64)
    if shape is not None and a.shape != tuple(shape):
        raise invalid(path, f"array {key!r} has shape {a.shape}, expected {tuple(shape)}")
    if ndim is not None and a.ndim != ndim:
        raise invalid(path, f"array {key!r} has {a.ndim} dimensions, expected {ndim}")
    return a


def read_archive(path):
    """Metadata and arrays of a model archive, with the format checked.

    Returns
    -------
    meta : dict
    arrays : dict of str to ndarray

    Raises
    ------
    ValueError
        If the file is truncated, corrupted, tampered with (e.g. contains
        pickled objects) or written by a newer format version.
    """
    path = os.fspath(path)
    arrays = _read_all(path)
    if _META_KEY not in arrays:
        raise invalid(path, "the metadata entry is missing")
    meta_arr = arrays.pop(_META_KEY)
    if meta_arr.dtype.kind != "U" or meta_arr.ndim != 0:
        raise invalid(path, "the metadata entry is not a text string")
    try:
        meta = json.loads(str(meta_arr))
    except json.JSONDecodeError as exc:
        raise invalid(path, f"the metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise invalid(path, "the metadata does not describe a gmmx model")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise invalid(path, f"bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path!r} was written in gmmx model format {version} (gmmx "
            f"{meta.get('gmmx_version')}), newer than this gmmx reads ({FORMAT_VERSION}); "
            "upgrade gmmx"
        )
    return meta, arrays


def load(path):
    """Load a model saved by :func:`save` / ``GaussianMixture.save``.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    GaussianMixture
        With its fitted attributes and, if it was saved, the online-EM state
        (so ``partial_fit`` continues as if uninterrupted).

    Raises
    ------
    ValueError
        As :func:`read_archive`, or for a model class this gmmx does not know.
    """
    path = os.fspath(path)
    meta, arrays = read_archive(path)
    name = meta.get("class")
    if name not in _MODEL_CLASSES and name in _MODEL_MODULES:
        importlib.import_module(_MODEL_MODULES[name])
    from_archive = _MODEL_CLASSES.get(name)
    if from_archive is None:
        raise invalid(path, f"unknown model class {meta.get('class')!r}")
    return from_archive(meta, arrays, path)
