"""A seeded, realistic little district: fact rows for every KPI table, as sources export them.

Rows are made in Asia/Shanghai local time (as a source gives them), with nulls where real
exports have them, times on the edges that matter (local midnight at a month's start and
end, 08:00 local = 00:00 UTC, 29 February, the Spring Festival and National Day holidays
and their adjusted working weekends), ratings, deadlines, and a few rows that must be
quarantined. The oracle (:mod:`tests.differential.oracle`) reads these frames directly; the
warehouse gets them as CSV files through the real runner.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

DIVISIONS_CSV = Path(__file__).resolve().parents[2] / "config" / "divisions" / \
    "fancheng_divisions_2023.csv"
FIRST = dt.date(2023, 1, 1)
LAST = dt.date(2025, 12, 31)
# days whose edges matter: holidays, adjusted working weekends, leap day, year ends
SPECIAL_DAYS = [dt.date(2024, 2, 9), dt.date(2024, 2, 10), dt.date(2024, 2, 17),
                dt.date(2024, 2, 18), dt.date(2024, 2, 4), dt.date(2024, 2, 29),
                dt.date(2023, 9, 28), dt.date(2023, 10, 1), dt.date(2023, 10, 7),
                dt.date(2023, 10, 8), dt.date(2024, 9, 30), dt.date(2024, 10, 12),
                dt.date(2023, 12, 31), dt.date(2024, 1, 1), dt.date(2024, 12, 31),
                dt.date(2025, 1, 1), dt.date(2025, 1, 26), dt.date(2025, 2, 8),
                dt.date(2025, 4, 30), dt.date(2025, 5, 5)]
# Columns with a flag the source uses to mark a row deleted (soft delete): see deletions.
DELETE_FLAG = "SCBZ"
# tables, their key columns and the columns a source file carries (canonical names)
KEYS: dict[str, tuple[str, ...]] = {
    "service_items": ("item_code",), "service_cases": ("case_id",),
    "grid_events": ("event_id",), "grid_staff": ("staff_id",),
    "volunteers": ("volunteer_id",), "volunteer_services": ("record_id",),
    "timebank_redemptions": ("redemption_id",), "party_members": ("member_id",),
    "party_deeds": ("deed_id",), "consultations": ("topic_id",), "stations": ("station_id",),
    "property_fees": ("community_code", "period"), "population": ("community_code", "year"),
    "certificates": ("certificate_id",), "hotline_requests": ("request_id",),
    "buildings": ("building_code",),
    "committee_assessments": ("assessment_id",),
    "help_teams": ("team_id",), "help_team_services": ("service_id",),
    "model_merchants": ("merchant_id",), "merchant_problems": ("problem_id",),
    "delegated_items": ("street_code", "item_code"), "enforcers": ("enforcer_id",),
    "enforcement_cases": ("case_id",),
}
# registers other rows are checked against (a head's building): loaded whole in the first drop
# of the incremental test and never deleted there, as a division list is
REGISTERS = {"buildings"}
# columns that change together (a head's grid and building: the building lies in the grid)
TIED = {"grid_staff": ("grid_code", "building_code")}


@dataclass
class World:
    """The generated district: official divisions, grids, and one frame per table."""

    seed: int
    divisions: pl.DataFrame  # code, name, short_name, level, parent_code, placeholder, active
    communities: list[str]  # the communities that have data
    grids: list[str]
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    bad: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # to be quarantined

    def names(self) -> dict[str, str]:
        d = self.divisions.with_columns(pl.coalesce("short_name", "name").alias("label"))
        return dict(zip(d["code"], d["label"], strict=True))


def _short(name: str, unit_type: str, parent: str) -> str:
    if unit_type == "虚拟社区" or name.endswith("虚拟社区"):
        return name if name != "虚拟社区" else f"虚拟社区（{parent}）"
    for suffix, repl in (("社区居委会", "社区"), ("社区居民委员会", "社区"), ("村民委员会", "村"),
                         ("村委会", "村"), ("居委会", "社区"), ("居民委员会", "社区")):
        if name.endswith(suffix):
            return name[: -len(suffix)] + repl
    return name


def official_divisions() -> pl.DataFrame:
    """The official code list, read here on its own (not through the divisions plugin)."""
    rows = []
    with DIVISIONS_CSV.open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            level = {"3": "district", "4": "street", "5": "community"}[r["level"]]
            rows.append({"code": r["code12"], "name": r["name"],
                         "short_name": _short(r["name"], r["unit_type"], r["parent_name"]),
                         "level": level, "parent_code": r["parent_code12"],
                         "placeholder": r["unit_type"] == "虚拟社区", "active": True})
    return pl.DataFrame(rows)


class _Gen:
    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def day(self, lo: dt.date = FIRST, hi: dt.date = LAST) -> dt.date:
        if self.r.random() < 0.12:
            cand = [d for d in SPECIAL_DAYS if lo <= d <= hi]
            if cand:
                return self.r.choice(cand)
        return lo + dt.timedelta(days=self.r.randint(0, (hi - lo).days))

    def moment(self, lo: dt.date = FIRST, hi: dt.date = LAST) -> dt.datetime:
        d = self.day(lo, hi)
        u = self.r.random()
        if u < 0.06:  # the first second of a local month / day
            d = d.replace(day=1)
            return dt.datetime.combine(d, dt.time(0, 0, 0))
        if u < 0.12:  # the last second of a local month
            nxt = (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            return dt.datetime.combine(nxt - dt.timedelta(days=1), dt.time(23, 59, 59))
        if u < 0.18:  # around 08:00 local, which is midnight UTC
            return dt.datetime.combine(d, dt.time(7, 59, 59) if u < 0.15 else dt.time(8, 0))
        return dt.datetime.combine(d, dt.time(self.r.randint(0, 23), self.r.randint(0, 59),
                                              self.r.randint(0, 59)))

    def later(self, t: dt.datetime, max_hours: int) -> dt.datetime:
        return t + dt.timedelta(minutes=self.r.randint(0, max_hours * 60))

    def maybe(self, p: float, value: Any) -> Any:
        return value if self.r.random() < p else None


def generate(seed: int, scale: float = 1.0) -> World:
    """A district of ~8 communities with data, their grids, and rows for every table."""
    g = _Gen(seed)
    r = g.r
    official = official_divisions()
    comm = official.filter((pl.col("level") == "community") & ~pl.col("placeholder"))
    streets = sorted(set(comm["parent_code"].to_list()))
    chosen_streets = r.sample(streets, 4)
    communities: list[str] = []
    for s in chosen_streets:
        codes = sorted(comm.filter(pl.col("parent_code") == s)["code"].to_list())
        communities += r.sample(codes, min(len(codes), r.choice([1, 2, 3])))
    communities.sort()
    grid_rows = []
    grids: list[str] = []
    names = dict(zip(official["code"], official["short_name"], strict=True))
    for c in communities:
        for k in range(1, r.randint(1, 3) + 1):
            code = f"{c}{k:03d}"
            grids.append(code)
            grid_rows.append({"code": code, "name": f"{names[c]}第{k}网格", "short_name": None,
                              "level": "grid", "parent_code": c, "placeholder": False,
                              "active": True})
    divisions = pl.concat([official.with_columns(pl.col("short_name").cast(pl.String)),
                           pl.DataFrame(grid_rows, schema=official.schema)])
    w = World(seed, divisions, communities, grids)
    n = lambda base: max(1, int(base * scale))  # noqa: E731

    # departments without drawing (the draws stay those of earlier seeds); one item has none
    items = [{"item_code": f"I{i}", "item_name": f"事项{i}", "online_capable": r.random() < 0.7,
              "promised_days": d, "department": ("区公安分局", "区民政局", None)[i % 3]}
             for i, d in enumerate([0, 1, 3, 5, 10, None, 3])]
    w.tables["service_items"] = pl.DataFrame(items)
    cases = []
    for i in range(n(1500)):
        sub = g.moment()
        status = r.choices(["completed", "accepted", "rejected", "withdrawn"], [70, 15, 10, 5])[0]
        done = (g.later(sub, 24 * r.choice([0, 1, 3, 8, 20])) if status == "completed"
                else g.maybe(0.3, g.later(sub, 48)) if status == "rejected" else None)
        rating = g.maybe(0.6, r.randint(1, 5))
        cases.append({
            "case_id": f"SC{i:05d}", "item_code": r.choice([f"I{k}" for k in range(7)] + ["I99"]),
            "community_code": r.choice(communities),
            "channel": r.choice(["online", "window", "station", "self_service", "help_desk"]),
            "submitted_at": sub, "completed_at": done, "status": status,
            "visits": g.maybe(0.9, r.randint(0, 4)), "rating": rating,
            "rectified": g.maybe(0.8, r.random() < 0.6) if rating and rating <= 2 else None,
        })
    w.tables["service_cases"] = pl.DataFrame(cases, infer_schema_length=None)
    w.bad["service_cases"] = [
        {"case_id": "SCBAD1", "item_code": "I1", "community_code": "420606999999",
         "channel": "online", "submitted_at": dt.datetime(2024, 5, 5, 10), "status": "accepted"},
        {"case_id": "SCBAD2", "item_code": "I1", "community_code": communities[0],
         "channel": "online", "submitted_at": dt.datetime(2024, 5, 6, 10), "status": "accepted",
         "rating": 9},
    ]

    events = []
    for i in range(n(1000)):
        rep = g.moment()
        reg = g.maybe(0.92, g.later(rep, 30))
        deadline = g.maybe(0.85, g.later(reg, 24 * 6)) if reg else None
        closed = g.maybe(0.8, g.later(reg, 24 * 8)) if reg else None
        resolved = g.maybe(0.85, g.later(reg, 24 * 7)) if reg else None
        dispute = r.random() < 0.2
        events.append({
            "event_id": f"GE{i:05d}", "grid_code": r.choice(grids),
            "category": r.choice(["环境卫生", "治安隐患", "邻里纠纷", "设施损坏"]),
            "source": r.choice(["inspector", "resident", "hotline", "other"]),
            "reported_at": rep, "registered_at": reg,
            "dispatched_at": g.later(reg, 5) if reg else None, "resolved_at": resolved,
            "closed_at": closed, "deadline_at": deadline,
            "reworked": g.maybe(0.9, r.random() < 0.1) if closed else None,
            "satisfaction": g.maybe(0.5, r.randint(1, 5)), "is_dispute": dispute,
            "mediated": g.maybe(0.7, r.random() < 0.85) if dispute else None,
        })
    w.tables["grid_events"] = pl.DataFrame(events, infer_schema_length=None)

    # 楼栋: 0-3 buildings per grid (code: the grid's 15 digits + 3); heads look after one of
    # their grid's buildings (or none yet)
    blds = [{"building_code": f"{gc}{k:03d}", "grid_code": gc, "name": f"{k}栋",
             "households": r.randint(20, 200)}
            for gc in grids for k in range(1, r.randint(0, 3) + 1)]
    w.tables["buildings"] = pl.DataFrame(blds, schema={
        "building_code": pl.String, "grid_code": pl.String, "name": pl.String,
        "households": pl.Int64})
    in_grid: dict[str, list[str]] = {}
    for b in blds:
        in_grid.setdefault(b["grid_code"], []).append(b["building_code"])
    staff = []
    for i in range(n(40)):
        gc = r.choice(grids)
        role = r.choices(["grid_worker", "building_head", "party_secretary"], [6, 3, 1])[0]
        staff.append({
            "staff_id": f"ST{i:04d}", "grid_code": gc, "role": role,
            "building_code": (r.choice(in_grid[gc]) if role == "building_head"
                              and in_grid.get(gc) and r.random() < 0.85 else None),
            "is_party_member": r.random() < 0.4, "certified_social_worker": r.random() < 0.5,
            "trained": r.random() < 0.9})
    w.tables["grid_staff"] = pl.DataFrame(staff, schema={
        "staff_id": pl.String, "grid_code": pl.String, "role": pl.String,
        "building_code": pl.String, "is_party_member": pl.Boolean,
        "certified_social_worker": pl.Boolean, "trained": pl.Boolean})
    if len(blds) > 1:  # a building whose code lies in another grid than the one it names
        other = next(b for b in blds if b["grid_code"] != blds[0]["grid_code"])
        w.bad["buildings"] = [dict(blds[0], building_code=f"{blds[0]['grid_code']}999",
                                   grid_code=other["grid_code"])]

    vols = []
    for i in range(n(300)):
        vols.append({"volunteer_id": f"V{i:04d}", "community_code": r.choice(communities),
                     "team_id": g.maybe(0.8, f"T{r.randint(1, 12):02d}"),
                     "registered_at": g.moment(dt.date(2022, 6, 1), LAST),
                     "is_party_member": r.random() < 0.3})
    w.tables["volunteers"] = pl.DataFrame(vols, infer_schema_length=None)
    vol_comm = {v["volunteer_id"]: v["community_code"] for v in vols}
    services = []
    for i in range(n(1500)):
        vid = r.choice([*list(vol_comm), "V9999"])  # an id the volunteer list lacks
        services.append({
            "record_id": f"VS{i:05d}", "volunteer_id": vid,
            "community_code": vol_comm.get(vid) if r.random() < 0.85 and vid in vol_comm
            else r.choice(communities),
            "activity": r.choice(["助老", "环保", "文明劝导", "义诊"]), "started_at": g.moment(),
            "hours": r.randint(1, 16) / 2, "timebank": r.random() < 0.4})
    w.tables["volunteer_services"] = pl.DataFrame(services, infer_schema_length=None)
    w.tables["timebank_redemptions"] = pl.DataFrame([{
        "redemption_id": f"TR{i:04d}", "volunteer_id": r.choice(list(vol_comm)),
        "community_code": r.choice(communities), "redeemed_at": g.moment(),
        "hours": r.randint(1, 8) / 2, "service": "理发"} for i in range(n(200))])

    w.tables["party_members"] = pl.DataFrame([{
        "member_id": f"PM{i:04d}", "community_code": r.choice(communities),
        "checked_in_at": g.maybe(0.9, g.moment(dt.date(2022, 6, 1), LAST)),
        "points": g.maybe(0.9, float(r.randint(0, 200)))} for i in range(n(150))],
        infer_schema_length=None)
    w.tables["party_deeds"] = pl.DataFrame([{
        "deed_id": f"PD{i:05d}", "member_id": f"PM{r.randint(0, 149):04d}",
        "community_code": r.choice(communities), "done_at": g.moment(),
        "kind": r.choice(["帮扶", "调解", "宣讲"])} for i in range(n(400))])
    topics = []
    for i in range(n(200)):
        raised = g.moment()
        resolved = g.maybe(0.7, g.later(raised, 24 * 40))
        topics.append({"topic_id": f"CT{i:04d}", "community_code": r.choice(communities),
                       "mechanism": r.choice(["幸福夜话", "居民议事会"]), "raised_at": raised,
                       "resolved_at": resolved,
                       "status": "resolved" if resolved else r.choice(["raised", "in_progress"])})
    w.tables["consultations"] = pl.DataFrame(topics, infer_schema_length=None)
    w.tables["stations"] = pl.DataFrame([{
        "station_id": f"RS{i:03d}", "community_code": r.choice(communities),
        "name": f"红色驿站{i}", "tier": r.choice(["basic", "standard", "leading"]),
        "opened_at": g.maybe(0.9, g.day(dt.date(2021, 1, 1), LAST))} for i in range(n(20))],
        infer_schema_length=None)
    fees = []
    for c in communities:
        for y in (2023, 2024, 2025):
            for m in range(1, 13):
                if r.random() < 0.7:
                    billed = r.randint(50, 400)
                    fees.append({"community_code": c, "period": f"{y}-{m:02d}",
                                 "households_billed": billed,
                                 "households_paid": r.randint(0, billed)})
    w.tables["property_fees"] = pl.DataFrame(fees)
    w.tables["population"] = pl.DataFrame([{
        "community_code": c, "year": y, "residents": r.randint(2000, 12000),
        "households": g.maybe(0.9, r.randint(800, 4000))}
        for c in communities for y in (2022, 2023, 2024) if r.random() < 0.75],
        infer_schema_length=None)
    w.tables["certificates"] = pl.DataFrame([{
        "certificate_id": f"CE{i:03d}", "name": f"证明{i}",
        "status": "retained" if r.random() < 0.3 else "abolished"} for i in range(30)])
    # 12345 requests (drawn last, so the tables above keep their rows): some without a
    # community (the district's only), some responded exactly 24 hours after receipt
    requests = []
    for i in range(n(300)):
        rec = g.moment()
        resp = g.maybe(0.9, rec + dt.timedelta(hours=24) if r.random() < 0.1
                       else g.later(rec, 48))
        closed = g.maybe(0.75, g.later(rec, 24 * 20))
        requests.append({
            "request_id": f"HL{i:05d}",
            "community_code": None if r.random() < 0.1 else r.choice(communities),
            "category": r.choice(["物业管理", "城乡建设", "环境保护", "其他"]),
            "channel": r.choice(["phone", "web", "app", "wechat", "other"]),
            "received_at": rec, "responded_at": resp, "closed_at": closed,
            "deadline_at": g.maybe(0.85, g.later(rec, 24 * 15)),
            "resolved": g.maybe(0.8, r.random() < 0.85) if closed else None,
            "satisfaction": g.maybe(0.8, r.randint(1, 3)) if closed else None,
            "reopened": closed is not None and r.random() < 0.05,
            "title": r.choice(["电梯故障", "噪音扰民", "道路破损"]),
            "content": r.choice(["市民反映电梯故障", "夜间施工噪音", "小区道路破损"])})
    w.tables["hotline_requests"] = pl.DataFrame(requests, infer_schema_length=None)
    # 三色研判 (drawn after the rest, so the tables above keep their rows): half-yearly, some
    # missed, one community several times red, escalated or not, rectification often unset
    assessments = []
    for c in communities:
        for y in (2023, 2024, 2025):
            for m in (3, 6, 9, 12):
                if r.random() < 0.6:
                    colour = r.choice(["red", "red", "yellow", "blue", "blue"])
                    assessments.append({
                        "assessment_id": f"CA{len(assessments):04d}", "community_code": c,
                        "period": f"{y}-{m:02d}", "score": g.maybe(0.9, r.randint(40, 100)),
                        "colour": colour, "escalated": colour == "red" and r.random() < 0.4,
                        "rectification": g.maybe(0.8, r.choice(
                            ["not_needed", "pending", "in_progress", "done", "done"]))})
    w.tables["committee_assessments"] = pl.DataFrame(assessments, infer_schema_length=None)
    _services_and_powers(w, g, n)
    return w


def _services_and_powers(w: World, g: _Gen, n: Callable[[float], int]) -> None:
    """帮办团, 商圈党建 and 街道职权清单 (drawn after the others, which keep their rows): teams and
    merchants named on random days (some after a period, so their stocks grow), services and
    problems on random moments, each street's own list of items (one item shared by streets,
    so the district counts distinct codes) and cases on items of its list or not."""
    r, communities = g.r, w.communities
    teams = [{"team_id": f"BT{i:03d}", "community_code": r.choice(communities),
              "name": f"帮办团{i}", "formed_on": g.day()} for i in range(n(10))]
    w.tables["help_teams"] = pl.DataFrame(teams)
    w.tables["help_team_services"] = pl.DataFrame([{
        "service_id": f"BS{i:05d}", "team_id": (t := r.choice(teams))["team_id"],
        "community_code": t["community_code"], "case_id": g.maybe(0.5, f"C{i:06d}"),
        "served_at": g.moment(), "kind": r.choice(["appointment", "assist", "proxy"]),
        "beneficiary": r.choice(["elderly", "disabled", "migrant_worker", "other"])}
        for i in range(n(200))], infer_schema_length=None)
    merchants = [{"merchant_id": f"MM{i:03d}", "community_code": r.choice(communities),
                  "merchant_name": f"商户{i}", "designated_on": g.day()} for i in range(n(12))]
    w.tables["model_merchants"] = pl.DataFrame(merchants)
    problems = []
    for i in range(n(120)):
        raised = g.moment()
        m = r.choice(merchants)
        solved = g.maybe(0.8, g.later(raised, 24 * 30))
        problems.append({"problem_id": f"MP{i:05d}", "merchant_id": m["merchant_id"],
                         "community_code": m["community_code"],
                         "role": r.choice(["raised", "helped"]), "raised_at": raised,
                         "resolved_at": solved, "status": "resolved" if solved else "open"})
    w.tables["merchant_problems"] = pl.DataFrame(problems, infer_schema_length=None)
    streets = sorted({c[:9] + "000" for c in communities})
    items = [{"street_code": s, "item_code": f"D{k:02d}", "item_name": f"事项{k}",
              "kind": r.choice(["penalty", "inspection", "licence"]),
              "department": r.choice(["区城市管理执法局", "区市场监督管理局"]),
              "delegated_on": g.day()}
             for s in streets for k in range(n(15)) if k == 0 or r.random() < 0.7]
    w.tables["delegated_items"] = pl.DataFrame(items)
    w.tables["enforcers"] = pl.DataFrame([{
        "enforcer_id": f"EN{i:03d}", "street_code": r.choice(streets),
        "certified_on": g.day()} for i in range(n(12))])
    cases = []
    for i in range(n(200)):
        opened = g.moment()
        closed = g.maybe(0.6, g.later(opened, 24 * 40))
        it = r.choice(items)
        cases.append({"case_id": f"ZF{i:05d}", "street_code": it["street_code"],
                      "item_code": it["item_code"], "opened_at": opened, "closed_at": closed,
                      "status": "closed" if closed else "open"})
    w.tables["enforcement_cases"] = pl.DataFrame(cases, infer_schema_length=None)


# -- writing sources ---------------------------------------------------------------------------


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v)) if abs(v) < 1e15 else str(v)
    return str(v)


def write_csv(path: Path, rows: list[dict[str, Any]], header: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(header)
        for row in rows:
            wr.writerow([_cell(row.get(h)) for h in header])


def grid_rows(w: World) -> list[dict[str, Any]]:
    return w.divisions.filter(pl.col("level") == "grid").select(
        "code", "name", "parent_code").to_dicts()


def write_sources(w: World, folder: Path, parts: dict[str, list[dict[str, Any]]] | None = None,
                  deleted: dict[str, list[dict[str, Any]]] | None = None, tag: str = "a"
                  ) -> None:
    """One CSV per table under ``folder/data/<table>/`` named by ``tag`` (so a later drop
    adds a file); ``deleted`` rows carry the delete flag set."""
    tables = parts if parts is not None else {t: f.to_dicts() for t, f in w.tables.items()}
    for table, rows in tables.items():
        rows = rows + (w.bad.get(table, []) if tag == "a" else [])
        extra = deleted.get(table, []) if deleted else []
        header = [*list(w.tables[table].columns), DELETE_FLAG]
        flagged = [dict(r, **{DELETE_FLAG: "0"}) for r in rows]
        flagged += [dict(r, **{DELETE_FLAG: "1"}) for r in extra]
        if flagged:
            write_csv(folder / "data" / table / f"{tag}.csv", flagged, header)
    if tag == "a":
        write_csv(folder / "grids" / "grids.csv", grid_rows(w), ["code", "name", "parent_code"])


def source_entries(w: World, deletes: bool = True) -> list[dict[str, Any]]:
    """The config's sources: the official list, the grid list, one files source per table."""
    out: list[dict[str, Any]] = [
        {"id": "divs", "plugin": "divisions", "path": str(DIVISIONS_CSV)},
        {"id": "grids", "plugin": "files", "table": "divisions", "path": "grids/*.csv",
         "defaults": {"level": "grid"}},
    ]
    for table in w.tables:
        entry: dict[str, Any] = {"id": f"t_{table}", "plugin": "files", "table": table,
                                 "path": f"data/{table}/*.csv"}
        if deletes:
            entry["delete_flag"] = {"column": DELETE_FLAG, "values": ["1"]}
        out.append(entry)
    return out
