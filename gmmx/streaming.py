"""Out-of-core and online EM under their 0.1 import path.

Everything here lives in the layered packages and is re-exported so that
code written against gmmx 0.1 keeps working:

Chunk sources (:mod:`gmmx.sources`)
    ``ArraySource``, ``NpySource``, ``ParquetSource``, ``CSVSource``,
    ``IterableSource``, the ``ChunkSource`` protocol, :func:`as_source`,
    ``ChunkError`` and its subclasses.

Exact out-of-core EM (:mod:`gmmx.drivers`)
    ``GaussianMixture(...).fit(source)`` runs each EM iteration as one pass
    over the source (``SourceDriver``); initialisation uses one sampling pass
    (``Reservoir``, at most :data:`INIT_SAMPLE_ROWS` rows).

Online EM (:mod:`gmmx.core.online`, :mod:`gmmx.mixture`)
    ``GaussianMixture.partial_fit`` is stepwise EM (Cappé & Moulines, 2009)
    (``OnlineEM``); :func:`fit_minibatch` drives it over mini-batches of a
    source (``batch_size`` rows, cut from chunks read in shuffled order) from
    a start fitted to the source's sample, optionally followed by exact
    polishing passes.

Scoring
    :func:`score` is the mean log-likelihood of any source in one pass (for
    BIC/AIC on data larger than memory).
"""

from __future__ import annotations

from typing import Any

from .core.online import OnlineEM, check_step_exponent  # noqa: F401
from .drivers.sampling import INIT_SAMPLE_ROWS, Reservoir  # noqa: F401
from .drivers.source import SourceDriver
from .mixture import fit_minibatch
from .sources import (  # noqa: F401  (re-exported: gmmx.streaming.<name> keeps working)
    DEFAULT_CHUNK_BYTES,
    DEFAULT_CHUNK_ROWS,
    ArraySource,
    ChunkError,
    ChunkMemoryError,
    ChunkOSError,
    ChunkSource,
    ChunkValueError,
    CSVSource,
    IterableSource,
    NpySource,
    ParquetSource,
    as_block,
    as_source,
)

__all__ = [
    "ArraySource",
    "CSVSource",
    "ChunkError",
    "ChunkOSError",
    "ChunkValueError",
    "ChunkSource",
    "IterableSource",
    "NpySource",
    "OnlineEM",
    "ParquetSource",
    "Reservoir",
    "SourceDriver",
    "as_source",
    "fit_minibatch",
    "partial_fit",
    "score",
]


def partial_fit(model: Any, X: Any, sample_weight: Any = None) -> Any:
    """Stepwise-EM update of ``model`` with one batch (same as ``model.partial_fit``)."""
    return model.partial_fit(X, sample_weight=sample_weight)


def score(model: Any, X: Any) -> float:
    """Mean (weighted) log-likelihood per row of any data a fit accepts.

    Same as ``model.score_data(X)``: one kernel pass over ``X`` (an array, a
    chunk source or a dask collection) under the fitted parameters.  For
    BIC/AIC on data larger than memory: ``-2 * score * n + n_params * log(n)``.

    Returns
    -------
    float
    """
    return model.score_data(X)
