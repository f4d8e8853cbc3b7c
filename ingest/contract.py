"""The Source contract: what a plugin declares and what it yields.

A plugin is a small class with declarative attributes: its ``name``, a pydantic ``Config`` for
its own settings, the ``tables`` it may feed. ``extract`` yields :class:`Batch` objects: polars
frames with the source's own headers (the framework maps, casts, validates, de-duplicates and
merges them) plus the cursor to store once everything up to that batch is loaded. Plugins never
touch warehouse tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import polars as pl
from pydantic import BaseModel, ConfigDict

from core.settings import SourceSpec

ROW = "_row"  # 1-based row number in the origin (file line, record index): for quarantine
ORIGIN = "_origin"  # file path, URL or query the row came from
SHEET = "_sheet"  # sheet name for spreadsheets
# A row the plugin could not decode (bytes not valid in the file's encoding): the reason, and
# the header of the first cell concerned. Such rows are quarantined as ``bad_encoding``; their
# other cells hold the plugin's best reading, for people to see, never for loading.
BAD_ENCODING_NOTE = "_bad_encoding"
BAD_COLUMN = "_bad_column"
# A row the plugin found bad in a way only it can tell (a polygon that does not close, a
# self-intersecting ring): the reason code (ingest/normalize/reasons.py) and the message,
# naming the feature. The contract quarantines such rows (BAD_COLUMN names the column).
BAD_REASON = "_bad_reason"
BAD_MESSAGE = "_bad_message"


class PluginConfig(BaseModel):
    """Base of every plugin's settings model: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class Snapshot:
    """A batch is a full snapshot of part of a table: stored rows in scope that it lacks retire.

    ``scope`` restricts by column values, ``prefix`` by a code prefix; ``values`` are set on the
    retired rows (e.g. ``active=False, valid_to=...``).
    """

    scope: dict[str, list[Any]]
    prefix: tuple[str, str] | None
    values: dict[str, Any]


@dataclass
class Batch:
    """Rows for one table from one place in the source.

    ``frame`` holds source columns (any names, usually strings) plus ``_row`` and ``_origin``
    (and ``_sheet`` for spreadsheets). ``cursor`` is the opaque, JSON-serialisable state to
    store once this batch and all before it are loaded. ``mapped`` says the frame already uses
    canonical column names (plugins like ``open311`` map themselves). ``serial_dates`` says
    that numbers in date columns are Excel serial day numbers (spreadsheet cells); in text they
    are dates only where the source declares it (``[sources.formats] col = "excel_serial"``).
    """

    table: str
    frame: pl.DataFrame
    cursor: Any = None
    mapped: bool = False
    snapshot: Snapshot | None = None
    note: str | None = None
    serial_dates: bool = False  # numbers in date columns are Excel serials (XLSX cells)


@dataclass
class SourceContext:
    """What the framework gives a plugin: progress reporting, a logger-like ``warn``, and
    ``no_input``: the plugin says why it found nothing to read at all (no file matched, a
    full read came back empty). A run that then read no row is logged ``no_input`` (or fails
    when the source is ``required``) and does not move the data's freshness. "Nothing new
    since the cursor" is not no input: that run succeeds with 0 rows."""

    progress: Callable[[str, int], None] = lambda what, rows: None
    warn: Callable[[str], None] = lambda message: None
    extras: dict[str, Any] = field(default_factory=dict)
    #: the URL of the warehouse this run loads into: plugins that read databases refuse it
    #: (and the accounts file beside it), so a source can never copy the warehouse's own data
    warehouse_url: str | None = None
    no_input: Callable[[str], None] = lambda reason: None


class Source:
    """Base class of every plugin registered under the entry-point group ``gongzhi.sources``."""

    #: the plugin name users write in ``plugin = "…"``
    name: ClassVar[str] = ""
    #: pydantic model of the plugin's own settings (beside the common source keys)
    Config: ClassVar[type[PluginConfig]] = PluginConfig
    #: warehouse tables the plugin can feed; ``None`` = whichever ``table`` the config names
    tables: ClassVar[tuple[str, ...] | None] = None
    #: whether ``table`` must be given in the config
    needs_table: ClassVar[bool] = True

    def __init__(self, spec: SourceSpec, config: PluginConfig, ctx: SourceContext | None = None):
        self.spec = spec
        self.config = config
        self.ctx = ctx or SourceContext()

    @property
    def id(self) -> str:
        return self.spec.id

    def target_tables(self) -> tuple[str, ...]:
        """The tables this configured source feeds."""
        if self.spec.table:
            return (self.spec.table,)
        return tuple(self.tables or ())

    def extract(self, cursor: Any | None) -> Iterator[Batch]:
        """Yield batches of new rows since ``cursor`` (None on the first run)."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line for ``gongzhi sources``: where this source reads from."""
        return ""
