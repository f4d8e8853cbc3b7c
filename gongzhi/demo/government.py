"""Government services: the 920-item catalogue (one XLSX, as the approval office exports it)
and the 97 certificates of the 无证明城市 reform, 13 of them retained."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from gongzhi.demo.catalogue import (
    ACTIONS,
    CERTIFICATES,
    DEPARTMENTS,
    RETAINED,
    certificate_names,
    item_names,
)
from gongzhi.demo.common import DemoContext, SourceEntry, ts_text, write_csv

ONLINE_CAPABLE = 832  # seed: 920 items, 可网办 90 % and more
HIGH_FREQUENCY = 100  # seed: 100个高频事项网上办、就近办、自助办
STATION_AVAILABLE = 92  # seed: 92项高频服务事项下沉红色驿站
LEGAL_DAYS = {"L": 20, "R": 15, "B": 20, "C": 15}
ITEM_HEADERS = ("事项编码", "事项名称", "实施部门", "是否可网办", "是否驿站可办", "是否高频事项",
                "是否即办件", "法定办结时限（工作日）", "承诺办结时限（工作日）")
ITEM_COLUMNS = dict(zip(ITEM_HEADERS, (
    "item_code", "item_name", "department", "online_capable", "station_available",
    "high_frequency", "instant", "legal_days", "promised_days"), strict=True))


@dataclass
class Catalogue:
    """The items, aligned by position, as the case generator needs them."""

    codes: np.ndarray
    names: np.ndarray
    online: np.ndarray
    station: np.ndarray
    high_frequency: np.ndarray
    instant: np.ndarray
    citizen: np.ndarray
    promised: np.ndarray


def build_items(ctx: DemoContext) -> tuple[Catalogue, SourceEntry]:
    """Generate the catalogue and write it as one XLSX with a merged title row."""
    rng = ctx.rng("service_items")
    rows = item_names()
    n = len(rows)
    kinds = {(abbr, i): kind for abbr, _, _, _, subjects in DEPARTMENTS
             for i, (_, kind) in enumerate(subjects)}
    seq: dict[str, int] = {}
    codes = []
    for abbr, *_ in rows:
        seq[abbr] = seq.get(abbr, 0) + 1
        codes.append(f"FC{abbr}{seq[abbr]:04d}")
    kind = np.array([kinds[(r[0], r[3])] for r in rows])
    action = np.array([r[5] for r in rows])
    citizen = np.array([r[4] for r in rows])
    first_action = np.array([a == ACTIONS[k][0] for a, k in zip(action, kind, strict=True)])

    # High-frequency items: what residents come for most, i.e. a person's first action
    # (申领, 申请, 核发 …) at a citizen-facing department; all are online-capable.
    hf_weight = np.where(citizen & first_action, 8.0, np.where(citizen, 1.0, 0.25))
    hf_weight[np.char.find(action.astype(str), "注销") >= 0] = 0.01
    hf = np.zeros(n, dtype=bool)
    hf[rng.choice(n, HIGH_FREQUENCY, replace=False, p=hf_weight / hf_weight.sum())] = True
    station = np.zeros(n, dtype=bool)
    station[rng.choice(np.flatnonzero(hf), STATION_AVAILABLE, replace=False)] = True
    # The items that still need a visit: licences for businesses and sites, cancellations.
    off_weight = np.where(hf, 0.0, np.where(np.isin(kind, ["L", "R"]), 3.0, 1.0))
    online = np.ones(n, dtype=bool)
    online[rng.choice(n, n - ONLINE_CAPABLE, replace=False,
                      p=off_weight / off_weight.sum())] = False
    instant = (rng.random(n) < np.where(np.isin(kind, ["S", "C"]), 0.35, 0.15)) | np.char.endswith(
        action.astype(str), "查询")
    legal = np.array([LEGAL_DAYS.get(k, 0) for k in kind])
    legal = np.where(legal == 0, rng.choice([5, 10, 15, 20], n), legal)
    promised = np.maximum(1, np.round(legal * rng.uniform(0.15, 0.6, n))).astype(np.int64)
    promised = np.where(instant, 0, np.minimum(promised, legal))

    cat = Catalogue(np.array(codes), np.array([r[2] for r in rows]), online, station, hf,
                    instant, citizen, promised)
    path = ctx.sources / "gov" / "service_items.xlsx"
    _write_items_xlsx(ctx, path, cat, [r[1] for r in rows], legal)
    ctx.log(f"service_items: {n} items, {int(online.sum())} online-capable "
            f"({online.mean():.1%}), {int(hf.sum())} high-frequency, {int(station.sum())} at "
            f"stations, {int(instant.sum())} instant → {ctx.rel(path)}")
    entry = SourceEntry("gov_items", "files", "service_items",
                        {"path": ctx.rel(path), "sheet": "事项目录"}, columns=dict(ITEM_COLUMNS),
                        comment="政务服务事项目录: one XLSX with a merged title row")
    return cat, entry


def _write_items_xlsx(ctx: DemoContext, path: Path, cat: Catalogue, depts: list[str],
                      legal: np.ndarray) -> None:
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    wb = xlsxwriter.Workbook(str(path))
    # A fixed creation time: the same seed and end date give the same bytes.
    wb.set_properties({"title": "樊城区政务服务事项目录", "author": "樊城区行政审批局",
                       "created": dt.datetime.combine(ctx.end, dt.time(8, 0))})
    ws = wb.add_worksheet("事项目录")
    title = wb.add_format({"bold": True, "font_size": 16, "align": "center"})
    head = wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True})
    last_col = len(ITEM_HEADERS) - 1
    ws.merge_range(0, 0, 0, last_col, f"樊城区政务服务事项目录（{ctx.end.year}年版）", title)
    ws.merge_range(1, 0, 1, last_col,
                   f"编制单位：樊城区行政审批局　更新日期：{ctx.end.isoformat()}")
    ws.write_row(2, 0, ITEM_HEADERS, head)
    ws.set_column(0, 0, 14)
    ws.set_column(1, 1, 40)
    ws.set_column(2, 2, 24)
    ws.set_column(3, last_col, 12)

    def yn(flag: bool) -> str:
        return "是" if flag else "否"

    for i in range(len(cat.codes)):
        ws.write_row(3 + i, 0, [
            str(cat.codes[i]), str(cat.names[i]), depts[i], yn(cat.online[i]),
            yn(cat.station[i]), yn(cat.high_frequency[i]), yn(cat.instant[i]),
            int(legal[i]), int(cat.promised[i]),
        ])
    ws.freeze_panes(3, 0)
    wb.close()


def build_certificates(ctx: DemoContext) -> SourceEntry:
    """97 certificates: 84 abolished during 2021–2022, 13 retained."""
    rng = ctx.rng("certificates")
    names = certificate_names()
    retained = np.zeros(CERTIFICATES, dtype=bool)
    retained[rng.choice(CERTIFICATES, RETAINED, replace=False)] = True
    first = ctx.cal.index(dt.date(2021, 1, 4))
    last = ctx.cal.index(dt.date(2022, 12, 30))
    day = np.minimum(np.sort(rng.integers(first, last + 1, CERTIFICATES)), ctx.last_day)
    secs = day * 86_400 + 9 * 3600 + rng.integers(0, 8, CERTIFICATES) * 3600
    frame = pl.DataFrame({
        "证明事项编码": [f"ZM{i + 1:03d}" for i in range(CERTIFICATES)],
        "证明事项名称": names,
        "清理结果": np.where(retained, "保留", "取消"),
        "调整时间": ts_text(ctx.cal, secs, ~retained),
    })
    path = write_csv(ctx.sources / "gov" / "certificates.csv", frame)
    ctx.log(f"certificates: {CERTIFICATES}, {RETAINED} retained → {ctx.rel(path)}")
    return SourceEntry("gov_certificates", "files", "certificates", {"path": ctx.rel(path)},
                       columns={"证明事项编码": "certificate_id", "证明事项名称": "name",
                                "清理结果": "status", "调整时间": "changed_at"},
                       comment="证明事项清理结果 (无证明城市: 97 → 13)")


CALENDAR_DIR = Path(__file__).resolve().parents[2] / "config" / "calendar"


def build_calendar(ctx: DemoContext) -> SourceEntry:
    """The holiday notices the office keeps for 按期 deadlines (config/calendar/: the years
    written so far), loaded as the ``work_calendar`` source; 数据与运行 says when next year's
    is missing."""
    dest = ctx.sources / "calendar"
    dest.mkdir(parents=True, exist_ok=True)
    files = sorted(CALENDAR_DIR.glob("holiday_calendar_*.csv"))
    for f in files:
        (dest / f.name).write_bytes(f.read_bytes())
    ctx.log(f"holiday_calendar: {', '.join(f.stem[-4:] for f in files)} notice(s) → "
            f"{ctx.rel(dest)}/")
    return SourceEntry("work_calendar", "files", "holiday_calendar",
                       {"path": ctx.rel(dest) + "/holiday_calendar_*.csv"},
                       columns={"日期": "day", "安排": "workday", "节日": "holiday"},
                       comment="国务院办公厅 holiday notices (节假日安排), for 按期 deadlines")
