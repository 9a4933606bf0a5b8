"""The one EM step and loop, shared by ``fit``, ``partial_fit`` and mini-batch fitting.

A model enters as three callables (:class:`EMSteps`): how its parameters are
packed for the kernel, its M-step and its lower bound.  Where the rows come
from enters as ``accumulate(kernel_params) -> SufficientStats`` (a driver's
method).  Nothing here knows an estimator.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

from ..exceptions import IllDefinedCovarianceError

__all__ = ["EMResult", "EMSteps", "e_step", "em_step", "run_em"]


class EMSteps(NamedTuple):
    """A model's part of EM.

    Attributes
    ----------
    kernel_params : callable
        ``kernel_params(params) -> KernelParams``.
    m_step : callable
        ``m_step(stats, params) -> params``; ``params`` are the previous ones.
    lower_bound : callable
        ``lower_bound(stats, params) -> float``, per unit of weight.
    """

    kernel_params: Callable
    m_step: Callable
    lower_bound: Callable


@dataclass
class EMResult:
    """Outcome of one EM run (one initialisation)."""

    params: tuple
    lower_bound: float
    lower_bounds: list = field(default_factory=list)
    converged: bool = False
    n_iter: int = 0
    #: Set when the run stopped because the M-step's covariances were no
    #: longer positive definite (a component collapsed): the message.
    collapsed: str = ""


def e_step(accumulate: Any, steps: Any, params: Any) -> Any:
    """Statistics of the data under ``params`` and the lower bound of ``params``."""
    stats = accumulate(steps.kernel_params(params))
    return stats, steps.lower_bound(stats, params)


def em_step(accumulate: Any, steps: Any, params: Any, absorb: Any = None) -> Any:
    """One E-step and M-step from ``params``.

    Parameters
    ----------
    accumulate : callable
        ``accumulate(kernel_params) -> SufficientStats`` over the data.
    steps : EMSteps
    params : tuple
        Current parameters.
    absorb : callable, optional
        ``absorb(stats) -> stats`` applied before the M-step (online EM
        folds the batch into running statistics here).

    Returns
    -------
    new_params, stats, lower_bound
        ``lower_bound`` is that of ``params`` on the data just read.
    """
    stats, lower_bound = e_step(accumulate, steps, params)
    running = stats if absorb is None else absorb(stats)
    return steps.m_step(running, params), stats, lower_bound


def run_em(accumulate: Any, steps: Any, params: Any, lower_bound: float, *, max_iter: int,
           tol: float, callback: Any = None, verbose: int = 0, verbose_interval: int = 10,
           on_abort: Any = None) -> Any:
    """EM iterations from ``params`` until the lower bound changes by less than ``tol``.

    If the M-step finds a covariance that is no longer positive definite (a
    component collapsed onto a point, possible with ``reg_covar=0``), the run
    stops there: the result keeps ``params`` of the last valid iteration with
    their lower bound, ``converged=False`` and ``collapsed`` set (as
    scikit-learn keeps the best parameters of a diverging run).

    Parameters
    ----------
    accumulate, steps
        As for :func:`em_step`.
    params : tuple
    lower_bound : float
        Lower bound of ``params`` (``-inf`` for a fresh start).
    max_iter : int
    tol : float
    callback : callable, optional
        ``callback(n_iter, lower_bound)`` after every iteration.
    verbose, verbose_interval : int
        scikit-learn's per-iteration messages.
    on_abort : callable, optional
        ``on_abort(partial_result)`` if an iteration raises (I/O error, bad
        chunk, interrupt): the result holds the last completed iteration.
        The exception then propagates.

    Returns
    -------
    EMResult
    """
    result = EMResult(params, lower_bound)
    if max_iter == 0:
        return result
    iter_time = time.time()
    try:
        for n_iter in range(1, max_iter + 1):
            prev = result.lower_bound
            stats, lb = e_step(accumulate, steps, result.params)
            try:
                new_params = steps.m_step(stats, result.params)
            except IllDefinedCovarianceError as exc:
                # result.params stay: those of the last valid iteration, whose
                # lower bound the E-step just computed.
                result.lower_bound, result.n_iter = lb, n_iter
                result.lower_bounds.append(lb)
                result.collapsed = str(exc)
                if callback is not None:
                    callback(n_iter, lb)
                break
            result.params, result.lower_bound, result.n_iter = new_params, lb, n_iter
            result.lower_bounds.append(lb)
            change = lb - prev
            if callback is not None:
                callback(n_iter, lb)
            if verbose >= 2 and n_iter % verbose_interval == 0:
                now = time.time()
                print(f"  Iteration {n_iter}\t time lapse {now - iter_time:.5f}s\t ll change {change:.5f}")
                iter_time = now
            elif verbose == 1 and n_iter % verbose_interval == 0:
                print(f"  Iteration {n_iter}")
            if abs(change) < tol:
                result.converged = True
                break
    except BaseException:
        if on_abort is not None:
            on_abort(result)
        raise
    return result
