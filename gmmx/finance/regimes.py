"""Market regimes and asset clusters from Gaussian mixtures and hidden Markov models.

Regimes are the components of a Gaussian mixture of returns (``method="mixture"``:
each period labelled independently) or the states of a Gaussian hidden Markov
model (``method="hmm"``: regimes persist, with a fitted transition matrix),
relabelled from the calmest (regime 0, lowest volatility) to the most volatile,
so that the labels mean the same thing from one fit to the next.  Only numpy
and scipy are needed; pandas input keeps its index (and column names) on every
per-time or per-asset output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import ArrayLike, NDArray

from .._validation import check_random_state
from ..core.student import t_covariances
from ..exceptions import warn_user
from ._models import full_covariances, model_covariances
from .returns import _looks_like_level

__all__ = ["RegimeResult", "detect_regimes", "regime_durations", "AssetClusters",
           "asset_features", "cluster_assets"]


def _is_pandas(obj):
    return hasattr(obj, "index") and hasattr(obj, "iloc")


def _returns_matrix(returns):
    """(values (n, d), index or None, column names) of a return series or panel."""
    x = np.asarray(returns, dtype=np.float64)
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    if x.ndim != 2:
        raise ValueError(f"returns must be 1-D or 2-D (time x assets), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("returns contain NaN or inf; drop those rows first (e.g. .dropna())")
    index = returns.index if _is_pandas(returns) else None
    if hasattr(returns, "columns"):
        names = [str(c) for c in returns.columns]
    elif x.shape[1] == 1:
        names = [str(getattr(returns, "name", None) or "returns")]
    else:
        names = [f"x{j}" for j in range(x.shape[1])]
    return x, index, names


def regime_durations(labels: ArrayLike, n_regimes: Optional[int] = None) -> NDArray[np.float64]:
    """Mean length, in periods, of the uninterrupted runs of each label.

    Parameters
    ----------
    labels : array_like of int
        Regime label per period.
    n_regimes : int, optional
        Number of regimes (default: ``max(labels) + 1``).

    Returns
    -------
    ndarray of shape (n_regimes,)
        NaN for a regime that never occurs.
    """
    lab = np.asarray(labels).astype(np.int64).reshape(-1)
    k = int(lab.max()) + 1 if n_regimes is None else int(n_regimes)
    if lab.size == 0:
        return np.full(k, np.nan)
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    lengths = np.diff(np.r_[starts, lab.size])
    run_label = lab[starts]
    total = np.bincount(run_label, weights=lengths, minlength=k)
    count = np.bincount(run_label, minlength=k)
    out = np.full(k, np.nan)
    seen = count > 0
    out[seen] = total[seen] / count[seen]
    return out


class RegimeResult:
    """Regimes of a return series, ordered from calm (0) to volatile (K - 1).

    Attributes
    ----------
    method : {'mixture', 'hmm'}
        How the regimes were fitted.
    model : fitted GaussianMixture or GaussianHMM
        The model as fitted; its component (state) ``order[j]`` is regime ``j``.
    order : ndarray of shape (K,)
        Model component index of each regime.
    probabilities : ndarray (n, K) or pandas.DataFrame
        Per-period regime probabilities (pandas input: same index); for an
        HMM the smoothed ones, ``P(regime_t | all returns)``.
    filtered_probabilities : ndarray (n, K) or pandas.DataFrame
        ``P(regime_t | returns up to t)``: causal, what was knowable at ``t``
        (for the i.i.d. mixture the same as ``probabilities``).
    labels : ndarray (n,) or pandas.Series
        Most probable regime per period.
    weights : ndarray (K,)
        Mixing weight of each regime (HMM: the stationary distribution of
        the transition matrix, the long-run share of time).
    means : ndarray (K, d)
        Mean return per period of each regime.
    covariances : ndarray (K, d, d)
        Per-period covariance of each regime.
    volatility : ndarray (K, d)
        Annualised volatility, ``sqrt(periods_per_year * variance)``.
    mean_duration : ndarray (K,)
        Mean run length of each regime's labels, in periods.
    transmat : ndarray (K, K)
        Model transition probabilities between regimes (HMM: fitted; mixture:
        implied by independence, every row equal to ``weights``).
    expected_duration : ndarray (K,)
        ``1 / (1 - transmat[k, k])``, the mean stay in a regime implied by the
        model, in periods.
    transition_matrix : ndarray (K, K)
        Empirical frequencies of moving from regime i (row) to j between
        consecutive labelled periods (NaN rows for unvisited regimes).
    names : list of str
        Asset (column) names.
    """

    # pandas input gives DataFrames / a Series, else ndarrays (pandas is optional and untyped)
    probabilities: Any
    filtered_probabilities: Any
    labels: Any

    def __init__(self, model: Any, order: NDArray[np.intp], probabilities: NDArray[np.float64],
                 labels: NDArray[np.intp], periods_per_year: float, names: list[str],
                 index: Any, *, method: str = "mixture",
                 weights: Optional[NDArray[np.float64]] = None,
                 means: Optional[NDArray[np.float64]] = None,
                 covariances: Optional[NDArray[np.float64]] = None,
                 transmat: Optional[NDArray[np.float64]] = None,
                 filtered: Optional[NDArray[np.float64]] = None) -> None:
        self.model = model
        self.order = order
        self.method = method
        self.periods_per_year = periods_per_year
        self.names = names
        if weights is None:
            weights = np.asarray(model.weights_, dtype=np.float64)[order]
        if means is None:
            means = np.asarray(model.means_, dtype=np.float64)[order]
        if covariances is None:
            covariances = model_covariances(model)[order]
        self.weights, self.means, self.covariances = weights, means, covariances
        variances = np.diagonal(self.covariances, axis1=1, axis2=2)
        self.volatility = np.sqrt(periods_per_year * variances)
        k = order.size
        self.transmat = np.tile(weights, (k, 1)) if transmat is None else transmat
        with np.errstate(divide="ignore"):
            self.expected_duration = 1.0 / (1.0 - np.diag(self.transmat))
        self.mean_duration = regime_durations(labels, k)
        counts = np.zeros((k, k))
        np.add.at(counts, (labels[:-1], labels[1:]), 1.0)
        rows = counts.sum(axis=1, keepdims=True)
        self.transition_matrix = np.divide(counts, rows, out=np.full((k, k), np.nan),
                                           where=rows > 0)
        filtered = probabilities if filtered is None else filtered
        if index is not None:
            import pandas as pd

            cols = [f"regime_{j}" for j in range(k)]
            self.probabilities = pd.DataFrame(probabilities, index=index, columns=cols)
            self.filtered_probabilities = pd.DataFrame(filtered, index=index, columns=cols)
            self.labels = pd.Series(labels, index=index, name="regime")
        else:
            self.probabilities = probabilities
            self.filtered_probabilities = filtered
            self.labels = labels

    @property
    def n_regimes(self) -> int:
        """Number of regimes K."""
        return self.order.size

    def predict_proba(self, returns: ArrayLike) -> NDArray[np.float64]:
        """Regime probabilities of new returns, columns in regime order.

        For an HMM the returns are one sequence and the probabilities are
        smoothed (each uses the whole sequence); see :meth:`filter_proba`.

        Parameters
        ----------
        returns : array_like of shape (n,) or (n, d)

        Returns
        -------
        ndarray of shape (n, K)
        """
        x, _, _ = _returns_matrix(returns)
        return self.model.predict_proba(x)[:, self.order]

    def filter_proba(self, returns: ArrayLike) -> NDArray[np.float64]:
        """Causal regime probabilities ``P(regime_t | returns up to t)`` of new returns.

        Parameters
        ----------
        returns : array_like of shape (n,) or (n, d)
            One sequence (for the mixture, independent periods).

        Returns
        -------
        ndarray of shape (n, K)
        """
        x, _, _ = _returns_matrix(returns)
        if self.method == "hmm":
            return self.model.filter_proba(x)[:, self.order]
        return self.model.predict_proba(x)[:, self.order]

    def predict(self, returns: ArrayLike) -> NDArray[np.intp]:
        """Most probable regime of new returns.

        Parameters
        ----------
        returns : array_like of shape (n,) or (n, d)

        Returns
        -------
        ndarray of shape (n,)
        """
        return np.argmax(self.predict_proba(returns), axis=1)

    def table(self) -> Any:
        """The regime table as a pandas DataFrame, one row per regime.

        Columns: ``weight``, ``mean`` (per period), ``ann_volatility``,
        ``mean_duration`` (periods) and, for an HMM, ``expected_duration``
        (periods, ``1 / (1 - p_kk)``); multi-asset series get one ``mean`` and
        ``ann_volatility`` column per asset, suffixed with its name.

        Returns
        -------
        pandas.DataFrame
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas is in the test extra
            raise ImportError(
                "RegimeResult.table needs pandas: pip install gmmx-em[pandas]"
            ) from exc
        data = {"weight": self.weights}
        if len(self.names) == 1:
            data["mean"] = self.means[:, 0]
            data["ann_volatility"] = self.volatility[:, 0]
        else:
            for j, name in enumerate(self.names):
                data[f"mean_{name}"] = self.means[:, j]
            for j, name in enumerate(self.names):
                data[f"ann_volatility_{name}"] = self.volatility[:, j]
        data["mean_duration"] = self.mean_duration
        if self.method == "hmm":
            data["expected_duration"] = self.expected_duration
        return pd.DataFrame(data, index=pd.RangeIndex(self.n_regimes, name="regime"))


def detect_regimes(returns: ArrayLike, n_regimes: int = 2, *, method: str = "mixture",
                   periods_per_year: float = 252, covariance_type: str = "full",
                   n_init: int = 5, random_state: Union[None, int, np.random.RandomState] = 0,
                   emissions: str = "gaussian", **kwargs: Any) -> RegimeResult:
    """Fit a Gaussian mixture or hidden Markov model to returns and read its
    components (states) as regimes.

    Parameters
    ----------
    returns : array_like, pandas.Series or pandas.DataFrame
        Shape (n,) for one asset or (n, d) for several (time along axis 0).
    n_regimes : int
        Number of regimes K.
    method : {'mixture', 'hmm'}
        'mixture': a :class:`gmmx.GaussianMixture`, each period labelled on
        its own (regimes can flicker from day to day).  'hmm': a
        :class:`gmmx.hmm.GaussianHMM`, regimes that persist, with a fitted
        transition matrix and expected durations.
    periods_per_year : float
        Periods per year for annualising volatility (252 for daily data).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
    n_init : int
        Fits from different starts; the best likelihood is kept.
    random_state : int, optional
    emissions : {'gaussian', 'student_t'}, default='gaussian'
        Component (state) distributions: 'student_t' fits a
        :class:`gmmx.StudentTMixture` or :class:`gmmx.hmm.StudentTHMM` (ν
        estimated per regime), so a single crash day need not open a regime
        of its own.  ``covariances`` are then ``nu / (nu - 2)`` times the
        scale matrices, infinite where ``nu <= 2`` (such regimes sort last).
    **kwargs
        Passed to the estimator.  Defaults scaled to the returns' variance
        ``v``: mixture ``reg_covar=1e-6 v``, ``tol=1e-6``, ``max_iter=1000``;
        HMM ``min_covar=1e-3 v``, ``covars_prior=1e-2 v``, ``tol=1e-4``,
        ``n_iter=1000``.

    Returns
    -------
    RegimeResult
        Regimes sorted by volatility (total variance across assets): regime 0
        is the calmest.  The ordering makes labels stable across refits.

    Warns
    -----
    UserWarning
        When a column looks like a price level rather than returns (its mean
        exceeds twice its standard deviation, the rule by which ``gmmx fit``
        skips VaR/ES); pass ``gmmx.finance.log_returns(prices)``.
    """
    x, index, names = _returns_matrix(returns)
    n_regimes = int(n_regimes)
    if n_regimes < 1:
        raise ValueError(f"n_regimes must be at least 1, got {n_regimes}")
    if x.shape[0] < 2 * n_regimes:
        raise ValueError(
            f"need at least {2 * n_regimes} periods for {n_regimes} regimes, got {x.shape[0]}"
        )
    if not periods_per_year > 0:
        raise ValueError(f"periods_per_year must be positive, got {periods_per_year!r}")
    if emissions not in ("gaussian", "student_t"):
        raise ValueError(f"emissions must be 'gaussian' or 'student_t', got {emissions!r}")
    student = emissions == "student_t"
    _warn_if_levels(x, names)
    if method == "hmm":
        return _hmm_regimes(x, index, names, n_regimes, periods_per_year, covariance_type,
                            n_init, random_state, kwargs, student)
    if method != "mixture":
        raise ValueError(f"method must be 'mixture' or 'hmm', got {method!r}")
    # Daily return variances are ~1e-4: an absolute reg_covar of 1e-6 would bias
    # them, and the default tol of 1e-3 stops EM before calm and volatile
    # components separate.  Scale both to the data.
    kwargs.setdefault("reg_covar", 1e-6 * float(np.mean(x.var(axis=0))))
    kwargs.setdefault("tol", 1e-6)
    kwargs.setdefault("max_iter", 1000)
    from ..mixture import GaussianMixture, StudentTMixture  # scikit-learn: load on use
    cls = StudentTMixture if student else GaussianMixture
    model = cls(n_components=n_regimes, covariance_type=covariance_type,
                n_init=n_init, random_state=random_state, **kwargs).fit(x)
    covariances = None
    if isinstance(model, StudentTMixture):
        K, d = model.means_.shape
        scales = full_covariances(model.scales_, covariance_type, K, d)
        covariances = t_covariances(scales, model.degrees_of_freedom_, "full")
        order = _calm_to_volatile(covariances, model.means_)
        covariances = covariances[order]
    else:
        order = _calm_to_volatile(model_covariances(model), model.means_)
    proba = model.predict_proba(x)[:, order]
    labels = np.argmax(proba, axis=1)
    return RegimeResult(model, order, proba, labels, float(periods_per_year), names, index,
                        covariances=covariances)


def _warn_if_levels(x, names):
    """A UserWarning naming the columns of ``x`` that look like price levels, not returns."""
    mean, std = x.mean(axis=0), x.std(axis=0)
    level = np.flatnonzero(_looks_like_level(mean, std))
    if level.size == 0:
        return
    shown = ", ".join(str(names[j])
                      for j in level[:5]) + (" ..." if level.size > 5 else "")
    j = level[0]
    warn_user(f"detect_regimes: {shown} look(s) like a price level, not returns (mean "
              f"{mean[j]:.4g} exceeds twice the standard deviation {std[j]:.4g}); regimes "
              "of a level are its trend, not its volatility: pass log returns "
              "(gmmx.finance.log_returns(prices))", UserWarning)


def _calm_to_volatile(covariances, means):
    """Regime order: total variance, ties (tied/spherical) by the mean, then the index."""
    k = covariances.shape[0]
    total_var = np.trace(covariances, axis1=1, axis2=2)
    return np.lexsort((np.arange(k), np.asarray(means).sum(axis=1), total_var))


def _hmm_regimes(x, index, names, n_regimes, periods_per_year, covariance_type, n_init,
                 random_state, kwargs, student=False):
    """detect_regimes(method='hmm'): the best of ``n_init`` Baum-Welch fits."""
    from ..hmm import GaussianHMM, StudentTHMM  # imports scikit-learn: load on use

    var = float(np.mean(x.var(axis=0)))
    # hmmlearn's min_covar (1e-3) and covars_prior (1e-2) are absolute: ten to
    # a hundred times a daily return variance.  Scale them to the data.
    kwargs.setdefault("min_covar", 1e-3 * var)
    kwargs.setdefault("covars_prior", 1e-2 * var)
    kwargs.setdefault("tol", 1e-4)
    kwargs.setdefault("n_iter", 1000)
    rs = check_random_state(random_state)
    best, best_score = None, -np.inf
    for _ in range(max(int(n_init), 1)):
        seed = int(rs.randint(np.iinfo(np.int32).max))
        model = (StudentTHMM if student else GaussianHMM)(
            n_regimes, covariance_type=covariance_type, random_state=seed, **kwargs).fit(x)
        score = model.score(x)
        if best is None or score > best_score:
            best, best_score = model, score
    model = best
    order = _calm_to_volatile(model.covariances_ if student else model.covars_, model.means_)
    proba = model.predict_proba(x)[:, order]
    filtered = model.filter_proba(x)[:, order]
    labels = np.argmax(proba, axis=1)
    transmat = model.transmat_[np.ix_(order, order)]
    weights = model.get_stationary_distribution()[order]
    covariances = model.covariances_ if student else model.covars_
    return RegimeResult(model, order, proba, labels, float(periods_per_year), names, index,
                        method="hmm", weights=weights, means=model.means_[order],
                        covariances=covariances[order], transmat=transmat,
                        filtered=filtered)


# --------------------------------------------------------------------------
# asset clustering
# --------------------------------------------------------------------------

_FEATURES = ("mean", "volatility", "skew", "kurtosis", "market_corr", "corr")


def asset_features(returns: ArrayLike,
                   features: Sequence[str] = ("mean", "volatility", "skew", "corr"),
                   periods_per_year: float = 252) -> Any:
    """Feature vector of each asset from a (time x assets) return panel.

    Parameters
    ----------
    returns : array_like (n, m) or pandas.DataFrame
    features : sequence of str
        Any of 'mean' (annualised), 'volatility' (annualised), 'skew',
        'kurtosis' (excess), 'market_corr' (correlation with the equal-weight
        average of all assets) and 'corr' (the asset's row of the correlation
        matrix, one feature per asset).
    periods_per_year : float

    Returns
    -------
    ndarray (m, f) or pandas.DataFrame indexed by asset
    """
    x, _, names = _returns_matrix(returns)
    if x.shape[1] < 2:
        raise ValueError("asset clustering needs a panel of at least 2 assets (columns)")
    unknown = [f for f in features if f not in _FEATURES]
    if unknown or not features:
        raise ValueError(f"unknown features {unknown}; choose from {list(_FEATURES)}")
    mu = x.mean(axis=0)
    dev = x - mu
    var = np.mean(dev ** 2, axis=0)
    if np.any(var <= 0):
        raise ValueError("an asset has constant returns; drop it before clustering")
    sd = np.sqrt(var)
    cols, blocks = [], []
    for f in features:
        if f == "mean":
            blocks.append(mu[:, None] * periods_per_year)
            cols.append("mean")
        elif f == "volatility":
            blocks.append(sd[:, None] * np.sqrt(periods_per_year))
            cols.append("volatility")
        elif f == "skew":
            blocks.append((np.mean(dev ** 3, axis=0) / sd ** 3)[:, None])
            cols.append("skew")
        elif f == "kurtosis":
            blocks.append((np.mean(dev ** 4, axis=0) / var ** 2 - 3.0)[:, None])
            cols.append("excess_kurtosis")
        elif f == "market_corr":
            market = x.mean(axis=1)
            blocks.append(np.array([np.corrcoef(x[:, j], market)[0, 1]
                                    for j in range(x.shape[1])])[:, None])
            cols.append("market_corr")
        else:
            blocks.append(np.corrcoef(x, rowvar=False))
            cols.extend(f"corr_{n}" for n in names)
    feats = np.hstack(blocks)
    if hasattr(returns, "columns"):
        import pandas as pd

        return pd.DataFrame(feats, index=returns.columns, columns=cols)
    return feats


class AssetClusters:
    """Assets grouped by a Gaussian mixture on their feature vectors.

    Attributes
    ----------
    labels : ndarray (m,) or pandas.Series indexed by asset
        Cluster per asset, ordered by the mean volatility of each cluster's
        members (cluster 0 the calmest), so labels are stable across refits.
    probabilities : ndarray (m, K)
        Cluster membership probabilities, columns in label order.
    features : ndarray (m, f) or pandas.DataFrame
        The raw (unstandardised) features.
    model : fitted GaussianMixture
        Fitted on the standardised features.
    order : ndarray (K,)
        Model component index of each cluster label.
    """

    def __init__(self, labels: Any, probabilities: NDArray[np.float64], features: Any,
                 model: Any, order: NDArray[np.intp]) -> None:
        self.labels = labels
        self.probabilities = probabilities
        self.features = features
        self.model = model
        self.order = order


def cluster_assets(returns: ArrayLike, n_clusters: int = 2, *,
                   features: Sequence[str] = ("mean", "volatility", "skew", "corr"),
                   standardize: bool = True, covariance_type: str = "diag", n_init: int = 10,
                   random_state: Union[None, int, np.random.RandomState] = 0,
                   periods_per_year: float = 252, **kwargs: Any) -> AssetClusters:
    """Cluster assets by a Gaussian mixture on their return features.

    Parameters
    ----------
    returns : array_like (n, m) or pandas.DataFrame
        Returns, time along axis 0, one column per asset.
    n_clusters : int
    features : sequence of str
        See :func:`asset_features`.
    standardize : bool
        Scale each feature to zero mean and unit variance across assets first,
        so that no feature dominates by its units.
    covariance_type : str
        'diag' by default: there are usually few assets per feature dimension.
    n_init : int
    random_state : int, optional
    periods_per_year : float
    **kwargs
        Passed to :class:`gmmx.GaussianMixture`.

    Returns
    -------
    AssetClusters
    """
    feats = asset_features(returns, features, periods_per_year)
    f = np.asarray(feats, dtype=np.float64)
    n_clusters = int(n_clusters)
    if not 1 <= n_clusters <= f.shape[0]:
        raise ValueError(f"n_clusters must be between 1 and the number of assets {f.shape[0]}, "
                         f"got {n_clusters}")
    z = f
    if standardize:
        sd = f.std(axis=0)
        z = (f - f.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    from ..mixture import GaussianMixture  # imports scikit-learn when installed: load on use
    model = GaussianMixture(n_components=n_clusters, covariance_type=covariance_type,
                            n_init=n_init, random_state=random_state, **kwargs).fit(z)
    raw = model.predict_proba(z)
    hard = np.argmax(raw, axis=1)
    key = np.asarray(returns, dtype=np.float64).std(axis=0)
    # Sort clusters by their members' mean volatility (empty clusters last).
    centre = np.array([key[hard == k].mean() if np.any(hard == k) else np.inf
                       for k in range(n_clusters)])
    order = np.lexsort((np.arange(n_clusters), centre))
    proba = raw[:, order]
    labels = np.argmax(proba, axis=1)
    if hasattr(returns, "columns"):
        import pandas as pd

        labels = pd.Series(labels, index=returns.columns, name="cluster")
    return AssetClusters(labels, proba, feats, model, order)
