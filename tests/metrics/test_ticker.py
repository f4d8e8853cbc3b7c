"""The big screen's ticker rows (:mod:`metrics.ticker`): the newest grid events, service cases
and runs of an area, scoped like every KPI and checked against the viewer, a few of each."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from metrics.access import AccessDenied, Viewer
from metrics.compiler import Scope
from metrics.ticker import latest_events
from tests.metrics.harness import materialize

HANJIANG, WANGZHAI = "420606001000", "420606002000"
GAOZHUANG, LIUGENG, SHIYING = "420606001001", "420606001002", "420606002001"
G1, G2, G3 = GAOZHUANG + "001", LIUGENG + "001", SHIYING + "001"

CASE = {"tables": {
    "divisions": [{"code": g, "name": f"{g[-3:]}网格", "level": "grid", "parent_code": g[:12]}
                  for g in (G1, G2, G3)],
    "grid_event_categories": [{"category": "env", "name": "环境卫生"},
                              {"category": "road", "name": "道路"}],
    "grid_events": [
        {"event_id": "E1", "grid_code": G1, "category": "env", "reported_at": "2024-05-01 08:00",
         "closed_at": "2024-05-02 08:00"},
        {"event_id": "E2", "grid_code": G2, "category": "env", "reported_at": "2024-05-03 08:00"},
        {"event_id": "E3", "grid_code": G3, "category": "road",
         "reported_at": "2024-05-04 08:00"},
    ],
    "service_items": [{"item_code": "I1", "item_name": "户口簿申领"},
                      {"item_code": "I9", "item_name": "居住证办理"}],
    "service_cases": [
        {"case_id": "S1", "item_code": "I1", "community_code": GAOZHUANG,
         "submitted_at": "2024-05-05 09:00", "status": "completed", "channel": "online"},
        {"case_id": "S2", "item_code": "I9", "community_code": SHIYING,
         "submitted_at": "2024-05-06 09:00", "status": "accepted", "channel": "window"},
    ],
}}


@pytest.fixture(scope="module")
def m(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("ticker")
    return materialize(CASE, Path(folder), f"sqlite:///{folder / 'w.db'}")


def test_a_street_sees_its_own_events_newest_first(m) -> None:  # type: ignore[no-untyped-def]
    rows = latest_events(m.engine, Scope("street", HANJIANG), 5).to_dicts()
    events = [r for r in rows if r["kind"] == "grid_event"]
    assert [(r["area"], r["what"], r["state"]) for r in events] == [
        (G2, "环境卫生", "open"), (G1, "环境卫生", "closed")]
    assert events[0]["at"] == dt.datetime(2024, 5, 3, 0, 0)  # stored UTC (08:00 in Shanghai)
    cases = [r for r in rows if r["kind"] == "service_case"]
    assert [(r["area"], r["what"], r["state"]) for r in cases] == [
        (GAOZHUANG, "户口簿申领", "completed")]
    runs = [r for r in rows if r["kind"] == "run"]
    assert runs and all(r["area"] is None and r["state"] == "succeeded" for r in runs)
    assert set(rows[0]) == {"kind", "at", "area", "what", "state"}  # nothing else leaves


def test_the_district_sees_all_a_few_of_each(m) -> None:  # type: ignore[no-untyped-def]
    rows = latest_events(m.engine, Scope("district", "420606000000"), 2).to_dicts()
    by_kind = {k: [r for r in rows if r["kind"] == k]
               for k in ("grid_event", "service_case", "run")}
    assert [r["area"] for r in by_kind["grid_event"]] == [G3, G2]
    assert by_kind["grid_event"][0]["what"] == "道路"
    assert [r["what"] for r in by_kind["service_case"]] == ["居住证办理", "户口簿申领"]
    assert len(by_kind["run"]) == 2


def test_a_grid_has_no_service_cases_and_staff_stay_in_their_area(m) -> None:  # type: ignore[no-untyped-def]
    rows = latest_events(m.engine, Scope("grid", G1), 5).to_dicts()
    assert {r["kind"] for r in rows} == {"grid_event", "run"}  # cases are per community
    staff = Viewer("w", "street_staff", HANJIANG)
    with pytest.raises(AccessDenied):
        latest_events(m.engine, Scope("street", WANGZHAI), 5, viewer=staff)
    assert latest_events(m.engine, Scope("street", HANJIANG), 0).is_empty()


def test_rows_stamped_in_the_future_wait(m) -> None:  # type: ignore[no-untyped-def]
    early = dt.datetime(2024, 5, 3, 0, 0)  # E2's time: E3 and both cases are later
    rows = latest_events(m.engine, Scope("district", "420606000000"), 5, now=early).to_dicts()
    assert [r["area"] for r in rows if r["kind"] == "grid_event"] == [G2, G1]
    assert not [r for r in rows if r["kind"] == "service_case"]
