"""What ``--by`` accepts (``gongzhi kpi``, ``gongzhi rows``), derived rather than listed: the
levels below the district (core/divisions.py), months, and every breakdown dimension the
semantic layer declares (``breakdowns:`` in config/semantic/*.yaml). A new domain's
breakdowns therefore reach the CLI, its ``--help`` and its error messages with no edit here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from core.divisions import AREA_LEVELS

# the words of the groupings that are not breakdowns (a breakdown's come from the layer)
LEVEL_WORDS = {"zh": {"street": "街道", "community": "社区", "grid": "网格", "month": "月份"},
               "en": {"street": "street", "community": "community", "grid": "grid",
                      "month": "month"}}


def dimensions() -> list[str]:
    """The breakdown dimensions the semantic layer declares (GONGZHI_SEMANTIC or the
    shipped config/semantic); read when first needed, so commands start without it."""
    from metrics import semantic

    return semantic.load(check=False).dimensions()


def kpi_groups() -> list[str]:
    """``gongzhi kpi --by``: an area one level down, a month, or a breakdown dimension."""
    return [*AREA_LEVELS, "month", *dimensions()]


def group_word(group: str | None, lang: str) -> str:
    """The name of a grouping in ``lang`` (a column header, "按街道" / "by street")."""
    if not group:
        return ""
    if group in LEVEL_WORDS["en"]:
        return LEVEL_WORDS[lang][group]
    from metrics import semantic

    return semantic.load(check=False).dimension_label(group, lang)


class LayerChoice(click.Choice):
    """A :class:`click.Choice` whose choices are computed whenever click needs them (help,
    parsing, completion): the layer is read then, not when the CLI starts (and it is cached
    per folder by :func:`metrics.semantic.load`)."""

    def __init__(self, compute: Callable[[], Sequence[str]]) -> None:
        self._compute = compute
        self._fixed: tuple[str, ...] | None = None
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:
        return self._fixed if self._fixed is not None else tuple(self._compute())

    @choices.setter
    def choices(self, value: Any) -> None:
        self._fixed = tuple(value)
