"""Backups of a PostgreSQL warehouse, restored (docs/deploy.md, "Backups"): the restored
warehouse answers ``gongzhi kpi`` exactly as the original did.

* ``pg_dump`` of the warehouse's schema (custom format) restored with ``pg_restore`` into
  another database: what a nightly logical backup gives back.
* A base backup plus the WAL archived after it (``pg_receivewal``, which needs no
  ``archive_mode`` and so no restart of the shared test server): a run that loaded after the
  base backup is in the restored warehouse, recovered from the WAL alone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.cluster import cluster
from tests.conftest import PG_ADMIN_URL
from tests.dashboard.conftest import PERIOD, merged_case
from tests.metrics.harness import materialize

pytestmark = [pytest.mark.postgres, pytest.mark.serial]  # base backups of the whole server

GONGZHI = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "gongzhi"


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[tuple[Path, str, str]]:
    """The case warehouse in a private schema of the test server: (config, url, schema)."""
    admin = cluster.admin()
    try:
        with admin.connect() as c:
            c.execute(text("SELECT 1"))
    except Exception as e:
        cluster.need("PostgreSQL at 127.0.0.1:5432 is unreachable", str(e).splitlines()[0])
    schema = f"b_{uuid.uuid4().hex[:12]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"
    try:
        materialize(merged_case(), tmp_path, url).engine.dispose()
        yield tmp_path / "gongzhi.toml", url, schema
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def kpis(config: Path, url: str) -> list[dict[str, object]]:
    """``gongzhi kpi --format json`` for the test month, by street, against ``url``."""
    env = {**os.environ, "GONGZHI_WAREHOUSE_URL": url}
    out = subprocess.run([str(GONGZHI), "--config", str(config), "kpi", "--period", PERIOD,
                          "--by", "street", "--format", "json"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert rows, "no figures at all"
    return sorted(rows, key=lambda r: (str(r["kpi"]), str(r.get("key"))))


def add_case(config: Path, case_id: str) -> None:
    """One more online case loaded by the real runner (a run after the backup)."""
    cases = config.parent / "data" / "service_cases.csv"
    header = cases.read_text(encoding="utf-8").splitlines()[0].split(",")
    row = {"case_id": case_id, "item_code": "I1", "community_code": "420606001001",
           "channel": "online", "submitted_at": "2024-05-22 10:00", "status": "accepted",
           "visits": "0"}
    with cases.open("a", encoding="utf-8") as f:
        f.write(",".join(row.get(h, "") for h in header) + "\n")
    done = subprocess.run([str(GONGZHI), "--config", str(config), "ingest", "t_service_cases",
                           "--quiet"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_pg_dump_of_the_warehouse_restores_to_the_same_figures(
        warehouse: tuple[Path, str, str], tmp_path: Path) -> None:
    config, url, schema = warehouse
    before = kpis(config, url)
    dump = tmp_path / "gongzhi.dump"
    base = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    done = subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
                           "--schema", schema, "--file", str(dump), base],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    db = f"gz_restore_{uuid.uuid4().hex[:8]}"
    admin = cluster.admin()
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{db}"'))
    try:
        target = base.rsplit("/", 1)[0] + f"/{db}"
        done = subprocess.run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
                               "--dbname", target, str(dump)], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        restored = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{db}?options=-csearch_path%3D{schema}"
        assert kpis(config, restored) == before
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


def test_base_backup_and_archived_wal_restore_a_run_made_after_the_backup(
        warehouse: tuple[Path, str, str]) -> None:
    config, url, schema = warehouse
    before = kpis(config, url)
    archive = cluster.postgres_folder("gz-wal-")
    primary = cluster.admin()
    bindir = cluster.pg_bin(primary)
    cluster.allow_replication(primary)
    receiver = subprocess.Popen(cluster.as_postgres([
        str(bindir / "pg_receivewal"), "-h", "127.0.0.1", "-p", "5432", "-U", "postgres",
        "-D", str(archive), "--no-loop"]), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(1)  # it streams from the current segment on
        assert receiver.poll() is None, receiver.stderr.read() if receiver.stderr else ""
        restore = f"restore_command = 'cp {archive}/%f %p'\n"
        with cluster.from_base_backup(["-X", "none"], conf=restore) as node:
            add_case(config, "S-after-backup")  # a run after the base backup
            after = kpis(config, url)
            assert after != before
            _archive_up_to_now(primary, archive)
            cluster.write_as_postgres(node.data / "recovery.signal", "")
            node.start()
            restored = node.engine()
            _wait_promoted(restored)
            restored.dispose()
            assert kpis(config, node.url(f"?options=-csearch_path%3D{schema}")) == after
    finally:
        receiver.send_signal(signal.SIGTERM)
        receiver.wait(10)
        primary.dispose()
        subprocess.run(["rm", "-rf", str(archive)])


def _archive_up_to_now(primary: Engine, archive: Path, timeout: float = 60.0) -> None:
    """Close the current WAL segment and wait until the archive holds it whole."""
    with primary.connect() as c:
        name = c.execute(text("SELECT pg_walfile_name(pg_current_wal_lsn())")).scalar_one()
        c.execute(text("SELECT pg_switch_wal()"))
    deadline = time.monotonic() + timeout
    while not (archive / name).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} did not reach the WAL archive in {timeout} s")
        time.sleep(0.2)


def _wait_promoted(engine: Engine, timeout: float = 120.0) -> None:
    """Wait until the restored server has replayed the archive and opened for writes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with engine.connect() as c:
                if not c.execute(text("SELECT pg_is_in_recovery()")).scalar_one():
                    return
        except Exception:  # still starting
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the restored server was still recovering after {timeout} s")
        time.sleep(0.3)

