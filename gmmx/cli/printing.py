"""Reporting a fit: the JSON summary, the text tables, notes."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from typing import Any, Optional, Union

import numpy as np

from ..finance._models import model_covariances
from ._common import _MAX_PRINTED_DIM, _g


def summarize_model(model: Any, alphas: Sequence[float] = (0.01, 0.05),
                    feature_names: Optional[Sequence[str]] = None,
                    risk: Union[str, bool] = "auto") -> dict[str, Any]:
    """A JSON-able description of a fitted model.

    Parameters
    ----------
    model : fitted GaussianMixture
    alphas : sequence of float
        Tail probabilities for VaR / ES (one-feature models only).
    feature_names : list of str, optional
    risk : {'auto', True, False}
        VaR / ES of a one-feature model: always, never, or ('auto') unless the
        fitted distribution looks like a level rather than returns (a mean
        above twice its standard deviation); then ``risk_skipped`` says why.

    Returns
    -------
    dict
    """
    k, d = model.means_.shape
    covs = model_covariances(model)
    out = {
        "n_components": int(k),
        "n_features": int(d),
        "features": (list(feature_names) if feature_names is not None
                     else [str(n) for n in model.feature_names_in_]
                     if getattr(model, "feature_names_in_", None) is not None
                     else [f"x{j}" for j in range(d)]),
        "covariance_type": model.covariance_type,
        "converged": bool(getattr(model, "converged_", False)),
        "n_iter": int(getattr(model, "n_iter_", 0)),
        "weights": model.weights_.tolist(),
        "means": model.means_.tolist(),
        "covariances": covs.tolist(),
    }
    lb = getattr(model, "lower_bound_", None)
    if lb is not None and np.isfinite(lb):
        out["lower_bound"] = float(lb)
    if d == 1:
        from ..finance.distributions import UnivariateMixture
        from ..finance.returns import _looks_like_level
        from ..finance.risk import expected_shortfall, value_at_risk

        dist = UnivariateMixture.from_model(model)
        m = dist.moments()
        out["moments"] = {"mean": m.mean, "std": m.std, "skewness": m.skewness,
                          "excess_kurtosis": m.excess_kurtosis}
        level = bool(_looks_like_level(m.mean, m.std))  # the rule detect_regimes warns by
        if risk is False or (risk == "auto" and level):
            if level:
                out["risk_skipped"] = (
                    f"VaR/ES not computed: the column looks like a level, not returns (its "
                    f"mean {m.mean:.4g} exceeds twice its standard deviation {m.std:.4g}); "
                    "use --returns for its log returns, or --risk to force")
            return out
        out["risk"] = [{"alpha": float(a),
                        "value_at_risk": float(value_at_risk(dist, a)),
                        "expected_shortfall": float(expected_shortfall(dist, a))}
                       for a in alphas]
    return out


def _matrix_lines(M, indent):
    width = max(len(_g(v)) for v in np.ravel(M))
    return [indent + "  ".join(_g(v).rjust(width) for v in row) for row in np.atleast_2d(M)]


def format_summary(s: dict[str, Any]) -> str:
    """Human-readable table of :func:`summarize_model`'s output.

    Parameters
    ----------
    s : dict

    Returns
    -------
    str
    """
    k, d = s["n_components"], s["n_features"]
    w = np.asarray(s["weights"])
    mu = np.asarray(s["means"])
    cov = np.asarray(s["covariances"])
    lines = []
    if d == 1:
        lines.append(f"  {'component':>9}  {'weight':>10}  {'mean':>13}  {'std':>13}  "
                     f"{'variance':>13}")
        for j in range(k):
            lines.append(f"  {j:>9}  {w[j]:>10.6f}  {_g(mu[j, 0]):>13}  "
                         f"{_g(math.sqrt(cov[j, 0, 0])):>13}  {_g(cov[j, 0, 0]):>13}")
    else:
        names = s["features"]
        lines.append(f"  features: {', '.join(names)}")
        for j in range(k):
            lines.append(f"  component {j}   weight {w[j]:.6f}")
            lines.append("    mean        " + "  ".join(_g(v) for v in mu[j]))
            if d <= _MAX_PRINTED_DIM:
                lines.append(f"    covariance ({s['covariance_type']}):")
                lines.extend(_matrix_lines(cov[j], "      "))
            else:
                lines.append("    std dev     " + "  ".join(
                    _g(math.sqrt(v)) for v in np.diag(cov[j])))
        if d > _MAX_PRINTED_DIM:
            lines.append(f"  ({d} features: covariance matrices abridged to standard "
                         "deviations; --json prints them in full)")
    if "moments" in s:
        m = s["moments"]
        lines.append("")
        lines.append(f"  mixture moments: mean {_g(m['mean'])}   std {_g(m['std'])}   "
                     f"skewness {_g(m['skewness'], 4)}   excess kurtosis "
                     f"{_g(m['excess_kurtosis'], 4)}")
        if "risk" in s:
            lines.append(f"  {'tail':>9}  {'VaR':>13}  {'ES':>13}   (losses of a long unit "
                         "position, in data units)")
            for r in s["risk"]:
                lines.append(f"  {r['alpha']:>9.2%}  {_g(r['value_at_risk']):>13}  "
                             f"{_g(r['expected_shortfall']):>13}")
    return "\n".join(lines)


def _format_selection(rows, best, criterion="bic"):
    crit = criterion.upper()
    lines = [f"  {'K':>3}  {'covariance':>10}  {crit:>16}  {'loglik/row':>12}  {'iter':>5}  "
             f"{'converged':>9}"]
    for r in rows:
        mark = f"  <- lowest {crit}" if r is best else ""
        value = r[criterion]
        ll = r["loglik_per_row"]
        lines.append(f"  {r['n_components']:>3}  {r['covariance_type']:>10}  "
                     f"{'failed' if value is None else f'{value:.6g}':>16}  "
                     f"{'-' if ll is None else f'{ll:.6g}':>12}  {r['n_iter']:>5}  "
                     f"{'yes' if r['converged'] else 'no':>9}{mark}")
    return "\n".join(lines)


def _emit(args, summary, text_blocks, notes):
    for note in notes:
        print(f"gmmx: note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary, indent=2, allow_nan=False, default=float))
    else:
        print("\n".join(text_blocks))

