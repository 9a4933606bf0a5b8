"""Convergence monitoring of Baum-Welch, with hmmlearn's ``ConvergenceMonitor`` semantics."""

from __future__ import annotations

import logging
import sys
from collections import deque

import numpy as np

__all__ = ["ConvergenceMonitor"]

_log = logging.getLogger("gmmx.hmm")


class ConvergenceMonitor:
    """Records the log-likelihood of every Baum-Welch iteration and decides convergence.

    Same attributes, methods and rule as hmmlearn's ``ConvergenceMonitor``, so
    code that inspects ``model.monitor_`` or replaces it by a subclass with
    its own ``converged`` property runs unchanged.

    Parameters
    ----------
    tol : float
        EM stops when the log-likelihood gains less than ``tol`` in an iteration.
    n_iter : int
        Maximum number of iterations.
    verbose : bool
        Print one line per iteration to standard error.

    Attributes
    ----------
    history : collections.deque
        Log-likelihood of the data (all sequences) at every iteration, under
        the parameters the iteration started from.
    iter : int
        Iterations done.
    """

    _template = "{iter:>10d} {log_prob:>16.8f} {delta:>+16.8f}"

    history: deque[float]

    def __init__(self, tol: float, n_iter: int, verbose: bool) -> None:
        self.tol = tol
        self.n_iter = n_iter
        self.verbose = verbose
        self.history = deque()
        self.iter = 0

    def __repr__(self) -> str:
        fields = dict(vars(self), history=list(self.history))
        body = "".join(f"    {k}={v},\n" for k, v in sorted(fields.items()))
        return f"{type(self).__name__}(\n{body})"

    def _reset(self):
        """Forget the previous fit."""
        self.iter = 0
        self.history.clear()

    def report(self, log_prob: float) -> None:
        """Record one iteration's log-likelihood (and print it when verbose).

        A decrease larger than ``sqrt(eps)`` is logged as a warning on the
        ``gmmx.hmm`` logger: EM never decreases the likelihood, so it means a
        numerical problem (or a prior that outweighs the data).
        """
        if self.verbose:
            delta = log_prob - self.history[-1] if self.history else np.nan
            print(self._template.format(iter=self.iter + 1, log_prob=log_prob, delta=delta),
                  file=sys.stderr)
        if self.history and log_prob - self.history[-1] < -np.sqrt(np.finfo(float).eps):
            _log.warning("Model is not converging.  Current: %s is not greater than %s. "
                         "Delta is %s", log_prob, self.history[-1],
                         log_prob - self.history[-1])
        self.history.append(log_prob)
        self.iter += 1

    @property
    def converged(self) -> bool:
        """True after ``n_iter`` iterations or a gain below ``tol``."""
        return (self.iter == self.n_iter
                or (len(self.history) >= 2 and self.history[-1] - self.history[-2] < self.tol))
