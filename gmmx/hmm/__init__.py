"""Hidden Markov models with Gaussian emissions, fitted by Baum-Welch on gmmx's kernels.

:class:`GaussianHMM` is a drop-in for ``hmmlearn.hmm.GaussianHMM``.  One
Baum-Welch iteration is one pass over the data:

    lp    = log N(x_t | k)                        E-step kernel, log_densities entry point
    gamma, xi, log p = forward-backward(lp)       _kernels/_hmm.pyx, parallel over sequences
    stats = sum_t gamma_tk (x_t - mu_k) ...        E-step kernel, statistics under given
                                                  responsibilities (centred)
    params = M-step(stats, xi)                    covariance objects + transition update

:class:`StudentTHMM` swaps the emission family (multivariate t, through
``HMMParams.emissions``) and keeps everything else.

Sequences come from an array with ``lengths``, from a chunk source (one
sequence per chunk) or from a dask collection (one sequence per block).
"""

from ._monitor import ConvergenceMonitor
from .gaussian import GaussianHMM
from .student import StudentTHMM

__all__ = ["ConvergenceMonitor", "GaussianHMM", "StudentTHMM"]
