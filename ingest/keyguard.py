"""The pseudonym key's guard: a warehouse's pseudonyms are all made with one key.

The first run that pseudonymises stores the key's fingerprint (never the key) in the
warehouse, in the run's transaction; every later run compares the key it was given with it
before any row is read, and again under the write lock at commit. A different key is refused:
it would give every person a second pseudonym and silently split every count by person.
``gongzhi rekey`` is the one way to change keys (see :mod:`ingest.rekey`).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine

from core import privacy
from core.errors import PseudonymKeyMismatch
from warehouse import meta


def mismatch(stored: str, given: str) -> PseudonymKeyMismatch:
    return PseudonymKeyMismatch(
        f"the pseudonym key (fingerprint {given}) is not the key this warehouse's pseudonyms "
        f"were made with (fingerprint {stored}); loading would give every person a second "
        "pseudonym. Set the previous key again, or change keys on purpose with `gongzhi rekey` "
        "(README: changing the pseudonym key)")


class KeyGuard:
    """Hands out the pseudonym key once it has been checked against the warehouse."""

    def __init__(self, engine: Engine, key_file: Path | None):
        self.engine = engine
        self.key_file = key_file
        self._key: bytes | None = None
        self.fingerprint: str | None = None

    def key(self) -> bytes:
        """The key, if it is the warehouse's (or the warehouse has none yet)."""
        if self._key is None:
            key = privacy.pseudonym_key(self.key_file)
            fp = privacy.key_fingerprint(key)
            stored = meta.get(self.engine, meta.KEY_FINGERPRINT)
            if stored is not None and stored != fp:
                raise mismatch(stored, fp)
            self._key, self.fingerprint = key, fp
        return self._key

    def commit(self, conn: Connection) -> None:
        """Inside the run's write transaction: record the fingerprint on first use, and refuse
        if another process changed keys (``gongzhi rekey``) since this run checked."""
        if self.fingerprint is None:
            return
        stored = meta.get(conn, meta.KEY_FINGERPRINT)
        if stored is None:
            meta.put(conn, meta.KEY_FINGERPRINT, self.fingerprint)
        elif stored != self.fingerprint:
            raise mismatch(stored, self.fingerprint)
