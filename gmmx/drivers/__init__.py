"""Drivers: how one pass's sufficient statistics are gathered.

:func:`make_driver` picks the driver for the data: a dask collection goes to
:class:`~gmmx.drivers.dask.DaskDriver`, an in-memory array to
:class:`~gmmx.drivers.array.ArrayDriver`, anything else is read as a chunk
source by :class:`~gmmx.drivers.source.SourceDriver`.  A driver receives
the data and :class:`DriverOptions`, never an estimator.
"""

from .base import (Driver, DriverOptions, PassCheck, accumulate_many, make_driver,
                   register_driver, warn_omitted)
from .source import SourceDriver  # registered first: the fallback for any other data
from .array import ArrayDriver
from .dask import DaskDriver
from .sampling import INIT_SAMPLE_ROWS, FilledInitSample, Reservoir

__all__ = [
    "ArrayDriver",
    "DaskDriver",
    "Driver",
    "DriverOptions",
    "FilledInitSample",
    "INIT_SAMPLE_ROWS",
    "PassCheck",
    "Reservoir",
    "accumulate_many",
    "SourceDriver",
    "make_driver",
    "register_driver",
    "warn_omitted",
]
