"""In-memory driver: one kernel pass over an array per EM iteration."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .. import _progress
from .._validation import (apply_nan_policy, as_float_array, check_int, check_sample_weight,
                           is_sparse)
from ..core import kernel
from .base import register_driver, warn_omitted

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import NDArray
    from ..core.stats import SufficientStats

__all__ = ["ArrayDriver", "is_in_memory"]


class ArrayDriver:
    """Driver for a validated in-memory array.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64, C-contiguous
    sample_weight : ndarray of shape (n,) or None
    n_threads : int
    chunk_rows : int
        Rows per cache chunk of the kernel (0: automatic).
    progress : PassProgress or None
    """

    def __init__(self, X: Any, sample_weight: NDArray[Any] | None = None, n_threads: int | None = 1,
                 chunk_rows: int | None = 0, progress: Any = None) -> None:
        self.X = X
        self.sample_weight = sample_weight
        self.n_threads = n_threads
        self.chunk_rows = chunk_rows
        self.n_features = X.shape[1]
        self.n_samples = X.shape[0]
        self.dtype = X.dtype
        self.progress = progress

    @classmethod
    def from_input(cls, X: Any, sample_weight: Any, options: Any) -> ArrayDriver:
        """Validate user data and build the driver (``make_driver``'s factory).

        ``options.nan_policy`` applies: under ``"omit"`` rows with NaN (or
        masked entries) are dropped with their weights, and counted in a warning.
        """
        policy = options.nan_policy
        X = as_float_array(X, ensure_min_samples=1, nan_policy=policy)
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        dropped = 0  # as_float_array applied the other policies to X already
        if policy == "omit":
            X, sample_weight, dropped = apply_nan_policy(X, sample_weight, policy)
        warn_omitted(dropped)
        if dropped and sample_weight is not None and not np.any(sample_weight > 0):
            raise ValueError("nan_policy='omit' left no row with positive sample_weight")
        if X.shape[0] < 2:
            raise ValueError(
                f"Expected n_samples >= 2, got n_samples = {X.shape[0]}; pass more rows"
            )
        n_components = check_int(options.n_components, "n_components", 1)
        if X.shape[0] < n_components:
            raise ValueError(
                "Expected n_samples >= n_components but got "
                f"n_components = {n_components}, n_samples = {X.shape[0]}"
            )
        progress = None
        if _progress.progress_enabled(options.progress):
            progress = _progress.PassProgress(True, options.max_passes, X.shape[0])
        work = X.shape[0] * n_components * (X.shape[1] + 1)
        return cls(X, sample_weight, kernel.resolve_n_threads(options.n_threads, work),
                   progress=progress)

    def accumulate(self, params: Any) -> SufficientStats:
        """Sufficient statistics of all rows under ``params``."""
        return self.accumulate_many([params])[0]

    def accumulate_many(self, params_list: Sequence[Any]) -> list[SufficientStats]:
        """Statistics of all rows under each of ``params_list`` (one kernel call each)."""
        out = [kernel.accumulate(self.X, self.sample_weight, params, self.n_threads,
                                 self.chunk_rows)
               for params in params_list]
        if self.progress is not None and out:
            self.progress.start_pass()
            self.progress.rows(self.n_samples)
            self.progress.end_pass(out[0].log_likelihood / out[0].weight_sum)
        return out

    def close(self) -> None:
        """Close the progress bar, if any."""
        if self.progress is not None:
            self.progress.close()

    def init_sample(self, random_state: Any) -> tuple[NDArray[Any], NDArray[Any] | None]:
        """Rows (and weights) used to initialise: all of them."""
        return self.X, self.sample_weight


def _is_block(item):
    """A 2-D block, or an ``(X_i, sample_weight_i)`` pair whose ``X_i`` is one."""
    if isinstance(item, tuple) and len(item) == 2:
        item = item[0]
    return getattr(item, "ndim", 0) == 2


def is_in_memory(X: object) -> bool:
    """True for arrays, array-likes and lists of rows (not lists of 2-D blocks).

    A list or tuple is a chunk source only if every item is a 2-D block or a
    ``(block, weights)`` pair; rows given as tuples of numbers are data.
    Sparse matrices count as in memory, so that they meet the array
    validation and its "dense data is required" error.
    """
    if isinstance(X, np.ndarray) or is_sparse(X):
        return True
    if hasattr(X, "__array__") and not isinstance(X, (str, bytes)):
        return True
    if isinstance(X, (list, tuple)):
        return not (len(X) and all(_is_block(b) for b in X))
    return False


register_driver("array", is_in_memory, ArrayDriver.from_input)
