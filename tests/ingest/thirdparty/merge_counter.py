"""A third-party run observer: counts what every merge did, per table (a test double of an
extension such as a search index kept in step with the warehouse)."""

from __future__ import annotations

from typing import Any

SEEN: list[tuple[str, int, int]] = []  # (table, rows inserted, rows updated) per merge


class MergeCounter:
    def before_merge(self, conn: Any, table: Any, stage: Any) -> None:
        pass

    def after_merge(self, conn: Any, table: Any, stage: Any, counts: Any,
                    frame: Any = None) -> None:
        SEEN.append((table.name, counts.inserted, counts.updated))


def observers_for(settings: Any) -> list[MergeCounter]:
    return [MergeCounter()]
