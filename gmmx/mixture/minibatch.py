"""Mini-batch fitting: stepwise EM over a source's chunks, then exact polishing."""

from __future__ import annotations

import numbers

import numpy as np

from .. import _progress
from .._validation import check_random_state
from ..core.online import OnlineEM, check_step_exponent
from ..drivers.minibatch import mixed_blocks
from ..drivers.source import SourceDriver, chunk_label

__all__ = ["fit_minibatch"]


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
        Anything :func:`gmmx.sources.as_source` accepts (arrays included).
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
    driver = SourceDriver(X, model._driver_options())
    driver.progress = _progress.PassProgress(_progress.progress_enabled(model.progress),
                                             n_epochs + polish_iter, driver.n_rows,
                                             desc="mini-batch")
    try:
        d = driver.n_features
        model._check_parameters(d)
        rs = check_random_state(model.random_state)
        if not (model.warm_start and hasattr(model, "precisions_cholesky_")):
            # Initialise before touching the model: if this fails, a fitted
            # model stays as it was.
            params = model._initial_params(model._init_driver(driver), rs)
            sample = driver.cached_sample  # set if the initialisation read the source
            for name in ("weights_", "means_", "covariances_", "precisions_",
                         "precisions_cholesky_", "_online_state"):
                if hasattr(model, name):
                    delattr(model, name)
            model._set_parameters(params)
            model.n_features_in_ = d
            model.lower_bounds_ = []
            model._online_state = OnlineEM()
            model._online_state.anchor(model.weights_, model.means_)
            if sample is not None:
                model._online_step(*sample, where="initial sample: ", step_exponent=kappa)
        else:
            if d != model.n_features_in_:
                raise ValueError(
                    f"the source has {d} features, but the warm-started model was fitted "
                    f"with {model.n_features_in_}"
                )
            model._online_state = OnlineEM()
            model._online_state.anchor(model.weights_, model.means_)
        rng = np.random.default_rng(rs.randint(np.iinfo(np.int32).max))
        for _epoch in range(n_epochs):
            driver.progress.start_pass()
            for i, first_row, Xb, wb in mixed_blocks(driver, rng, shuffle_buffer, shuffle):
                model._online_step(Xb, wb, where=chunk_label(i, first_row), step_exponent=kappa)
                driver.progress.rows(Xb.shape[0])
            driver.progress.end_pass(model.lower_bound_)
        if polish_iter:
            model.lower_bound_ = -np.inf
            model._fit_driver(driver, warm=True, max_iter=int(polish_iter))
    finally:
        driver.close()
    return model
