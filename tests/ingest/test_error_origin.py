"""Errors name the system that failed: a source that refuses connections is the source's error,
with its URL, never "the warehouse server was lost"; storage faults are told apart by exception
type and driver code, not by words in a message."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from tests.conftest import divisions_source, write_config
from warehouse.engine import FULL, LOST, explain

GONGZHI = str(Path(sys.executable).with_name("gongzhi"))


def refused_port() -> int:
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_rest_api_refusing_connections_is_named_with_its_url(warehouse_url: str,
                                                               run_sources) -> None:
    url = f"http://127.0.0.1:{refused_port()}/api/cases"
    api = {"id": "api", "plugin": "rest", "table": "service_cases", "url": url,
           "max_retries": 0, "allow_private": True}  # the refusing port is on 127.0.0.1
    divs, r = run_sources(warehouse_url, [divisions_source(), api])
    assert divs.ok and r.status == "failed"
    assert url in r.error and "ConnectError" in r.error, r.error
    assert "warehouse" not in r.error.lower(), r.error


def test_a_source_database_refusing_connections_is_named_not_the_warehouse(
        sqlite_url: str, run_sources) -> None:
    src = {"id": "legacy", "plugin": "sql", "table": "certificates",
           "url": f"postgresql+psycopg://reader@127.0.0.1:{refused_port()}/legacy",
           "source_table": "certs"}
    [r] = run_sources(sqlite_url, [src])
    assert r.status == "failed"
    assert f"127.0.0.1:{src['url'].rsplit(':', 1)[1].split('/')[0]}/legacy" in r.error, r.error
    assert "source database error" in r.error and "warehouse" not in r.error.lower(), r.error


def test_the_cli_names_the_failing_api(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{refused_port()}/v1/requests"
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'w.db'}", [
        {"id": "hotline", "plugin": "rest", "table": "service_cases", "url": url,
         "max_retries": 0, "allow_private": True}])
    out = subprocess.run([GONGZHI, "--config", str(cfg), "ingest", "--quiet"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert "source hotline failed" in out.stderr and url in out.stderr, out.stderr
    assert "warehouse" not in out.stderr.lower(), out.stderr


def test_storage_faults_are_classified_by_type_and_code_not_by_words(tmp_path: Path) -> None:
    # words alone mean nothing: these are not the warehouse's faults
    for words in ("database or disk is full", "connection refused",
                  "server closed the connection unexpectedly", "attempt to write a readonly"):
        assert explain(ValueError(words)) is None
        assert explain(RuntimeError(words)) is None
    # a real SQLITE_FULL, raised by SQLite itself, is a full disk whatever its wording
    eng = create_engine(f"sqlite:///{tmp_path / 'small.db'}")
    with eng.connect() as c:
        c.execute(text("CREATE TABLE t (x TEXT)"))
        c.commit()
        c.exec_driver_sql("PRAGMA max_page_count = 3")
        with pytest.raises(OperationalError) as e:
            c.execute(text("INSERT INTO t SELECT hex(randomblob(5000)) "
                           "FROM (SELECT 1 UNION ALL SELECT 2)"))
    eng.dispose()
    assert isinstance(e.value.orig, sqlite3.OperationalError)
    assert e.value.orig.sqlite_errorcode == sqlite3.SQLITE_FULL
    assert explain(e.value) == FULL


@pytest.mark.postgres
def test_an_unreachable_postgresql_warehouse_is_said_to_be_the_warehouse() -> None:
    from tests.conftest import need_pg

    need_pg()
    eng = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{refused_port()}/test")
    with pytest.raises(OperationalError) as e:
        eng.connect()
    assert explain(e.value) == LOST
