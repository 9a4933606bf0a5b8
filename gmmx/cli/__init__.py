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

The package: :mod:`~gmmx.cli.parsing` (the command line), one module per
command (:mod:`~gmmx.cli.fit`, :mod:`~gmmx.cli.demo`, :mod:`~gmmx.cli.info`)
and the parts they share (reading, fitting, printing, plotting).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Optional

from ..exceptions import SKLEARN_ENV
from ._common import (EXIT_DATA, EXIT_OK, EXIT_USAGE, MAX_CANDIDATES, MAX_COMPONENTS,
                      MAX_MESSAGE_CHARS, MAX_THREADS, CLIError, _is_user_error, _message)
from .demo import simulate_regime_returns
from .parsing import build_parser
from .printing import format_summary, summarize_model
from .reading import Dataset

__all__ = ["main", "build_parser", "simulate_regime_returns"]


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
    if argv is None and "gmmx.mixture" not in sys.modules:
        # The gmmx process itself: its estimators never meet scikit-learn, whose
        # import (with pandas and pyarrow) would cost more than a small fit.
        os.environ.setdefault(SKLEARN_ENV, "0")
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

