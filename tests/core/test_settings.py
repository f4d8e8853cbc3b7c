"""Config loading: every problem at once, with its place; paths relative to the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import load_settings
from ingest.registry import load_validated

BAD = """\
[warehouse]
url = "sqlite:///var/w.db"

[[sources]]
id = "gov_cases"
plugin = "files"
table = "service_casez"
path = "inbox/*.csv"
schedule = "every night"

[[sources]]
id = "Bad Id"
plugin = "nosuchplugin"

[[sources]]
id = "gov_cases"
plugin = "files"
table = "service_cases"
pathh = "x"
[sources.columns]
"办件编号" = "case_no"
"""


def test_every_problem_is_reported_at_once_with_its_place(tmp_path: Path) -> None:
    cfg = tmp_path / "gongzhi.toml"
    cfg.write_text(BAD, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_validated(cfg)
    msg = str(e.value)
    problems = e.value.problems
    assert len(problems) >= 7, msg
    assert f"{cfg}:4 sources[0] (id=gov_cases)" in msg  # file, line and source
    assert "service_casez" in msg and "every night" in msg
    assert "'id' is required" in msg and "unknown plugin 'nosuchplugin'" in msg
    assert "duplicate source id 'gov_cases'" in msg
    assert "pathh" in msg and "unknown setting" in msg
    assert "'case_no' is not a column of service_cases" in msg
    assert "path" in msg and "Field required" in msg  # the files plugin needs `path`


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GONGZHI_WAREHOUSE_URL", raising=False)
    sub = tmp_path / "conf"
    sub.mkdir()
    (sub / "gongzhi.toml").write_text(
        '[warehouse]\nurl = "sqlite:///data/w.db"\n[[sources]]\nid = "a"\nplugin = "files"\n'
        'table = "certificates"\npath = "inbox/*.csv"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    s = load_validated(sub / "gongzhi.toml")
    assert s.warehouse_url == f"sqlite:///{sub.resolve() / 'data' / 'w.db'}"
    assert s.sources[0].resolve("inbox/x.csv") == sub.resolve() / "inbox" / "x.csv"


def test_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "other.toml"
    cfg.write_text('[warehouse]\nurl = "sqlite:///a.db"\n', encoding="utf-8")
    monkeypatch.setenv("GONGZHI_CONFIG", str(cfg))
    monkeypatch.setenv("GONGZHI_WAREHOUSE_URL", "postgresql+psycopg://u@h/db")
    s = load_settings()
    assert s.path == cfg and s.warehouse_url == "postgresql+psycopg://u@h/db"


def test_missing_and_malformed_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[warehouse\nurl=", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)


def test_calendar_lead_time_is_read_and_checked(tmp_path: Path) -> None:
    cfg = tmp_path / "gongzhi.toml"
    cfg.write_text('[warehouse]\nurl = "sqlite:///w.db"\n', encoding="utf-8")
    assert load_settings(cfg).calendar.warn_days_ahead == 31  # from 1 December
    cfg.write_text('[calendar]\nwarn_days_ahead = 60\n', encoding="utf-8")
    assert load_settings(cfg).calendar.warn_days_ahead == 60
    cfg.write_text('[calendar]\nwarn_days_ahead = "december"\nwarn_from = 3\n',
                   encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_settings(cfg)
    assert "'warn_days_ahead' must be a whole number of days" in str(e.value)
    assert "unknown calendar key 'warn_from'" in str(e.value)
    assert f"{cfg}:1" in str(e.value)


def test_ingest_chunk_size_is_read_and_checked(tmp_path: Path) -> None:
    cfg = tmp_path / "gongzhi.toml"
    cfg.write_text('[warehouse]\nurl = "sqlite:///w.db"\n', encoding="utf-8")
    assert load_settings(cfg).ingest.chunk_rows == 250_000
    cfg.write_text('[ingest]\nchunk_rows = 50000\n', encoding="utf-8")
    assert load_settings(cfg).ingest.chunk_rows == 50_000
    cfg.write_text('\n[ingest]\nchunk_rows = 10\nchunk = 3\n', encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_settings(cfg)
    assert "'chunk_rows' must be a whole number of rows, at least 1000, not 10" in str(e.value)
    assert "unknown ingest key 'chunk'" in str(e.value)
    assert f"{cfg}:2" in str(e.value)


def test_key_memory_is_read_and_checked(tmp_path: Path) -> None:
    cfg = tmp_path / "gongzhi.toml"
    cfg.write_text('[warehouse]\nurl = "sqlite:///w.db"\n', encoding="utf-8")
    assert load_settings(cfg).ingest.key_memory_mb == 320
    for good in (0, 2048):
        cfg.write_text(f'[ingest]\nkey_memory_mb = {good}\n', encoding="utf-8")
        assert load_settings(cfg).ingest.key_memory_mb == good
    for bad in ("-1", "1.5", '"big"', "true", "65537"):
        cfg.write_text(f'\n[ingest]\nkey_memory_mb = {bad}\n', encoding="utf-8")
        with pytest.raises(ConfigError) as e:
            load_settings(cfg)
        assert "'key_memory_mb' must be a whole number of MB from 0 to 65536" in str(e.value)
        assert f"{cfg}:2" in str(e.value)


def test_scheduler_retries_are_read_and_checked(tmp_path: Path) -> None:
    cfg = tmp_path / "gongzhi.toml"
    cfg.write_text('[warehouse]\nurl = "sqlite:///w.db"\n', encoding="utf-8")
    assert (load_settings(cfg).scheduler.retries, load_settings(cfg).scheduler.retry_seconds
            ) == (3, 60.0)
    cfg.write_text('[scheduler]\nretries = 0\nretry_seconds = 5\n', encoding="utf-8")
    assert (load_settings(cfg).scheduler.retries, load_settings(cfg).scheduler.retry_seconds
            ) == (0, 5.0)
    cfg.write_text('\n\n[scheduler]\nretries = 2.5\nretry_seconds = -1\n', encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_settings(cfg)
    assert "'retries' must be a whole number of tries (0 or more), not 2.5" in str(e.value)
    assert "'retry_seconds' must be a number of seconds above 0, not -1" in str(e.value)
    assert f"{cfg}:3" in str(e.value)


def test_read_url_names_a_postgresql_standby_of_a_postgresql_warehouse(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GONGZHI_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("GONGZHI_WAREHOUSE_READ_URL", raising=False)
    cfg = tmp_path / "g.toml"
    primary = "postgresql+psycopg://gz@db1/gongzhi"
    standby = "postgresql+psycopg://gz@db2:5433/gongzhi"
    cfg.write_text(f'[warehouse]\nurl = "{primary}"\nread_url = "{standby}"\n', encoding="utf-8")
    s = load_settings(cfg)
    assert (s.warehouse_url, s.warehouse_read_url) == (primary, standby)
    monkeypatch.setenv("GONGZHI_WAREHOUSE_READ_URL", "postgresql+psycopg://gz@db3/gongzhi")
    assert load_settings(cfg).warehouse_read_url == "postgresql+psycopg://gz@db3/gongzhi"
    monkeypatch.delenv("GONGZHI_WAREHOUSE_READ_URL")
    cfg.write_text(f'[warehouse]\nurl = "{primary}"\n', encoding="utf-8")
    assert load_settings(cfg).warehouse_read_url is None
    # SQLite has no standby: refused with its place, beside the other problems
    cfg.write_text('[warehouse]\nurl = "sqlite:///w.db"\nread_url = "sqlite:///r.db"\n'
                   '[bogus]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(cfg)
    msg = str(err.value)
    assert f"{cfg}:1" in msg and "read_url" in msg and "PostgreSQL" in msg
    assert "unknown section 'bogus'" in msg


def test_query_threads_is_a_small_whole_number_and_reaches_the_cli_and_dashboard_metrics(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GONGZHI_WAREHOUSE_URL", raising=False)
    cfg = tmp_path / "g.toml"
    cfg.write_text('[warehouse]\nurl = "sqlite:///w.db"\nquery_threads = 3\n', encoding="utf-8")
    assert load_settings(cfg).warehouse_query_threads == 3
    from gongzhi.cli import Context

    assert Context(str(cfg)).metrics().threads == 3
    cfg.write_text('[warehouse]\nurl = "sqlite:///w.db"\n', encoding="utf-8")
    assert load_settings(cfg).warehouse_query_threads is None
    assert Context(str(cfg)).metrics().threads == 1  # SQLite's default
    for bad in ("0", "17", "2.5", '"2"', "true"):
        cfg.write_text(f'[warehouse]\nurl = "sqlite:///w.db"\nquery_threads = {bad}\n'
                       "[bogus]\n", encoding="utf-8")
        with pytest.raises(ConfigError) as err:
            load_settings(cfg)
        msg = str(err.value)
        assert f"{cfg}:1" in msg and "'query_threads' must be a whole number from 1 to 16" in msg
        assert "unknown section 'bogus'" in msg
