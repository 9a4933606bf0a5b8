"""In-memory and sliceable arrays as chunk sources."""

from __future__ import annotations

from typing import Any, Iterator, Optional

import numpy as np

from .base import ChunkSource, check_chunk_size


class ArraySource(ChunkSource):
    """Row blocks of an array-like that supports slicing: ndarray, np.memmap,
    h5py / zarr datasets.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or (n_samples,)
    sample_weight : array-like of shape (n_samples,), optional
    chunk_size : int
        Rows per chunk.
    """

    n_features: int
    n_rows: int
    n_chunks: int
    chunk_size: int

    def __init__(self, X: Any, sample_weight: Any = None,
                 chunk_size: Optional[int] = None) -> None:
        shape = getattr(X, "shape", None)
        if shape is None or len(shape) not in (1, 2):
            raise ValueError(
                "ArraySource needs a 1-D or 2-D array-like with a shape, got "
                f"{type(X).__name__} of shape {shape}"
            )
        self.X = X
        self.n_rows = int(shape[0])
        self.n_features = int(shape[1]) if len(shape) == 2 else 1
        itemsize = getattr(getattr(X, "dtype", None), "itemsize", 8)
        self.chunk_size = check_chunk_size(chunk_size, self.n_features, itemsize)
        self.n_chunks = -(-self.n_rows // self.chunk_size)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight)
            if sample_weight.shape != (self.n_rows,):
                raise ValueError(
                    f"sample_weight must have shape ({self.n_rows},) to match the "
                    f"array, got {sample_weight.shape}"
                )
        self.sample_weight = sample_weight

    def chunk_start(self, i: int) -> Optional[int]:
        return int(i) * self.chunk_size

    def read_chunk(self, i: int) -> Any:
        start = i * self.chunk_size
        stop = min(start + self.chunk_size, self.n_rows)
        X = self.X[start:stop]
        if self.sample_weight is None:
            return X
        return X, self.sample_weight[start:stop]

    def chunks(self) -> Iterator[Any]:
        for i in range(self.n_chunks):
            yield self.read_chunk(i)

    def __repr__(self):
        return (f"{type(self).__name__}(shape=({self.n_rows}, {self.n_features}), "
                f"chunk_size={self.chunk_size})")

