"""Benchmarks of out-of-core EM: time and peak memory of fits from files.

``peakmem_fit`` is the point of this module: a streamed fit of a file should
need about one chunk of memory on top of the interpreter (and its reader:
pandas, pyarrow), whatever the file's size, while ``source="in-memory"``
loads the whole array first (the baseline). asv's ``peakmem`` is the peak
resident set of the benchmark process, so ``setup`` never loads the data.
A memory-mapped ``.npy`` counts its touched, file-backed pages as resident
although the kernel can drop them at any time: its figure is an upper bound.
"""

from __future__ import annotations

import os

import numpy as np

from gmmx import GaussianMixture

from .common import mixture_data, n_rows, quiet, skip, true_init

N_COMPONENTS = 4
N_FEATURES = 4
CHUNK_SIZE = 65_536
SOURCES = ["npy", "parquet", "parquet-cached", "csv", "in-memory"]


def _has(module):
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def write_files(directory, n_samples):
    """Write the benchmark data as .npy, Parquet and CSV files.

    Parameters
    ----------
    directory : str
    n_samples : int

    Returns
    -------
    dict
        Format name -> absolute path (formats whose writer is missing are left out).
    """
    X = np.array(mixture_data(n_samples, N_COMPONENTS, N_FEATURES))
    columns = [f"x{j}" for j in range(N_FEATURES)]
    paths = {}
    path = os.path.abspath(os.path.join(directory, "data.npy"))
    np.save(path, X)
    paths["npy"] = path
    if _has("pyarrow"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = os.path.abspath(os.path.join(directory, "data.parquet"))
        table = pa.table({c: X[:, j] for j, c in enumerate(columns)})
        pq.write_table(table, path, row_group_size=CHUNK_SIZE)
        paths["parquet"] = path
    if _has("pandas"):
        import pandas as pd

        # CSV is slow to write and to parse: a tenth of the rows keeps the
        # default run short while still spanning many chunks.
        path = os.path.abspath(os.path.join(directory, "data.csv"))
        pd.DataFrame(X[: max(1, n_samples // 10)], columns=columns).to_csv(
            path, index=False, float_format="%.17g")
        paths["csv"] = path
    return paths


class StreamingFit:
    """Three exact EM passes over a file, streamed chunk by chunk.

    ``parquet-cached`` is the Parquet file with ``cache_dir``: the first pass
    decodes and writes the rows, the other two read them memory-mapped.
    """

    params = [SOURCES]
    param_names = ["source"]
    timeout = 900

    def setup_cache(self):
        # Runs once per benchmark run, in a temporary directory kept for it.
        return write_files(os.getcwd(), n_rows(500_000, 10_000_000))

    def setup(self, paths, source):
        key = {"in-memory": "npy", "parquet-cached": "parquet"}.get(source, source)
        if key not in paths:
            skip(f"no writer/reader for {source} (pandas / pyarrow not installed)")
        self.path = paths[key]
        self.source = source
        self.kwargs = dict(n_components=N_COMPONENTS, covariance_type="full", max_iter=3,
                           tol=0.0, chunk_size=CHUNK_SIZE,
                           **true_init("full", N_COMPONENTS, N_FEATURES))

    def _fit(self):
        from gmmx.streaming import as_source

        model = GaussianMixture(**self.kwargs)
        with quiet():
            if self.source == "in-memory":
                model.fit(np.load(self.path))
            elif self.source == "parquet-cached":
                # A fresh copy per fit: the first pass writes it, the others map it.
                cache_dir = os.path.join(os.path.dirname(self.path), "cache")
                os.makedirs(cache_dir, exist_ok=True)
                model.fit(as_source(self.path, chunk_size=CHUNK_SIZE, cache_dir=cache_dir))
            else:
                model.fit(as_source(self.path, chunk_size=CHUNK_SIZE))
        return model

    def time_fit(self, paths, source):
        self._fit()

    def peakmem_fit(self, paths, source):
        self._fit()

    def track_loglik(self, paths, source):
        model = self._fit()
        X = np.load(paths["npy"])
        if source == "csv":
            X = X[: max(1, X.shape[0] // 10)]
        return float(model.score(X))

    track_loglik.unit = "nats/sample"


class ReadChunks:
    """One pass over a source without EM: the reader's own cost."""

    params = [["npy", "parquet", "csv"]]
    param_names = ["source"]
    timeout = 600

    def setup_cache(self):
        return write_files(os.getcwd(), n_rows(500_000))

    def setup(self, paths, source):
        if source not in paths:
            skip(f"no writer/reader for {source}")
        from gmmx.streaming import as_source

        self.src = as_source(paths[source], chunk_size=CHUNK_SIZE)

    def time_one_pass(self, paths, source):
        total = 0.0
        for item in self.src.chunks():
            block = item[0] if isinstance(item, tuple) else item
            # Touch every value: a memory-mapped .npy chunk is otherwise free.
            total += float(np.asarray(block).sum())
        return total
