"""What every part of the ``gmmx`` command shares: limits, CLIError, messages."""

from __future__ import annotations

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


def _need(module, extra, what):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise CLIError(f"{what} needs {module.split('.')[0]}: pip install 'gmmx-em[{extra}]'") \
            from None


def _names(names, limit=20):
    """At most ``limit`` column names, each cut to 40 characters."""
    cut = [n if len(n) <= 40 else n[:37] + "..." for n in map(str, names[:limit])]
    return ", ".join(cut) + (f" ... ({len(names)} columns)" if len(names) > limit else "")


def _g(x, digits=6):
    return f"{x:.{digits}g}"

