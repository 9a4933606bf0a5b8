""".npy files, memory-mapped and read chunk by chunk."""

from __future__ import annotations

import os

import numpy as np

from .array import ArraySource
from .registry import register_format


class NpySource(ArraySource):
    """A ``.npy`` file, memory-mapped and read chunk by chunk.

    The file is opened with ``np.load(path, mmap_mode='r')``: pages are read
    on demand (the next chunk is prefetched with ``madvise``), so only one
    chunk's worth of data needs to be resident and nothing is copied into
    anonymous memory for float32/float64 C-order files.

    Parameters
    ----------
    path : str or os.PathLike
    sample_weight : str, os.PathLike or array-like, optional
        A ``.npy`` path (memory-mapped too) or an array of shape (n_rows,).
    chunk_size : int
        Rows per chunk; for d = 1 a few million rows make the kernel call
        overhead negligible.
    """

    def __init__(self, path, sample_weight=None, chunk_size=None):
        self.path = os.fspath(path)
        X = _open_npy(self.path)
        if isinstance(sample_weight, (str, os.PathLike)):
            sample_weight = _open_npy(os.fspath(sample_weight))
        super().__init__(X, sample_weight, chunk_size)
        self._mm = getattr(X, "_mmap", None)
        self._row_bytes = X.dtype.itemsize * self.n_features
        off = int(getattr(X, "offset", 0))
        import mmap

        self._mm_start = off % mmap.ALLOCATIONGRANULARITY
        self._page = mmap.PAGESIZE

    def _prefetch(self, i):
        if self._mm is None or i >= self.n_chunks or not hasattr(self._mm, "madvise"):
            return
        import mmap

        start = self._mm_start + i * self.chunk_size * self._row_bytes
        length = min(self.chunk_size, self.n_rows - i * self.chunk_size) * self._row_bytes
        aligned = start - start % self._page
        try:
            self._mm.madvise(mmap.MADV_WILLNEED, aligned, length + (start - aligned))
        except (OSError, ValueError, AttributeError):  # pragma: no cover - platform
            self._mm = None

    def chunks(self):
        for i in range(self.n_chunks):
            self._prefetch(i + 1)
            yield self.read_chunk(i)

    def __repr__(self):
        return f"NpySource({self.path!r}, chunk_size={self.chunk_size})"


def _open_npy(path):
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such .npy file: {path!r}")
    try:
        X = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise ValueError(
            f"{path!r} could not be memory-mapped as a numeric .npy array ({exc}); "
            "save it with np.save from a float array"
        ) from None
    if not isinstance(X, np.ndarray):
        raise ValueError(f"{path!r} is not a single .npy array (an .npz archive?); save each array with np.save")
    if X.dtype.kind not in "fiub":
        raise ValueError(f"{path!r} holds dtype {X.dtype}, which is not numeric")
    return X


def _from_path(path, columns=None, chunk_size=None, weight_column=None, sample_weight=None):
    """:func:`gmmx.sources.as_source` for a ``.npy`` path."""
    if columns is not None or weight_column is not None:
        raise ValueError("columns / weight_column apply to Parquet and CSV sources, not .npy")
    return NpySource(path, sample_weight=sample_weight, chunk_size=chunk_size)


register_format("npy", (".npy",), _from_path)
