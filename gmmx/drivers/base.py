"""The driver protocol and the registry that picks a driver for the data.

A driver gathers one pass's sufficient statistics from wherever the rows
live.  It receives the data and :class:`DriverOptions`, never an estimator.
Adding an engine is one module in ``gmmx/drivers/`` that implements
:class:`Driver` and calls :func:`register_driver`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol, runtime_checkable

import numpy as np

from ..exceptions import warn_user

__all__ = ["Driver", "DriverOptions", "PassCheck", "accumulate_many", "make_driver",
           "register_driver", "warn_omitted"]


@dataclass(frozen=True)
class DriverOptions:
    """What a driver needs to know besides the data.

    Attributes
    ----------
    n_threads : int or None
        The estimator's ``n_threads`` (None: decide from the work).
    n_components : int
        Components of the model (sizes the work per thread; validated).
    chunk_size : int or None
        Rows per block read from a source.
    progress : bool
        Draw progress bars where possible.
    max_passes : int or None
        Upper bound on the passes of the fit (for the progress bar).
    nan_policy : {"raise", "omit", "marginalize"}
        What NaN (and masked) entries mean: an error, rows to drop, or
        missing values the model's E-step integrates out.
    """

    n_threads: Optional[int] = None
    n_components: int = 1
    chunk_size: Optional[int] = None
    progress: bool = False
    max_passes: Optional[int] = None
    nan_policy: str = "raise"


@runtime_checkable
class Driver(Protocol):
    """Where one pass's statistics come from.

    Attributes
    ----------
    n_features : int
        Columns of the data.
    n_threads : int
        OpenMP threads of the driver's kernel calls.
    dtype : numpy.dtype, optional
        float32 when the data are float32 (fitted parameters keep that
        type, as scikit-learn's do); float64 when absent.
    """

    n_features: int
    n_threads: int

    def init_sample(self, random_state: Any) -> tuple[Any, Any]:
        """Rows ``(X, sample_weight)`` to initialise from (all, or a bounded sample)."""

    def accumulate(self, params: Any) -> Any:
        """``SufficientStats`` of one pass under ``KernelParams`` ``params``."""

    def accumulate_many(self, params_list: list[Any]) -> list[Any]:
        """One ``SufficientStats`` per ``KernelParams`` of ``params_list``, in ONE pass.

        Optional: every block, once read, feeds every model's kernel call
        (model selection advances all candidates together).  Drivers without
        it are driven by :func:`accumulate_many` one pass per model.
        """

    def close(self) -> None:
        """Release resources (progress bars, files)."""


def warn_omitted(n_dropped: int, what: str = "X") -> None:
    """Say how many rows ``nan_policy='omit'`` dropped (nothing when none)."""
    if n_dropped:
        warn_user(
            f"nan_policy='omit': dropped {n_dropped:,} row(s) of {what} holding missing values "
            "(NaN or masked entries); nan_policy='marginalize' uses their observed entries",
            UserWarning,
        )


def accumulate_many(driver: Any, params_list: list[Any]) -> list[Any]:
    """Statistics of several models: one pass if the driver can, else one pass each."""
    many = getattr(driver, "accumulate_many", None)
    if many is not None:
        return many(params_list)
    return [driver.accumulate(p) for p in params_list]


class PassCheck:
    """Every pass over the data must yield the rows (and total weight) of the first.

    EM reads its data once per iteration.  A file appended to or replaced
    during a fit, or a source that yields different rows at every pass,
    would otherwise be fitted silently on shifting data.

    Parameters
    ----------
    what : str
        Names the data in error messages (``"the source NpySource(...)"``).
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self.n_rows: Optional[int] = None
        self.weight: Optional[float] = None

    def _error(self, got):
        return ValueError(
            f"{self.what} yielded {got} rows on this pass but {self.n_rows:,} on the first: "
            "every EM pass must read the same rows (was the data modified during the fit?)"
        )

    def row_seen(self, n_so_far: int) -> None:
        """Fail as soon as a pass has read more rows than the first."""
        if self.n_rows is not None and n_so_far > self.n_rows:
            raise self._error(f"more than {self.n_rows:,}")

    def end_pass(self, n_rows: int, weight: Optional[float] = None) -> None:
        """Record the first pass's rows (and weight); compare every later pass with it.

        Raises
        ------
        ValueError
            If the row count, or the total sample weight, differs from the
            first pass's.
        """
        if self.n_rows is None:
            self.n_rows = int(n_rows)
        elif n_rows != self.n_rows:
            raise self._error(f"{int(n_rows):,}")
        if weight is None:
            return
        if self.weight is None:
            self.weight = float(weight)
        elif not abs(weight - self.weight) <= 1e-9 * abs(self.weight):
            raise ValueError(
                f"{self.what} yielded a total sample weight of {weight:.12g} on this pass but "
                f"{self.weight:.12g} on the first: every EM pass must read the same rows and "
                "weights (was the data modified during the fit?)"
            )


_REGISTRY: list[tuple[str, Callable, Callable]] = []


def register_driver(name: str, accepts: Callable[[Any], bool],
                    factory: Callable[..., Any]) -> None:
    """Register a driver; later registrations are tried first.

    Parameters
    ----------
    name : str
    accepts : callable
        ``accepts(X) -> bool``: whether this driver handles the data ``X``.
    factory : callable
        ``factory(X, sample_weight, options) -> Driver``.
    """
    _REGISTRY.insert(0, (name, accepts, factory))


def make_driver(X: Any, sample_weight: Any, options: DriverOptions) -> Any:
    """The driver for ``X``: the first registered one that accepts it.

    Parameters
    ----------
    X : array-like, chunk source, or dask collection
    sample_weight : array-like or None
    options : DriverOptions

    Returns
    -------
    Driver
    """
    for _name, accepts, factory in _REGISTRY:
        if accepts(X):
            return factory(X, sample_weight, options)
    raise ValueError(f"no driver accepts data of type {type(X).__name__}")


def stats_finite(stats: Any) -> bool:
    """True if a chunk's statistics are finite (cheap: O(K d^2), not O(rows))."""
    return bool(np.isfinite(stats.log_likelihood) and np.all(np.isfinite(stats.sk))
                and np.all(np.isfinite(stats.Mk)))
