"""Sufficient statistics of a Gaussian mixture and their algebra.

Every driver produces :class:`SufficientStats` with the one E-step kernel;
:func:`gmmx.core.mstep.m_step` turns them into parameters.  Statistics are centred at the
model's means at the time of the pass (the "assumed mean" method), so
``Sigma_k = M_k / n_k - delta delta^T`` never cancels catastrophically on
price-level data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .covariance import get_covariance


def m_shape(covariance_type: str, n_components: int, n_features: int) -> tuple[int, ...]:
    """Shape of the second-moment statistic ``M`` for a covariance type."""
    return get_covariance(covariance_type).stats_shape(n_components, n_features)


@dataclass
class SufficientStats:
    """Weighted sufficient statistics of one or more blocks of rows.

    Attributes
    ----------
    covariance_type : str
    centers : ndarray of shape (K, d)
        The centres ``c_k`` the moments are taken about.
    nk : ndarray of shape (K,)
        ``sum_i w_i r_ik``.
    sk : ndarray of shape (K, d)
        ``sum_i w_i r_ik (x_i - c_k)``.
    Mk : ndarray of shape (K, d, d) or (K, d)
        ``sum_i w_i r_ik (x_i - c_k)(x_i - c_k)^T`` (full) or its diagonal
        (diag, spherical).  Tied: only the pooled ``Mk.sum(axis=0)`` is
        defined (every tied consumer uses that sum, and the E-step kernel
        computes it as one scatter, split across components in any way;
        :meth:`recentred` and the sums of blocks keep it).
    log_likelihood : float
        ``sum_i w_i log p(x_i)`` under the parameters of the pass.
    weight_sum : float
        ``sum_i w_i``.
    n_samples : int
        Number of rows.
    extra : dict of str to ndarray
        A model family's own additive statistics (e.g. the Student-t
        ``sum_i w_i r_ik (log u_ik - u_ik)``): summed, scaled and saved with
        the others, unchanged by recentring.  Empty for Gaussian models.
    """

    covariance_type: str
    centers: np.ndarray
    nk: np.ndarray
    sk: np.ndarray
    Mk: np.ndarray
    log_likelihood: float = 0.0
    weight_sum: float = 0.0
    n_samples: int = 0
    extra: dict = field(default_factory=dict)

    @classmethod
    def zeros(cls, covariance_type: str, centers: Any) -> SufficientStats:
        """Empty statistics about ``centers``."""
        centers = np.array(centers, dtype=np.float64, order="C")
        K, d = centers.shape
        return cls(
            covariance_type,
            centers,
            np.zeros(K),
            np.zeros((K, d)),
            np.zeros(m_shape(covariance_type, K, d)),
        )

    @property
    def n_components(self) -> int:
        """Number of components K."""
        return self.centers.shape[0]

    @property
    def n_features(self) -> int:
        """Number of features d."""
        return self.centers.shape[1]

    def copy(self) -> SufficientStats:
        """A deep copy."""
        return SufficientStats(
            self.covariance_type,
            self.centers.copy(),
            self.nk.copy(),
            self.sk.copy(),
            self.Mk.copy(),
            self.log_likelihood,
            self.weight_sum,
            self.n_samples,
            {k: v.copy() for k, v in self.extra.items()},
        )

    def recentred(self, new_centers: Any) -> SufficientStats:
        """The same statistics taken about ``new_centers``.

        With ``D = c_old - c_new``: ``s' = s + n D`` and
        ``M' = M + D s^T + s D^T + n D D^T``.
        """
        new_centers = np.asarray(new_centers, dtype=np.float64)
        if np.array_equal(new_centers, self.centers):
            return self.copy()
        D = self.centers - new_centers
        n = self.nk
        sk = self.sk + n[:, None] * D
        if self.Mk.ndim == 3:
            Mk = (
                self.Mk
                + D[:, :, None] * self.sk[:, None, :]
                + self.sk[:, :, None] * D[:, None, :]
                + n[:, None, None] * D[:, :, None] * D[:, None, :]
            )
        else:
            Mk = self.Mk + 2.0 * D * self.sk + n[:, None] * D * D
        return SufficientStats(
            self.covariance_type,
            new_centers.copy(),
            self.nk.copy(),
            sk,
            Mk,
            self.log_likelihood,
            self.weight_sum,
            self.n_samples,
            {k: v.copy() for k, v in self.extra.items()},
        )

    def _check_compatible(self, other):
        if not isinstance(other, SufficientStats):
            raise TypeError(f"cannot combine SufficientStats with {type(other).__name__}")
        if other.covariance_type != self.covariance_type:
            raise ValueError(
                "cannot combine statistics of covariance_type "
                f"{self.covariance_type!r} and {other.covariance_type!r}"
            )
        if other.centers.shape != self.centers.shape:
            raise ValueError(
                f"cannot combine statistics of shape {self.centers.shape} and "
                f"{other.centers.shape} (n_components, n_features)"
            )
        if set(other.extra) != set(self.extra):
            raise ValueError(
                f"cannot combine statistics with extra fields {sorted(self.extra)} and "
                f"{sorted(other.extra)}"
            )

    def __add__(self, other):
        """Statistics of the union of the two blocks (about ``self.centers``)."""
        self._check_compatible(other)
        if not np.array_equal(other.centers, self.centers):
            other = other.recentred(self.centers)
        return SufficientStats(
            self.covariance_type,
            self.centers.copy(),
            self.nk + other.nk,
            self.sk + other.sk,
            self.Mk + other.Mk,
            self.log_likelihood + other.log_likelihood,
            self.weight_sum + other.weight_sum,
            self.n_samples + other.n_samples,
            {k: v + other.extra[k] for k, v in self.extra.items()},
        )

    def scaled(self, factor: float) -> SufficientStats:
        """All additive statistics multiplied by ``factor`` (online EM)."""
        f = float(factor)
        return SufficientStats(
            self.covariance_type,
            self.centers.copy(),
            self.nk * f,
            self.sk * f,
            self.Mk * f,
            self.log_likelihood * f,
            self.weight_sum * f,
            self.n_samples,
            {k: v * f for k, v in self.extra.items()},
        )

    def to_arrays(self, prefix: str = "stats_") -> dict[str, Any]:
        """Plain arrays for saving (see :mod:`gmmx.io`)."""
        extra = {f"{prefix}extra_{k}": v for k, v in self.extra.items()}
        return extra | {
            prefix + "centers": self.centers,
            prefix + "nk": self.nk,
            prefix + "sk": self.sk,
            prefix + "Mk": self.Mk,
            prefix + "scalars": np.array(
                [self.log_likelihood, self.weight_sum, float(self.n_samples)]
            ),
        }

    @classmethod
    def from_arrays(cls, covariance_type: str, arrays: Mapping[str, Any],
                    prefix: str = "stats_") -> SufficientStats:
        """Inverse of :meth:`to_arrays`."""
        sc = np.asarray(arrays[prefix + "scalars"], dtype=np.float64)
        tag = prefix + "extra_"
        extra = {k[len(tag):]: np.asarray(v, dtype=np.float64)
                 for k, v in arrays.items() if k.startswith(tag)}
        return cls(
            covariance_type,
            np.asarray(arrays[prefix + "centers"], dtype=np.float64),
            np.asarray(arrays[prefix + "nk"], dtype=np.float64),
            np.asarray(arrays[prefix + "sk"], dtype=np.float64),
            np.asarray(arrays[prefix + "Mk"], dtype=np.float64),
            float(sc[0]),
            float(sc[1]),
            int(sc[2]),
            extra,
        )
