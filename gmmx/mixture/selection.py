"""Model selection: :class:`GaussianMixtureIC` fits a grid of mixtures and keeps the best.

All candidates (every K x covariance type, every initialisation) advance
together: each EM iteration is ONE pass over the data that feeds every
still-running candidate's kernel call (``driver.accumulate_many``), and all
candidates initialise from one shared sample (and one hierarchical tree).
A candidate that converges stops consuming kernel time.

Every candidate's last pass is an E-step under its final parameters (EM
stops before an M-step whose result nobody has scored), so the criteria are
exact without a further pass: the log-likelihood, the total weight and the
entropy of the posteriors all come from that pass's statistics
(:mod:`gmmx.core.criteria`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Optional, Union

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import ArrayLike, NDArray
    from typing_extensions import Self

import importlib
import numbers
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from .._validation import (apply_nan_policy, as_float_array, check_int, check_nan_policy,
                           check_random_state, check_sample_weight)
from ..core import kernel
from ..core.covariance import COVARIANCE_TYPES, get_covariance
from ..core.criteria import criteria as ic_values
from ..core.criteria import entropy as stats_entropy
from ..core.stats import SufficientStats
from ..drivers import ArrayDriver, DriverOptions, accumulate_many, make_driver
from ..drivers.array import is_in_memory
from ..exceptions import ConvergenceWarning, NotFittedError
from .gaussian import GaussianMixture

__all__ = ["CRITERIA", "FAMILIES", "GaussianMixtureIC"]

#: Selection criteria (lower is better).
CRITERIA = ("bic", "aic", "icl", "cv")


class _Families(Mapping):
    """Family name -> estimator class, each class imported on first lookup.

    The gmmx command fits Gaussian grids only; the Student-t code (and its
    kernels) then stays unimported.
    """

    _HOMES = {"gaussian": "gmmx.mixture.gaussian:GaussianMixture",
              "student_t": "gmmx.mixture.student:StudentTMixture"}

    def __getitem__(self, name: str) -> type:
        module, cls = self._HOMES[name].split(":")
        return getattr(importlib.import_module(module), cls)

    def __contains__(self, name: object) -> bool:
        return name in self._HOMES

    def __iter__(self) -> Iterator[str]:
        return iter(self._HOMES)

    def __len__(self) -> int:
        return len(self._HOMES)

    def __repr__(self) -> str:
        return repr(dict(self))


#: Model families a grid may hold: name -> estimator class.
FAMILIES: Mapping[str, type] = _Families()

_OWN_PARAMS = ("n_components", "covariance_type", "criterion", "cv", "family")
_GM_PARAMS = tuple(p for p in GaussianMixture._get_param_names()
                   if p not in ("n_components", "covariance_type"))
# GaussianMixture's defaults, except the start: mclust's hierarchical one
# (deterministic, one tree for the whole grid)
_GM_DEFAULTS = {**GaussianMixture().get_params(deep=False), "init_params": "hierarchical"}


@dataclass
class _Run:
    """One initialisation of one candidate, advanced in lockstep with the others."""

    index: int
    params: tuple
    lower_bound: float = -np.inf
    lower_bounds: list = field(default_factory=list)
    n_iter: int = 0
    converged: bool = False
    stats: object = None
    error: Optional[Exception] = None


class _EntropyStep:
    """A :class:`~gmmx.core.kernel.BlockEStep` whose statistics carry only the
    weight and ``extra["entropy"] = -sum_i w_i r_ik log r_ik`` of the wrapped E-step.

    Under ``nan_policy='marginalize'`` the entropy a pass's expected
    statistics imply (:func:`gmmx.core.criteria.entropy`) also holds that of
    the missing entries given the observed ones; ICL needs the posteriors'
    alone, so it takes one more pass with this step.
    """

    marginalizes_nan = True

    def __init__(self, inner, covariance_type, means):
        self.inner, self.covariance_type, self.means = inner, covariance_type, means

    def accumulate(self, X, sample_weight, n_threads, chunk_rows, where):
        """Zero statistics plus the block's posterior entropy per component."""
        r = kernel.responsibilities(X, self.inner, n_threads)
        with np.errstate(divide="ignore", invalid="ignore"):
            rlogr = np.where(r > 0, r * np.log(r), 0.0)
        if sample_weight is not None:
            rlogr = rlogr * np.asarray(sample_weight, dtype=np.float64)[:, None]
        st = SufficientStats.zeros(self.covariance_type, self.means)
        st.weight_sum = float(X.shape[0] if sample_weight is None else np.sum(sample_weight))
        st.n_samples = X.shape[0]
        st.extra = {"entropy": -rlogr.sum(axis=0)}
        return st

    def log_prob_norm(self, X, n_threads):
        """The wrapped E-step's."""
        return kernel.log_prob_norm(X, self.inner, n_threads)

    def responsibilities(self, X, n_threads):
        """The wrapped E-step's."""
        return kernel.responsibilities(X, self.inner, n_threads)


class _SharedInit:
    """A driver whose initialisation sample is drawn once for every candidate.

    ``init_cache`` lets candidates share work done on that sample (the
    hierarchical tree, built once and cut at every K).
    """

    def __init__(self, driver):
        self.driver = driver
        self.n_features = driver.n_features
        self.n_threads = driver.n_threads
        self.init_cache = {}
        self.passes = 0
        self._sample = None

    def init_sample(self, random_state):
        if self._sample is None:
            self._sample = self.driver.init_sample(random_state)
            if not isinstance(self.driver, ArrayDriver):  # a sampling pass over the data
                self.passes += 1
        return self._sample

    def accumulate(self, params):
        return self.accumulate_many([params])[0]

    def accumulate_many(self, params_list):
        self.passes += 1
        return accumulate_many(self.driver, params_list)

    def close(self):
        self.driver.close()


def _as_tuple(value, name, kind):
    if isinstance(value, (str, numbers.Integral)) and not isinstance(value, bool):
        values = (value,)
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise ValueError(f"{name} must be {kind} or a sequence of them, got {value!r}") \
                from None
    if not values:
        raise ValueError(
            f"{name} is empty: the grid needs at least one value "
            f"(e.g. n_components=range(1, 10), covariance_type=('full', 'diag'))"
        )
    return values


class GaussianMixtureIC:
    """Fit Gaussian mixtures over a grid of K and covariance types; keep the best.

    "Fit K = 1..Kmax, compute an information criterion, take the minimum",
    for several covariance types at once, from arrays, chunk sources or
    Dask collections.  Over a source every EM iteration is one read of the
    data for the whole grid.

    Parameters
    ----------
    n_components : int or iterable of int, default=range(1, 10)
    covariance_type : str or iterable of str, default=('full', 'tied', 'diag', 'spherical')
    criterion : {'bic', 'aic', 'icl', 'cv'}, default='bic'
        Lower is better. ``'icl'`` is BIC plus twice the posterior entropy
        (:meth:`GaussianMixture.icl`); ``'cv'`` is the held-out deviance
        ``-2 sum log p(x)`` over ``cv`` folds (arrays only).
    cv : int, cross-validation splitter or iterable of (train, test), default=5
        Folds for ``criterion='cv'`` (an int: shuffled K-fold with
        ``random_state``).
    family : str or iterable of str, default='gaussian'
        Model families of the grid: ``'gaussian'`` (:class:`GaussianMixture`)
        and/or ``'student_t'`` (:class:`~gmmx.StudentTMixture`, ν estimated
        per component).  Every family's candidates advance in the same
        passes and are compared by the same criterion.  Gaussian-only
        parameters (``prior``, ``weight_concentration``,
        ``covariance_shrinkage``, ``min_eigenvalue``) apply to the Gaussian
        candidates only.
    **params
        Any :class:`GaussianMixture` parameter (``reg_covar``, ``prior``,
        ``init_params``, ``n_init``, ``tol``, ``random_state``, ...), given to
        every candidate, with GaussianMixture's defaults except
        ``init_params='hierarchical'``: R mclust's start, deterministic, one
        tree for the whole grid (on Old Faithful it reaches optima that 20
        k-means restarts miss).  ``nan_policy`` (``'raise'``, ``'omit'``,
        ``'marginalize'``) is given to every candidate of every family and
        applies to the fits, the criteria and ``criterion='cv'``; under
        ``'marginalize'`` ICL's posterior entropy takes one more pass.

    Attributes
    ----------
    best_estimator_ : GaussianMixture or StudentTMixture
    best_index_ : int
    n_components_ : int
    covariance_type_ : str
    family_ : str
    estimators_ : list of GaussianMixture or StudentTMixture
        Every candidate in grid order (families, covariance types, then K); a
        candidate that failed (e.g. a singular covariance) is unfitted.
    criteria_ : ndarray
        The criterion of each estimator (inf for a failed one).
    results_ : dict of lists
        Columns ``candidate``, ``family``, ``n_components``, ``covariance_type``,
        ``bic``, ``aic``, ``icl`` (and ``cv``), ``log_likelihood``,
        ``n_parameters``, ``converged``, ``n_iter``, ``lower_bound``,
        ``error``; ``pandas.DataFrame(results_)`` is the table.
    n_passes_ : int
        Passes over the data the fit made (initialisation sample included).

    Notes
    -----
    With ``init_params='hierarchical'`` and at most 2,000 rows every start is
    the same, so ``n_init > 1`` only repeats it. Each candidate stops at the
    parameters of its last E-step (EM's last
    M-step is not taken, unlike :meth:`GaussianMixture.fit`), so ``criteria_``
    equals e.g. ``estimators_[i].bic(X)`` and ``n_iter`` counts passes. BIC's
    ``n`` is the total sample weight. With a ``prior`` the criteria stay
    likelihood-based (as mclust's BIC).
    """

    # Fitted attributes (set by fit).
    best_estimator_: GaussianMixture
    best_index_: int
    n_components_: int
    covariance_type_: str
    estimators_: list[GaussianMixture]
    criteria_: NDArray[np.float64]
    results_: dict[str, list[Any]]
    n_passes_: int

    def __init__(self, n_components: Union[int, Iterable[int]] = range(1, 10),
                 covariance_type: Union[str, Iterable[str]] = COVARIANCE_TYPES,
                 criterion: str = "bic", cv: Any = 5,
                 family: Union[str, Iterable[str]] = "gaussian", **params: Any) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.criterion = criterion
        self.cv = cv
        self.family = family
        unknown = sorted(set(params) - set(_GM_PARAMS))
        if unknown:
            raise TypeError(
                f"GaussianMixtureIC got unexpected parameter(s) {unknown}; it takes "
                f"{list(_OWN_PARAMS)} and any GaussianMixture parameter {list(_GM_PARAMS)}"
            )
        for name in _GM_PARAMS:
            setattr(self, name, params.get(name, _GM_DEFAULTS[name]))

    # ------------------------------------------------------------ params
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters (scikit-learn's ``get_params``)."""
        out = {name: getattr(self, name) for name in _OWN_PARAMS}
        out.update({name: getattr(self, name) for name in _GM_PARAMS})
        return out

    def set_params(self, **params: Any) -> Self:
        """Set parameters; returns ``self``."""
        valid = set(_OWN_PARAMS) | set(_GM_PARAMS)
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r} for estimator GaussianMixtureIC. "
                    f"Valid parameters are: {sorted(valid)}."
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        parts = []
        defaults = {"n_components": range(1, 10), "covariance_type": COVARIANCE_TYPES,
                    "criterion": "bic", "cv": 5, "family": "gaussian", **_GM_DEFAULTS}
        for name, value in self.get_params().items():
            default = defaults.get(name)
            try:
                same = value is default or bool(value == default)
            except (ValueError, TypeError):
                same = False
            if not same:
                parts.append(f"{name}={value!r}")
        return f"GaussianMixtureIC({', '.join(parts)})"

    def __sklearn_tags__(self):
        from sklearn.base import BaseEstimator

        tags = BaseEstimator.__sklearn_tags__(self)
        tags.estimator_type = "density_estimator"
        tags.input_tags.allow_nan = self.nan_policy != "raise"
        return tags

    def _grid(self):
        ks = _as_tuple(self.n_components, "n_components", "an int >= 1")
        ks = tuple(check_int(k, "n_components", 1) for k in ks)
        covs = _as_tuple(self.covariance_type, "covariance_type",
                         f"one of {COVARIANCE_TYPES}")
        covs = tuple(get_covariance(c).name for c in covs)
        families = _as_tuple(self.family, "family", f"one of {tuple(FAMILIES)}")
        for f in families:
            if f not in FAMILIES:
                raise ValueError(f"family must be one of {tuple(FAMILIES)} or a sequence of "
                                 f"them, got {f!r}")
        grid, seen = [], set()
        for f in families:
            for c in covs:
                for k in ks:
                    if (k, c, f) not in seen:
                        seen.add((k, c, f))
                        grid.append((k, c, f))
        return grid

    def _check(self):
        if self.criterion not in CRITERIA:
            raise ValueError(f"criterion must be one of {CRITERIA}, got {self.criterion!r}")
        if self.warm_start:
            raise ValueError("warm_start=True is not supported by GaussianMixtureIC; every "
                             "candidate is fitted from scratch")
        check_nan_policy(self.nan_policy)
        return self._grid()

    def _candidates(self, grid, seed):
        params = {name: getattr(self, name) for name in _GM_PARAMS}
        params["random_state"] = seed
        out = []
        for k, c, f in grid:
            cls = FAMILIES[f]
            own = {n: v for n, v in params.items() if n in cls._get_param_names()}
            out.append(cls(n_components=k, covariance_type=c, **own))
        return out

    def _seed(self):
        """One seed for all candidates: they share the initialisation sample."""
        rs = self.random_state
        if rs is None or isinstance(rs, np.random.RandomState):
            return int(check_random_state(rs).randint(np.iinfo(np.int32).max))
        return rs

    # ------------------------------------------------------------ fitting
    def fit(self, X: Any, y: Any = None, sample_weight: Optional[ArrayLike] = None) -> Self:
        """Fit every candidate and select the best.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), chunk source or dask collection
            As :meth:`GaussianMixture.fit`; ``criterion='cv'`` needs an array.
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Honoured by the fits and the criteria (integer weights equal
            repeated rows).

        Returns
        -------
        self
        """
        grid = self._check()
        if self.criterion == "cv" and not (is_in_memory(X)
                                           and not type(X).__module__.startswith("dask")):
            raise ValueError(
                "criterion='cv' needs an in-memory array (its folds are rows held out); "
                f"got {type(X).__name__}. Use criterion='bic', 'aic' or 'icl' for chunk "
                "sources and Dask collections"
            )
        seed = self._seed()
        candidates = self._candidates(grid, seed)
        values, self.n_passes_ = self._fit_candidates(candidates, X, sample_weight)
        if self.criterion == "cv":
            values["cv"] = self._cross_validate(grid, seed, X, sample_weight)
        crit = np.array([np.inf if v is None else v for v in values[self.criterion]])
        if not np.any(np.isfinite(crit)):
            raise ValueError(
                "every candidate failed to fit: " + "; ".join(
                    f"{r}: {e}" for r, e in zip(values["candidate"], values["error"]) if e)
            )
        self.estimators_ = candidates
        self.criteria_ = crit
        self.results_ = values
        self.best_index_ = int(np.argmin(crit))
        self.best_estimator_ = candidates[self.best_index_]
        self.n_components_, self.covariance_type_, self.family_ = grid[self.best_index_]
        self.n_features_in_ = self.best_estimator_.n_features_in_
        return self

    def _fit_candidates(self, candidates, X, sample_weight):
        """Lockstep EM of every candidate over one driver; (results table, passes)."""
        # the smallest K: a K larger than the data fails alone, not the whole grid
        options = DriverOptions(
            n_threads=self.n_threads, n_components=min(c.n_components for c in candidates),
            chunk_size=self.chunk_size, progress=bool(self.progress),
            max_passes=self.max_iter + 1 if isinstance(self.max_iter, int) else None,
            nan_policy=self.nan_policy)
        driver = _SharedInit(make_driver(X, sample_weight, options))
        try:
            with kernel.blas_held_to_one_thread():
                runs = _lockstep(candidates, driver)
                entropies = _posterior_entropies(candidates, runs, driver)
        finally:
            driver.close()
        return _results(candidates, runs, entropies), driver.passes

    def _cross_validate(self, grid, seed, X, sample_weight):
        """Held-out deviance ``-2 sum_folds sum_test w log p(x)`` of every candidate."""
        X = as_float_array(X, nan_policy=self.nan_policy)
        w = check_sample_weight(sample_weight, X.shape[0])
        if self.nan_policy == "omit":  # the folds split the rows that are kept
            X, w, _ = apply_nan_policy(X, w, "omit")
        total = np.zeros(len(grid))
        for train, test in self._folds(X, seed):
            cands = self._candidates(grid, seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                self._fit_candidates(cands, X[train], None if w is None else w[train])
            for i, c in enumerate(cands):
                if not hasattr(c, "precisions_cholesky_"):
                    total[i] = -np.inf
                    continue
                ll = c.score_samples(X[test])
                total[i] += float(ll.sum() if w is None else w[test] @ ll)
        return [float(-2.0 * t) for t in total]

    def _folds(self, X, seed):
        n = X.shape[0]
        cv = self.cv
        if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
            k = check_int(cv, "cv", 2)
            if k > n:
                raise ValueError(f"cv={k} folds need at least {k} rows, got {n}")
            perm = check_random_state(seed).permutation(n)
            parts = np.array_split(perm, k)
            return [(np.sort(np.concatenate(parts[:i] + parts[i + 1:])), np.sort(parts[i]))
                    for i in range(k)]
        splits = cv.split(X) if hasattr(cv, "split") else cv
        try:
            folds = [(np.asarray(tr), np.asarray(te)) for tr, te in splits]
        except (TypeError, ValueError):
            raise ValueError("cv must be an int >= 2, a splitter with split(X) or an "
                             "iterable of (train, test) index arrays") from None
        if not folds:
            raise ValueError("cv yielded no folds")
        return folds

    # ------------------------------------------------------------ delegation
    def _best(self) -> GaussianMixture:
        if not hasattr(self, "best_estimator_"):
            raise NotFittedError(
                "This GaussianMixtureIC instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )
        return self.best_estimator_

    def predict(self, X: ArrayLike) -> NDArray[np.intp]:
        """Component labels under the best model."""
        return self._best().predict(X)

    def predict_proba(self, X: ArrayLike) -> NDArray[np.floating[Any]]:
        """Posterior component probabilities under the best model."""
        return self._best().predict_proba(X)

    def fit_predict(self, X: Any, y: Any = None,
                    sample_weight: Optional[ArrayLike] = None) -> NDArray[np.intp]:
        """Fit, then label the rows of ``X`` with the best model."""
        return self.fit(X, y, sample_weight).predict(X)

    def score_samples(self, X: ArrayLike) -> NDArray[np.floating[Any]]:
        """Log-density of every row under the best model."""
        return self._best().score_samples(X)

    def score(self, X: ArrayLike, y: Any = None,
              sample_weight: Optional[ArrayLike] = None) -> float:
        """Mean (weighted) log-likelihood under the best model."""
        return self._best().score(X, sample_weight=sample_weight)

    def sample(self, n_samples: int = 1) -> tuple[NDArray[np.floating[Any]], NDArray[np.intp]]:
        """Draw from the best model."""
        return self._best().sample(n_samples)

    def bic(self, X: ArrayLike, sample_weight: Optional[ArrayLike] = None) -> float:
        """BIC of the best model on ``X``."""
        return self._best().bic(X, sample_weight)

    def aic(self, X: ArrayLike, sample_weight: Optional[ArrayLike] = None) -> float:
        """AIC of the best model on ``X``."""
        return self._best().aic(X, sample_weight)

    def icl(self, X: ArrayLike, sample_weight: Optional[ArrayLike] = None) -> float:
        """ICL of the best model on ``X``."""
        return self._best().icl(X, sample_weight)


def _lockstep(candidates, driver):
    """EM for every candidate and initialisation, one pass per iteration for all.

    Returns the best run of each candidate (or a failed one).
    """
    d = driver.n_features
    runs = []
    for index, cand in enumerate(candidates):
        cand._check_parameters(d)
        cand.n_features_in_ = d
        rs = check_random_state(cand.random_state)
        for _ in range(cand.n_init):
            try:
                runs.append(_Run(index, cand._initial_params(cand._init_driver(driver), rs)))
            except ValueError as exc:  # e.g. a singular initial covariance
                runs.append(_Run(index, None, error=exc))
    active = [r for r in runs if r.error is None]
    verbose = bool(candidates and candidates[0].verbose)
    n_pass = 0
    while active:
        n_pass += 1
        if verbose:
            print(f"  EM pass {n_pass}: {len(active)} of {len(runs)} candidate runs active")
        stats = driver.accumulate_many(
            [candidates[r.index]._estep_params(r.params) for r in active])
        nxt = []
        for r, st in zip(active, stats):
            if _advance(candidates[r.index], r, st):
                nxt.append(r)
        active = nxt
    best = {}
    for r in runs:
        b = best.get(r.index)
        if b is None or (b.error is not None and r.error is None) or (
                r.error is None and r.lower_bound > b.lower_bound):
            best[r.index] = r
    return [best[i] for i in range(len(candidates))]


def _advance(cand, run, stats):
    """Absorb one E-step; M-step unless finished. True if the run goes on."""
    lb = cand._lower_bound(stats, run.params)
    change = lb - run.lower_bound
    run.lower_bound, run.stats = lb, stats
    run.n_iter += 1
    run.lower_bounds.append(lb)
    if cand.callback is not None:
        cand.callback(run.n_iter, lb)
    if abs(change) < cand.tol:
        run.converged = True
        return False
    if run.n_iter >= cand.max_iter:
        return False
    try:
        run.params = cand._m_step(stats, run.params)
    except ValueError as exc:
        run.error = exc
        return False
    return True


def _posterior_entropies(candidates, runs, driver):
    """ICL's entropies of the Gaussian candidates fitted with ``nan_policy='marginalize'``
    (one more pass; see :class:`_EntropyStep`): candidate index -> entropy."""
    todo = [(i, r) for i, (c, r) in enumerate(zip(candidates, runs))
            if r.error is None and r.stats is not None and not hasattr(c, "_stats_entropy")
            and c._nan_policy() == "marginalize"]
    if not todo:
        return {}
    steps = [_EntropyStep(candidates[i]._estep_params(r.params), candidates[i].covariance_type,
                          r.params[1]) for i, r in todo]
    stats = driver.accumulate_many(steps)
    return {i: float(st.extra["entropy"].sum()) for (i, _), st in zip(todo, stats)}


def _results(candidates, runs, entropies=None):
    """Set every candidate's fitted state from its best run; the results columns."""
    cols = {k: [] for k in ("candidate", "family", "n_components", "covariance_type", "bic",
                            "aic",
                            "icl", "log_likelihood", "n_parameters", "converged", "n_iter",
                            "lower_bound", "error")}
    unconverged = []
    for index, (cand, run) in enumerate(zip(candidates, runs)):
        family = next(f for f, cls in FAMILIES.items() if type(cand) is cls)
        name = f"K={cand.n_components} {cand.covariance_type}"
        name += "" if family == "gaussian" else f" {family}"
        cols["candidate"].append(name)
        cols["family"].append(family)
        cols["n_components"].append(cand.n_components)
        cols["covariance_type"].append(cand.covariance_type)
        ok = run.error is None and run.stats is not None
        vals = {"bic": None, "aic": None, "icl": None}
        ll = n_params = None
        if ok:
            cand._set_parameters(run.params)
            cand.converged_ = run.converged
            cand.n_iter_ = run.n_iter
            cand.lower_bound_ = run.lower_bound
            cand.lower_bounds_ = list(run.lower_bounds)
            st = run.stats
            ll, n_params = float(st.log_likelihood), int(cand._n_parameters())
            own_entropy = getattr(cand, "_stats_entropy", None)
            en = (entropies[index] if entropies and index in entropies else
                  own_entropy(st) if own_entropy is not None else
                  stats_entropy(st, run.params[0], run.params[1], run.params[3],
                                cand.covariance_type))
            vals = ic_values(ll, st.weight_sum, n_params, en)
            if not run.converged:
                unconverged.append(name)
        for k, v in vals.items():
            cols[k].append(v)
        cols["log_likelihood"].append(ll)
        cols["n_parameters"].append(n_params)
        cols["converged"].append(bool(run.converged) if ok else False)
        cols["n_iter"].append(run.n_iter)
        cols["lower_bound"].append(float(run.lower_bound) if ok else None)
        cols["error"].append(None if run.error is None else str(run.error))
    failed = [n for n, e in zip(cols["candidate"], cols["error"]) if e]
    if failed:
        warnings.warn(f"{len(failed)} candidate(s) failed and are excluded: "
                      f"{', '.join(failed)}; see results_['error']", ConvergenceWarning,
                      stacklevel=4)
    if unconverged:
        warnings.warn(f"{len(unconverged)} candidate(s) did not converge: "
                      f"{', '.join(unconverged)}. Increase max_iter or tol.",
                      ConvergenceWarning, stacklevel=4)
    return cols
