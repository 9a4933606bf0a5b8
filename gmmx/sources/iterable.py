"""Re-iterable objects and callables returning iterators as chunk sources."""

from __future__ import annotations

from typing import Any, Iterator, Optional

from .base import ChunkSource


class IterableSource(ChunkSource):
    """Blocks from a re-iterable object or a callable returning an iterator.

    Parameters
    ----------
    obj : callable or re-iterable
        ``obj()`` (called with no arguments) or ``iter(obj)`` must return a
        fresh iterator over the blocks at every pass.  A one-shot iterator
        (a generator object) cannot serve the many passes of EM: wrap the
        generator function instead, ``IterableSource(lambda: gen(...))``, or
        feed the batches to ``partial_fit``.
    n_features : int, optional
        If known (otherwise read from the first block).
    """

    def __init__(self, obj: Any, n_features: Optional[int] = None) -> None:
        if not callable(obj):
            try:
                it = iter(obj)
            except TypeError:
                raise ValueError(
                    f"cannot read chunks from {type(obj).__name__}: pass an array, a file "
                    "path, a re-iterable of 2-D blocks or a callable returning an iterator"
                ) from None
            if it is obj:
                raise ValueError(
                    "a one-shot iterator (e.g. a generator) cannot be read more than once, "
                    "but EM makes one pass per iteration; pass a callable returning a "
                    "fresh iterator (lambda: my_generator()) or a list of blocks, or use "
                    "partial_fit on each batch"
                )
        self.obj = obj
        self.n_features = n_features

    def chunks(self) -> Iterator[Any]:
        it = self.obj() if callable(self.obj) else iter(self.obj)
        try:
            it = iter(it)
        except TypeError:
            raise ValueError(
                f"the source callable returned {type(it).__name__}, not an iterator of blocks"
            ) from None
        return it

    def __repr__(self):
        return f"IterableSource({self.obj!r})"

