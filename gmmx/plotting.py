"""Matplotlib figures for fitted Gaussian mixtures.

matplotlib is an optional dependency (``pip install gmmx-em[plot]``) and is
imported only when a plotting function is called.  Every function draws on the
``ax`` it is given (or on a new figure) and returns that Axes; ``ax.figure`` is
the Figure, for further styling or saving.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Optional, Union, cast, overload

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - matplotlib is optional and loads on use
    from matplotlib.axes import Axes
    from numpy.typing import ArrayLike, NDArray

from .finance._models import _model_params
from .finance.distributions import UnivariateMixture, _as_univariate
from .finance.risk import _risk_distribution, expected_shortfall, value_at_risk
from .finance.student_t import UnivariateTMixture, is_t_model

__all__ = ["plot_density", "plot_qq", "plot_information_criteria", "plot_regimes",
           "plot_clusters", "plot_portfolio_risk", "plot_tail_comparison"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "gmmx plotting needs matplotlib: pip install gmmx-em[plot]"
        ) from exc
    return plt


def _axes(ax: Optional[Axes], figsize: tuple[float, float] = (7, 4.5)) -> Axes:
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots(figsize=figsize)
    return ax


def _finite_1d(data, what="data"):
    x = np.asarray(data, dtype=np.float64)
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1:
        raise ValueError(f"{what} must be one series (shape (n,) or (n, 1)), got {x.shape}")
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError(f"{what} has no finite values")
    return x


def _series_name(data, mixture=None, default="x"):
    """A label for one series: a pandas name, a one-column frame's column, the model's
    ``feature_names_in_``, else ``default``."""
    name = getattr(data, "name", None)
    if name is None and getattr(data, "ndim", 1) == 2:
        columns = list(getattr(data, "columns", []))
        name = columns[0] if len(columns) == 1 else None
    if name is None:
        names = getattr(mixture, "feature_names_in_", None)
        name = names[0] if names is not None and len(names) == 1 else None
    return default if name is None else str(name)


def _mark_tail_risk(ax, dist, alphas):
    """Vertical lines at -VaR and -ES for each tail probability."""
    for j, alpha in enumerate(np.atleast_1d(alphas)):
        var = float(value_at_risk(dist, float(alpha)))
        es = float(expected_shortfall(dist, float(alpha)))
        pct = f"{100 * float(alpha):g}%"
        ax.axvline(-var, color="C1", linestyle="-", linewidth=1.2, alpha=1.0 - 0.25 * j,
                   label=f"{pct} VaR = {var:.4g}")
        ax.axvline(-es, color="C4", linestyle=":", linewidth=1.5, alpha=1.0 - 0.25 * j,
                   label=f"{pct} ES = {es:.4g}")


@overload
def plot_density(data: Optional[ArrayLike], mixture: Any, *,
                 bins: Union[int, Sequence[float]] = ..., components: bool = ...,
                 ax: Optional[Axes] = ..., n_points: int = ...,
                 xlim: Optional[tuple[float, float]] = ..., logy: bool = ...,
                 risk_alpha: Union[float, Sequence[float], None] = ...,
                 title: Optional[str] = ..., xlabel: Optional[str] = ...) -> Axes: ...


@overload
def plot_density(data: Optional[ArrayLike], mixture: Any, *,
                 bins: Union[int, Sequence[float]] = ..., components: bool = ...,
                 ax: Optional[Sequence[Axes]] = ..., n_points: int = ...,
                 xlim: Optional[tuple[float, float]] = ..., logy: Literal["both"],
                 risk_alpha: Union[float, Sequence[float], None] = ...,
                 title: Optional[str] = ..., xlabel: Optional[str] = ...) -> NDArray[Any]: ...


def plot_density(data: Optional[ArrayLike], mixture: Any, *,
                 bins: Union[int, Sequence[float]] = 100, components: bool = True,
                 ax: Union[Axes, Sequence[Axes], None] = None, n_points: int = 600,
                 xlim: Optional[tuple[float, float]] = None,
                 logy: Union[bool, Literal["both"]] = False,
                 risk_alpha: Union[float, Sequence[float], None] = None,
                 title: Optional[str] = None, xlabel: Optional[str] = None,
                 ) -> Union[Axes, NDArray[Any]]:
    """Fitted mixture density over a histogram, with each weighted component.

    Parameters
    ----------
    data : array_like or None
        Observations, drawn as a density-normalised histogram (None: curves only).
        A pandas Series' name labels the x axis and the title.
    mixture : fitted d = 1 model or UnivariateMixture
    bins : int or sequence
        Histogram bins.
    components : bool
        Also draw each component's weighted density ``w_k N(x; mu_k, sigma_k^2)``.
    ax : matplotlib Axes, or a pair of them with ``logy="both"``, optional
    n_points : int
        Grid size for the curves.
    xlim : (float, float), optional
        Plot range; default covers the data and the mixture's 0.05 %-99.95 %
        quantiles (1e-6 to 1 - 1e-6 on a log scale).
    logy : bool or "both", default=False
        Log-scale density axis, where the tails that drive VaR are visible;
        ``"both"`` draws the linear and the log panel side by side.
    risk_alpha : float or sequence of float, optional
        Tail probabilities (0.01 = 99 %) at which to mark VaR (solid) and
        expected shortfall (dotted) of a long position, at ``x = -VaR`` and
        ``x = -ES``.
    title, xlabel : str, optional
        Default: from the series' name.

    Returns
    -------
    matplotlib.axes.Axes, or an array of two Axes with ``logy="both"``
    """
    if logy == "both":
        axes: Any = ax
        if axes is None:
            _, axes = _pyplot().subplots(1, 2, figsize=(12, 4.5))
        for a, log in zip(axes, (False, True)):
            plot_density(data, mixture, bins=bins, components=components, ax=a,
                         n_points=n_points, xlim=xlim, logy=log, risk_alpha=risk_alpha,
                         title=title, xlabel=xlabel)
        return np.asarray(axes)
    dist = _as_univariate(mixture)
    name = _series_name(data, mixture)
    ax = _axes(cast("Optional[Axes]", ax))
    x = None if data is None else _finite_1d(data)
    if xlim is None:
        tail = 1e-6 if logy else 5e-4  # the log panel shows the far tails
        lo, hi = dist.ppf([tail, 1 - tail])
        if x is not None:
            lo, hi = min(lo, x.min()), max(hi, x.max())
        xlim = (lo, hi)
    grid = np.linspace(xlim[0], xlim[1], n_points)
    if x is not None:
        ax.hist(x, bins=bins, density=True, color="0.75", edgecolor="0.6", linewidth=0.3,
                label="data")
    if components and dist.n_components > 1:
        for k in range(dist.n_components):
            z = (grid - dist.means[k]) / dist.stds[k]
            dens = dist.weights[k] * np.exp(-0.5 * z * z) / (dist.stds[k] * np.sqrt(2 * np.pi))
            ax.plot(grid, dens, "--", linewidth=1.2,
                    label=f"component {k}: w={dist.weights[k]:.3g}")
    pdf = dist.pdf(grid)
    ax.plot(grid, pdf, color="C3", linewidth=2.0, label="mixture")
    if risk_alpha is not None:
        _mark_tail_risk(ax, dist, risk_alpha)
    ax.set_xlim(*xlim)
    if logy:
        ax.set_yscale("log")
        ax.set_ylim(bottom=max(pdf.max() * 1e-7, pdf[pdf > 0].min() * 0.5))
    ax.set_xlabel(name if xlabel is None else xlabel)
    ax.set_ylabel("density (log scale)" if logy else "density")
    ax.set_title(title if title is not None else
                 f"{name}: {dist.n_components}-component Gaussian mixture"
                 + (", log scale" if logy else ""))
    ax.legend(loc="best", fontsize="small")
    return ax


def _any_univariate(mixture):
    """A UnivariateTMixture for a t model or distribution, else a UnivariateMixture."""
    if isinstance(mixture, UnivariateTMixture):
        return mixture
    if is_t_model(mixture):
        return UnivariateTMixture.from_model(mixture)
    return _as_univariate(mixture)


def plot_tail_comparison(data: Optional[ArrayLike], models: Any, *,
                         ax: Optional[Axes] = None, bins: Union[int, Sequence[float]] = 100,
                         n_points: int = 800, xlim: Optional[tuple[float, float]] = None,
                         title: Optional[str] = None, xlabel: Optional[str] = None) -> Axes:
    """Fitted densities on a log scale over a histogram: where Gaussian and t mixtures differ.

    Parameters
    ----------
    data : array_like or None
        Observations (a density-normalised histogram; None: curves only).
    models : mapping of label to model, or sequence of models
        Fitted d = 1 models (:class:`~gmmx.GaussianMixture`,
        :class:`~gmmx.StudentTMixture`) or univariate distributions
        (:class:`~gmmx.finance.UnivariateMixture`,
        :class:`~gmmx.finance.UnivariateTMixture`); a sequence is labelled by
        class and K.
    ax : matplotlib Axes, optional
    bins : int or sequence
    n_points : int
    xlim : (float, float), optional
        Default: the data's range widened to every model's 1e-5 and 1 - 1e-5
        quantiles.
    title, xlabel : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    if isinstance(models, Mapping):
        items = list(models.items())
    else:
        items = [(f"{type(m).__name__} K={_any_univariate(m).n_components}", m) for m in models]
    if not items:
        raise ValueError("models is empty; pass at least one fitted model or distribution")
    dists = [(label, _any_univariate(m)) for label, m in items]
    name = _series_name(data, items[0][1])
    ax = _axes(ax)
    x = None if data is None else _finite_1d(data)
    if xlim is None:
        qs = np.array([d.ppf(np.array([1e-5, 1 - 1e-5])) for _, d in dists])
        lo, hi = qs[:, 0].min(), qs[:, 1].max()
        if x is not None:
            lo, hi = min(lo, x.min()), max(hi, x.max())
        xlim = (float(lo), float(hi))
    grid = np.linspace(xlim[0], xlim[1], n_points)
    if x is not None:
        ax.hist(x, bins=bins, density=True, color="0.75", edgecolor="0.6", linewidth=0.3,
                label="data")
    peak, floor = 0.0, np.inf
    for j, (label, dist) in enumerate(dists):
        pdf = dist.pdf(grid)
        ax.plot(grid, pdf, color=f"C{j}", linewidth=1.8, label=label)
        peak = max(peak, float(pdf.max()))
        floor = min(floor, float(pdf[pdf > 0].min()) if np.any(pdf > 0) else np.inf)
    ax.set_xlim(*xlim)
    ax.set_yscale("log")
    ax.set_ylim(bottom=max(peak * 1e-7, 0.5 * floor))
    ax.set_xlabel(name if xlabel is None else xlabel)
    ax.set_ylabel("density (log scale)")
    ax.set_title(title if title is not None else f"{name}: fitted densities, log scale")
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_qq(data: ArrayLike, mixture: Any, *, ax: Optional[Axes] = None, max_points: int = 2000,
            title: Optional[str] = None) -> Axes:
    """QQ plot of observations against the fitted mixture's quantiles.

    Empirical quantiles at plotting positions ``(i - 0.5) / n`` are set
    against the mixture's ``ppf`` at the same levels; points on the diagonal
    mean the mixture fits, tails included.

    Parameters
    ----------
    data : array_like
        One series of observations (a pandas Series' name labels the axes).
    mixture : fitted d = 1 model or UnivariateMixture
    ax : matplotlib Axes, optional
    max_points : int
        Plot at most this many evenly spaced order statistics (the extremes
        are always kept).
    title : str, optional
        Default: from the series' name.

    Returns
    -------
    matplotlib.axes.Axes
    """
    dist = _as_univariate(mixture)
    name = _series_name(data, mixture)
    x = np.sort(_finite_1d(data))
    n = x.size
    i = np.unique(np.linspace(0, n - 1, min(n, int(max_points))).round().astype(int))
    levels = (i + 0.5) / n
    theo = dist.ppf(levels)
    ax = _axes(ax, figsize=(5, 5))
    ax.plot(theo, x[i], "o", markersize=3, alpha=0.6, label="data")
    lo, hi = min(theo.min(), x.min()), max(theo.max(), x.max())
    ax.plot([lo, hi], [lo, hi], color="C3", linewidth=1.2, label="y = x")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.set_xlabel(f"quantile of the fitted {dist.n_components}-component mixture")
    ax.set_ylabel(f"sample quantile of {name}")
    ax.set_title(title if title is not None else f"QQ plot: {name} against the fitted mixture")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def plot_information_criteria(X: Any = None, n_components: Iterable[int] = range(1, 7), *,
                              scores: Optional[Mapping[str, Sequence[float]]] = None,
                              criteria: Optional[Sequence[str]] = None,
                              ax: Optional[Axes] = None, **kwargs: Any) -> Axes:
    """Information criteria against the number of components K.

    Parameters
    ----------
    X : array_like or fitted GaussianMixtureIC, optional
        A fitted :class:`gmmx.GaussianMixtureIC`: its grid is drawn, one line
        per covariance type (and criterion), the selected model starred.
        Data: a :class:`gmmx.GaussianMixture` is fitted for each K (1-D data is
        one feature). Not needed with ``scores``.
    n_components : iterable of int
        The values of K (data or ``scores`` only).
    scores : dict, optional
        Precomputed ``{"bic": [...], "aic": [...]}`` aligned with
        ``n_components``; skips fitting.
    criteria : sequence of {'bic', 'aic', 'icl'}, optional
        Default: the selection's criterion for a GaussianMixtureIC, else
        ``('bic', 'aic')`` ('icl' needs a GaussianMixtureIC or ``scores``).
    ax : matplotlib Axes, optional
    **kwargs
        Passed to the estimator (e.g. ``covariance_type``, ``random_state``).

    Returns
    -------
    matplotlib.axes.Axes
        The minimum of each criterion is marked.
    """
    from .mixture import GaussianMixture, GaussianMixtureIC  # imports scikit-learn: load on use

    if isinstance(X, GaussianMixtureIC):
        return _plot_selection(X, criteria, ax)
    criteria = ("bic", "aic") if criteria is None else tuple(criteria)
    ks = [int(k) for k in n_components]
    allowed = ("bic", "aic", "icl") if scores is not None else ("bic", "aic")
    bad = [c for c in criteria if c not in allowed]
    if bad or not criteria:
        raise ValueError(f"criteria must be among {allowed}, got {list(criteria)}")
    if scores is None:
        if X is None:
            raise ValueError("pass data X to fit, a fitted GaussianMixtureIC, or scores=")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X.reshape(-1, 1)
        fitted: dict[str, list[float]] = {c: [] for c in criteria}
        for k in ks:
            model = GaussianMixture(n_components=k, **kwargs).fit(X)
            for c in criteria:
                fitted[c].append(getattr(model, c)(X))
        scores = fitted
    ax = _axes(ax)
    for j, c in enumerate(criteria):
        vals = np.asarray(scores[c], dtype=np.float64)
        if vals.shape != (len(ks),):
            raise ValueError(
                f"scores[{c!r}] must have one value per K ({len(ks)}), got {vals.shape}"
            )
        ax.plot(ks, vals, "o-", color=f"C{j}", label=c.upper())
        best = int(np.argmin(vals))
        ax.plot(ks[best], vals[best], "*", color=f"C{j}", markersize=14)
    ax.set_xlabel("number of components K")
    ax.set_ylabel("criterion (lower is better)")
    ax.set_xticks(ks)
    ax.legend(loc="best")
    return ax


def _plot_selection(sel, criteria, ax):
    """The grid of a fitted GaussianMixtureIC: K on x, one line per covariance type."""
    if not hasattr(sel, "results_"):
        raise ValueError("the GaussianMixtureIC is not fitted; call fit first")
    res = sel.results_
    criteria = (sel.criterion,) if criteria is None else tuple(criteria)
    bad = [c for c in criteria if c not in res]
    if bad or not criteria:
        raise ValueError(f"criteria must be among the fitted ones "
                         f"{[c for c in ('bic', 'aic', 'icl', 'cv') if c in res]}, "
                         f"got {list(criteria)}")
    ks = np.asarray(res["n_components"])
    covs = np.asarray(res["covariance_type"])
    ax = _axes(ax)
    styles = ("-", "--", ":", "-.")
    for j, c in enumerate(criteria):
        vals = np.array([np.nan if v is None else v for v in res[c]], dtype=np.float64)
        for i, cov in enumerate(dict.fromkeys(covs)):
            sel_rows = covs == cov
            order = np.argsort(ks[sel_rows])
            label = cov if len(criteria) == 1 else f"{c.upper()} {cov}"
            ax.plot(ks[sel_rows][order], vals[sel_rows][order], "o", linestyle=styles[j % 4],
                    color=f"C{i}", label=label)
        if np.any(np.isfinite(vals)):
            best = int(np.nanargmin(vals))
            ax.plot(ks[best], vals[best], "*", color="k", markersize=14)
    ax.set_xlabel("number of components K")
    ax.set_ylabel(f"{'/'.join(c.upper() for c in criteria)} (lower is better)")
    ax.set_xticks(sorted(set(ks.tolist())))
    ax.legend(loc="best", title="covariance")
    return ax


def plot_regimes(series: ArrayLike, labels: Any, *, ax: Optional[Axes] = None,
                 colors: Optional[Sequence[Any]] = None, alpha: float = 0.25,
                 label_names: Optional[Sequence[str]] = None,
                 probabilities: Union[str, ArrayLike, None] = None, title: Optional[str] = None,
                 ylabel: Optional[str] = None) -> Axes:
    """A price or return series with the background shaded by regime.

    Parameters
    ----------
    series : array_like or pandas.Series
        The values to draw (prices or returns); a pandas index is the x axis.
    labels : array_like of int, pandas.Series, or RegimeResult
        Regime per period, aligned with ``series`` (a shorter label series,
        e.g. from returns of the prices drawn, is aligned to the end).
    ax : matplotlib Axes, optional
    colors : sequence of colours, optional
        One per regime; default green to red, calm to volatile.
    alpha : float
        Shading opacity.
    label_names : sequence of str, optional
        Legend names of the regimes.
    probabilities : {'smoothed', 'filtered'} or array_like (n, K), optional
        Instead of shading by label, stack the regime probabilities behind
        the series (right-hand axis, 0 to 1): 'smoothed' and 'filtered' take
        them from a RegimeResult ``labels`` (``probabilities`` /
        ``filtered_probabilities``: the filtered ones use no future data).
        Aligned to the end of ``series`` like the labels.
    title, ylabel : str, optional
        Default: from the series' name and, for a RegimeResult, the method.

    Returns
    -------
    matplotlib.axes.Axes
        The axes of the series (the probabilities are on ``ax.right_ax``
        when drawn).  With a RegimeResult the legend carries each regime's
        numbers from its table: annualised volatility and mean duration (the
        expected duration for an HMM), unless ``label_names`` are given.
    """
    result = labels if hasattr(labels, "labels") and hasattr(labels, "n_regimes") else None
    if result is not None:
        labels = result.labels
    lab = np.asarray(labels).astype(int).reshape(-1)
    y = np.asarray(series, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"series must be one price or return series, got shape {y.shape}")
    if lab.size > y.size:
        raise ValueError(f"more labels ({lab.size}) than series values ({y.size})")
    proba = _regime_probabilities(probabilities, result, lab.size)
    xs = np.asarray(series.index) if hasattr(series, "index") else np.arange(y.size)
    offset = y.size - lab.size
    k = proba.shape[1] if proba is not None else (int(lab.max()) + 1 if lab.size else 0)
    if colors is None:
        cmap = _pyplot().get_cmap("RdYlGn_r")
        colors = [cmap(0.15 + 0.7 * j / max(k - 1, 1)) for j in range(k)]
    names = [label_names[r] if label_names is not None else f"regime {r}" for r in range(k)]
    if result is not None and label_names is None:
        names = [f"{n}: {_regime_summary(result, r)}" for r, n in enumerate(names)]
    ax = _axes(ax, figsize=(10, 4))
    ax.plot(xs, y, color="k", linewidth=0.8, zorder=3)
    _label_regime_axes(ax, series, result, k, title, ylabel)
    if proba is not None:
        right = ax.twinx()
        right.stackplot(xs[offset:], proba.T, colors=colors[:k], alpha=alpha * 2,
                        labels=names, linewidth=0)
        right.set_ylim(0.0, 1.0)
        right.set_ylabel("regime probability")
        ax.set_zorder(right.get_zorder() + 1)
        ax.patch.set_visible(False)
        ax.right_ax = right  # type: ignore[attr-defined]  # like pandas' secondary_y
        right.legend(loc="best", fontsize="small")
        ax.set_xlim(xs[0], xs[-1])
        return ax
    # One span per run of equal labels, from its first period to the next run's start.
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    ends = np.r_[starts[1:], lab.size]
    handles: dict[int, Any] = {}
    for s, e in zip(starts, ends):
        r = lab[s]
        x0 = xs[s + offset]
        x1 = xs[min(e + offset, y.size - 1)]
        span = ax.axvspan(x0, x1, color=colors[r], alpha=alpha, linewidth=0,
                          label=None if r in handles else names[r])
        handles.setdefault(r, span)
    ax.set_xlim(xs[0], xs[-1])
    ax.legend(handles=[handles[r] for r in sorted(handles)], loc="best", fontsize="small")
    return ax


def _regime_summary(result, r):
    """'ann. vol 12.3%, lasts 83 periods' from a RegimeResult's table numbers."""
    vol = float(np.mean(result.volatility[r]))
    duration = result.expected_duration[r] if result.method == "hmm" else result.mean_duration[r]
    kind = "expected stay" if result.method == "hmm" else "mean run"
    return f"ann. vol {100 * vol:.1f}%, {kind} {float(duration):.1f} periods"


def _label_regime_axes(ax, series, result, k, title, ylabel):
    name = getattr(series, "name", None)
    index = getattr(series, "index", None)
    dated = index is not None and np.issubdtype(np.asarray(index).dtype, np.datetime64)
    ax.set_xlabel("date" if dated else "period")
    ax.set_ylabel(ylabel if ylabel is not None else (str(name) if name is not None else "value"))
    if title is None:
        what = {"hmm": "hidden Markov model", "mixture": "Gaussian mixture"}.get(
            getattr(result, "method", None), None)
        title = f"{name if name is not None else 'series'}: {k} regimes" + (
            f" ({what})" if what else "")
    ax.set_title(title)


def _regime_probabilities(probabilities, result, n):
    """(n, K) probabilities for plot_regimes, or None."""
    if probabilities is None:
        return None
    if isinstance(probabilities, str):
        if probabilities not in ("smoothed", "filtered"):
            raise ValueError(
                f"probabilities must be 'smoothed', 'filtered' or an (n, K) array, got "
                f"{probabilities!r}")
        if result is None:
            raise ValueError(
                f"probabilities={probabilities!r} needs the RegimeResult of detect_regimes as "
                "labels; or pass the (n, K) probabilities themselves")
        probabilities = (result.probabilities if probabilities == "smoothed"
                         else result.filtered_probabilities)
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != n:
        raise ValueError(f"probabilities must have shape ({n}, K) like the labels, got {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("probabilities must be finite and non-negative")
    return p


def _ellipse_points(mean, cov, n_std, n=100):
    vals, vecs = np.linalg.eigh(cov)
    t = np.linspace(0, 2 * np.pi, n)
    circle = np.stack([np.cos(t), np.sin(t)])
    return (mean[:, None] + n_std * vecs @ (np.sqrt(np.maximum(vals, 0))[:, None] * circle)).T


def plot_clusters(X: ArrayLike, model: Any, *, dims: tuple[int, int] = (0, 1),
                  n_std: Sequence[float] = (1.0, 2.0), ax: Optional[Axes] = None,
                  s: float = 8) -> Axes:
    """2-D scatter coloured by most probable component, with covariance ellipses.

    Parameters
    ----------
    X : array_like (n, d)
        Data, d >= 2.
    model : fitted GaussianMixture-like model
        Any ``covariance_type``; components are coloured ``C0, C1, ...``.
    dims : (int, int)
        The two features to draw.
    n_std : sequence of float
        Draw an ellipse at each of these Mahalanobis radii (1 and 2 sd).
    ax : matplotlib Axes, optional
    s : float
        Marker size.

    Returns
    -------
    matplotlib.axes.Axes
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] < 2:
        raise ValueError(f"X must have shape (n, d) with d >= 2, got {X.shape}")
    w, means, covs = _model_params(model)
    if means.shape[1] != X.shape[1]:
        raise ValueError(f"the model has {means.shape[1]} features, X has {X.shape[1]}")
    i, j = dims
    labels = np.asarray(model.predict(X))
    ax = _axes(ax, figsize=(6, 5))
    for k in range(w.size):
        colour = f"C{k % 10}"
        mask = labels == k
        ax.scatter(X[mask, i], X[mask, j], s=s, color=colour, alpha=0.5,
                   label=f"component {k} (w={w[k]:.2f})")
        sub = covs[k][np.ix_([i, j], [i, j])]
        centre = means[k, [i, j]]
        for r in n_std:
            pts = _ellipse_points(centre, sub, r)
            ax.plot(pts[:, 0], pts[:, 1], color=colour, linewidth=1.5)
        ax.plot(*centre, "x", color="k", markersize=8)
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        names = getattr(X, "columns", None)
    names = [str(n) for n in names] if names is not None else None
    ax.set_xlabel(names[i] if names is not None else f"x{i}")
    ax.set_ylabel(names[j] if names is not None else f"x{j}")
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_portfolio_risk(mixture: Any, weights: Union[ArrayLike, Mapping[Any, float], None] = None,
                        alpha: float = 0.05, *, position: Optional[float] = None,
                        ax: Optional[Axes] = None, n_points: int = 600,
                        xlim: Optional[tuple[float, float]] = None) -> Axes:
    """Density of the portfolio loss with its value at risk and expected shortfall marked.

    The loss is ``-w'x`` (``-position * w'x`` with a position), so losses are
    positive and on the right, as :func:`~gmmx.finance.value_at_risk` reports
    them.  The tail beyond the VaR is shaded; the VaR and ES are vertical lines
    whose legend entries give their values.

    Parameters
    ----------
    mixture : fitted model, MultivariateMixture or UnivariateMixture
    weights : array_like, dict or pandas.Series, optional
        Portfolio weights, one per feature; required when the model has
        several features (a univariate mixture takes none).
    alpha : float in (0, 0.5]
        Tail probability (0.05 for 95 % VaR).
    position : float, optional
        Portfolio value in currency (negative for a short): the loss axis is
        then in currency.
    ax : matplotlib Axes, optional
    n_points : int
        Grid size for the curve.
    xlim : (float, float), optional
        Loss range; default from the 0.05 % loss quantile to beyond the ES.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if np.ndim(alpha) != 0:
        raise ValueError(f"plot_portfolio_risk marks one tail probability, got alpha={alpha!r}")
    dist = _risk_distribution(mixture, weights, None, None, None)
    var = value_at_risk(dist, alpha, position=position)
    es = expected_shortfall(dist, alpha, position=position)
    scale = 1.0 if position is None else float(position)
    loss = UnivariateMixture(dist.weights, -scale * dist.means, stds=abs(scale) * dist.stds)
    if xlim is None:
        lo, hi = loss.ppf([5e-4, 1.0 - min(5e-4, 0.1 * alpha)])
        hi = max(hi, es)
        pad = 0.05 * (hi - lo)
        xlim = (lo - pad, hi + pad)
    grid = np.linspace(xlim[0], xlim[1], n_points)
    dens = loss.pdf(grid)
    ax = _axes(ax)
    ax.plot(grid, dens, color="C0", linewidth=2.0, label="loss density")
    tail = grid >= var
    ax.fill_between(grid[tail], dens[tail], color="C3", alpha=0.3, linewidth=0,
                    label=f"worst {100 * alpha:.3g}% of outcomes")
    level = f"{100 * (1 - alpha):.4g}%"
    ax.axvline(var, color="C3", linestyle="--", linewidth=1.5, label=f"VaR {level}: {var:.4g}")
    ax.axvline(es, color="k", linestyle=":", linewidth=1.5, label=f"ES {level}: {es:.4g}")
    ax.set_xlim(*xlim)
    units = "return units" if position is None else "currency"
    ax.set_xlabel(f"portfolio loss ({units}, positive = loss)")
    ax.set_ylabel("density")
    ax.legend(loc="best", fontsize="small")
    return ax
