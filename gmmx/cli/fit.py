"""``gmmx fit``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import os
import time

import numpy as np

from ._common import _PLOT_SAMPLE_ROWS, EXIT_OK, CLIError, _names
from .fitting import _auto_reg_covar, _fit_all
from .plotting import _plot
from .printing import _emit, _format_selection, format_summary, summarize_model
from .reading import (Dataset, _check_cache_dir_option, _drop_note, _finite_prices,
                      _finite_rows, _reservoir)

if TYPE_CHECKING:  # pragma: no cover
    import argparse


def cmd_fit(args: argparse.Namespace) -> int:
    """``gmmx fit PATH``: read, fit (K by BIC), print, save, plot."""
    notes = []
    data = Dataset(args.path, args.columns, getattr(args, "sep", None),
                   getattr(args, "decimal", None), getattr(args, "header", "infer"))
    if data.headerless_inferred:
        notes.append(f"{args.path}: the first line holds only numbers, so it is read as data "
                     "(no header; columns named 0, 1, ...); pass --header if it names the "
                     "columns")
    if data.skipped:
        notes.append(f"skipped non-numeric columns: {_names(data.skipped)}")
    features = list(data.columns)
    if args.returns:
        if len(data.columns) != 1:
            raise CLIError(f"--returns needs one price column; the file has "
                           f"{len(data.columns)} numeric ones ({', '.join(data.columns)}): "
                           "pick it with --columns PRICE")
        features = [f"logret({data.columns[0]})"]

    if getattr(args, "cache_dir", None) is not None:
        _check_cache_dir_option(args.cache_dir, args.stream)
    t0 = time.perf_counter()
    if args.stream:
        # The same missing-value policy as in memory: drop the rows and say how many.
        from ..sources.transforms import FiniteRows, LogReturns, stream_moments

        source = data.source(args.chunk_size, getattr(args, "cache_dir", None))
        fit_data = LogReturns(source) if args.returns else FiniteRows(source)
        try:
            n_rows, _, variances = stream_moments(fit_data)
        except ValueError as exc:
            if "has no rows" not in str(exc):
                raise
            raise CLIError("the file has no rows with finite values") from None
        if fit_data.n_dropped:
            notes.append(_drop_note(fit_data.n_dropped, "missing or non-finite prices"
                                    if args.returns else
                                    "rows with missing or non-finite values"))
    else:
        X = data.load()
        if args.returns:
            p = _finite_prices(X[:, 0], notes)
            if p.size < 3:
                raise CLIError("need at least 3 finite prices for --returns")
            if np.any(p <= 0):
                raise CLIError("prices must be positive to take log returns; is the column "
                               "already a return series? (drop --returns)")
            from ..finance.returns import log_returns

            X = log_returns(p).reshape(-1, 1)
        X = _finite_rows(X, notes)
        fit_data, n_rows, variances = X, X.shape[0], X.var(axis=0)
    read_seconds = time.perf_counter() - t0

    reg = _auto_reg_covar(variances) if args.reg_covar == "auto" else args.reg_covar
    model, rows, fit_seconds, best = _fit_all(fit_data, args.components, args, n_rows, reg,
                                              notes, args.stream)
    chosen = model.n_components

    summary = summarize_model(model, args.alpha, features,
                              risk=True if (args.risk or args.returns) else "auto")
    if summary.get("risk_skipped"):
        notes.append(summary["risk_skipped"])
    summary.update({"path": os.path.abspath(args.path), "n_samples": int(n_rows),
                    "returns": bool(args.returns), "stream": bool(args.stream),
                    "reg_covar": reg, "selection": rows, "criterion": args.criterion,
                    "bic": best["bic"], "aic": best["aic"], "icl": best["icl"]})

    head = [
        f"gmmx fit {args.path}" + ("  (log returns)" if args.returns else "")
        + ("  (streamed)" if args.stream else ""),
        f"  rows {n_rows:,}   features {len(features)} ({_names(features, 8)})   "
        f"covariance {model.covariance_type}",
        f"  K = {chosen}   {'converged' if best['converged'] else 'NOT converged'} after "
        f"{best['n_iter']} iterations   log-likelihood/row {best['loglik_per_row']:.6g}   "
        f"BIC {best['bic']:.6g}",
        f"  read {read_seconds:.2f}s   fit {fit_seconds:.2f}s",
        "",
    ]
    blocks = head
    if len(rows) > 1:
        blocks += [f"  model selection (lowest {args.criterion.upper()} wins):",
                   _format_selection(rows, best, args.criterion), ""]
    blocks.append(format_summary(summary))

    if args.out:
        if data.kind != "npy":  # real column names: kept in the file, shown by gmmx info
            model.feature_names_in_ = np.asarray(features, dtype=object)
        model.save(args.out)
        summary["model_file"] = os.path.abspath(args.out)
        blocks.append(f"\nmodel saved to {args.out}")
    if args.plot:
        sample = _reservoir(fit_data, _PLOT_SAMPLE_ROWS, args.seed) if args.stream else fit_data
        _plot(args.plot, model, sample,
              f"{os.path.basename(args.path)}: K={chosen}, {model.covariance_type}",
              xlabel=features[0])
        summary["plot_file"] = os.path.abspath(args.plot)
        blocks.append(f"plot written to {args.plot}")
    _emit(args, summary, blocks, notes)
    return EXIT_OK

