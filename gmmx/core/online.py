"""Online (stepwise) EM state: running sufficient statistics and step sizes.

Stepwise EM (Cappe & Moulines, 2009) on gmmx's statistics: the b-th batch
moves the running per-row statistics towards the batch's by ``b ** -kappa``.
Averaging the running statistics over the last updates (Polyak-Ruppert, as
Cappe & Moulines propose) removes most of the noise of small steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numbers

import numpy as np

from .stats import SufficientStats

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import NDArray

__all__ = ["OnlineEM", "check_step_exponent"]


def check_step_exponent(kappa: Any) -> float:
    """``step_exponent`` must be in (0.5, 1]."""
    if (isinstance(kappa, bool) or not isinstance(kappa, numbers.Real)
            or not np.isfinite(kappa) or not 0.5 < kappa <= 1.0):  # type: ignore[call-overload, operator]
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

    With ``average=True`` an update also folds the new running statistics
    into their running mean over the averaged updates (:meth:`end_average`
    then makes that mean the running statistics).

    Parameters
    ----------
    stats : SufficientStats or None
    n_updates : int
    weight_seen : float
        Total weight absorbed so far (MAP steps scale by it).
    """

    def __init__(self, stats: SufficientStats | None = None, n_updates: int = 0,
                 weight_seen: float = 0.0) -> None:
        self.stats = stats
        self.n_updates = int(n_updates)
        self.weight_seen = float(weight_seen)
        self._anchor: tuple[NDArray[Any], NDArray[Any]] | None = None
        self._mean: SufficientStats | None = None
        self.n_averaged = 0

    def step_size(self, kappa: float) -> float:
        """Step for the next batch: ``(n_updates + 1) ** -kappa``."""
        return float((self.n_updates + 1) ** -kappa)

    def update(self, batch_stats: SufficientStats, kappa: float, as_totals: bool = False,
               average: Any = False) -> SufficientStats:
        """Absorb the statistics of one batch; returns the new running stats.

        With ``as_totals`` the per-row running statistics come back scaled
        by the total weight seen so far (MAP estimates need counts: a prior
        weighs against all the data seen, and one batch equal to the whole
        data is then exactly one MAP EM iteration).  With ``average`` the new
        running statistics are also folded into their running mean.
        """
        if batch_stats.weight_sum <= 0:
            raise ValueError("the batch carries no weight (all sample weights are zero)")
        s_hat = batch_stats.scaled(1.0 / batch_stats.weight_sum)
        if self.stats is None or self.n_updates == 0:
            self.stats = s_hat
            self.weight_seen = 0.0
        else:
            eta = self.step_size(kappa)
            # s_hat is centred at the current means; the running stats are
            # recentred there by `+`.
            self.stats = s_hat.scaled(eta) + self.stats.scaled(1.0 - eta)
        self.n_updates += 1
        self.weight_seen += float(batch_stats.weight_sum)
        if average:
            self.n_averaged += 1
            if self._mean is None:
                self._mean = self.stats
            else:  # recentred at the current means by `+`
                f = 1.0 / self.n_averaged
                self._mean = self.stats.scaled(f) + self._mean.scaled(1.0 - f)
        if as_totals:
            if self.n_updates == 1:
                return batch_stats
            return self.stats.scaled(self.weight_seen)
        return self.stats

    def end_average(self, as_totals: bool = False) -> SufficientStats | None:
        """Make the mean of the averaged running statistics the running statistics.

        Returns the new running statistics (scaled by the weight seen with
        ``as_totals``, as :meth:`update`), or None if no update was averaged.
        """
        mean, self._mean, self.n_averaged = self._mean, None, 0
        if mean is None:
            return None
        self.stats = mean
        return mean.scaled(self.weight_seen) if as_totals else mean

    def anchor(self, weights: NDArray[Any], means: NDArray[Any]) -> None:
        """Remember the parameters this state produced (to detect a refit)."""
        self._anchor = (np.array(weights, copy=True), np.array(means, copy=True))

    def matches(self, weights: NDArray[Any] | None, means: NDArray[Any] | None) -> bool:
        """True if ``weights`` and ``means`` are the ones this state produced."""
        if self._anchor is None or weights is None or means is None:
            return False
        w, m = self._anchor
        return (w.shape == weights.shape and m.shape == means.shape
                and np.array_equal(w, weights) and np.array_equal(m, means))

    def to_arrays(self, prefix: str = "online_") -> dict[str, NDArray[Any]]:
        """Plain arrays for :mod:`gmmx.io`."""
        out = {prefix + "n_updates": np.array([self.n_updates], dtype=np.int64),
               prefix + "weight_seen": np.array([self.weight_seen])}
        if self.stats is not None:
            out.update(self.stats.to_arrays(prefix + "stats_"))
        return out

    @classmethod
    def from_arrays(cls, covariance_type: str, arrays: Mapping[str, Any],
                    prefix: str = "online_") -> OnlineEM:
        """Inverse of :meth:`to_arrays`."""
        n = int(np.asarray(arrays[prefix + "n_updates"]).reshape(-1)[0])
        seen = 0.0
        if (prefix + "weight_seen") in arrays:
            seen = float(np.asarray(arrays[prefix + "weight_seen"], dtype=np.float64).reshape(-1)[0])
            if not (np.isfinite(seen) and seen >= 0):
                raise ValueError("weight_seen must be a finite number >= 0")
        stats = None
        if (prefix + "stats_nk") in arrays:
            stats = SufficientStats.from_arrays(covariance_type, arrays, prefix + "stats_")
        return cls(stats, n, seen)
