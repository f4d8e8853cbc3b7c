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
