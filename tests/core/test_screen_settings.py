"""``[screen]`` (the 首屏 big screen): defaults, values read, every bad value reported at once
with the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.screen_settings import ScreenSettings
from core.settings import load_settings


def test_defaults_and_values(tmp_path: Path) -> None:
    cfg = tmp_path / "gongzhi.toml"
    cfg.write_text('[warehouse]\nurl = "sqlite:///w.db"\n', encoding="utf-8")
    assert load_settings(cfg).screen == ScreenSettings(rotate_seconds=30.0, domains=(),
                                                       cards_per_domain=8, ticker_items=12)
    cfg.write_text('[screen]\nrotate_seconds = 12.5\ndomains = ["grid", "gov"]\n'
                   'cards_per_domain = 6\nticker_items = 0\ntitle = " 指挥中心 "\n',
                   encoding="utf-8")
    assert load_settings(cfg).screen == ScreenSettings(12.5, ("grid", "gov"), 6, 0, "指挥中心")


def test_every_bad_value_is_reported_at_once(tmp_path: Path) -> None:
    cfg = tmp_path / "gongzhi.toml"
    cfg.write_text('[warehouse]\nurl = "sqlite:///w.db"\n\n[screen]\nrotate_seconds = 1\n'
                   'domains = ["gov", "gov"]\ncards_per_domain = 13\nticker_items = true\n'
                   'title = 5\nspeed = "fast"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_settings(cfg)
    msg = str(e.value)
    assert len(e.value.problems) == 6, msg
    assert all(p.place == f"{cfg}:4" for p in e.value.problems), msg
    assert "'rotate_seconds' must be a number of seconds from 2 to 3600, not 1" in msg
    assert "'domains' names a domain twice" in msg
    assert "'cards_per_domain' must be a whole number from 1 to 12, not 13" in msg
    assert "'ticker_items' must be a whole number from 0 to 50, not True" in msg
    assert "'title' must be text" in msg
    assert "unknown [screen] key 'speed'" in msg
