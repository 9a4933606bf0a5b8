"""Input validation at the API boundary (done once, before any kernel runs)."""

from __future__ import annotations

import numbers

import numpy as np

SPARSE_MESSAGE = (
    "Sparse data was passed for {name}, but dense data is required. Use '.toarray()' to "
    "convert to a dense numpy array (gmmx's kernels read dense rows)."
)


def is_sparse(X):
    """True for scipy.sparse matrices and arrays (and pydata/sparse arrays)."""
    module = type(X).__module__ or ""
    return module.startswith(("scipy.sparse", "sparse")) and hasattr(X, "todense")


def check_not_sparse(X, name="X"):
    """Raise scikit-learn's ``TypeError`` for sparse input."""
    if is_sparse(X):
        raise TypeError(SPARSE_MESSAGE.format(name=name))


def feature_names(X):
    """Column names of a DataFrame (pandas, polars) or an Arrow table, else None.

    Names are returned only when every column name is a string, as in
    scikit-learn (``feature_names_in_`` is then set at fit).
    """
    columns = getattr(X, "columns", None)
    if columns is None or getattr(X, "ndim", 2) != 2:
        columns = getattr(X, "column_names", None)  # pyarrow.Table
    if columns is None or isinstance(columns, str):
        return None
    try:
        names = list(columns)
    except TypeError:
        return None
    if not names or not all(isinstance(c, str) for c in names):
        return None
    return np.asarray(names, dtype=object)


def _to_numpy(X):
    """pandas / list / array-like to ndarray without copying when possible."""
    if hasattr(X, "to_numpy") and hasattr(X, "dtypes") or type(X).__name__ == "Series":
        try:
            return X.to_numpy()
        except (TypeError, ValueError) as exc:
            raise ValueError(f"could not convert the input to a numeric array: {exc}") from None
    return X


def as_float_array(X, name="X", ensure_min_samples=1, nan_policy="raise"):
    """Validate ``X`` and return a C-contiguous float32/float64 2-D array.

    float32 and float64 input are kept as they are (a copy is made only to
    get C order); other numeric types become float64. 1-D input is one
    feature. The masked entries of a numpy masked array are missing values
    (NaN), never numbers. ``nan_policy`` other than ``"raise"`` lets NaN
    through (rows with nothing observed are refused under ``"marginalize"``);
    infinities are always an error. See :func:`missing_rows`.

    Raises
    ------
    ValueError
        Naming the problem: wrong dimensionality, empty, non-numeric, NaN or
        infinity.
    """
    check_not_sparse(X, name)
    if hasattr(X, "column_names") and hasattr(X, "to_pandas") and not hasattr(X, "__array__"):
        X = X.to_pandas()  # pyarrow.Table
    X = _to_numpy(X)
    X = masked_as_nan(X)
    if hasattr(X, "__array__") or isinstance(X, (list, tuple)):
        try:
            arr = np.asarray(X)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} could not be converted to a numeric array: {exc}") from None
    else:
        raise ValueError(
            f"{name} must be an array-like of shape (n_samples, n_features), "
            f"got {type(X).__name__}"
        )
    if arr.dtype.kind in "iub":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind == "f":
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64 if arr.dtype.itemsize > 4 else np.float32)
    elif arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.float64)
        except TypeError as exc:  # e.g. a dict: numpy's "argument must be a string or a number"
            raise TypeError(
                f"{name} contains non-numeric values ({exc}); pass numbers only "
                "(convert or drop text/date columns first)"
            ) from None
        except ValueError:
            raise ValueError(
                f"{name} contains non-numeric values; pass numbers only "
                "(convert or drop text/date columns first)"
            ) from None
    elif arr.dtype.kind == "c":
        raise ValueError(
            f"Complex data not supported: {name} has dtype {arr.dtype}; pass the real "
            "(or imaginary) part, or both as separate columns"
        )
    else:
        raise ValueError(
            f"{name} has dtype {arr.dtype}, which is not numeric; pass a float array"
        )
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    elif arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features) or 1-D (one feature), "
            f"got an array with {arr.ndim} dimensions; reshape it first"
        )
    if arr.shape[0] < ensure_min_samples:
        raise ValueError(
            f"{name} has {arr.shape[0]} sample(s) (shape={arr.shape}) while a minimum of "
            f"{ensure_min_samples} is required; pass a non-empty array"
        )
    if arr.shape[1] == 0:
        raise ValueError(
            f"{name} has 0 features: 0 feature(s) (shape={arr.shape}) while a minimum of 1 "
            "is required. Pass at least one column"
        )
    arr = np.ascontiguousarray(arr)
    if nan_policy == "raise":
        check_finite(arr, name)
    else:
        missing_rows(arr, nan_policy, name)
    return arr


NAN_POLICIES = ("raise", "omit", "marginalize")


def check_nan_policy(nan_policy):
    """``nan_policy`` is one of :data:`NAN_POLICIES`; returned as given."""
    if not isinstance(nan_policy, str) or nan_policy not in NAN_POLICIES:
        raise ValueError(
            f"nan_policy must be one of {NAN_POLICIES} ('raise': NaN is an error; 'omit': "
            "rows with NaN are dropped; 'marginalize': missing entries are integrated out), "
            f"got {nan_policy!r}"
        )
    return nan_policy


def masked_as_nan(X):
    """A numpy masked array as a float array with NaN at its masked entries.

    Anything else is returned unchanged. Masked entries are missing values:
    their underlying numbers are never read.
    """
    if not isinstance(X, np.ma.MaskedArray):
        return X
    mask = np.ma.getmaskarray(X)
    data = np.asarray(X.data)
    if data.dtype.kind == "f" and data.dtype in (np.float32, np.float64):
        out = data.copy()
    else:
        out = data.astype(np.float64)
    out[mask] = np.nan
    return out


def _nan_message(name, row, where=""):
    return (
        f"{where}{name} contains NaN or infinity (first at row {row}): a missing value (NaN, "
        "or a masked entry). Pass nan_policy='omit' to drop the rows with missing values, or "
        "nan_policy='marginalize' to fit them by EM over the missing entries; or remove or "
        "impute non-finite values before fitting"
    )


def missing_rows(arr, nan_policy="raise", name="X", offset=0, where=""):
    """Apply ``nan_policy`` to a 2-D float array: None, or the rows that hold NaN.

    The array is checked by slices of about half a million entries (they stay in
    cache), each first summed: None is returned when every sum is finite.
    Otherwise: an infinity is always an error (it is not a missing value);
    NaN is an error under ``"raise"`` naming the row and ``nan_policy``;
    under ``"marginalize"`` a row whose every entry is NaN is an error
    naming it; else the boolean mask ``(n,)`` of rows holding NaN is
    returned (to be dropped under ``"omit"``, marginalized otherwise).
    ``offset`` is added to the row numbers in messages, ``where`` prefixes them.

    Raises
    ------
    ValueError
    """
    if nan_policy == "raise":
        check_finite(arr, name, offset, where)
        return None
    check_nan_policy(nan_policy)
    # by slices that stay in cache: one read of the array from memory
    n, d = arr.shape
    step = max(1, (1 << 19) // max(1, d))
    has_nan = None
    ones = np.ones(d, dtype=np.float32)
    for lo in range(0, n, step):
        blk = arr[lo:lo + step]
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.add.reduce(blk, axis=None, dtype=np.float64)):
                continue
        nan = np.isnan(blk)
        inf = np.isinf(blk)
        if inf.any():
            row, col = np.argwhere(inf)[0]
            raise ValueError(
                f"{where}{name} contains NaN or infinity (first at row {int(row) + lo + offset}): "
                f"an infinite value in column {int(col)}. Infinities are never missing values "
                "(under any nan_policy); remove, winsorise or replace them by NaN"
            )
        # NaN per row as one float32 GEMV: exact counts (d < 2**24), several times
        # faster than boolean any/all along a short row
        count = nan.astype(np.float32) @ ones
        rows = count > 0
        if not rows.any():  # the sum overflowed; the values are finite
            continue
        if nan_policy == "marginalize":
            empty = count == d
            if empty.any():
                row = int(np.flatnonzero(empty)[0]) + lo + offset
                raise ValueError(
                    f"{where}{name} row {row} has no observed value (every entry is NaN or "
                    "masked): nothing in it can be marginalized. Drop the row, or pass "
                    "nan_policy='omit' to drop such rows"
                )
        if has_nan is None:
            has_nan = np.zeros(n, dtype=bool)
        has_nan[lo:lo + step] = rows
    return has_nan


def apply_nan_policy(X, sample_weight, nan_policy, name="X", offset=0, where=""):
    """``(X, sample_weight, n_dropped)`` after ``nan_policy`` (see :func:`missing_rows`).

    Under ``"omit"`` the rows holding NaN are dropped (with their weights)
    and counted; under the other policies ``X`` is returned as given (or an
    error is raised).
    """
    rows = missing_rows(X, nan_policy, name, offset, where)
    if rows is None or nan_policy != "omit":
        return X, sample_weight, 0
    keep = ~rows
    if sample_weight is not None:
        sample_weight = np.ascontiguousarray(sample_weight[keep])
    return np.ascontiguousarray(X[keep]), sample_weight, int(rows.sum())


def check_finite(arr, name="X", offset=0, where=""):
    """Raise a ValueError naming the first row with NaN or infinity, or a value too large.

    float64 values are also checked for magnitude: if the sum of their
    squares overflows (a value beyond ~1.3e154, or many near it), squared
    deviations -- covariances, distances, log-densities -- cannot be computed
    in float64. One BLAS pass (the sum of squares) covers both checks; float32
    values cannot overflow float64 squares. A NaN's message names
    ``nan_policy``.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if arr.dtype == np.float64:
            flat = arr.reshape(-1)
            total = np.dot(flat, flat)
        else:
            total = np.add.reduce(arr, axis=None, dtype=np.float64)
    if np.isfinite(total):
        return
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(np.flatnonzero(bad.any(axis=1))[0])
        if np.isnan(arr[row]).any() and not np.isinf(arr[row]).any():
            raise ValueError(_nan_message(name, row + offset, where))
        raise ValueError(
            f"{where}{name} contains NaN or infinity (first at row {row + offset}); "
            "remove or impute non-finite values before fitting (infinities are never "
            "missing values, under any nan_policy)"
        )
    if arr.dtype != np.float64:  # the sum overflowed; values are finite
        return
    row, col = np.unravel_index(int(np.argmax(np.abs(arr))), arr.shape)
    raise ValueError(
        f"{where}{name} row {row + offset}, column {col} holds {arr[row, col]:.3g}, a value too "
        "large for float64 arithmetic: squared deviations from it overflow, so no "
        "covariance can describe the data. Remove or winsorise the outlier, or rescale "
        "the column."
    )


def _rescaled_weights(w):
    """``w`` divided by a power of two (exact) when its scale risks overflow or underflow.

    A fit depends only on the ratios of the weights; weights near 1e308 would
    overflow the weighted sums and weights near 1e-310 lose digits. Weights
    whose largest value lies in [2**-256, 2**256] (and whose sum is finite)
    are returned unchanged.
    """
    with np.errstate(over="ignore"):
        total = w.sum()
    top = float(w.max())
    if np.isfinite(total) and 2.0**-256 <= top <= 2.0**256:
        return w
    return np.ldexp(w, -np.frexp(top)[1])


def check_sample_weight(sample_weight, n_samples, name="sample_weight"):
    """Validate sample weights: shape (n,), finite, non-negative, not all zero.

    Weights of extreme scale (e.g. all 1e308) come back divided by a power of
    two; only their ratios matter to a fit or a weighted score.
    """
    if sample_weight is None:
        return None
    sample_weight = _to_numpy(sample_weight)
    if isinstance(sample_weight, np.ma.MaskedArray) and np.ma.is_masked(sample_weight):
        raise ValueError(
            f"{name} has masked entries; a weight cannot be missing. Pass a plain array "
            "(weight 0 drops a row)"
        )
    if isinstance(sample_weight, numbers.Number):
        sample_weight = np.full(n_samples, float(sample_weight))
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric") from None
    if w.ndim != 1 or w.shape[0] != n_samples:
        raise ValueError(
            f"{name} must have shape ({n_samples},) to match X, got {w.shape}"
        )
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name} contains NaN or infinity")
    if np.any(w < 0):
        raise ValueError(
            f"{name} contains negative values (first at index "
            f"{int(np.flatnonzero(w < 0)[0])}); weights must be >= 0"
        )
    if not np.any(w > 0):
        raise ValueError(f"{name} is all zero; at least one sample needs positive weight")
    return np.ascontiguousarray(_rescaled_weights(w))


def check_int(value, name, minimum):
    """An integer >= minimum (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_float(value, name, minimum=0.0, inclusive=True):
    """A finite real number >= (or >) minimum."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number >= {minimum}, got {value!r}")
    if value < minimum or (not inclusive and value == minimum):
        op = ">=" if inclusive else ">"
        raise ValueError(f"{name} must be {op} {minimum}, got {value!r}")
    return float(value)


def check_chunk_size_and_threads(chunk_size, n_threads):
    """An estimator's ``chunk_size`` (int >= 1 or None) and ``n_threads`` (nonzero
    int or None)."""
    if chunk_size is not None:
        check_int(chunk_size, "chunk_size", 1)
    if n_threads is not None:
        check_int(n_threads, "n_threads", -(10**6))
        if n_threads == 0:
            raise ValueError("n_threads must be a positive integer, -1 or None, got 0")


def check_random_state(seed):
    """``None``, an int or a ``numpy.random.RandomState`` to a RandomState."""
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return np.random.RandomState(seed)
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(
        f"random_state must be None, an int or a numpy.random.RandomState, got {seed!r}"
    )
