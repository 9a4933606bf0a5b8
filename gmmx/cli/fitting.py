"""Fitting the candidates of ``gmmx fit`` / ``gmmx demo``."""

from __future__ import annotations

import time
import warnings

import numpy as np

from ._common import CLIError


def _auto_reg_covar(variances):
    v = np.asarray(variances, dtype=np.float64)
    positive = v[v > 0]
    if positive.size == 0:
        return 1e-6
    return float(1e-6 * positive.min())


def _fit_all(data, ks, args, n_rows, reg_covar, notes, stream):
    """Fit every candidate (K x covariance type) in lockstep.

    Returns
    -------
    model, rows, seconds, best_row
        The selected model, one row per candidate, the fit's wall time and
        the selected candidate's row.
    """
    from ..mixture import GaussianMixtureIC

    if n_rows < min(ks):
        raise CLIError(f"{n_rows} rows cannot fit {min(ks)} components")
    criterion = getattr(args, "criterion", "bic")
    if criterion == "cv" and stream:
        raise CLIError("--criterion cv holds rows out, which needs the data in memory; drop "
                       "--stream or choose bic, aic or icl")
    sel = GaussianMixtureIC(
        n_components=[k for k in ks if k <= n_rows], covariance_type=args.covariance_type,
        criterion=criterion, max_iter=args.max_iter, tol=args.tol, n_init=args.n_init,
        reg_covar=reg_covar, random_state=args.seed, n_threads=args.threads,
        chunk_size=getattr(args, "chunk_size", None),
        init_params=getattr(args, "init", "hierarchical"),
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sel.fit(data)
    seconds = time.perf_counter() - t0
    for w in caught:
        text = str(w.message)
        if text not in notes:
            notes.append(text)
    res = sel.results_
    rows = []
    for i in range(len(sel.estimators_)):
        ll = res["log_likelihood"][i]
        row = {"n_components": res["n_components"][i],
               "covariance_type": res["covariance_type"][i],
               "bic": res["bic"][i], "aic": res["aic"][i], "icl": res["icl"][i],
               "loglik_per_row": None if ll is None else ll / n_rows,
               "converged": bool(res["converged"][i]), "n_iter": int(res["n_iter"][i])}
        if criterion == "cv":
            row["cv"] = res["cv"][i]
        rows.append(row)
    return sel.best_estimator_, rows, seconds, rows[sel.best_index_]

