"""The ``gmmx`` command: fit Gaussian mixtures to files from the shell.

::

    gmmx demo                                   # simulate tick returns, fit, plot
    gmmx fit data.csv -k 1-6 --columns a,b      # K chosen by BIC
    gmmx fit data.csv -k 1-6 --covariance-type full,diag --criterion icl
    gmmx fit prices.parquet --returns --columns close -k 2 --plot fit.png
    gmmx fit big.npy --stream -k 3 --out model.npz --json
    gmmx info model.npz

Exit status: 0 on success, 1 for a problem with the data or a file (missing
file, unknown or non-numeric column, invalid model file, failed fit; the
message goes to stderr, without a traceback, cut to a few hundred
characters), 2 for a bad command line (argparse; also an absurd ``-k`` range
or ``--threads`` count).

Missing values: ``gmmx fit`` drops rows with a missing or non-finite value
(and, with ``--returns``, missing prices) and says how many on stderr, the
same way in memory and with ``--stream``.  (The library itself refuses NaN:
``GaussianMixture.fit`` raises an error naming the row.)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import NDArray

from .core.covariance import COVARIANCE_TYPES
from .core.init import INIT_PARAMS
from .finance._models import model_covariances

__all__ = ["main", "build_parser", "simulate_regime_returns"]

EXIT_OK = 0
EXIT_DATA = 1
EXIT_USAGE = 2

# Rows kept for the histogram / scatter of --plot when the data are streamed.
_PLOT_SAMPLE_ROWS = 200_000
# Covariance matrices wider than this are summarised by their diagonal.
_MAX_PRINTED_DIM = 6
# Largest -k, candidate count per run, and --threads.
MAX_COMPONENTS = 10_000
MAX_CANDIDATES = 64
MAX_THREADS = 1024
# Error messages are cut to this many characters.
MAX_MESSAGE_CHARS = 600


class CLIError(Exception):
    """A problem the user can fix: printed as ``gmmx: error: ...``, exit status 1."""


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------


def _components(text):
    """Parse ``-k``: ``3``, a range ``1-6`` or a list ``2,3,5``."""
    text = text.strip()
    shown = text if len(text) <= 40 else text[:37] + "..."
    try:
        if "-" in text:
            lo, hi = (int(t) for t in text.split("-", 1))
            if lo > hi:
                raise ValueError
            bounds = (lo, hi)
            count = hi - lo + 1
        else:
            values = sorted({int(t) for t in text.split(",")})
            bounds = (values[0], values[-1])
            count = len(values)
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(
            f"expected a number of components such as 3, a range such as 1-6 or a list "
            f"such as 2,3,5; got {shown!r}"
        ) from None
    if bounds[0] < 1:
        raise argparse.ArgumentTypeError(f"numbers of components must be >= 1, got {shown!r}")
    if bounds[1] > MAX_COMPONENTS:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_COMPONENTS} components, got {bounds[1]}")
    if count > MAX_CANDIDATES:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_CANDIDATES} candidate values of K, got {count}")
    return list(range(bounds[0], bounds[1] + 1)) if "-" in text else values


def _threads(text):
    """Parse ``--threads``: 1..MAX_THREADS, or -1, -2, ... (all cores, all but one, ...)."""
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = None
    if value is None or value == 0 or abs(value) > MAX_THREADS:
        raise argparse.ArgumentTypeError(
            f"expected a thread count from 1 to {MAX_THREADS}, or -1 for all cores "
            f"(-2 all but one, ...); got {text[:40]!r}")
    return value


def _covariance_types(text):
    """Parse ``--covariance-type``: one type, a list such as full,diag, or 'all'."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if names == ["all"]:
        return list(COVARIANCE_TYPES)
    bad = [t for t in names if t not in COVARIANCE_TYPES]
    if not names or bad:
        raise argparse.ArgumentTypeError(
            f"expected covariance types among {', '.join(COVARIANCE_TYPES)} (comma-separated) "
            f"or 'all'; got {text!r}"
        )
    return list(dict.fromkeys(names))


def _positive_int(text):
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _alphas(text):
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        values = []
    if not values or not all(0.0 < a <= 0.5 for a in values):
        raise argparse.ArgumentTypeError(
            f"expected tail probabilities in (0, 0.5] such as 0.01,0.05; got {text!r}"
        )
    return values


def _reg_covar(text):
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0.0:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number >= 0, got {text!r}")
    return value


def _add_model_options(p, default_k):
    p.add_argument("-k", "--components", type=_components, default=_components(default_k),
                   metavar="K",
                   help="number of components: a number, a range such as 1-6 or a list "
                        "such as 2,3,5 (the candidate with the lowest --criterion is kept; "
                        "default %(default)s)")
    p.add_argument("--covariance-type", type=_covariance_types, default=["full"],
                   metavar="TYPES",
                   help="form of the component covariances: one of "
                        f"{', '.join(COVARIANCE_TYPES)}, several comma-separated (each is a "
                        "candidate) or 'all' (default: full)")
    p.add_argument("--criterion", choices=("bic", "aic", "icl", "cv"), default="bic",
                   help="how the candidate (K, covariance type) is chosen, lower is better: "
                        "BIC, AIC, ICL (BIC + entropy) or cv (5-fold held-out "
                        "log-likelihood; not with --stream) (default: %(default)s)")
    p.add_argument("--init", choices=INIT_PARAMS, default="hierarchical",
                   help="initialisation; 'hierarchical' is R mclust's deterministic start "
                        "(default: %(default)s; GaussianMixture's is 'kmeans')")
    p.add_argument("--max-iter", type=_positive_int, default=200,
                   help="EM iterations per fit (default: %(default)s; GaussianMixture's is "
                        "100)")
    p.add_argument("--tol", type=float, default=1e-6,
                   help="convergence threshold on the per-row log-likelihood "
                        "(default: %(default)s; GaussianMixture's is sklearn's 1e-3, which "
                        "stops before daily-return components separate)")
    p.add_argument("--n-init", type=_positive_int, default=1,
                   help="initialisations per K; the best is kept (default: %(default)s)")
    p.add_argument("--reg-covar", type=_reg_covar, default="auto",
                   help="added to covariance diagonals; 'auto' = 1e-6 x the smallest "
                        "column variance, which suits returns (variances ~1e-8) and "
                        "raw data alike (default: auto; GaussianMixture's is sklearn's "
                        "1e-6, which swamps return variances)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--threads", type=_threads, default=None,
                   help=f"OpenMP threads, 1 to {MAX_THREADS}, or -1 for all cores "
                        "(default: all usable cores)")
    p.add_argument("--alpha", type=_alphas, default=[0.01, 0.05],
                   help="tail probabilities for VaR / ES of a one-column fit "
                        "(default: 0.01,0.05)")
    p.add_argument("--risk", action="store_true",
                   help="print VaR / ES even for a column that looks like a level (mean "
                        "above twice its standard deviation) rather than returns")
    p.add_argument("--out", metavar="MODEL",
                   help="save the fitted model (safe .npz format; read it with "
                        "'gmmx info' or gmmx.load)")
    p.add_argument("--json", action="store_true",
                   help="print the result as JSON on stdout (notes go to stderr)")


def build_parser() -> argparse.ArgumentParser:
    """The ``argparse`` parser of the ``gmmx`` command.

    Returns
    -------
    argparse.ArgumentParser
    """
    from ._version import __version__

    parser = argparse.ArgumentParser(
        prog="gmmx",
        description="Fit Gaussian mixture models by EM (native OpenMP kernel). "
                    "Run 'gmmx demo' for a one-minute tour.",
    )
    parser.add_argument("--version", action="version", version=f"gmmx {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show tracebacks instead of one-line error messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "fit", help="fit a mixture to a CSV, Parquet or .npy file",
        description="Fit a Gaussian mixture to the numeric columns of a file and print "
                    "the weights, means and covariances (and, for one column, the "
                    "moments, VaR and ES).",
    )
    p.add_argument("path", metavar="PATH",
                   help="a .csv/.tsv/.txt (optionally compressed), .parquet/.pq (or a "
                        "directory of Parquet files) or .npy file")
    p.add_argument("--columns", metavar="A,B,...",
                   help="columns to use (names; for .npy, indices 0,1,...); default: every "
                        "numeric column")
    p.add_argument("--sep", metavar="CHAR",
                   help="field delimiter of a CSV/TSV/TXT file (default: detected from the "
                        "file's head among , ; tab |)")
    p.add_argument("--decimal", choices=(".", ","),
                   help="decimal mark of a delimited text file (default: detected; ',' "
                        "only with a non-comma delimiter)")
    header = p.add_mutually_exclusive_group()
    header.add_argument("--header", dest="header", action="store_const", const=True,
                        default="infer",
                        help="the first line of a delimited text file names the columns "
                             "(default: it does unless all its fields are numbers)")
    header.add_argument("--no-header", dest="header", action="store_const", const=False,
                        help="the first line of a delimited text file is data; the columns "
                             "are named 0, 1, ...")
    p.add_argument("--returns", action="store_true",
                   help="fit the log returns log(P_t / P_t-1) of a price column "
                        "(--columns PRICE, or the file's only numeric column)")
    p.add_argument("--stream", action="store_true",
                   help="out-of-core: read the file in chunks on every EM pass, never "
                        "holding it in memory (for files larger than RAM)")
    p.add_argument("--chunk-size", type=_positive_int, default=None,
                   help="rows per chunk with --stream (default: about 8 MiB of rows)")
    p.add_argument("--cache-dir", metavar="DIR", default=None,
                   help="with --stream and a Parquet or CSV file: write the decoded rows "
                        "to DIR (a local disk) on the first pass and read them "
                        "memory-mapped on the later ones, instead of decoding the file "
                        "on every pass; the copy is deleted at exit")
    p.add_argument("--plot", metavar="PNG",
                   help="write a figure: density over histogram (one column) or the "
                        "clusters of the first two columns (needs matplotlib)")
    _add_model_options(p, "2")
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser(
        "demo", help="simulate regime-switching tick returns, fit them, plot the fit",
        description="Simulate a few million tick returns from a two-state (calm / "
                    "volatile) Markov regime model, fit a two-component mixture with "
                    "gmmx, print the fit against the truth with VaR and ES, and write "
                    "a plot.",
    )
    p.add_argument("--n-samples", type=_positive_int, default=2_000_000,
                   help="returns to simulate (default: %(default)s)")
    p.add_argument("--plot", metavar="PNG", default="gmmx-demo.png",
                   help="where to write the figure (default: %(default)s)")
    p.add_argument("--no-plot", action="store_true", help="do not write a figure")
    _add_model_options(p, "2")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("info", help="describe a saved model",
                       description="Describe a model saved by 'gmmx fit --out' or "
                                   "GaussianMixture.save.")
    p.add_argument("model", metavar="MODEL", help="a model file (.npz)")
    p.add_argument("--alpha", type=_alphas, default=[0.01, 0.05],
                   help="tail probabilities for VaR / ES of a one-feature model")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.set_defaults(func=cmd_info)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``gmmx`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 success, 1 data or file error, 2 bad command line.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("gmmx: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure becomes a message
        if args.debug or not _is_user_error(exc):
            raise
        print(f"gmmx: error: {_message(exc)}", file=sys.stderr)
        return EXIT_DATA


def _is_user_error(exc):
    """Errors that a message explains (data, files, options, missing extras)."""
    return isinstance(exc, (CLIError, ValueError, OSError, ImportError, MemoryError,
                            LookupError))


def _message(exc):
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return _clip(f"no such file or directory: {exc.filename}")
    if isinstance(exc, MemoryError):
        return "out of memory; retry with --stream to fit the file out of core"
    text = str(exc) or type(exc).__name__
    if isinstance(exc, KeyError):  # str(KeyError) adds quotes
        text = f"unknown key {text}"
    return _clip(text)


def _clip(text, limit=MAX_MESSAGE_CHARS):
    """``text`` cut to ``limit`` characters, control characters shown escaped."""
    text = "".join(c if c.isprintable() or c in "\n\t" else repr(c)[1:-1] for c in text[:4 * limit])
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... (message cut at {limit} characters)"


# --------------------------------------------------------------------------
# reading data
# --------------------------------------------------------------------------


def _need(module, extra, what):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise CLIError(f"{what} needs {module.split('.')[0]}: pip install 'gmmx-em[{extra}]'") \
            from None


def _split_columns(text):
    if text is None:
        return None
    cols = [c.strip() for c in text.split(",")]
    if not all(cols):
        raise CLIError(f"--columns has an empty name: {text!r}")
    return cols


def _names(names, limit=20):
    """At most ``limit`` column names, each cut to 40 characters."""
    cut = [n if len(n) <= 40 else n[:37] + "..." for n in map(str, names[:limit])]
    return ", ".join(cut) + (f" ... ({len(names)} columns)" if len(names) > limit else "")


def _unknown(col, available):
    return CLIError(f"unknown column {col[:60]!r}; the file has: {_names(available)}")


class Dataset:
    """What ``gmmx fit`` reads: the file, its format and the resolved columns.

    The file is read through :mod:`gmmx.sources`: the format is the one the
    sources' format registry tells from the name, the columns and their
    types come from :func:`gmmx.sources.list_columns`, and the in-memory and
    the streamed fit read the same chunk source.

    Parameters
    ----------
    path : str
    columns : str or None
        As given with ``--columns`` (comma-separated).
    sep, decimal : str or None
        ``--sep`` / ``--decimal``; detected from the file's head when None.
    header : {'infer', True, False}
        ``--header`` / ``--no-header`` of a delimited text file.
    """

    def __init__(self, path, columns, sep=None, decimal=None, header="infer"):
        from .sources import CSVSource, find_format

        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise CLIError(f"no such file or directory: {self.path}")
        fmt = find_format(self.path)
        if fmt is None:
            raise CLIError(
                f"cannot tell the format of {self.path!r} from its name: use a .csv, .tsv "
                "or .txt file (optionally .gz/.bz2/.xz/.zst/.zip), .parquet/.pq (or a "
                "directory of them) or .npy"
            )
        self.kind = fmt.name
        # .tsv: tab-separated, .txt: commas or blanks
        self.options = {}
        if self.kind == "csv":
            try:
                self.options = CSVSource.sniff_read_options(self.path, sep, decimal)
            except ValueError as exc:
                raise CLIError(str(exc)) from None
            if header != "infer":  # CSVSource infers it by default
                self.options["header"] = header
        elif sep is not None or decimal is not None or header != "infer":
            raise CLIError("--sep, --decimal, --header and --no-header apply to delimited "
                           "text files only")
        self.skipped = []
        self.columns, self.indices = self._resolve(_split_columns(columns))
        self.headerless_inferred = False
        if self.kind == "csv" and header == "infer":
            # the source decides; a headerless file has the columns '0', '1', ...
            self.headerless_inferred = not self.source().has_header

    # Column names of the file and which of them are numeric.
    def _schema(self):
        from .sources import list_columns

        cols = list_columns(self.path, **self.options)
        return [str(c.name) for c in cols], [c.numeric for c in cols]

    def _resolve(self, wanted):
        names, numeric = self._schema()
        self.n_file_columns = len(names)
        if wanted is None:
            keep = [j for j, ok in enumerate(numeric) if ok]
            self.skipped = [names[j] for j, ok in enumerate(numeric) if not ok]
            if not keep:
                raise CLIError(f"{self.path}: no numeric columns (columns: {_names(names)})")
            return [names[j] for j in keep], keep
        indices = []
        for col in wanted:
            if col in names:
                j = names.index(col)
            elif self.kind == "npy" and col.isdigit() and int(col) < len(names):
                j = int(col)
            else:
                raise _unknown(col, names)
            if not numeric[j]:
                raise CLIError(f"column {col[:60]!r} is not numeric; pick numeric columns "
                               "with --columns")
            indices.append(j)
        return [names[j] for j in indices], indices

    def load(self):
        """Read the selected columns into memory as float64 (NaN kept).

        Returns
        -------
        ndarray of shape (n, d)
        """
        X, _ = self.source().read_all(dtype=np.float64)
        return X

    def source(self, chunk_size=None, cache_dir=None):
        """A chunk source over the selected columns.

        Parameters
        ----------
        chunk_size : int, optional
            Rows per chunk (default: about 8 MiB of rows).
        cache_dir : str, optional
            Directory for a decoded copy of a Parquet or CSV file
            (:mod:`gmmx.sources.spill`).

        Returns
        -------
        gmmx.sources.ChunkSource
        """
        from .sources import NpySource, as_source

        if self.kind == "npy":
            if cache_dir is not None:
                raise CLIError("--cache-dir applies to Parquet and CSV files; a .npy file is "
                               "read memory-mapped already")
            return NpySource(self.path, chunk_size=chunk_size, columns=self.indices)
        return as_source(self.path, columns=self.columns, chunk_size=chunk_size,
                         cache_dir=cache_dir, **self.options)


def _check_cache_dir_option(path, stream):
    """CLIError unless ``--cache-dir`` names a writable directory, with ``--stream``."""
    if not stream:
        raise CLIError("--cache-dir needs --stream (in memory, the file is read once)")
    if not os.path.isdir(path):
        raise CLIError(f"--cache-dir {path!r} is not a directory; create it first "
                       "(mkdir), or drop --cache-dir to decode the file on every pass")
    if not os.access(path, os.W_OK | os.X_OK):
        raise CLIError(f"--cache-dir {path!r} is not writable; pick a directory on a local "
                       "disk you can write to")


def _drop_note(n_bad, what="rows with missing or non-finite values"):
    return f"dropped {n_bad:,} {what}"


def _finite_rows(X, notes):
    """``X`` without the rows holding a missing or non-finite value (noted)."""
    ok = np.isfinite(X).all(axis=1)
    n_bad = int(X.shape[0] - ok.sum())
    if n_bad:
        notes.append(_drop_note(n_bad))
        X = X[ok]
    if X.shape[0] == 0:
        raise CLIError("no rows with finite values left")
    return X


def _finite_prices(p, notes):
    """The finite prices of ``p`` (missing ones noted, and the returns that span them)."""
    ok = np.isfinite(p)
    if not ok.all():
        notes.append(_drop_note(int((~ok).sum()), "missing or non-finite prices"))
        inner = ok[np.argmax(ok):len(ok) - np.argmax(ok[::-1])] if ok.any() else ok[:0]
        gaps = int(np.count_nonzero(np.diff(inner.astype(np.int8)) == -1))
        if gaps:
            notes.append(f"{gaps} return(s) span a gap of missing prices: each is the log "
                         "return from the last price before the gap to the first after it")
    return p[ok]


def _reservoir(src, capacity, seed):
    from .drivers.sampling import Reservoir

    res = Reservoir(capacity, seed=seed)
    for item in src.chunks():
        X = np.asarray(item[0] if isinstance(item, tuple) else item, dtype=np.float64)
        res.add(X.reshape(X.shape[0], -1))
    X, _ = res.result()
    return X


# --------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------


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
    from .mixture import GaussianMixtureIC

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


# --------------------------------------------------------------------------
# reporting
# --------------------------------------------------------------------------


def _g(x, digits=6):
    return f"{x:.{digits}g}"


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
        from .finance.distributions import UnivariateMixture
        from .finance.returns import _looks_like_level
        from .finance.risk import expected_shortfall, value_at_risk

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


def _plot(path, model, sample, title, xlabel=None):
    mpl = _need("matplotlib", "plot", "plotting")
    mpl.use("Agg")  # files only: never needs a display
    import matplotlib.pyplot as plt

    from .plotting import plot_clusters, plot_density

    d = model.means_.shape[1]
    if d == 1:
        ax = plot_density(sample, model, bins=200)
        if xlabel:
            ax.set_xlabel(xlabel)
    else:
        if sample.shape[0] > 20_000:  # a readable scatter, and fast
            rng = np.random.default_rng(0)
            sample = sample[rng.choice(sample.shape[0], 20_000, replace=False)]
        ax = plot_clusters(sample, model)
    ax.set_title(title, fontsize="medium")
    fig = ax.figure
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)


def _emit(args, summary, text_blocks, notes):
    for note in notes:
        print(f"gmmx: note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary, indent=2, allow_nan=False, default=float))
    else:
        print("\n".join(text_blocks))


# --------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------


def cmd_fit(args):
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
        from .sources.transforms import FiniteRows, LogReturns, stream_moments

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
            from .finance.returns import log_returns

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


def cmd_demo(args):
    """``gmmx demo``: simulate regime-switching tick returns, fit, print, plot."""
    notes = []
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
    from ._version import __version__
    from .finance.distributions import UnivariateMixture
    from .finance.risk import expected_shortfall, value_at_risk

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


def _load_model(path):
    """The model saved at ``path`` and its metadata; every failure is a CLIError."""
    from .io import load, read_archive

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


def cmd_info(args):
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
