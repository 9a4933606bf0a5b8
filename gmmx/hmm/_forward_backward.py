"""Python side of the HMM kernel: sequences, posteriors, filtering, Viterbi, statistics.

Emission log-densities come from the E-step kernel's ``log_densities`` entry
point (:func:`gmmx.core.kernel.log_densities`, packed with unit weights so
they are the pure ``log N(x_t | k)``); :mod:`gmmx._kernels._hmm` runs the
forward-backward recursions over them, parallel over sequences; the emission
statistics are the E-step kernel's ``stats_given_resp`` entry point
(:func:`gmmx.core.kernel.accumulate_resp`) under the posteriors, centred as
everywhere in gmmx.

Emissions other than Gaussian plug in through ``HMMParams.emissions``: an
object whose ``bind(kp)`` takes the unit-weight Gaussian
:class:`~gmmx.core.kernel.KernelParams` and returns the emission model, with
``log_densities(X, n_threads) -> (lp, state)`` and
``statistics(X, w, gamma, state, n_threads, where) -> SufficientStats``
(e.g. :class:`gmmx.core.student.StudentTEmissions`).  It must pickle (Dask).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .._kernels import _hmm
from ..core import kernel
from ..core.missing import MissingEStep
from ..core.stats import SufficientStats

__all__ = [
    "HMMParams",
    "HMMStats",
    "batches",
    "emission_log_densities",
    "filtered",
    "posteriors",
    "sequence_bounds",
    "sequence_stats",
    "viterbi",
]

#: Rows of whole sequences processed together by in-memory passes: bounds
#: the log-density and posterior buffers (a longer sequence is one batch).
BATCH_ROWS = 1 << 18

_EMPTY = np.empty(0, dtype=np.float64)


class HMMParams(NamedTuple):
    """One iteration's parameters (shapes of gmmx's covariance objects)."""

    startprob: np.ndarray
    transmat: np.ndarray
    means: np.ndarray
    covars: np.ndarray
    precisions_cholesky: np.ndarray
    covariance_type: str
    #: None: Gaussian emissions; else an emission family (see the module docstring).
    emissions: Any = None
    nan_policy: str = "raise"


def emission_kernel_params(params):
    """:class:`~gmmx.core.kernel.KernelParams` of the emissions (unit weights), or the
    emission model bound to them when ``params.emissions`` is set.

    Under ``nan_policy='marginalize'`` a :class:`~gmmx.core.missing.MissingEStep`
    around them: the emissions of rows with NaN are their observed entries'
    marginals, their statistics the expected complete-data ones.
    """
    K = params.means.shape[0]
    kp = kernel.kernel_params(np.ones(K), params.means, params.precisions_cholesky,
                              params.covariance_type)
    if params.emissions is not None:
        if params.nan_policy == "marginalize" and not getattr(params.emissions,
                                                              "marginalizes_nan", False):
            raise ValueError(
                "nan_policy='marginalize' is not implemented for these emissions; "
                "use GaussianHMM or StudentTHMM, or nan_policy='raise' with complete rows"
            )
        return params.emissions.bind(kp)
    return MissingEStep(kp) if params.nan_policy == "marginalize" else kp


def _emission_lattice(X, kp, n_threads):
    """``(log-densities (n, K), state for the statistics)`` of the emission model ``kp``."""
    if isinstance(kp, kernel.KernelParams):
        return kernel.log_densities(X, kp, n_threads), None
    if isinstance(kp, MissingEStep):
        return kp.log_densities(X, n_threads), None
    return kp.log_densities(X, n_threads)


@dataclass
class HMMStats:
    """Statistics of one Baum-Welch pass over one or more sequences.

    Attributes
    ----------
    emission : SufficientStats
        Centred emission statistics under the posteriors (times row weights).
    start : ndarray of shape (K,)
        Sum over sequences of the first row's posteriors.
    trans : ndarray of shape (K, K)
        Expected transition counts.
    log_prob : float
        Sum of the sequences' log-likelihoods.
    n_sequences : int
    """

    emission: SufficientStats
    start: np.ndarray
    trans: np.ndarray
    log_prob: float
    n_sequences: int

    def __add__(self, other):
        return HMMStats(self.emission + other.emission, self.start + other.start,
                        self.trans + other.trans, self.log_prob + other.log_prob,
                        self.n_sequences + other.n_sequences)


def sequence_bounds(lengths, n_samples):
    """``(S + 1,)`` intp offsets of the sequences given by ``lengths``.

    Raises
    ------
    ValueError
        When ``lengths`` is not a 1-D array of non-negative integers summing
        to ``n_samples``.
    """
    if lengths is None:
        return np.array([0, n_samples], dtype=np.intp)
    raw = np.asarray(lengths)
    if raw.ndim == 0:
        raw = raw.reshape(1)
    if raw.ndim != 1 or raw.size == 0:
        raise ValueError(f"lengths must be a 1-D array of sequence lengths, got shape {raw.shape}")
    if raw.dtype.kind == "f" and np.all(np.isfinite(raw)) and np.all(raw == np.round(raw)):
        raw = raw.astype(np.int64)
    if raw.dtype.kind not in "iu":
        raise ValueError(f"lengths must be integers, got dtype {raw.dtype}")
    if np.any(raw < 0):
        raise ValueError(f"lengths must be non-negative, got {int(raw.min())}")
    bounds = np.zeros(raw.size + 1, dtype=np.intp)
    np.cumsum(raw, out=bounds[1:])
    if bounds[-1] != n_samples:
        raise ValueError(
            f"lengths sum to {int(bounds[-1])} but X has {n_samples} rows; the sequence "
            "lengths must add up to the number of samples"
        )
    return bounds


def batches(bounds, max_rows=BATCH_ROWS):
    """``(first_sequence, end_sequence)`` ranges of at most ``max_rows`` rows each
    (a longer sequence is a batch of its own)."""
    S = bounds.size - 1
    out, lo = [], 0
    while lo < S:
        hi = lo + 1
        while hi < S and bounds[hi + 1] - bounds[lo] <= max_rows:
            hi += 1
        out.append((lo, hi))
        lo = hi
    return out


def _raise(status, bad_row, where):
    if status == _hmm.STATUS_NOMEM:
        raise MemoryError("gmmx: could not allocate the forward-backward buffers")
    raise ValueError(
        f"{where}the emission log-density of row {bad_row} is not finite: the data hold "
        "NaN or infinity there, or a state's covariance is degenerate for the data's "
        "scale (increase min_covar or covars_prior, or standardise the data)"
    )


def emission_log_densities(X, kp, n_threads, where="", with_state=False):
    """``log p(x_t | k)`` of every row, (n, K) (with ``with_state``: and the model's state)."""
    try:
        lp, state = _emission_lattice(X, kp, n_threads)
        return (lp, state) if with_state else lp
    except kernel.NonFiniteChunkError as exc:
        row = exc.row
        if row is not None and (not np.all(np.isfinite(X[row]))
                                or getattr(kp, "marginalizes_nan", False)):
            raise ValueError(f"{where}{exc}") from None
        raise ValueError(
            f"{where}the emission log-densities from row {row} on are not finite although "
            "the data are: a state's covariance is too small for the data's scale (it "
            "collapsed onto a few distinct values); increase covars_prior or min_covar, "
            "reduce n_components, or standardise the data") from None


def _weights(w):
    return _EMPTY if w is None else np.ascontiguousarray(w, dtype=np.float64)


def posteriors(lp, w, bounds, startprob, transmat, n_threads, want_xi=True, where=""):
    """Smoothed posteriors ``(gamma (n, K), log p per sequence (S,), xi (K, K))``."""
    gamma = np.empty_like(lp)
    logprob = np.empty(bounds.size - 1)
    xi, status, bad = _hmm.forward_backward(lp, _weights(w), bounds, startprob, transmat,
                                            gamma, logprob, n_threads, want_xi)
    if status != _hmm.STATUS_OK:
        _raise(status, bad, where)
    return gamma, logprob, xi


def filtered(lp, w, bounds, startprob, transmat, n_threads, where=""):
    """Filtered probabilities ``P(z_t | x_1..x_t)`` (n, K) and log p per sequence."""
    alpha = np.empty_like(lp)
    logprob = np.empty(bounds.size - 1)
    status, bad = _hmm.forward(lp, _weights(w), bounds, startprob, transmat, alpha, logprob,
                               n_threads)
    if status != _hmm.STATUS_OK:
        _raise(status, bad, where)
    return alpha, logprob


def viterbi(lp, bounds, startprob, transmat, n_threads, where=""):
    """Most likely path (n,) and its log-probability per sequence (S,)."""
    states = np.empty(lp.shape[0], dtype=np.intp)
    logprob = np.empty(bounds.size - 1)
    status, bad = _hmm.viterbi(lp, bounds, startprob, transmat, states, logprob, n_threads)
    if status != _hmm.STATUS_OK:
        _raise(status, bad, where)
    return states, logprob


def sequence_stats(X, w, bounds, params, kp, n_threads, where=""):
    """:class:`HMMStats` of the sequences of ``X`` (one Baum-Welch E-step).

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64, C-contiguous
    w : ndarray of shape (n,) or None
        Row weights (tempering the emissions and weighting their statistics).
    bounds : ndarray of intp
        Sequence offsets (:func:`sequence_bounds`).
    params : HMMParams
    kp : KernelParams or emission model
        :func:`emission_kernel_params` of ``params``.
    n_threads : int
    where : str
        Prefix for error messages.
    """
    lp, state = emission_log_densities(X, kp, n_threads, where, with_state=True)
    gamma, logprob, xi = posteriors(lp, w, bounds, params.startprob, params.transmat,
                                    n_threads, where=where)
    del lp
    if isinstance(kp, kernel.KernelParams):
        emission = kernel.accumulate_resp(X, w, gamma, kp, n_threads, where=where)
    elif isinstance(kp, MissingEStep):
        emission = kp.accumulate_resp(X, w, gamma, n_threads, where=where)
    else:
        emission = kp.statistics(X, w, gamma, state, n_threads, where)
    firsts = bounds[:-1][np.diff(bounds) > 0]
    start = gamma[firsts].sum(axis=0)
    return HMMStats(emission, start, xi, float(logprob.sum()), int(firsts.size))
