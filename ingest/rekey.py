"""``gongzhi rekey``: change the pseudonym key on purpose.

A pseudonym is an HMAC of the clear ID number; the warehouse keeps only pseudonyms and masks,
so pseudonyms made with one key cannot be turned into those of another: only the source data,
read again, can give every person a new-key pseudonym. Rekeying therefore means, in one
transaction:

1. the warehouse accepts the new key (its fingerprint replaces the old one, which goes to the
   key history with the time it was retired);
2. every pseudonym made with the old key is withdrawn (``id_hash`` set to NULL in the people
   tables, and in the quarantine's stored personal columns), so old and new pseudonyms are
   never mixed: a count by person is never split silently;
3. the cursors of the sources that feed people tables are reset, and their open quarantine
   rows are closed (``resolved_run_id = 0``): their next run reads everything the source still
   has, pseudonymises it with the new key and quarantines anew what still fails.

Rows whose source no longer has them keep their masks but stay without a pseudonym. A
warehouse that has no fingerprint yet (made before fingerprints existed) simply adopts the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, delete, update

from core import privacy
from core.settings import Settings
from warehouse import audit, meta
from warehouse.engine import bump_data_version, utcnow, write_transaction
from warehouse.schema import data_tables, ingest_state, personal_tables, quarantine

CLOSED_BY_REKEY = 0  # quarantine.resolved_run_id of rows closed because their source re-reads


@dataclass
class RekeyResult:
    """What a rekey did (or would do: nothing when the key is already the warehouse's)."""

    old: str | None
    new: str
    withdrawn: dict[str, int] = field(default_factory=dict)
    sources_reset: list[str] = field(default_factory=list)
    quarantine_closed: int = 0

    @property
    def changed(self) -> bool:
        return self.old != self.new


def current(settings: Settings, engine: Engine) -> tuple[str | None, str]:
    """(the warehouse's key fingerprint, the configured key's fingerprint)."""
    key = privacy.pseudonym_key(settings.pseudonym_key_file)
    return meta.get(engine, meta.KEY_FINGERPRINT), privacy.key_fingerprint(key)


def people_sources(settings: Settings) -> list[str]:
    """Sources that feed a table holding pseudonyms."""
    return [s.id for s in settings.sources if s.table in personal_tables()]


def rekey(settings: Settings, engine: Engine, *, username: str, role: str) -> RekeyResult:
    """Make the configured key the warehouse's (see the module docstring); audited."""
    key = privacy.pseudonym_key(settings.pseudonym_key_file)
    new = privacy.key_fingerprint(key)
    tables = data_tables()
    with write_transaction(engine) as conn:
        old = meta.get(conn, meta.KEY_FINGERPRINT)
        result = RekeyResult(old, new)
        if old == new:
            return result
        if old is not None:
            for name in personal_tables():
                t = tables[name]
                res = conn.execute(update(t).where(t.c.id_hash.is_not(None)).values(id_hash=None))
                result.withdrawn[name] = int(res.rowcount or 0)
            # stored personal columns of quarantined rows hold old pseudonyms too
            conn.execute(update(quarantine).where(quarantine.c.derived.is_not(None))
                         .values(derived=None))
            result.sources_reset = people_sources(settings)
            if result.sources_reset:
                conn.execute(delete(ingest_state).where(
                    ingest_state.c.source.in_(result.sources_reset)))
                res = conn.execute(update(quarantine).where(
                    quarantine.c.source.in_(result.sources_reset),
                    quarantine.c.resolved_run_id.is_(None)).values(
                    resolved_run_id=CLOSED_BY_REKEY))
                result.quarantine_closed = int(res.rowcount or 0)
            history = meta.get_json(conn, meta.KEY_HISTORY, [])
            history.append({"fingerprint": old, "retired_at": utcnow().isoformat(),
                            "replaced_by": new, "withdrawn": result.withdrawn})
            meta.put_json(conn, meta.KEY_HISTORY, history)
            bump_data_version(conn)
        meta.put(conn, meta.KEY_FINGERPRINT, new)
    audit.record(engine, username=username, role=role, action="rekey", target="pseudonym_key",
                 filters={"from": old, "to": new, "sources_reset": result.sources_reset},
                 row_count=sum(result.withdrawn.values()))
    return result
