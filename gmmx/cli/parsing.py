"""The command line of ``gmmx``: argument types and the parser."""

from __future__ import annotations

import argparse

from ..core.covariance import COVARIANCE_TYPES
from ..core.init import INIT_PARAMS
from ._common import MAX_CANDIDATES, MAX_COMPONENTS, MAX_THREADS
from .demo import cmd_demo
from .fit import cmd_fit
from .info import cmd_info


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
    from .._version import __version__

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

