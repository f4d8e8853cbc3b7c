"""One error root for Gongzhi, split by the phase that failed.

The class says what a caller may do: ``retryable`` errors (a busy lock, a flaky API) may succeed
on the next attempt; the others need a person to fix config, a file or an endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class GongzhiError(Exception):
    """Root of every error Gongzhi raises on purpose."""

    phase: ClassVar[str] = "internal"
    retryable: ClassVar[bool] = False


@dataclass(frozen=True)
class Problem:
    """One problem found while validating: where it is and what is wrong."""

    place: str
    message: str

    def __str__(self) -> str:
        return f"{self.place}: {self.message}" if self.place else self.message


class ConfigError(GongzhiError):
    """The configuration (gongzhi.toml, KPI files) is invalid; lists every problem at once."""

    phase = "config"

    def __init__(self, problems: list[Problem] | str, header: str = "configuration is invalid"):
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{header} ({len(problems)} problem(s)):\n{lines}")


class NoDivisions(ConfigError):
    """The warehouse has no division list yet (nothing was ingested): pages say "no data"."""

    def __init__(self, message: str = "no district in the warehouse"):
        super().__init__([Problem("", message)])


class SourceError(GongzhiError):
    """A source could not be read: a broken file, an API that fails, a database that refuses."""

    phase = "source"

    def __init__(self, message: str, *, location: str | None = None):
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class TransientSourceError(SourceError):
    """The source failed in a way that may pass (timeouts, 429/5xx after all retries)."""

    retryable = True


class AuthError(SourceError):
    """The source refused our credentials (HTTP 401/403: ``status`` says which; None for
    other kinds of source); retrying cannot help."""

    def __init__(self, message: str, *, location: str | None = None,
                 status: int | None = None):
        self.status = status
        super().__init__(message, location=location)


class HttpStatusError(SourceError):
    """An HTTP source answered with an error status; ``status`` says which, so callers tell
    errors apart by the number, never by the message text. 429 and 5xx may pass on a later
    attempt (``retryable``); other 4xx need a person to fix the request. (401/403 are an
    :class:`AuthError`, which carries its ``status`` too.)"""

    def __init__(self, status: int, message: str, *, location: str | None = None,
                 url: str | None = None):
        self.status = status
        self.url = url
        super().__init__(message, location=location)

    @property
    def retryable(self) -> bool:  # type: ignore[override]  # per instance: by the status
        return retryable_status(self.status)


def retryable_status(status: int) -> bool:
    """Whether an HTTP status may pass on its own: too many requests (429), server errors."""
    return status == 429 or 500 <= status <= 599


class PaginationError(SourceError):
    """An API's paging went wrong: a repeated cursor or too many pages."""


class DataError(GongzhiError):
    """A whole input is unusable as data: undecodable bytes, missing required columns."""

    phase = "data"

    def __init__(self, message: str, *, location: str | None = None):
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class EncodingError(DataError):
    """The bytes are valid neither as UTF-8 nor as GB18030."""


class MissingColumnsError(DataError):
    """Required columns are absent; ``missing`` lists every one of them."""

    def __init__(self, missing: list[str], *, location: str | None = None):
        self.missing = missing
        super().__init__(
            "missing required column(s): " + ", ".join(missing), location=location
        )


class WarehouseError(GongzhiError):
    """The warehouse refused a read or write (read-only file, full disk, lost server)."""

    phase = "load"


class LockBusy(WarehouseError):
    """Another process is loading the same source right now."""

    retryable = True


class WriteConflict(WarehouseError):
    """The warehouse rolled a run's commit back for another transaction's sake (a deadlock or
    a serialization failure): nothing of the run was kept and the same run may go again."""

    retryable = True


class PseudonymKeyMismatch(GongzhiError):
    """The pseudonym key is not the one the warehouse's pseudonyms were made with: loading
    would give every person a second pseudonym. ``gongzhi rekey`` changes keys on purpose."""

    phase = "config"


class LockLost(WarehouseError):
    """A run's lock on its source was taken over before it committed: the run is refused at
    commit (the fence), so the source's rows are loaded once."""
