"""[auth] and [dashboard] are typed and checked with the rest; [users] and [roles], which
nothing reads, are refused with a word on where those things live."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import AuthSettings, DashboardSettings, load_settings

HEAD = '[warehouse]\nurl = "sqlite:///w.db"\n'


def _load(tmp_path: Path, text: str):  # -> Settings
    cfg = tmp_path / "gongzhi.toml"
    cfg.write_text(HEAD + text, encoding="utf-8")
    return load_settings(cfg)


def test_defaults_without_the_sections(tmp_path: Path) -> None:
    s = _load(tmp_path, "")
    assert s.auth == AuthSettings() and s.dashboard == DashboardSettings()
    assert (s.auth.session_minutes, s.auth.session_max_hours, s.auth.oidc) == (30, 12, False)
    assert s.dashboard.sign_in == "required" and not s.dashboard.open


def test_auth_and_dashboard_values_are_typed(tmp_path: Path) -> None:
    s = _load(tmp_path, '[dashboard]\nsign_in = "open"\n[auth]\nsession_minutes = 15\n'
                        'session_max_hours = 2.5\nserver_metadata_url = "https://idp/.well-known"\n'
                        'client_id = "gz"\nredirect_uri = "https://gz/oauth2callback"\n'
                        'client_secret_env = "GZ_SECRET"\ncookie_secret_env = "GZ_COOKIE"\n')
    assert s.dashboard.open
    assert s.auth.session_minutes == 15.0 and s.auth.session_max_hours == 2.5
    assert s.auth.oidc and s.auth.client_id == "gz" and s.auth.cookie_secret_env == "GZ_COOKIE"


def test_every_problem_of_every_section_is_reported_at_once_with_its_line(
        tmp_path: Path) -> None:
    text = ('[users]\nadmin = "x"\n'                      # lines 3-4
            '[roles]\nleader = "district"\n'               # lines 5-6
            '[dashboard]\nsign_in = "closed"\ntheme = "dark"\n'  # lines 7-9
            '[auth]\nsession_minutes = -5\nsession_max_hours = "12"\n'  # lines 10-12
            'server_metadata_url = "https://idp/.well-known"\nclient_idd = "x"\n')
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, text)
    problems = {p.message: p.place for p in e.value.problems}
    cfg = str(tmp_path / "gongzhi.toml")
    expected = {
        "[users] is not read": 3, "[roles] is not read": 5,
        "'sign_in' must be \"required\"": 7, "unknown [dashboard] key 'theme'": 7,
        "'session_minutes' must be a number (0 or more), not -5": 10,
        "'session_max_hours' must be a number (0 or more), not '12'": 10,
        "unknown [auth] key 'client_idd'": 10,
        "an OIDC provider (server_metadata_url) also needs client_id, redirect_uri, "
        "client_secret_env, cookie_secret_env": 10,
    }
    for start, line in expected.items():
        place = next((pl for msg, pl in problems.items() if msg.startswith(start)), None)
        assert place == f"{cfg}:{line}", (start, problems)
    assert len(problems) == len(expected), problems
    assert "gongzhi users add" in next(m for m in problems if m.startswith("[users]"))
    assert "(8 problem(s))" in str(e.value)
