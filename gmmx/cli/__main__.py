"""``python -m gmmx.cli``: the ``gmmx`` command."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
