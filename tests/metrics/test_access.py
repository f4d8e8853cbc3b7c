"""Access by area, enforced in metrics and the data layer: staff never reach another area,
cached results never cross viewers, accounts lock after repeated failures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from metrics import detail, periods
from metrics.access import AccessDenied, Viewer
from tests.metrics.harness import CASES, load_case, materialize
from warehouse import accounts, audit

GZ = str(Path(sys.executable).with_name("gongzhi"))
HANJIANG, WANGZHAI = "420606001000", "420606002000"
GAOZHUANG = "420606001001"


@pytest.fixture
def gov(tmp_path: Path, sqlite_url: str):
    return materialize(load_case(CASES / "gov.yaml"), tmp_path, sqlite_url)


def test_staff_reach_only_their_area(gov) -> None:
    may = periods.parse("2024-05")
    street = Viewer("s1", "street_staff", HANJIANG)
    own = gov.compute(["gov.case_count"], gov.scope("street", HANJIANG), may, viewer=street)
    assert own["value"].to_list() == [4.0]
    inside = gov.compute(["gov.case_count"], gov.scope("community", GAOZHUANG), may,
                         viewer=street)
    assert inside["value"].to_list() == [2.0]
    for scope in (gov.district(), gov.scope("street", WANGZHAI),
                  gov.scope("community", "420606002001")):
        with pytest.raises(AccessDenied):
            gov.compute(["gov.case_count"], scope, may, viewer=street)
        with pytest.raises(AccessDenied):
            detail.rows(gov.engine, "gov", scope, may, viewer=street)
    community = Viewer("c1", "community_staff", GAOZHUANG)
    with pytest.raises(AccessDenied):
        gov.compute(["gov.case_count"], gov.scope("street", HANJIANG), may, viewer=community)
    by = gov.compute(["gov.case_count"], gov.scope("community", GAOZHUANG), may, "grid",
                     viewer=community)
    assert by.height == 0  # cases are filed per community: no grid rows to leak


def test_cached_results_are_kept_apart_per_viewer(gov) -> None:
    may = periods.parse("2024-05")
    scope = gov.scope("street", HANJIANG)
    leader = Viewer("boss", "leader", "420606000000")
    staff = Viewer("s1", "street_staff", HANJIANG)
    a = gov.compute(["gov.case_count"], scope, may, viewer=leader)
    b = gov.compute(["gov.case_count"], scope, may, viewer=staff)
    assert a is not b  # computed for each viewer, never served from the other's entry
    assert gov.compute(["gov.case_count"], scope, may, viewer=staff) is b
    keys = {k[-1] for k in gov._cache}
    assert {"leader:420606000000", f"street_staff:{HANJIANG}"} <= keys


def test_lock_out_after_repeated_failures(gov) -> None:
    eng = gov.engine
    accounts.add_user(eng, "zhang", "correct horse battery", "street_staff", HANJIANG)
    assert accounts.verify(eng, "zhang", "correct horse battery").area_code == HANJIANG
    for _ in range(accounts.MAX_FAILURES):
        with pytest.raises(accounts.SignInFailed, match="wrong name or password"):
            accounts.verify(eng, "zhang", "wrong")
    with pytest.raises(accounts.SignInFailed, match="locked"):
        accounts.verify(eng, "zhang", "correct horse battery")
    with pytest.raises(accounts.SignInFailed, match="wrong name or password"):
        accounts.verify(eng, "nobody", "whatever")  # same answer as a wrong password
    accounts.disable_user(eng, "zhang")
    with pytest.raises(accounts.SignInFailed, match="disabled"):
        accounts.verify(eng, "zhang", "correct horse battery")
    from warehouse.engine import app_engine

    with app_engine(eng).connect() as c:
        stored = c.execute(text("SELECT password_hash FROM users")).scalar_one()
    assert stored.startswith("$argon2id$") and "horse" not in stored


def test_cli_with_staff_credentials_cannot_reach_another_street(gov, tmp_path: Path) -> None:
    cfg = tmp_path / "gongzhi.toml"
    env = {**os.environ, "GONGZHI_PASSWORD": "street-staff-pass"}
    add = subprocess.run([GZ, "--config", str(cfg), "users", "add", "wang", "--role",
                          "street_staff", "--area", "汉江街道", "--password-stdin"],
                         input="street-staff-pass\n", capture_output=True, text=True, timeout=60)
    assert add.returncode == 0, add.stderr
    own = subprocess.run([GZ, "--config", str(cfg), "kpi", "--user", "wang", "--period",
                          "2024-05", "--kpi", "gov.case_count", "--format", "json"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert own.returncode == 0, own.stderr
    assert '"scope": "street:420606001000"' in own.stdout and '"value": 4.0' in own.stdout
    other = subprocess.run([GZ, "--config", str(cfg), "kpi", "--user", "wang", "--street",
                            "王寨街道", "--period", "2024-05"], capture_output=True, text=True,
                           env=env, timeout=60)
    assert other.returncode != 0 and "may not see street 420606002000" in other.stderr
    district = subprocess.run([GZ, "--config", str(cfg), "kpi", "--user", "wang", "--street",
                               "' OR '1'='1", "--period", "2024-05"], capture_output=True,
                              text=True, env=env, timeout=60)
    assert district.returncode != 0 and "no street" in district.stderr


def test_audit_log_is_append_only(warehouse_url: str) -> None:
    from warehouse.engine import open_warehouse, write_transaction

    eng = open_warehouse(warehouse_url)
    audit.record(eng, username="boss", role="leader", action=audit.EXPORT,
                 target="gov.detail", filters={"street": HANJIANG}, row_count=12)
    rows = audit.entries(eng)
    assert rows[0]["row_count"] == 12 and HANJIANG in rows[0]["filters"]
    from warehouse.engine import app_engine

    for stmt in ("UPDATE audit_log SET row_count = 0", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), \
                write_transaction(app_engine(eng)) as c:
            c.execute(text(stmt))
    assert audit.entries(eng)[0]["row_count"] == 12


@pytest.mark.postgres
def test_postgresql_app_role_may_only_read_and_append_the_audit_log(pg_schema_url: str) -> None:
    import uuid

    from sqlalchemy import create_engine

    from warehouse.engine import open_warehouse, write_transaction

    eng = open_warehouse(pg_schema_url)
    role = f"gz_app_{uuid.uuid4().hex[:8]}"
    schema = pg_schema_url.rsplit("%3D", 1)[1]
    with write_transaction(eng) as c:
        c.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        c.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
        audit.grant_app_role(c, role)
    try:
        app_url = pg_schema_url.replace("postgres@", f"{role}@")
        app = create_engine(app_url)
        audit.record(app, username="boss", role="leader", action=audit.VIEW_ROWS,
                     target="vol.detail", filters={}, row_count=3)
        assert audit.entries(app)[0]["row_count"] == 3
        for stmt in ("UPDATE audit_log SET row_count = 0", "DELETE FROM audit_log",
                     "TRUNCATE audit_log"):
            with pytest.raises(Exception, match="permission denied"), app.begin() as c:
                c.execute(text(stmt))
        app.dispose()
    finally:
        with write_transaction(eng) as c:
            c.execute(text(f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM "{role}"'))
            c.execute(text(f'REVOKE ALL ON ALL SEQUENCES IN SCHEMA "{schema}" FROM "{role}"'))
            c.execute(text(f'REVOKE USAGE ON SCHEMA "{schema}" FROM "{role}"'))
            c.execute(text(f'DROP ROLE "{role}"'))


def test_community_staff_see_only_their_buildings_and_heads(tmp_path: Path,
                                                            sqlite_url: str) -> None:
    """五级: the building register and its heads are scoped by their grid; a building code
    is an area like any other (a viewer reaches the buildings inside their own area only)."""
    from metrics import drill
    from metrics.compiler import Scope

    m = materialize(load_case(CASES / "buildings.yaml"), tmp_path, sqlite_url)
    shiying = "420606002001"
    staff = Viewer("c2", "community_staff", shiying)
    assert staff.can_see("building", "420606002001001002")
    assert not staff.can_see("building", "420606001001001001")
    kpi = m.catalog.get("grid.building_head_coverage")
    own = drill.Figure(kpi.id, "denominator", Scope("community", shiying, "施营社区"), None)
    frame, _cols = drill.rows(m.engine, kpi, own, viewer=staff)
    # the case's buildings in 施营社区: 420606002001001001 and …002, nothing of 高庄社区
    assert sorted(frame["building_code"].to_list()) == ["420606002001001001",
                                                        "420606002001001002"]
    heads = drill.Figure(kpi.id, "numerator", Scope("community", shiying, "施营社区"), None)
    frame, _cols = drill.rows(m.engine, kpi, heads, viewer=staff)
    assert frame["staff_id"].to_list() == ["H4"]
    other = drill.Figure(kpi.id, "denominator", Scope("community", GAOZHUANG, "高庄社区"), None)
    with pytest.raises(AccessDenied):
        drill.rows(m.engine, kpi, other, viewer=staff)
    with pytest.raises(AccessDenied):
        m.compute([kpi.id], m.scope("community", GAOZHUANG), None, viewer=staff)
    assert m.compute([kpi.id], m.scope("community", shiying), None,
                     viewer=staff)["value"].to_list() == [0.5]
