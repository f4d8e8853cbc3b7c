"""The sql plugin: incremental reads by cursor column from another database."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from tests.ingest.plugin_contract import PluginContract
from warehouse import runlog
from warehouse.engine import open_warehouse
from warehouse.schema import consultations

ROWS = [
    ("T1", "420606001001", "幸福夜话", "2024-03-01 19:30:00", None, "raised",
     "2024-03-01 20:00:00"),
    ("T2", "420606001002", "书记唠嗑会", "2024-03-02 19:30:00", "2024-03-09 10:00:00", "resolved",
     "2024-03-09 10:00:00"),
    ("T3", "420606002001", "院落会", "2024-03-05 09:00:00", None, "in_progress",
     "2024-03-10 11:00:00"),
]


def make_db(path: Path, rows: list[tuple[Any, ...]]) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE IF NOT EXISTS yishi (topic_id TEXT PRIMARY KEY, sqbm TEXT, "
                "mechanism TEXT, raised_at TEXT, resolved_at TEXT, status TEXT, updated_at TEXT)")
    con.executemany("INSERT OR REPLACE INTO yishi VALUES (?,?,?,?,?,?,?)", rows)
    con.commit()
    con.close()


def source(**extra: Any) -> dict[str, Any]:
    return {"id": "topics", "plugin": "sql", "table": "consultations",
            "url": "sqlite:///src/grid_system.db", "source_table": "yishi",
            "cursor": "updated_at", "columns": {"sqbm": "community_code"}, **extra}


class TestSqlContract(PluginContract):
    plugin = "sql"
    expected_rows = 3

    def source_config(self, tmp_path: Path) -> dict[str, Any]:
        (tmp_path / "src").mkdir(exist_ok=True)
        make_db(tmp_path / "src" / "grid_system.db", ROWS)
        return source()

    def check_loaded(self, tmp_path: Path, warehouse_url: str) -> None:
        with open_warehouse(warehouse_url).connect() as c:
            rows = {r.topic_id: r for r in c.execute(select(consultations))}
        assert rows["T2"].status == "resolved" and rows["T1"].resolved_at is None


def test_incremental_reads_from_last_cursor(tmp_path: Path, sqlite_url: str, run_sources) -> None:
    cfg = TestSqlContract().source_config(tmp_path)
    from tests.conftest import divisions_source

    first = run_sources(sqlite_url, [divisions_source(), cfg])[1]
    assert first.ok and first.loaded == 3
    cur = runlog.get_cursor(open_warehouse(sqlite_url), "topics")
    assert cur["last"]["value"] == "2024-03-10 11:00:00"
    make_db(tmp_path / "src" / "grid_system.db", [
        ("T3", "420606002001", "院落会", "2024-03-05 09:00:00", "2024-03-12 09:00:00", "resolved",
         "2024-03-12 09:00:00"),
        ("T4", "420606002002", "群英议事会", "2024-03-11 09:00:00", None, "raised",
         "2024-03-11 09:00:00"),
    ])
    second = run_sources(sqlite_url, [cfg], ids=["topics"])[0]
    # T3 (the boundary row, read again on purpose), T3's update and T4: only 2 rows are new.
    assert second.ok and second.read == 2
    assert (second.inserted, second.updated) == (1, 1)


def test_query_source_with_cursor(tmp_path: Path, sqlite_url: str, run_sources) -> None:
    (tmp_path / "src").mkdir()
    make_db(tmp_path / "src" / "grid_system.db", ROWS)
    cfg = source(source_table=None)
    cfg.pop("source_table")
    cfg["query"] = "SELECT * FROM yishi WHERE status <> 'raised'"
    from tests.conftest import divisions_source

    r = run_sources(sqlite_url, [divisions_source(), cfg])[1]
    assert r.ok, r.error
    assert r.loaded == 2


def test_an_in_memory_sqlite_query_is_read_in_chunks(tmp_path: Path, sqlite_url: str,
                                                     run_sources) -> None:
    """``sqlite://`` (a query that makes its rows, as a test or a computed source does): its
    chunks are fetched on the read-ahead thread, on a connection the run's thread made."""
    rows = " UNION ALL ".join(
        f"SELECT 'Q{i}' AS topic_id, '420606001001' AS sqbm, '院落会' AS mechanism, "
        f"'2024-03-01 09:00:00' AS raised_at, NULL AS resolved_at, 'raised' AS status, "
        f"'2024-03-{i + 1:02d} 09:00:00' AS updated_at" for i in range(5))
    cfg = {**source(url="sqlite://", query=rows, batch_size=2)}
    cfg.pop("source_table")
    from tests.conftest import divisions_source

    r = run_sources(sqlite_url, [divisions_source(), cfg])[1]
    assert r.ok, r.error
    assert (r.read, r.loaded) == (5, 5)


def test_missing_table_is_a_clear_error(tmp_path: Path, sqlite_url: str, run_sources) -> None:
    (tmp_path / "src").mkdir()
    make_db(tmp_path / "src" / "grid_system.db", ROWS)
    r = run_sources(sqlite_url, [source(source_table="nope")])[0]
    assert not r.ok and "no table 'nope'" in r.error


def test_both_table_and_query_is_a_config_error(tmp_path: Path) -> None:
    from core.errors import ConfigError
    from ingest.registry import load_validated
    from tests.conftest import write_config

    cfg = write_config(tmp_path, "sqlite:///x.db", [source(query="SELECT 1")])
    with pytest.raises(ConfigError) as e:
        load_validated(cfg)
    assert "exactly one of" in str(e.value) and "topics" in str(e.value)


@pytest.mark.postgres
def test_reads_from_a_postgresql_source(tmp_path: Path, sqlite_url: str, pg_schema_url: str,
                                        run_sources) -> None:
    eng = create_engine(pg_schema_url)
    with eng.begin() as c:
        c.execute(text("CREATE TABLE yishi (topic_id TEXT PRIMARY KEY, sqbm TEXT, mechanism TEXT, "
                       "raised_at TIMESTAMP, resolved_at TIMESTAMP, status TEXT, "
                       "updated_at TIMESTAMP)"))
        for r in ROWS:
            c.execute(text("INSERT INTO yishi VALUES (:a,:b,:c,:d,:e,:f,:g)"),
                      dict(zip("abcdefg", r, strict=True)))
    eng.dispose()
    from tests.conftest import divisions_source

    cfg = source(url=pg_schema_url)
    r = run_sources(sqlite_url, [divisions_source(), cfg])[1]
    assert r.ok and r.loaded == 3
    again = run_sources(sqlite_url, [cfg], ids=["topics"])[0]
    assert again.ok and again.read == 1 and again.inserted == 0


# -- the sandbox: never the warehouse, never a write, never a new file ------------------------


def _users_source(url: str) -> dict[str, Any]:
    # the probe's shape: the accounts table read into a table people see
    return {"id": "leak", "plugin": "sql", "table": "consultations", "url": url,
            "source_table": "users", "columns": {"username": "topic_id"},
            "defaults": {"community_code": "420606001001", "mechanism": "x",
                         "status": "raised"}}


@pytest.mark.parametrize("target", ["warehouse.db", "warehouse-app.db", "warehouse.db-wal",
                                    "link-to-app.db", "hardlink-to-app.db"])
def test_the_warehouse_and_its_accounts_file_are_refused(tmp_path: Path, sqlite_url: str,
                                                         run_sources, target: str) -> None:
    from tests.conftest import divisions_source
    from warehouse import accounts

    eng = open_warehouse(sqlite_url)
    accounts.add_user(eng, "boss", "district-leader-2024", "leader", "420606000000")
    with accounts.app_engine(eng).connect() as c:
        stored_hash = c.execute(text("SELECT password_hash FROM users")).scalar_one()
    eng.dispose()
    (tmp_path / "link-to-app.db").symlink_to(tmp_path / "warehouse-app.db")
    os.link(tmp_path / "warehouse-app.db", tmp_path / "hardlink-to-app.db")
    results = run_sources(sqlite_url, [divisions_source(),
                                       _users_source(f"sqlite:///{tmp_path / target}")])
    leak = results[1]
    assert not leak.ok
    assert "warehouse's own files" in (leak.error or "") and target in (leak.error or "")
    for f in tmp_path.glob("warehouse.db*"):
        data = f.read_bytes()
        assert stored_hash.encode() not in data and b"argon2id" not in data, f.name


def test_a_missing_sqlite_file_is_an_error_and_is_not_created(tmp_path: Path, sqlite_url: str,
                                                              run_sources) -> None:
    from tests.conftest import divisions_source

    missing = tmp_path / "src" / "nothing_here.db"
    missing.parent.mkdir()
    r = run_sources(sqlite_url, [divisions_source(), source(url=f"sqlite:///{missing}")])[1]
    assert not r.ok and f"no SQLite database at {missing}" in (r.error or "")
    assert not missing.exists() and list(missing.parent.iterdir()) == []


def test_sqlite_sources_are_opened_read_only(tmp_path: Path, sqlite_url: str,
                                             run_sources) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from ingest.plugins.sql import read_only_sqlite
    from tests.conftest import divisions_source

    src = tmp_path / "src"
    src.mkdir()
    make_db(src / "grid_system.db", ROWS)
    before = (src / "grid_system.db").read_bytes()
    r = run_sources(sqlite_url, [divisions_source(), source()])[1]
    assert r.ok and r.loaded == 3
    assert [p.name for p in src.iterdir()] == ["grid_system.db"]  # no journal, no new file
    assert (src / "grid_system.db").read_bytes() == before
    path = src / "grid_system.db"
    eng = read_only_sqlite(path, make_url(f"sqlite:///{path}"), "test")
    with eng.connect() as c:
        assert c.execute(text("SELECT count(*) FROM yishi")).scalar_one() == 3
        with pytest.raises(OperationalError, match="readonly"):
            c.execute(text("DELETE FROM yishi"))
        with pytest.raises(OperationalError, match="too many attached"):
            c.execute(text(f"ATTACH DATABASE '{tmp_path / 'warehouse-app.db'}' AS w"))
    eng.dispose()
    assert (src / "grid_system.db").read_bytes() == before


@pytest.mark.postgres
def test_the_postgresql_warehouse_database_is_refused(pg_schema_url: str, run_sources) -> None:
    from tests.conftest import divisions_source

    r = run_sources(pg_schema_url, [divisions_source(), _users_source(pg_schema_url)])[1]
    assert not r.ok and "is the warehouse's own" in (r.error or "")
