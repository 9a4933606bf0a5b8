"""Read the next blocks of a pass in a background thread while the kernel runs.

Decoding a file (pyarrow, numpy copies) and the E-step kernel both release
the GIL, so a reader thread that stays a few blocks ahead hides the reading
time behind the computation.  :func:`read_ahead` keeps the order of the
blocks (one producer, one FIFO queue), holds at most ``depth`` finished
blocks, re-raises the reader's exception in the consumer at the position
where it happened, and stops the reader when the consumer stops early
(``close()``, garbage collection, an exception or ``KeyboardInterrupt`` in
the consumer).
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterator, TypeVar

_T = TypeVar("_T")

#: Finished blocks the reader may hold ahead of the consumer.
DEFAULT_DEPTH = 2

# How often (seconds) a blocked reader checks whether the consumer stopped,
# and the consumer whether the reader died without a word.
_POLL = 0.1

# How long close() waits for the reader to finish the block it is decoding.
_JOIN_TIMEOUT = 30.0

_END = object()


class _Failure:
    """The reader's exception, carried through the queue."""

    __slots__ = ("exc",)

    def __init__(self, exc):
        self.exc = exc


def read_ahead(make_iterator: Callable[[], Iterator[_T]], depth: int = DEFAULT_DEPTH,
               name: str = "gmmx-read-ahead") -> Iterator[_T]:
    """Iterate over ``make_iterator()`` with the reading done in a background thread.

    At most ``depth`` blocks wait in the queue; with the one the reader is
    building and the one the consumer holds, at most ``depth + 2`` blocks
    are alive at once whatever the length of the pass.

    Parameters
    ----------
    make_iterator : callable
        Returns the iterator to read; called in the reader thread, so files
        are opened and closed there.
    depth : int, default=2
        Finished blocks held ahead of the consumer (>= 1).
    name : str
        Name of the reader thread.

    Yields
    ------
    The items of ``make_iterator()``, in order.  An exception raised by the
    reader is raised here, after the items read before it.
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, got {depth!r}")
    items: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    reader = threading.Thread(target=_produce, args=(make_iterator, items, stop),
                              name=name, daemon=True)
    reader.start()
    try:
        while True:
            item = _next_item(items, reader)
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
            del item  # the consumer's block is not kept alive by this frame
    finally:
        _stop_reader(reader, items, stop)


def _produce(make_iterator, items, stop):
    """The reader thread: put every item, then ``_END`` or the failure."""
    try:
        it = make_iterator()
        try:
            for item in it:
                if not _put(items, item, stop):
                    return
                del item
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()
    except BaseException as exc:  # noqa: BLE001 - handed to the consumer as it is
        _put(items, _Failure(exc), stop)
        return
    _put(items, _END, stop)


def _put(items, item, stop):
    """Put ``item`` once there is room; False if the consumer stopped first."""
    while not stop.is_set():
        try:
            items.put(item, timeout=_POLL)
            return True
        except queue.Full:
            continue
    return False


def _next_item(items, reader):
    """The next item; a reader that died without a word is an error, not a hang."""
    while True:
        try:
            return items.get(timeout=_POLL)
        except queue.Empty:
            if not reader.is_alive() and items.empty():
                raise RuntimeError(f"the read-ahead thread {reader.name} stopped "
                                   "without finishing the pass") from None


def _stop_reader(reader, items, stop):
    """Tell the reader to stop, drop what it read ahead, and wait for it."""
    stop.set()
    _drain(items)
    reader.join(_JOIN_TIMEOUT)
    _drain(items)


def _drain(items):
    while True:
        try:
            items.get_nowait()
        except queue.Empty:
            return
