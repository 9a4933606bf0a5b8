"""``gmmx info``: describe a saved model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import os

from ._common import EXIT_OK, CLIError, _clip, _message
from .printing import _emit, format_summary, summarize_model

if TYPE_CHECKING:  # pragma: no cover
    import argparse


def _load_model(path):
    """The model saved at ``path`` and its metadata; every failure is a CLIError."""
    from ..io import load, read_archive

    if not os.path.exists(path):
        raise CLIError(f"no such file or directory: {path}")
    try:
        model = load(path)
        meta, arrays = read_archive(path)
        arrays.close()
    except (ValueError, OSError) as exc:
        raise CLIError(_message(exc)) from None
    except Exception as exc:  # noqa: BLE001 - a model file never gets a traceback
        raise CLIError(f"{path!r} is not a valid gmmx model file "
                       f"({type(exc).__name__}: {_clip(str(exc), 200)})") from None
    return model, meta


def cmd_info(args: argparse.Namespace) -> int:
    """``gmmx info MODEL``: describe a saved model."""
    model, meta = _load_model(args.model)
    if not hasattr(model, "means_"):
        raise CLIError(f"{args.model}: the saved model was never fitted")
    try:
        summary = summarize_model(model, args.alpha)
    except Exception as exc:  # noqa: BLE001 - a model file never gets a traceback
        raise CLIError(f"{args.model}: the model cannot be summarised "
                       f"({type(exc).__name__}: {_clip(str(exc), 200)})") from None
    params = model.get_params(deep=False)
    summary.update({
        "path": os.path.abspath(args.model),
        "gmmx_version": None if meta.get("gmmx_version") is None
        else str(meta["gmmx_version"])[:40],
        "format_version": meta.get("format_version"),
        "online_state": bool(meta.get("online", False)),
        "params": {k: params[k] for k in ("tol", "reg_covar", "max_iter", "n_init",
                                            "init_params", "random_state") if k in params},
    })
    defaults = {"weight_concentration": 1.0, "covariance_shrinkage": 0.0, "min_eigenvalue": 0.0}
    regularisation = {k: params[k] for k, d in defaults.items() if params.get(k, d) != d}
    if params.get("prior") is not None:
        regularisation["prior"] = repr(params["prior"])
    if regularisation:
        summary["params"].update(regularisation)
    p = summary["params"]
    blocks = [
        f"gmmx model {args.model}"
        + (f"  (saved by gmmx {summary['gmmx_version']}, format "
           f"{summary['format_version']})" if summary["gmmx_version"] else ""),
        f"  {type(model).__name__}: K = {summary['n_components']}, "
        f"{summary['n_features']} feature(s), covariance {summary['covariance_type']}",
        f"  {'converged' if summary['converged'] else 'not converged'} after "
        f"{summary['n_iter']} iterations"
        + (f"   lower bound {summary['lower_bound']:.6g}/row"
           + (" (log-posterior)" if "prior" in regularisation
              or "weight_concentration" in regularisation else "")
           if "lower_bound" in summary else "")
        + ("   online-EM state saved (partial_fit resumes)" if summary["online_state"]
           else ""),
        "  " + "   ".join(f"{k} {v}" for k, v in p.items()),
        "",
        format_summary(summary),
    ]
    _emit(args, summary, blocks, [])
    return EXIT_OK

