"""Out-of-core and online EM: chunk sources and the drivers that feed them to
the one E-step kernel.

Exact out-of-core EM
    ``GaussianMixture(...).fit(source)`` runs each EM iteration as one pass
    over the source: every chunk goes through :func:`gmmx._engine.accumulate`
    and the chunk statistics are summed, so the result equals the in-memory
    fit whatever the chunk size.  Initialisation uses one sampling pass (a
    bounded reservoir of at most :data:`INIT_SAMPLE_ROWS` rows).

Online EM
    ``GaussianMixture.partial_fit`` is stepwise EM (Cappé & Moulines, 2009)
    on the same statistics; :func:`fit_minibatch` drives it over a source in
    shuffled chunk order, optionally followed by exact polishing passes.

Scoring
    :func:`score` is the mean log-likelihood of any source in one pass (for
    BIC/AIC on data larger than memory).

Chunk sources
    The sources (arrays, ``.npy``, Parquet, CSV, iterables), :func:`as_source`
    and the chunk-source protocol live in :mod:`gmmx.sources`; their names
    are re-exported here.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _engine
from ._progress import PassProgress, progress_enabled
from ._stats import SufficientStats, m_step
from ._validation import as_float_array, check_finite, check_random_state, check_sample_weight
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
    _chunk_error,
    as_block,
    as_source,
)
from .sources import check_chunk_size as _check_chunk_size  # noqa: F401

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
    "score",
]

#: Rows kept for initialisation from a source (reservoir sample).
INIT_SAMPLE_ROWS = 200_000


# --------------------------------------------------------------------------
# Reservoir sample for initialisation
# --------------------------------------------------------------------------


_KEY_BLOCK = 1 << 18


class Reservoir:
    """Bounded sample of rows in one pass (also mergeable, for Dask).

    All rows are kept while they fit in ``capacity``, so a small source gives
    exactly its rows (and the same initialisation as an in-memory fit).
    Beyond that it is Efraimidis-Spirakis weighted sampling without
    replacement (keys ``log(u) / w``; uniform without weights).  Random keys
    are drawn only once the capacity is exceeded.

    Parameters
    ----------
    capacity : int
    seed : int or None
        Seed of the key generator (drawn from ``random_state`` if None).
    random_state : numpy RandomState, optional
    """

    def __init__(self, capacity=INIT_SAMPLE_ROWS, seed=None, random_state=None):
        self.capacity = int(capacity)
        self._seed = seed
        self._random_state = random_state
        self._rng = None
        self.X = None
        self.w = None  # None until a weighted block is seen
        self.order = np.empty(0, dtype=np.int64)
        self.keys = None
        self.weighted = False
        self.n_seen = 0

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_random_state"] = None
        return state

    @property
    def size(self):
        return 0 if self.X is None else self.X.shape[0]

    def _gen(self):
        if self._rng is None:
            seed = self._seed
            if seed is None:
                rs = self._random_state if self._random_state is not None else np.random.mtrand._rand
                seed = int(rs.randint(np.iinfo(np.int32).max))
            self._rng = np.random.default_rng(seed)
        return self._rng

    def _make_keys(self, w, n):
        u = self._gen().random(n)
        with np.errstate(divide="ignore"):
            logu = np.log(u)
            return logu if w is None else logu / w

    def _ensure_keys(self):
        if self.keys is None:
            self.keys = self._make_keys(self.w, self.size)

    def _append(self, X, w, order, keys):
        if w is not None and not self.weighted:
            self.weighted = True
            if self.X is not None:
                self.w = np.ones(self.size)
        if self.weighted and w is None:
            w = np.ones(X.shape[0])
        if self.X is None:
            self.X, self.w, self.order = X, (w if self.weighted else None), order
            self.keys = keys
            return
        self.X = np.concatenate([self.X, X])
        if self.weighted:
            self.w = np.concatenate([self.w, w])
        self.order = np.concatenate([self.order, order])
        if keys is not None:
            self.keys = np.concatenate([self.keys, keys])

    def _truncate(self):
        if self.size > self.capacity:
            keep = np.argpartition(-self.keys, self.capacity - 1)[: self.capacity]
            keep.sort()
            self.X = self.X[keep]
            self.order = self.order[keep]
            self.keys = self.keys[keep]
            if self.w is not None:
                self.w = self.w[keep]

    def add(self, X, w=None, start=0):
        """Offer the rows of block ``X`` (global row index ``start + i``)."""
        n = X.shape[0]
        if n == 0:
            return
        if n > _KEY_BLOCK and (self.keys is not None or self.size + n > self.capacity):
            # draw keys a slice at a time: bounded scratch memory for big chunks
            for s in range(0, n, _KEY_BLOCK):
                self.add(X[s:s + _KEY_BLOCK], None if w is None else w[s:s + _KEY_BLOCK], start + s)
            return
        self.n_seen += n
        order = start + np.arange(n, dtype=np.int64)
        if self.keys is None and self.size + n <= self.capacity:
            self._append(np.array(X), None if w is None else np.array(w, dtype=np.float64), order, None)
            return
        self._ensure_keys()
        keys = self._make_keys(w, n)
        if self.size >= self.capacity:
            sel = np.flatnonzero(keys > self.keys.min())
            X, order, keys = X[sel], order[sel], keys[sel]
            w = None if w is None else w[sel]
        self._append(np.array(X), None if w is None else np.array(w, dtype=np.float64), order, keys)
        self._truncate()

    def merge(self, other):
        """Combine with another reservoir (``self`` is updated and returned)."""
        if other is None or other.size == 0:
            return self
        self.n_seen += other.n_seen
        if self.keys is None and other.keys is None and self.size + other.size <= self.capacity:
            self._append(other.X, other.w, other.order, None)
            return self
        self._ensure_keys()
        other._ensure_keys()
        self._append(other.X, other.w, other.order, other.keys)
        self._truncate()
        return self

    def result(self):
        """``(X_sample, w_sample)`` in source order; weights are None once
        rows were sampled (the sampling already accounts for them)."""
        if self.X is None:
            return None, None
        idx = np.argsort(self.order, kind="stable")
        X, w = self.X[idx], (None if self.w is None else self.w[idx])
        if self.keys is not None:
            keep = np.isfinite(self.keys[idx])
            return np.ascontiguousarray(X[keep]), None
        return np.ascontiguousarray(X), w


# --------------------------------------------------------------------------
# Out-of-core driver
# --------------------------------------------------------------------------


class SourceDriver:
    """EM driver over a :class:`ChunkSource`: one pass per iteration.

    Parameters
    ----------
    X : source
        Anything :func:`as_source` accepts.
    model : GaussianMixture
        Supplies ``chunk_size``, ``n_threads`` and ``progress``.
    """

    def __init__(self, X, model):
        self.source = as_source(X, chunk_size=model.chunk_size)
        self.n_threads = model._n_threads()
        self._n_features = self.source.n_features
        self.n_rows = self.source.n_rows
        max_passes = None
        if isinstance(model.max_iter, int) and isinstance(model.n_init, int):
            max_passes = model.max_iter * model.n_init
        self.progress = PassProgress(progress_enabled(model.progress), max_passes, self.n_rows)

    @property
    def n_features(self):
        """Columns of the source (read from its first block if not declared)."""
        if self._n_features is None:
            for _, _, X, _ in self.blocks():
                self._n_features = X.shape[1]
                break
            else:
                raise ValueError(f"the source {self.source!r} yielded no rows")
        return self._n_features

    def blocks(self, order=None):
        """Validated blocks ``(index, first_row, X, w)`` of one pass.

        ``order``: chunk indices to read with ``read_chunk`` (random-access
        sources), else one sequential pass.  Errors raised by the source are
        re-raised as :class:`ChunkError` naming the chunk.
        """
        src = self.source
        if order is not None:
            for i in order:
                i = int(i)
                try:
                    item = src.read_chunk(i)
                except Exception as exc:
                    raise _chunk_error(
                        exc, f"chunk {i} of {src!r} could not be read: {type(exc).__name__}: {exc}", i
                    ) from exc
                X, w = as_block(item, f"chunk {i}: ", self._n_features)
                if self._n_features is None:
                    self._n_features = X.shape[1]
                yield i, None, X, w
            return
        i = 0
        first_row = 0
        try:
            it = iter(src.chunks())
        except Exception as exc:
            raise _chunk_error(
                exc, f"the source {src!r} could not be opened: {type(exc).__name__}: {exc}", 0
            ) from exc
        try:
            while True:
                try:
                    item = next(it)
                except StopIteration:
                    return
                except Exception as exc:
                    raise _chunk_error(
                        exc, f"chunk {i} (starting at row {first_row}) of {src!r} could not "
                        f"be read: {type(exc).__name__}: {exc}", i
                    ) from exc
                X, w = as_block(item, f"chunk {i} (starting at row {first_row}): ", self._n_features)
                if self._n_features is None:
                    self._n_features = X.shape[1]
                if X.shape[0]:
                    yield i, first_row, X, w
                first_row += X.shape[0]
                i += 1
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    @staticmethod
    def _where(i, first_row):
        if first_row is None:
            return f"chunk {i}: "
        return f"chunk {i} (starting at row {first_row}): "

    def accumulate(self, params, covariance_type):
        """Sufficient statistics of one full pass over the source."""
        total = None
        self.progress.start_pass()
        for i, first_row, X, w in self.blocks():
            st = _engine.accumulate(X, w, params, covariance_type, self.n_threads,
                                    where=self._where(i, first_row))
            total = st if total is None else total + st
            self.progress.rows(X.shape[0])
        if total is None:
            raise ValueError(f"the source {self.source!r} yielded no rows")
        self.progress.end_pass(total.log_likelihood / total.weight_sum)
        return total

    def init_sample(self, random_state, capacity=INIT_SAMPLE_ROWS):
        """A bounded sample for initialisation, from one pass (see :class:`Reservoir`).

        The sample is drawn once and reused by further initialisations
        (``n_init > 1``), as an in-memory fit reuses its array.
        """
        cached = getattr(self, "_sample", None)
        if cached is not None and cached[0] == capacity:
            return cached[1]
        res = Reservoir(capacity, random_state=random_state)
        self.progress.start_pass("init sample")
        for i, first_row, X, w in self.blocks():
            check_finite(X, f"chunk {i} (starting at row {first_row})")
            res.add(X, w, first_row)
            self.progress.rows(X.shape[0])
        Xs, ws = res.result()
        if Xs is None:
            raise ValueError(f"the source {self.source!r} yielded no rows")
        if self.n_rows is None:
            self.n_rows = res.n_seen
            self.progress.n_rows = res.n_seen
        self._sample = (capacity, (Xs, ws))
        return Xs, ws

    def close(self):
        """Close the progress bars."""
        self.progress.close()


# --------------------------------------------------------------------------
# Online (stepwise) EM
# --------------------------------------------------------------------------


def check_step_exponent(kappa):
    """``step_exponent`` must be in (0.5, 1]."""
    if (isinstance(kappa, bool) or not isinstance(kappa, numbers.Real)
            or not np.isfinite(kappa) or not 0.5 < kappa <= 1.0):
        raise ValueError(
            f"step_exponent must be a number in (0.5, 1] (the step sizes are "
            f"(t + 2) ** -step_exponent), got {kappa!r}"
        )
    return float(kappa)


class OnlineEM:
    """State of stepwise EM: the running statistics and the update count.

    The b-th batch (b = 1, 2, ...) updates the running per-row statistics by
    ``S <- (1 - eta_b) S + eta_b s_hat`` with ``eta_b = b ** -kappa``
    (``(t + 2) ** -kappa`` with ``t = b - 2`` counting from the second batch),
    where ``s_hat`` are the batch's statistics divided by its total weight.
    The first batch sets ``S = s_hat``, so one batch equal to the whole data
    is exactly one EM iteration.  Before combining, the running statistics
    are recentred at the current means (the batch's centres).

    Parameters
    ----------
    stats : SufficientStats or None
    n_updates : int
    """

    def __init__(self, stats=None, n_updates=0):
        self.stats = stats
        self.n_updates = int(n_updates)
        self._anchor = None

    def step_size(self, kappa):
        """Step for the next batch: ``(n_updates + 1) ** -kappa``."""
        return float((self.n_updates + 1) ** -kappa)

    def update(self, batch_stats, kappa):
        """Absorb the statistics of one batch; returns the new running stats."""
        if batch_stats.weight_sum <= 0:
            raise ValueError("the batch carries no weight (all sample weights are zero)")
        s_hat = batch_stats.scaled(1.0 / batch_stats.weight_sum)
        if self.stats is None or self.n_updates == 0:
            self.stats = s_hat
        else:
            eta = self.step_size(kappa)
            # s_hat is centred at the current means; the running stats are
            # recentred there by `+`.
            self.stats = s_hat.scaled(eta) + self.stats.scaled(1.0 - eta)
        self.n_updates += 1
        return self.stats

    def anchor(self, model):
        """Remember the parameters this state produced (to detect a refit)."""
        self._anchor = (model.weights_.copy(), model.means_.copy())

    def matches(self, model):
        """True if ``model``'s parameters are the ones this state produced."""
        if self._anchor is None or not hasattr(model, "means_"):
            return False
        w, m = self._anchor
        return (w.shape == model.weights_.shape and m.shape == model.means_.shape
                and np.array_equal(w, model.weights_) and np.array_equal(m, model.means_))

    def to_arrays(self, prefix="online_"):
        """Plain arrays for :mod:`gmmx.io`."""
        out = {prefix + "n_updates": np.array([self.n_updates], dtype=np.int64)}
        if self.stats is not None:
            out.update(self.stats.to_arrays(prefix + "stats_"))
        return out

    @classmethod
    def from_arrays(cls, covariance_type, arrays, prefix="online_"):
        """Inverse of :meth:`to_arrays`."""
        n = int(np.asarray(arrays[prefix + "n_updates"]).reshape(-1)[0])
        stats = None
        if (prefix + "stats_nk") in arrays:
            stats = SufficientStats.from_arrays(covariance_type, arrays, prefix + "stats_")
        return cls(stats, n)


_MAX_LOWER_BOUNDS = 10_000


def online_step(model, X, w, where="partial_fit batch: ", random_state=None, step_exponent=None):
    """One stepwise-EM update of ``model`` with a validated block ``(X, w)``.

    Initialises the model from the block on the first call (or uses
    ``weights_init`` / ``means_init`` / ``precisions_init``).
    ``step_exponent`` overrides ``model.step_exponent``.
    """
    from .mixture import ArrayDriver

    if step_exponent is None:
        step_exponent = getattr(model, "step_exponent", 0.6)
    kappa = check_step_exponent(step_exponent)
    d = X.shape[1]
    fitted = hasattr(model, "precisions_cholesky_")
    if fitted and d != model.n_features_in_:
        prefix = "" if where == "partial_fit batch: " else where
        raise ValueError(
            f"{prefix}X has {d} features, but {type(model).__name__} is expecting "
            f"{model.n_features_in_} features as input (every batch must have the "
            "same columns as the first)"
        )
    model._check_parameters(d)
    n_threads = model._n_threads()
    state = getattr(model, "_online_state", None)
    if fitted:
        if state is None or not state.matches(model):
            state = OnlineEM()
        params = model._get_parameters()
    else:
        if X.shape[0] < model.n_components:
            raise ValueError(
                f"{where}the first batch has {X.shape[0]} rows but n_components = "
                f"{model.n_components}; the first batch must have at least n_components rows"
            )
        rs = check_random_state(model.random_state) if random_state is None else random_state
        params = model._initial_params(ArrayDriver(X, w, n_threads), rs)
        model.n_features_in_ = d
        model.lower_bounds_ = []
        state = OnlineEM()
    cov_type = model.covariance_type
    kparams = _engine.kernel_params(params[0], params[1], params[3], cov_type)
    stats = _engine.accumulate(X, w, kparams, cov_type, n_threads, where=where)
    running = state.update(stats, kappa)
    new = m_step(running, model.reg_covar, prev_covariances=params[2])
    model._set_parameters(new)
    lower_bound = stats.log_likelihood / stats.weight_sum
    model.lower_bound_ = lower_bound
    bounds = list(getattr(model, "lower_bounds_", []))
    bounds.append(lower_bound)
    model.lower_bounds_ = bounds[-_MAX_LOWER_BOUNDS:]
    model.n_iter_ = state.n_updates
    model.converged_ = False
    state.anchor(model)
    model._online_state = state
    if model.callback is not None:
        model.callback(state.n_updates, lower_bound)
    return model


def partial_fit(model, X, sample_weight=None):
    """Stepwise-EM update of ``model`` with one batch (``GaussianMixture.partial_fit``)."""
    X = as_float_array(X, ensure_min_samples=1)
    w = check_sample_weight(sample_weight, X.shape[0])
    return online_step(model, X, w)


# --------------------------------------------------------------------------
# Mini-batch fitting
# --------------------------------------------------------------------------


def _mixed_blocks(driver, rng, window, shuffle):
    """Mini-batches whose rows come from ``window`` chunks.

    Tick data are time-ordered, so one chunk is one stretch of time.  Chunks
    are read in random order when the source allows it (and ``shuffle``),
    pooled ``window`` at a time, their rows permuted and split into as many
    batches as chunks were pooled.
    """
    src = driver.source
    if shuffle and src.random_access:
        blocks = driver.blocks(order=rng.permutation(src.n_chunks))
    else:
        blocks = driver.blocks()
    buf = []

    def flush():
        if len(buf) == 1 or not shuffle:
            for i, first_row, X, w in buf:
                yield i, first_row, X, w
            return
        Xs = np.concatenate([b[2] for b in buf])
        ws = None
        if any(b[3] is not None for b in buf):
            ws = np.concatenate([b[3] if b[3] is not None else np.ones(b[2].shape[0]) for b in buf])
        perm = rng.permutation(Xs.shape[0])
        for idx in np.array_split(perm, len(buf)):
            yield buf[0][0], None, np.ascontiguousarray(Xs[idx]), (None if ws is None else ws[idx])

    if shuffle and src.random_access and src.n_chunks:
        # balanced windows: 20 chunks with window 8 -> 7, 7, 6
        n_windows = -(-src.n_chunks // window)
        sizes = [len(a) for a in np.array_split(np.arange(src.n_chunks), n_windows)]
    else:
        sizes = None
    for i, first_row, X, w in blocks:
        check_finite(X, SourceDriver._where(i, first_row).rstrip(": "))
        buf.append((i, first_row, X, w))
        if len(buf) >= (sizes[0] if sizes else window):
            yield from flush()
            buf = []
            if sizes and len(sizes) > 1:
                sizes.pop(0)
    if buf:
        yield from flush()


def fit_minibatch(model, X, *, n_epochs=1, polish_iter=0, shuffle=True, shuffle_buffer=8,
                  step_exponent=1.0):
    """Fit ``model`` by mini-batch (stepwise) EM over a source, then optionally
    polish with exact EM passes.

    For sources too large for many exact passes.  Each batch of about
    ``model.chunk_size`` rows is one stepwise-EM update (as ``partial_fit``,
    step sizes ``b ** -step_exponent``).  Tick data are time-ordered,
    so a chunk is one stretch of time: chunks are read in random order when
    the source allows it (arrays, .npy, Parquet row groups), pooled
    ``shuffle_buffer`` at a time, and their rows permuted into batches, so
    every batch mixes several stretches of time.  When the model is
    initialised from the source's reservoir sample (the default), that
    sample's statistics are the first batch, so the running statistics start
    from a representative sample.

    Parameters
    ----------
    model : GaussianMixture
        Initialised from one sampling pass unless ``warm_start`` is set and it
        is fitted, or ``weights_init``/``means_init``/``precisions_init`` are given.
    X : source
        Anything :func:`as_source` accepts (arrays included).
    n_epochs : int, default=1
        Passes of mini-batch updates.
    polish_iter : int, default=0
        Exact EM passes afterwards (the estimator's own EM loop, with ``tol``).
    shuffle : bool, default=True
        False: chunks in source order, one batch each.
    shuffle_buffer : int, default=8
        Chunks pooled per mixing window (memory: that many chunks).
    step_exponent : float in (0.5, 1] or None, default=1.0
        Step sizes ``b ** -step_exponent``.  For a finite source the running
        average (1.0) is best: time-ordered chunks bias every batch, and
        averaging cancels that bias, whereas smaller exponents (suited to
        drifting live streams) let the last batches pull the fit.  None uses
        ``model.step_exponent``.

    Returns
    -------
    model
        ``n_iter_`` counts the exact polishing iterations if any, else the
        mini-batch updates; ``model.callback`` is called after every batch
        and every polishing iteration.
    """
    if isinstance(n_epochs, bool) or not isinstance(n_epochs, numbers.Integral) or n_epochs < 1:
        raise ValueError(f"n_epochs must be a positive integer, got {n_epochs!r}")
    if isinstance(polish_iter, bool) or not isinstance(polish_iter, numbers.Integral) or polish_iter < 0:
        raise ValueError(f"polish_iter must be a non-negative integer, got {polish_iter!r}")
    if isinstance(shuffle_buffer, bool) or not isinstance(shuffle_buffer, numbers.Integral) or shuffle_buffer < 1:
        raise ValueError(f"shuffle_buffer must be a positive integer, got {shuffle_buffer!r}")
    kappa = check_step_exponent(model.step_exponent if step_exponent is None else step_exponent)
    driver = SourceDriver(X, model)
    try:
        d = driver.n_features
        model._check_parameters(d)
        rs = check_random_state(model.random_state)
        if not (model.warm_start and hasattr(model, "precisions_cholesky_")):
            for name in ("weights_", "means_", "covariances_", "precisions_",
                         "precisions_cholesky_", "_online_state"):
                if hasattr(model, name):
                    delattr(model, name)
            params = model._initial_params(driver, rs)
            sample = getattr(driver, "_sample", None)  # set if init read the source
            model._set_parameters(params)
            model.n_features_in_ = d
            model.lower_bounds_ = []
            model._online_state = OnlineEM()
            model._online_state.anchor(model)
            if sample is not None:
                online_step(model, *sample[1], where="initial sample: ", step_exponent=kappa)
        else:
            if d != model.n_features_in_:
                raise ValueError(
                    f"the source has {d} features, but the warm-started model was fitted "
                    f"with {model.n_features_in_}"
                )
            model._online_state = OnlineEM()
            model._online_state.anchor(model)
        rng = np.random.default_rng(rs.randint(np.iinfo(np.int32).max))
        driver.progress._desc = "mini-batch"
        driver.progress._max_passes = n_epochs + polish_iter
        for _epoch in range(n_epochs):
            driver.progress.start_pass()
            for i, first_row, Xb, wb in _mixed_blocks(driver, rng, shuffle_buffer, shuffle):
                online_step(model, Xb, wb, where=SourceDriver._where(i, first_row),
                            step_exponent=kappa)
                driver.progress.rows(Xb.shape[0])
            driver.progress.end_pass(model.lower_bound_)
        if polish_iter:
            saved = (model.warm_start, model.max_iter)
            model.warm_start, model.max_iter = True, int(polish_iter)
            model.lower_bound_ = -np.inf
            try:
                model._fit_driver(driver)
            finally:
                model.warm_start, model.max_iter = saved
    finally:
        driver.close()
    return model


def score(model, X):
    """Mean (weighted) log-likelihood per row of any data a fit accepts.

    One kernel pass over ``X`` under the fitted parameters: an array, a chunk
    source (path, :class:`ChunkSource`, iterable; weights from its
    ``(X, w)`` pairs or weight column) or a dask collection.  For BIC/AIC on
    data larger than memory: ``-2 * score * n + n_params * log(n)``.

    Returns
    -------
    float
    """
    model._check_is_fitted()
    driver = model._make_driver(X, None)
    try:
        if driver.n_features != model.n_features_in_:
            raise ValueError(
                f"X has {driver.n_features} features, but {type(model).__name__} is "
                f"expecting {model.n_features_in_} features as input"
            )
        stats = driver.accumulate(model._kernel_params(), model.covariance_type)
    finally:
        close = getattr(driver, "close", None)
        if close is not None:
            close()
    return float(stats.log_likelihood / stats.weight_sum)
