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
    arrays: the running statistics of :class:`gmmx.streaming.OnlineEM`.
"""

from __future__ import annotations

import json
import numbers
import os
import tempfile
import zipfile

import numpy as np

FORMAT = "gmmx-model"
FORMAT_VERSION = 1
_META_KEY = "__gmmx_metadata__"
_FITTED_ARRAYS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")
_ARRAY_PARAMS = ("weights_init", "means_init", "precisions_init")

__all__ = ["FORMAT_VERSION", "load", "save"]


def _json_value(value):
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
    """Save a :class:`~gmmx.GaussianMixture` to ``path`` (written atomically).

    Stores the fitted attributes, the JSON-able constructor parameters (a
    callback or a ``RandomState`` instance is skipped and listed in the
    metadata), the initial-parameter arrays and the online-EM state, so that
    ``partial_fit`` can resume after :func:`load` exactly where it stopped.

    Parameters
    ----------
    model : GaussianMixture
    path : str or os.PathLike
        Written as given (no suffix is added); ``.npz`` is conventional.
    """
    from . import __version__

    arrays = {}
    params, skipped = {}, []
    for name, value in model.get_params().items():
        if name in _ARRAY_PARAMS:
            if value is not None:
                arrays["param_" + name] = np.asarray(value, dtype=np.float64)
            params[name] = None
            continue
        try:
            params[name] = _json_value(value)
        except TypeError:
            skipped.append(name)
    fitted = {}
    is_fitted = hasattr(model, "precisions_cholesky_")
    if is_fitted:
        for name in _FITTED_ARRAYS:
            arrays["fit_" + name] = np.asarray(getattr(model, name), dtype=np.float64)
        arrays["fit_lower_bounds_"] = np.asarray(getattr(model, "lower_bounds_", []), dtype=np.float64)
        lb = float(getattr(model, "lower_bound_", -np.inf))
        fitted = {
            "converged_": bool(getattr(model, "converged_", False)),
            "n_iter_": int(getattr(model, "n_iter_", 0)),
            "lower_bound_": lb if np.isfinite(lb) else None,
            "n_features_in_": int(model.n_features_in_),
        }
    state = getattr(model, "_online_state", None)
    online = is_fitted and state is not None and state.matches(model)
    if online:
        arrays.update(state.to_arrays())
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "gmmx_version": __version__,
        "class": type(model).__name__,
        "params": params,
        "skipped_params": skipped,
        "fitted": fitted,
        "online": bool(online),
    }
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


def _invalid(path, why):
    return ValueError(f"{path!r} is not a valid gmmx model file: {why}")


def _read_all(path):
    """Every array of the archive, read eagerly with allow_pickle=False."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise _invalid(path, "it is a single .npy array, not a model archive "
                                 "(models are written by GaussianMixture.save)")
        with loaded as npz:
            return {key: npz[key] for key in npz.files}
    except FileNotFoundError:
        raise
    except ValueError as exc:
        if "not a valid gmmx model file" in str(exc):
            raise
        raise _invalid(path, f"it contains data that cannot be loaded safely ({exc}); "
                             "it may be tampered with (pickled objects are refused)") from None
    except (zipfile.BadZipFile, OSError, EOFError, KeyError, TypeError) as exc:
        raise _invalid(path, f"it is truncated or corrupted ({type(exc).__name__}: {exc})") from None
    except AttributeError as exc:  # numpy < 2 NpzFile path
        raise _invalid(path, f"unreadable archive ({exc})") from None


def _array(arrays, key, path, shape=None, ndim=None):
    if key not in arrays:
        raise _invalid(path, f"array {key!r} is missing")
    a = arrays[key]
    if a.dtype.kind not in "fi":
        raise _invalid(path, f"array {key!r} has dtype {a.dtype}, expected numbers")
    a = np.array(a, dtype=np.float64)
    if shape is not None and a.shape != tuple(shape):
        raise _invalid(path, f"array {key!r} has shape {a.shape}, expected {tuple(shape)}")
    if ndim is not None and a.ndim != ndim:
        raise _invalid(path, f"array {key!r} has {a.ndim} dimensions, expected {ndim}")
    return a


def _cov_shapes(cov_type, K, d):
    return {
        "full": (K, d, d),
        "tied": (d, d),
        "diag": (K, d),
        "spherical": (K,),
    }[cov_type]


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
        If the file is truncated, corrupted, tampered with (e.g. contains
        pickled objects) or written by a newer format version.
    """
    from ._stats import COVARIANCE_TYPES
    from .mixture import GaussianMixture
    from .streaming import OnlineEM

    path = os.fspath(path)
    arrays = _read_all(path)
    if _META_KEY not in arrays:
        raise _invalid(path, "the metadata entry is missing")
    meta_arr = arrays[_META_KEY]
    if meta_arr.dtype.kind != "U" or meta_arr.ndim != 0:
        raise _invalid(path, "the metadata entry is not a text string")
    try:
        meta = json.loads(str(meta_arr))
    except json.JSONDecodeError as exc:
        raise _invalid(path, f"the metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _invalid(path, "the metadata does not describe a gmmx model")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise _invalid(path, f"bad format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path!r} was written in gmmx model format {version} (gmmx "
            f"{meta.get('gmmx_version')}), newer than this gmmx reads ({FORMAT_VERSION}); "
            "upgrade gmmx"
        )
    if meta.get("class") != "GaussianMixture":
        raise _invalid(path, f"unknown model class {meta.get('class')!r}")
    params = meta.get("params")
    if not isinstance(params, dict):
        raise _invalid(path, "the parameters are missing")
    valid = set(GaussianMixture._get_param_names())
    unknown = sorted(set(params) - valid)
    if unknown:
        raise _invalid(path, f"unknown parameters {unknown}")
    for name, value in params.items():
        if value is not None and not isinstance(value, (bool, int, float, str)):
            raise _invalid(path, f"parameter {name!r} has a non-scalar value")
    for name in _ARRAY_PARAMS:
        if "param_" + name in arrays:
            params[name] = _array(arrays, "param_" + name, path)
    model = GaussianMixture(**params)
    cov_type = model.covariance_type
    if cov_type not in COVARIANCE_TYPES:
        raise _invalid(path, f"unknown covariance_type {cov_type!r}")
    fitted = meta.get("fitted") or {}
    if not isinstance(fitted, dict):
        raise _invalid(path, "the fitted section is malformed")
    if fitted:
        means = _array(arrays, "fit_means_", path, ndim=2)
        K, d = means.shape
        if K != model.n_components:
            raise _invalid(path, f"means_ has {K} rows but n_components = {model.n_components}")
        if fitted.get("n_features_in_") != d:
            raise _invalid(path, "n_features_in_ does not match means_")
        cshape = _cov_shapes(cov_type, K, d)
        values = {
            "weights_": _array(arrays, "fit_weights_", path, shape=(K,)),
            "means_": means,
            "covariances_": _array(arrays, "fit_covariances_", path, shape=cshape),
            "precisions_": _array(arrays, "fit_precisions_", path, shape=cshape),
            "precisions_cholesky_": _array(arrays, "fit_precisions_cholesky_", path, shape=cshape),
        }
        for name, a in values.items():
            if not np.all(np.isfinite(a)):
                raise _invalid(path, f"{name} contains NaN or infinity")
        for name, a in values.items():
            setattr(model, name, a)
        model.lower_bounds_ = list(_array(arrays, "fit_lower_bounds_", path, ndim=1))
        lb = fitted.get("lower_bound_")
        model.lower_bound_ = -np.inf if lb is None else float(lb)
        model.converged_ = bool(fitted.get("converged_", False))
        model.n_iter_ = int(fitted.get("n_iter_", 0))
        model.n_features_in_ = d
        if meta.get("online"):
            try:
                state = OnlineEM.from_arrays(cov_type, arrays)
            except (KeyError, IndexError, ValueError, TypeError) as exc:
                raise _invalid(path, f"the online-EM state is incomplete ({exc})") from None
            st = state.stats
            if st is not None:
                from ._stats import m_shape

                shapes = {"centers": (K, d), "nk": (K,), "sk": (K, d), "Mk": m_shape(cov_type, K, d)}
                for name, shape in shapes.items():
                    a = getattr(st, name)
                    if a.shape != shape or not np.all(np.isfinite(a)):
                        raise _invalid(path, f"online-EM statistic {name} is malformed")
            state.anchor(model)
            model._online_state = state
    return model
