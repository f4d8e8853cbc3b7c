"""Reading one item ahead on a thread: a source's next chunk is fetched (SQLite steps, a
piece of a GB18030 file read and decoded, its frame built) while the run casts and loads the
one before. The items, their order and the exception that ends them are the iterator's own:
an exception is raised where the item it stopped would have been.

The iterator runs on the worker thread alone, from its first item to its end (its ``finally``
blocks run there too); when the consumer stops early the worker is told to stop, finishes the
item it is on and closes the iterator before :func:`ahead`'s generator returns.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

_END = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def ahead(items: Iterator[T], depth: int = 1) -> Generator[T, None, None]:
    """``items``, each produced on a worker thread while the one before is used."""
    handed: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand(item: Any) -> bool:
        while not stop.is_set():
            try:
                handed.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not hand(item):
                    return
            hand(_END)
        except BaseException as e:  # handed over: raised in the consumer
            hand(_Failed(e))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=work, name="gongzhi-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = handed.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        worker.join()
