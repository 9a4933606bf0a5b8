"""``python -m gmmx``: the ``gmmx`` command (see :mod:`gmmx.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
