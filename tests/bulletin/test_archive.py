"""Bulletins are archived, listed and handed out by role: leaders every version, street
staff their own street's only, community staff their own community's only (naming no other
community); every generation, download and denial is audited; the schedule generates last
month's; ``[bulletin]`` problems come all at once."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bulletin import archive
from core.errors import ConfigError
from core.settings import load_settings, settings_from_dict
from metrics.access import AccessDenied, Viewer
from metrics.periods import parse

HANJIANG, WANGZHAI = "420606001000", "420606002000"
PERIOD = parse("2025-05")


@pytest.fixture
def world(office_demo: Path, tmp_path: Path) -> Iterator[dict[str, Any]]:
    from ingest.registry import load_validated
    from metrics.scoring import load_schemes, pick
    from metrics.service import Metrics
    from warehouse.engine import open_for_reading

    for f in office_demo.parent.iterdir():  # a copy: the archive rows stay here
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    s = load_validated(tmp_path / office_demo.name)
    m = Metrics(open_for_reading(s.warehouse_url))
    conf = settings_from_dict({"bulletin": {"archive": "archive", "formats": ["docx"],
                                            "streets": False}},
                              path=tmp_path / "gongzhi.toml").bulletin
    yield {"m": m, "scheme": pick(load_schemes(m.catalog), None), "conf": conf,
           "root": tmp_path}
    m.engine.dispose()


def audit_actions(m: Any) -> list[tuple[str, str, str]]:
    from warehouse import audit

    return [(e["username"], e["action"], e["target"]) for e in audit.entries(m.engine)][::-1]


def test_a_streets_version_holds_its_own_communities_and_staff_get_only_theirs(
        world: dict[str, Any]) -> None:
    import docx

    m, scheme, conf = world["m"], world["scheme"], world["conf"]
    staff = Viewer("zhang", "street_staff", HANJIANG)
    made = archive.generate(m, scheme, PERIOD, conf, staff)  # no street named: their own
    assert made.path.is_file() and made.path.parent == conf.archive / "2025-05"
    assert HANJIANG in made.file_name
    tables = docx.Document(str(made.path)).tables
    ranking = [[c.text for c in r.cells] for r in tables[1].rows[1:]]
    board = [[c.text for c in r.cells] for r in tables[2].rows[1:]]
    d = m.divisions()
    comm = d.filter((d["level"] == "community") & d["code"].str.starts_with("420606001"))
    hanjiang = set(comm["short_name"].fill_null(comm["name"]))
    assert ranking and {r[1] for r in ranking} <= hanjiang
    assert board and {r[0] for r in board} <= hanjiang and {r[1] for r in board} == {"汉江街道"}
    other = m.scope("street", WANGZHAI)
    with pytest.raises(AccessDenied):
        archive.generate(m, scheme, PERIOD, conf, staff, street=other)
    with pytest.raises(AccessDenied):  # community staff: not their street's version
        archive.generate(m, scheme, PERIOD, conf, Viewer("wang", "community_staff",
                                                         "420606001001"), street=other)
    boss = Viewer("li", "leader", "420606000000")
    district = archive.generate(m, scheme, PERIOD, conf, boss, fmt="pdf")
    theirs = archive.generate(m, scheme, PERIOD, conf, boss, street=other)
    assert [r["id"] for r in archive.listing(m, staff)] == [made.id]
    assert {r["id"] for r in archive.listing(m, boss)} == {made.id, district.id, theirs.id}
    name, data = archive.download(m, staff, made.id)
    assert data == made.data and name == made.file_name
    with pytest.raises(AccessDenied):
        archive.download(m, staff, theirs.id)
    assert archive.download(m, boss, theirs.id)[1] == theirs.data
    actions = audit_actions(m)
    assert ("zhang", "bulletin_generate", f"bulletin:{made.id}") in actions
    assert ("zhang", "bulletin_download", f"bulletin:{made.id}") in actions
    assert ("zhang", "denied", f"bulletin:{theirs.id}") in actions
    assert ("wang", "denied", "bulletin") in actions
    assert made.id not in [r["id"] for r in archive.listing(m, Viewer("wang", "community_staff",
                                                                      "420606001001"))]
    assert ("li", "bulletin_download", f"bulletin:{theirs.id}") in actions


def test_a_changed_archive_file_is_refused(world: dict[str, Any]) -> None:
    m = world["m"]
    boss = Viewer("li", "leader", "420606000000")
    made = archive.generate(m, world["scheme"], PERIOD, world["conf"], boss)
    made.path.write_bytes(made.data + b"x")
    with pytest.raises(OSError, match="changed after it was generated"):
        archive.download(m, boss, made.id)


def test_the_schedule_generates_last_months_bulletin(world: dict[str, Any]) -> None:
    m, conf = world["m"], world["conf"]
    made = archive.scheduled(m, world["scheme"], conf, dt.date(2025, 6, 1))
    assert [(g.format, g.path.parent.name) for g in made] == [("docx", "2025-05")]
    row = archive.listing(m, Viewer("li", "leader", "420606000000"))[0]
    assert (row["trigger"], row["generated_by"], row["period"]) == ("schedule", "scheduler",
                                                                    "2025-05")


def test_the_scheduler_process_gets_the_bulletin_job(tmp_path: Path) -> None:
    from core.settings import settings_from_dict
    from ingest.scheduler import SchedulerService
    from warehouse.engine import open_warehouse

    url = f"sqlite:///{tmp_path / 'w.db'}"
    s = settings_from_dict({"warehouse": {"url": url}, "sources": []}, path=tmp_path / "g.toml")
    service = SchedulerService(s, open_warehouse(url),
                               extra_jobs=[("bulletin", "0 8 1 * *", lambda: None)])
    sched = service.start()
    try:
        job = sched.get_job("job:bulletin")
        assert job is not None and job.next_run_time.day == 1 and job.next_run_time.hour == 8
    finally:
        service.shutdown()


def test_bulletin_settings_list_every_problem_with_the_rest_of_the_config(
        tmp_path: Path) -> None:
    cfg = tmp_path / "gongzhi.toml"
    cfg.write_text('[warehouse]\nurl = "sqlite:///w.db"\n'
                   '[dashboard]\nsign_in = "closed"\n'  # line 3: reported in the same pass
                   '[bulletin]\nformats = ["doc"]\nschedule = "daily"\n'  # line 5
                   'fonts = { body = 1 }\ncolour = "red"\ntitle = "通报"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_settings(cfg)
    places = {p.message: p.place for p in e.value.problems}
    for words in ("'formats' must list", "'schedule' must be a 5-field cron",
                  "'fonts' takes", "unknown [bulletin] key 'colour'", "'title' should name"):
        assert [pl for msg, pl in places.items() if msg.startswith(words)] == [f"{cfg}:5"], \
            (words, places)
    assert any(m.startswith("'sign_in' must be") for m in places)
    assert len(places) == 6, places


def test_bulletin_settings_are_typed_and_a_schedule_that_never_fires_is_refused(
        tmp_path: Path) -> None:
    cfg = tmp_path / "gongzhi.toml"
    cfg.write_text('[bulletin]\narchive = "out"\nformats = ["pdf"]\nstreets = false\n'
                   'title = "{period}通报"\nschedule = "0 8 1 * *"\n', encoding="utf-8")
    b = load_settings(cfg).bulletin
    assert (b.archive, b.formats, b.streets, b.schedule) == (
        tmp_path.resolve() / "out", ("pdf",), False, "0 8 1 * *")
    cfg.write_text("", encoding="utf-8")  # no section: the defaults, beside the config
    assert load_settings(cfg).bulletin.archive == tmp_path.resolve() / "bulletins"
    cfg.write_text('[bulletin]\nschedule = "0 8 30 2 *"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="never fires"):
        load_settings(cfg)


def test_community_staff_get_their_own_communitys_version_only(world: dict[str, Any]) -> None:
    import docx

    from bulletin.content import build
    from warehouse import cycle

    m, scheme, conf = world["m"], world["scheme"], world["conf"]
    d = m.divisions()
    comm = d.filter((d["level"] == "community") & d["active"]
                    & ~d["placeholder"].fill_null(False))
    names = dict(zip(comm["code"], comm["short_name"].fill_null(comm["name"]), strict=True))
    # the community with the most figures this period, so that its version has content
    kpis = [p.kpi for p in scheme.level("community").parts]
    frame = m.compute(kpis, m.district(), PERIOD, "community", compare=False)
    counts = frame.filter(frame["value"].is_not_null())["key"].value_counts(sort=True)
    code = next(c for c in counts["key"] if c in names)
    own = names[code]
    staff = Viewer("wang", "community_staff", code)
    made = archive.generate(m, scheme, PERIOD, conf, staff)  # nothing named: their own
    assert code in made.file_name
    doc = docx.Document(str(made.path))
    text = "\n".join([p.text for p in doc.paragraphs]
                     + [c.text for t in doc.tables for r in t.rows for c in r.cells])
    # only their community's rows: the ranking and the three-colour table hold one row
    ranking = [[c.text for c in r.cells] for r in doc.tables[1].rows[1:]]
    board = [[c.text for c in r.cells] for r in doc.tables[2].rows[1:]]
    assert [r[1] for r in ranking] == [own] and [r[0] for r in board] == [own]
    others = {n for c, n in names.items() if c != code and n != own and n not in own}
    assert others and not [n for n in others if n in text]
    # its figures are `gongzhi kpi`'s of the community; its rank is the district ranking's
    figures = [[c.text for c in r.cells] for r in doc.tables[0].rows[1:]]
    from bulletin.content import _figure_ids

    want = m.compute(_figure_ids(m, scheme, "community"), m.scope("community", code), PERIOD)
    assert len(figures) == want.height
    from metrics import format as fmt

    for row, r in zip(figures, want.to_dicts(), strict=True):
        kpi = m.catalog.get(r["kpi"])
        assert row[:2] == [kpi.label.zh, fmt.value(r["value"], kpi.unit)]
    from metrics.ranking import compute_ranking

    ranked = [r for r in compute_ranking(m, scheme, "community", PERIOD).rows
              if r.rank is not None]
    mine = next(r for r in ranked if r.code == code)
    assert f"在全区{len(ranked)}个社区综合考评中得{mine.score:.2f}分，排第{mine.rank}位" in text
    # open 督办 tasks of the community are listed; a task of another community is not
    b = build(m, scheme, PERIOD, conf, street=m.scope("community", code))
    want_tasks = [t["title"] for t in cycle.open_tasks_of_area(m.engine, code)]
    assert [t["title"] for t in b.tasks] == want_tasks
    assert not [t for t in cycle.open_tasks_of_area(m.engine, HANJIANG)
                if not t["area_code"].startswith(code) and t["title"] in text]
    # theirs only: another community's version is refused, the listing holds theirs alone
    with pytest.raises(AccessDenied):
        archive.generate(m, scheme, PERIOD, conf, staff,
                         street=m.scope("community", next(c for c in names if c != code)))
    assert [r["id"] for r in archive.listing(m, staff)] == [made.id]
    assert archive.download(m, staff, made.id)[1] == made.data
    actions = audit_actions(m)
    assert ("wang", "bulletin_generate", f"bulletin:{made.id}") in actions
    assert ("wang", "bulletin_download", f"bulletin:{made.id}") in actions
    assert ("wang", "denied", "bulletin") in actions
