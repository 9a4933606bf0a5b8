"""``gmmx demo``: simulated regime-switching tick returns."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import NDArray
    import argparse

from ._common import EXIT_OK, CLIError, _g
from .fitting import _auto_reg_covar, _fit_all
from .plotting import _plot
from .printing import _emit, _format_selection, format_summary, summarize_model


def simulate_regime_returns(
    n_samples: int, seed: int = 0,
) -> tuple[NDArray[np.float64], NDArray[np.int64], dict[str, list[float]]]:
    """Tick returns from a two-state Markov regime-switching model.

    A calm state (sigma 1e-4, drift +2e-6, stays with probability 0.999) and
    a volatile one (sigma 4e-4, drift -1e-5, stays with probability 0.995):
    1/6 of the ticks are volatile in the long run, in runs of ~200 ticks.

    Parameters
    ----------
    n_samples : int
    seed : int, default=0

    Returns
    -------
    returns : ndarray of shape (n_samples,)
    states : ndarray of shape (n_samples,) with 0 (calm) or 1 (volatile)
    truth : dict
        ``weights`` (stationary), ``means`` and ``stds`` of the two states.
    """
    rng = np.random.default_rng(seed)
    stay = np.array([0.999, 0.995])
    mu = np.array([2e-6, -1e-5])
    sigma = np.array([1e-4, 4e-4])
    # Alternate calm / volatile runs with geometric lengths: the same chain as
    # a tick-by-tick simulation, but vectorised.
    mean_run = 1.0 / (1.0 - stay)
    n_pairs = int(n_samples / mean_run.sum() * 1.2) + 16
    lengths = np.empty(2 * n_pairs, dtype=np.int64)
    lengths[0::2] = rng.geometric(1.0 - stay[0], n_pairs)
    lengths[1::2] = rng.geometric(1.0 - stay[1], n_pairs)
    while lengths.sum() < n_samples:  # pragma: no cover - 20 % slack almost always suffices
        lengths = np.concatenate([lengths, lengths])
    states = np.repeat(np.arange(lengths.size) % 2, lengths)[:n_samples]
    returns = mu[states] + sigma[states] * rng.standard_normal(n_samples)
    pi = (1.0 - stay[::-1]) / (1.0 - stay).sum()
    return returns, states, {"weights": pi.tolist(), "means": mu.tolist(),
                             "stds": sigma.tolist()}


def cmd_demo(args: argparse.Namespace) -> int:
    """``gmmx demo``: simulate regime-switching tick returns, fit, print, plot."""
    notes: list[str] = []
    t0 = time.perf_counter()
    r, states, truth = simulate_regime_returns(args.n_samples, args.seed)
    sim_seconds = time.perf_counter() - t0
    X = r.reshape(-1, 1)
    reg = _auto_reg_covar(X.var(axis=0)) if args.reg_covar == "auto" else args.reg_covar
    model, rows, fit_seconds, best = _fit_all(X, args.components, args, X.shape[0], reg, notes,
                                              stream=False)
    chosen = model.n_components
    summary = summarize_model(model, args.alpha, ["return"])

    order = np.argsort(np.sqrt(np.asarray(summary["covariances"])[:, 0, 0]))
    from .._version import __version__
    from ..finance.distributions import UnivariateMixture
    from ..finance.risk import expected_shortfall, value_at_risk

    true_dist = UnivariateMixture(truth["weights"], truth["means"], stds=truth["stds"])
    summary.update({"n_samples": int(X.shape[0]), "truth": truth, "selection": rows,
                    "true_risk": [{"alpha": float(a),
                                   "value_at_risk": float(value_at_risk(true_dist, a)),
                                   "expected_shortfall": float(expected_shortfall(true_dist, a))}
                                  for a in args.alpha]})
    blocks = [
        f"gmmx {__version__} demo: {X.shape[0]:,} tick returns from a two-state Markov "
        f"regime model (simulated in {sim_seconds:.2f}s)",
        f"  truth: calm     weight {truth['weights'][0]:.4f}  mean {_g(truth['means'][0])}  "
        f"std {_g(truth['stds'][0])}",
        f"         volatile weight {truth['weights'][1]:.4f}  mean {_g(truth['means'][1])}  "
        f"std {_g(truth['stds'][1])}",
        f"  observed share of volatile ticks: {states.mean():.4f}",
        "",
        f"fitted: K = {chosen}, {model.covariance_type}, "
        f"{'converged' if best['converged'] else 'NOT converged'} after {best['n_iter']} "
        f"iterations in {fit_seconds:.2f}s",
    ]
    if len(rows) > 1:
        blocks += ["", _format_selection(rows, best, args.criterion)]
    blocks += ["", format_summary(summary)]
    if chosen == 2:
        w = np.asarray(summary["weights"])[order]
        sd = np.sqrt(np.asarray(summary["covariances"])[order, 0, 0])
        blocks.append(f"\n  recovered: calm weight {w[0]:.4f} std {_g(sd[0], 4)}   "
                      f"volatile weight {w[1]:.4f} std {_g(sd[1], 4)}")
    blocks.append("  true-model VaR / ES: " + "   ".join(
        f"{t['alpha']:.0%}: {_g(t['value_at_risk'], 4)} / {_g(t['expected_shortfall'], 4)}"
        for t in summary["true_risk"]))
    if args.out:
        model.save(args.out)
        summary["model_file"] = os.path.abspath(args.out)
        blocks.append(f"\nmodel saved to {args.out}")
    if not args.no_plot:
        try:
            _plot(args.plot, model, X,
                  f"gmmx demo: {X.shape[0]:,} regime-switching tick returns, K={chosen}",
                  xlabel="tick return")
        except CLIError as exc:  # no matplotlib: the demo still ran
            notes.append(f"no plot written: {exc}")
        else:
            summary["plot_file"] = os.path.abspath(args.plot)
            blocks.append(f"plot written to {args.plot}")
    _emit(args, summary, blocks, notes)
    return EXIT_OK

