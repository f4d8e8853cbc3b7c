"""``[bulletin]`` in gongzhi.toml: who issues the monthly 通报, its title and 文号, where it is
archived, when it is generated, and the fonts an office has.

A typed section of :mod:`core.settings` (registered in its ``SECTIONS``): its problems join
the one report of the whole config, each with the section's line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.cron import schedule_problems
from core.errors import Problem
from core.timezone import LOCAL_TZ

FORMATS = ("docx", "pdf")
# Linux has no 仿宋 / 小标宋 / 黑体 / 楷体: the Noto CJK families stand in (fonts-noto-cjk);
# an office names the fonts it has (e.g. 方正小标宋简体, 仿宋_GB2312) here.
DEFAULT_FONTS = {"title": "Noto Serif CJK SC", "body": "Noto Serif CJK SC",
                 "heading": "Noto Sans CJK SC", "kai": "Noto Serif CJK SC"}


@dataclass
class BulletinSettings:
    """The bulletin's fixed parts and its schedule."""

    office: str = "樊城区基层治理工作领导小组办公室"
    number: str = "樊治办〔{year}〕　号"  # 文号: the office fills the number in
    title: str = "关于{year}年{month}月基层治理重点指标情况的通报"
    recipients: list[str] = field(default_factory=lambda: ["各街道（镇）、开发区",
                                                            "区直有关部门"])
    archive: Path = Path("bulletins")
    schedule: str | None = None  # cron (the scheduler's zone): generate last month's bulletin
    formats: tuple[str, ...] = FORMATS
    streets: bool = True  # on the schedule, each street's own version too
    scheme: str | None = None
    requirements: str = ("（此处由区委办填写下步工作要求：针对红色指标明确责任单位、"
                         "整改措施和完成时限。）")
    fonts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FONTS))
    font_paths: list[Path] = field(default_factory=lambda: [Path("/usr/share/fonts")])


def parse_bulletin(raw: Any, base_dir: Path, place: str, problems: list[Problem], *,
                   check_schedule: bool = False) -> BulletinSettings:
    """``[bulletin]`` (``raw``: the section's table or None); problems are appended to
    ``problems``. ``check_schedule`` runs the full cron checks, as for sources."""
    s = BulletinSettings(archive=base_dir / "bulletins")
    if raw is None:
        return s
    if not isinstance(raw, dict):
        problems.append(Problem(place, "'bulletin' must be a table ([bulletin])"))
        return s
    text_keys = ("office", "number", "title", "requirements", "scheme")
    for key, value in raw.items():
        if key in text_keys:
            if not isinstance(value, str) or not value.strip():
                problems.append(Problem(place, f"'{key}' must be a non-empty text"))
            else:
                setattr(s, key, value)
        elif key == "recipients":
            if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                problems.append(Problem(place, "'recipients' must be a list of texts (主送)"))
            else:
                s.recipients = value
        elif key == "archive":
            if not isinstance(value, str):
                problems.append(Problem(place, "'archive' must be a folder path"))
            else:
                p = Path(value).expanduser()
                s.archive = p if p.is_absolute() else base_dir / p
        elif key == "schedule":
            if not isinstance(value, str) or len(value.split()) != 5:
                problems.append(Problem(place, "'schedule' must be a 5-field cron text, e.g. "
                                               "\"0 8 1 * *\" (08:00 on the 1st)"))
            elif check_schedule and (bad := schedule_problems(value, LOCAL_TZ)):
                problems.extend(Problem(f"{place} schedule", p) for p in bad)
            else:
                s.schedule = value
        elif key == "formats":
            if not isinstance(value, list) or not value or any(v not in FORMATS for v in value):
                problems.append(Problem(place, f"'formats' must list some of {FORMATS}"))
            else:
                s.formats = tuple(value)
        elif key == "streets":
            if not isinstance(value, bool):
                problems.append(Problem(place, "'streets' must be true or false"))
            else:
                s.streets = value
        elif key == "fonts":
            if not isinstance(value, dict) or set(value) - set(DEFAULT_FONTS) or not all(
                    isinstance(v, str) for v in value.values()):
                problems.append(Problem(place, "'fonts' takes title, body, heading, kai "
                                               "(font family names)"))
            else:
                s.fonts.update(value)
        elif key == "font_paths":
            if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                problems.append(Problem(place, "'font_paths' must be a list of folders"))
            else:
                s.font_paths = [Path(x) if Path(x).is_absolute() else base_dir / x
                                for x in value]
        else:
            problems.append(Problem(place, f"unknown [bulletin] key '{key}'"))
    if "{year}" not in s.title and "{month}" not in s.title and "{period}" not in s.title:
        problems.append(Problem(place, "'title' should name the period: use {year} and "
                                       "{month} (or {period})"))
    return s
