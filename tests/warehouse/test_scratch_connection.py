"""``copy_pipe.scratch_connection``: what a run writes before its transaction commits without
waiting for the disk, and the setting never outlives the connection's use."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from warehouse.copy_pipe import scratch_connection


@pytest.mark.postgres
def test_scratch_commits_are_asynchronous_and_the_pool_gets_its_setting_back(
        pg_schema_url: str) -> None:
    engine = create_engine(pg_schema_url, pool_size=1, max_overflow=0)
    try:
        with engine.connect() as c:
            default = c.execute(text("SHOW synchronous_commit")).scalar_one()
        assert default != "off"  # the server's own: what every other use must keep
        with scratch_connection(engine) as c:
            pid = c.execute(text("SELECT pg_backend_pid()")).scalar_one()
            assert c.execute(text("SHOW synchronous_commit")).scalar_one() == "off"
            c.execute(text("CREATE TABLE t_scratch (a int)"))  # autocommitted
        with engine.connect() as c:  # the same server process (a pool of one)
            assert c.execute(text("SELECT pg_backend_pid()")).scalar_one() == pid
            assert c.execute(text("SHOW synchronous_commit")).scalar_one() == default
            assert c.execute(text("SELECT count(*) FROM t_scratch")).scalar_one() == 0
        # an error inside leaves the setting reset too
        with pytest.raises(Exception, match="no_such_table"), \
                scratch_connection(engine) as c:
            c.execute(text("SELECT * FROM no_such_table"))
        with engine.connect() as c:
            assert c.execute(text("SHOW synchronous_commit")).scalar_one() == default
    finally:
        engine.dispose()


def test_sqlite_scratch_connection_autocommits(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        with scratch_connection(engine) as c:
            c.execute(text("CREATE TABLE t (a int)"))
            c.execute(text("INSERT INTO t VALUES (1)"))
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
    finally:
        engine.dispose()
