"""Mini-batch fitting: stepwise EM over mini-batches of a source, then optional exact polishing."""

from __future__ import annotations

from typing import Any

import numbers

import numpy as np

from .. import _progress
from .._validation import check_random_state
from ..core.em import run_em
from ..core.online import OnlineEM, check_step_exponent
from ..drivers import ArrayDriver
from ..drivers.minibatch import minibatches
from ..drivers.source import SourceDriver

__all__ = ["fit_minibatch"]

#: Largest change of the sample's lower bound per row at which EM on the
#: initialisation sample stops (the model's ``tol`` if smaller).
SAMPLE_TOL = 1e-6


def fit_minibatch(model: Any, X: Any, *, n_epochs: int = 1, batch_size: int = 16384, step_exponent: Any = "auto",
                  average: Any = "auto", polish_iter: int = 0, shuffle: bool = True, shuffle_buffer: int = 8) -> Any:
    """Fit ``model`` by mini-batch (stepwise) EM over a source, then optionally
    polish with exact EM passes.

    For sources too large for many exact passes: an epoch reads the source
    once.  By default the model is initialised from a reservoir sample of
    the source (one sampling pass, as ``fit``), and EM runs on that
    in-memory sample until it converges; the sample's statistics are the
    first update.  Then every mini-batch of ``batch_size`` rows is one
    stepwise-EM update (Cappé & Moulines 2009; as ``partial_fit``: running
    statistics ``S <- (1 - eta) S + eta s(batch)`` with
    ``eta = (t + 2) ** -step_exponent``).

    Tick data are time-ordered, so a read chunk is one stretch of time:
    chunks are read in random order when the source allows it (arrays,
    .npy, Parquet row groups), pooled ``shuffle_buffer`` at a time, and
    every batch gathers short runs of rows from random places in the pool.

    Parameters
    ----------
    model : GaussianMixture
        Initialised as above unless ``warm_start`` is set and it is fitted
        (the epochs then continue from its parameters, and from its online-EM
        state if it has one, as ``partial_fit`` would), or
        ``weights_init``/``means_init``/``precisions_init`` are given (then
        no sample is drawn).
    X : source
        Anything :func:`gmmx.sources.as_source` accepts (arrays included).
    n_epochs : int, default=1
        Passes of mini-batch updates.
    batch_size : int or None, default=16384
        Rows per stepwise-EM update, independent of the rows per read
        (``model.chunk_size``).  An update costs the E-step of its rows plus
        about a tenth of a millisecond (the M-step), the E-step of ~10,000
        one-feature rows.  None: one read chunk per update (few, large steps;
        for streams whose chunks are natural batches).
    step_exponent : float in (0.5, 1], None or "auto", default="auto"
        ``kappa`` of the step sizes; None: ``model.step_exponent``.  "auto":
        1.0 after a start fitted to the source's sample (a running average of
        the batches' statistics, which cancels the bias of time-ordered
        batches), else ``model.step_exponent`` (default 0.6: a start far from
        the optimum, such as a warm start or given initial parameters, is
        forgotten).
    average : float in [0, 1] or "auto", default="auto"
        Fraction of the last epoch's rows over which the running statistics
        are averaged (Polyak-Ruppert; the model is the M-step of that mean),
        removing the noise of small steps.  "auto": 0.5 if ``kappa < 1``,
        else 0 (a running average needs none).  Averages over the whole epoch
        if the number of rows is not known.
    polish_iter : int, default=0
        Exact EM passes afterwards (the estimator's own EM loop, with ``tol``).
    shuffle : bool, default=True
        False: chunks in source order, rows in order.
    shuffle_buffer : int, default=8
        Chunks pooled per mixing window (memory: a copy of that many chunks).

    Returns
    -------
    model
        ``n_iter_`` counts the exact polishing iterations if any, else the
        stepwise updates; ``model.callback`` is called after every update
        and every polishing iteration.
    """
    _check_count("n_epochs", n_epochs, 1)
    _check_count("polish_iter", polish_iter, 0)
    _check_count("shuffle_buffer", shuffle_buffer, 1)
    if batch_size is not None:
        _check_count("batch_size", batch_size, 1)
    if not _is_auto(average) and (isinstance(average, bool) or not isinstance(average, numbers.Real)
                                  or not 0 <= average <= 1):  # type: ignore[operator]
        raise ValueError(f"average must be a number in [0, 1] (the fraction of the last "
                         f"epoch that is averaged) or 'auto', got {average!r}")
    if step_exponent is None:
        step_exponent = model.step_exponent
    check_step_exponent(model.step_exponent if _is_auto(step_exponent) else step_exponent)
    driver = SourceDriver(X, model._driver_options())
    driver.progress = _progress.PassProgress(_progress.progress_enabled(model.progress),
                                             n_epochs + polish_iter, driver.n_rows,
                                             desc="mini-batch")
    try:
        state, kappa = _start(model, driver, step_exponent)
        if _is_auto(average):
            average = 0.5 if kappa < 1 else 0.0
        n_threads = None  # from the first batch's size: small batches run on one thread
        rng = np.random.default_rng(check_random_state(model.random_state)
                                    .randint(np.iinfo(np.int32).max))
        for epoch in range(n_epochs):
            n_rows = driver.n_rows
            average_from = None
            if epoch == n_epochs - 1 and average:
                average_from = 0 if n_rows is None else (1 - average) * n_rows
            driver.progress.start_pass()
            seen = 0
            for where, Xb, wb in minibatches(driver, rng, batch_size, shuffle_buffer, shuffle):
                if n_threads is None:
                    n_threads = model._n_threads(Xb)
                model._online_update(state, model._get_parameters(), Xb, wb, kappa, where,
                                     n_threads, average=average_from is not None
                                     and seen >= average_from)
                seen += Xb.shape[0]
                driver.progress.rows(Xb.shape[0])
            driver.progress.end_pass(model.lower_bound_)
        mean = state.end_average(model._map_needs_totals())
        if mean is not None:
            model._set_parameters(model._em_steps().m_step(mean, model._get_parameters()))
            state.anchor(model.weights_, model.means_)
        if polish_iter:
            model.lower_bound_ = -np.inf
            model._fit_driver(driver, warm=True, max_iter=int(polish_iter))
    finally:
        driver.close()
    return model


def _is_auto(value):
    return isinstance(value, str) and value == "auto"


def _check_count(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        kind = "a positive" if minimum == 1 else "a non-negative"
        raise ValueError(f"{name} must be {kind} integer, got {value!r}")


def _start(model, driver, step_exponent):
    """The online-EM state to continue from (the model initialised if needed) and
    the step exponent: ``step_exponent`` unless "auto", else 1 after EM on the
    source's sample, else the model's."""
    d = driver.n_features
    model._check_parameters(d)
    if model.warm_start and hasattr(model, "precisions_cholesky_"):
        if d != model.n_features_in_:
            raise ValueError(
                f"the source has {d} features, but the warm-started model was fitted "
                f"with {model.n_features_in_}"
            )
        state = getattr(model, "_online_state", None)
        if state is None or not state.matches(model.weights_, model.means_):
            state = OnlineEM()
        return state, _kappa(step_exponent, model.step_exponent)
    # Initialise before touching the model: if this fails, a fitted model stays as it was.
    params = model._initial_params(model._init_driver(driver),
                                   check_random_state(model.random_state))
    sample = driver.cached_sample  # set if the initialisation read the source
    n_threads = None if sample is None else model._n_threads(sample[0])
    if sample is not None:
        sample_driver = ArrayDriver(sample[0], sample[1], n_threads)
        params = run_em(sample_driver.accumulate, model._em_steps(), params, -np.inf,
                        max_iter=model.max_iter, tol=min(model.tol, SAMPLE_TOL)).params
    for name in ("weights_", "means_", "covariances_", "precisions_",
                 "precisions_cholesky_", "_online_state"):
        if hasattr(model, name):
            delattr(model, name)
    model._set_parameters(params)
    model.n_features_in_ = d
    model.lower_bounds_ = []
    state = OnlineEM()
    state.anchor(model.weights_, model.means_)
    kappa = _kappa(step_exponent, model.step_exponent if sample is None else 1.0)
    if sample is not None:
        model._online_update(state, params, sample[0], sample[1], kappa, "initial sample: ",
                             n_threads)
    return state, kappa


def _kappa(step_exponent, auto):
    return check_step_exponent(auto if _is_auto(step_exponent) else step_exponent)
