"""Reading one item ahead on a thread (ingest/plugins/ahead.py): the same items in the same
order, the iterator's exception where it stopped, and an early stop closes the iterator on
its own thread before ``ahead`` returns."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import closing

import pytest

from ingest.plugins.ahead import ahead


def test_the_same_items_in_order_made_on_another_thread() -> None:
    made_on: set[int] = set()

    def items() -> Iterator[int]:
        for i in range(50):
            made_on.add(threading.get_ident())
            yield i

    assert list(ahead(items())) == list(range(50))
    assert made_on and threading.get_ident() not in made_on


def test_the_error_comes_where_the_iterator_stopped() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("row 3 is bad")

    got: list[int] = []
    with pytest.raises(ValueError, match="row 3 is bad"):
        for i in ahead(items()):
            got.append(i)
    assert got == [1, 2]


def test_an_early_stop_closes_the_iterator_before_returning() -> None:
    state = {"made": 0, "closed_on": 0}

    def items() -> Iterator[int]:
        try:
            while True:
                state["made"] += 1
                yield state["made"]
        finally:
            state["closed_on"] = threading.get_ident()

    with closing(ahead(items(), depth=2)) as it:
        assert next(it) == 1 and next(it) == 2
    # closed, on the worker thread, and no more than the depth made past what was used
    assert state["closed_on"] not in (0, threading.get_ident())
    assert state["made"] <= 2 + 2 + 1
    assert not [t for t in threading.enumerate() if t.name == "gongzhi-read-ahead"]
