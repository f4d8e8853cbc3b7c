"""The office's tables on both engines: target versions (the newest in force, a clearing
ends it, the revision grows with every change) and the bulletin archive list; a reader of a
warehouse sees them as the writer left them."""

from __future__ import annotations

from sqlalchemy import Engine

from warehouse import office


def test_target_versions_and_revision(engine: Engine) -> None:
    assert office.revision(engine) == 0 and office.current(engine) == {}
    key = dict(kpi="gov.online_case_rate", level="street", code="420606001000", year=2025)
    assert office.write_target(engine, **key, target=0.7, warning=0.6, by="li") == 1
    r1 = office.revision(engine)
    assert office.write_target(engine, **key, target=0.75, warning=None, by="li") == 2
    other = dict(key, year=2026)
    assert office.write_target(engine, **other, target=0.8, warning=0.7, by="wang") == 1
    now = office.current(engine)
    assert {k: (t.target, t.warning, t.version) for k, t in now.items()} == {
        ("gov.online_case_rate", "420606001000", 2025): (0.75, None, 2),
        ("gov.online_case_rate", "420606001000", 2026): (0.8, 0.7, 1)}
    assert office.write_target(engine, **key, target=None, warning=0.5, by="li") == 3
    assert list(office.current(engine)) == [("gov.online_case_rate", "420606001000", 2026)]
    hist = office.history(engine, year=2025)
    assert [(h["version"], h["target"], h["warning"], h["cleared"]) for h in hist] == [
        (1, 0.7, 0.6, False), (2, 0.75, None, False), (3, None, None, True)]
    assert office.revision(engine) > r1


def test_bulletin_archive_rows(engine: Engine) -> None:
    common = dict(period="2025-11", format="docx", sha256="0" * 64, bytes=10,
                  generated_by="li", trigger="cli")
    a = office.record_bulletin(engine, level="district", code="420606000000",
                               path="/x/a.docx", **common)
    b = office.record_bulletin(engine, level="street", code="420606001000",
                               path="/x/b.docx", **common)
    assert [r["id"] for r in office.archived(engine)] == [b, a]  # newest first
    assert [r["id"] for r in office.archived(engine, code_prefix="420606001")] == [b]
    row = office.bulletin(engine, a)
    assert row is not None and row["path"] == "/x/a.docx" and office.bulletin(engine, 999) is None
