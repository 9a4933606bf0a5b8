"""The background reader of gmmx.sources.readahead: same items in the same
order, bounded look-ahead, the reader's errors surface in the consumer, and the
thread always ends (normal end, early stop, garbage collection, errors and
KeyboardInterrupt in the consumer)."""

import _thread
import gc
import threading
import time

import pytest

from gmmx.sources import readahead
from gmmx.sources.readahead import read_ahead

NAME = "gmmx-test-reader"


def _alive():
    return [t for t in threading.enumerate() if t.name == NAME]


def _wait_gone(timeout=5.0):
    end = time.monotonic() + timeout
    while _alive() and time.monotonic() < end:
        time.sleep(0.01)
    return not _alive()


class Counting:
    """An iterator factory that records what the reader made and whether it closed."""

    def __init__(self, n, fail_at=None, exc=None, delay=0.0):
        self.n, self.fail_at, self.exc, self.delay = n, fail_at, exc, delay
        self.made = 0
        self.closed = False

    def __call__(self):
        return self._items()

    def _items(self):
        try:
            for i in range(self.n):
                if i == self.fail_at:
                    raise self.exc
                time.sleep(self.delay)
                self.made += 1
                yield i
        finally:
            self.closed = True


def test_items_in_order_and_the_thread_ends():
    src = Counting(50)
    assert list(read_ahead(src, 2, name=NAME)) == list(range(50))
    assert src.closed and _wait_gone()


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_the_reader_stays_at_most_depth_items_ahead(depth):
    src = Counting(40)
    ahead = []
    for i in read_ahead(src, depth, name=NAME):
        time.sleep(0.002)  # a slow consumer: the reader fills the queue
        ahead.append(src.made - (i + 1))
    # queued items, plus the one the reader holds while it waits for room
    assert max(ahead) <= depth + 1
    assert max(ahead) >= 1  # it did read ahead
    assert _wait_gone()


@pytest.mark.parametrize("exc", [OSError("disk gone"), ValueError("bad page"), MemoryError()])
def test_a_reader_error_surfaces_after_the_items_before_it(exc):
    src = Counting(10, fail_at=4, exc=exc)
    got = []
    with pytest.raises(type(exc)) as info:
        for i in read_ahead(src, 2, name=NAME):
            got.append(i)
    assert got == [0, 1, 2, 3] and info.value is exc
    assert src.closed and _wait_gone()


def test_an_error_opening_the_pass_surfaces():
    def make():
        raise FileNotFoundError("no such file")

    with pytest.raises(FileNotFoundError, match="no such file"):
        list(read_ahead(make, 2, name=NAME))
    assert _wait_gone()


def test_stopping_early_stops_the_reader():
    src = Counting(10_000)
    it = read_ahead(src, 2, name=NAME)
    assert [next(it), next(it)] == [0, 1]
    it.close()
    assert not _alive() and src.closed  # close() waits for the reader
    assert src.made <= 2 + 2 + 1


def test_an_abandoned_pass_is_stopped_by_garbage_collection():
    src = Counting(10_000)
    it = read_ahead(src, 2, name=NAME)
    next(it)
    del it
    gc.collect()
    assert _wait_gone() and src.closed


def test_an_error_in_the_consumer_stops_the_reader():
    src = Counting(10_000)
    with pytest.raises(RuntimeError, match="consumer failed"):
        for i in read_ahead(src, 2, name=NAME):
            if i == 3:
                raise RuntimeError("consumer failed")
    assert _wait_gone() and src.closed


def test_keyboard_interrupt_while_waiting_for_the_reader_stops_it():
    src = Counting(10_000, delay=0.05)  # the consumer waits on the queue
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            for _ in read_ahead(src, 2, name=NAME):
                pass
    finally:
        timer.cancel()
    assert _wait_gone() and src.closed
    assert src.made < 100


def test_a_reader_that_dies_without_a_word_is_an_error_not_a_hang(monkeypatch):
    monkeypatch.setattr(readahead, "_produce", lambda make, items, stop: None)
    with pytest.raises(RuntimeError, match="stopped without finishing the pass"):
        list(read_ahead(lambda: iter([1, 2]), 2, name=NAME))


def test_depth_must_be_positive():
    with pytest.raises(ValueError, match="depth must be >= 1"):
        next(read_ahead(lambda: iter([1]), 0))
