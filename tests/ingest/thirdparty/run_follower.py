"""A third-party run observer with the ``after_run`` hook: records which runs each call saw
(a test double of an extension such as a notifier), and fails when told to."""

from __future__ import annotations

from typing import Any

CALLS: list[list[tuple[str, str]]] = []  # per after_run call: (source id, status) per result
FAIL: list[str] = []  # a message here: after_run raises it


class RunFollower:
    def before_merge(self, conn: Any, table: Any, stage: Any) -> None:
        pass

    def after_merge(self, conn: Any, table: Any, stage: Any, counts: Any,
                    frame: Any = None) -> None:
        pass

    def after_run(self, engine: Any, results: Any) -> None:
        CALLS.append([(r.source, r.status) for r in results])
        if FAIL:
            raise RuntimeError(FAIL[0])


def observers_for(settings: Any) -> list[RunFollower]:
    return [RunFollower()]
