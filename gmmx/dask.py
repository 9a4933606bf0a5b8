"""Dask support (0.1 import path): the driver lives in :mod:`gmmx.drivers.dask`.

``GaussianMixture.fit`` accepts dask arrays and DataFrames directly; this
module keeps ``gmmx.dask.DaskDriver`` importable.
"""

from .drivers.dask import SPLIT_EVERY, DaskDriver

__all__ = ["DaskDriver", "SPLIT_EVERY"]
