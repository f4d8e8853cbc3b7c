"""Baselines for ``bench_kpi``: the 14 core KPIs of DESIGN §5, for the district and each street,
current and previous period, computed (a) the way dashboards are commonly written — read the
fact rows with ``pandas.read_sql``, then ``groupby`` — and (b) as hand-written SQL aggregates
on the raw tables (no rollups). SQLite dialect; both return ``{kpi: {area: value}}``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Engine, text

from metrics.periods import Period

CORE = ["gov.online_case_rate", "gov.on_time_rate", "gov.avg_visits", "gov.good_rating_rate",
        "gov.rectification_rate", "gov.online_capable_rate", "grid.registration_rate",
        "grid.closure_rate", "grid.on_time_closure_rate", "grid.rework_rate",
        "vol.service_hours", "vol.active_rate", "vol.registered_per_1000",
        "civic.property_fee_collection_rate"]

STREET = "substr({c}, 1, 9) || '000'"

CASES_SQL = f"""
SELECT {STREET.format(c='community_code')} AS street, count(*) AS n,
       sum(channel = 'online') AS online, sum(visits) AS visits,
       sum(rating >= 3) AS good, sum(rating IS NOT NULL) AS rated,
       sum(rating <= 2 AND rectified) AS rect, sum(rating <= 2) AS bad
FROM service_cases WHERE submitted_at >= :a AND submitted_at < :b GROUP BY street"""

ON_TIME_SQL = f"""
SELECT street, count(*) AS done, sum(on_time) AS on_time FROM (
  SELECT {STREET.format(c='c.community_code')} AS street,
         CASE WHEN i.promised_days IS NULL THEN 0
              WHEN i.promised_days = 0
                THEN date(c.completed_at, '+8 hours') <= date(c.submitted_at, '+8 hours')
              ELSE cc.day_rank <= 2 * (cs.workdays_to_date + i.promised_days) END AS on_time
  FROM service_cases c LEFT JOIN service_items i ON i.item_code = c.item_code
  LEFT JOIN work_calendar cs ON cs.day = date(c.submitted_at, '+8 hours')
  LEFT JOIN work_calendar cc ON cc.day = date(c.completed_at, '+8 hours')
  WHERE c.status = 'completed' AND c.completed_at >= :a AND c.completed_at < :b)
GROUP BY street"""

REPORTED_SQL = f"""
SELECT {STREET.format(c='grid_code')} AS street, count(*) AS n,
       sum(registered_at IS NOT NULL) AS registered
FROM grid_events WHERE reported_at >= :a AND reported_at < :b GROUP BY street"""

REGISTERED_SQL = f"""
SELECT {STREET.format(c='grid_code')} AS street, count(*) AS n,
       sum(closed_at IS NOT NULL) AS closed, sum(closed_at <= deadline_at) AS on_time,
       sum(closed_at IS NOT NULL AND reworked) AS reworked
FROM grid_events WHERE registered_at >= :a AND registered_at < :b GROUP BY street"""

HOURS_SQL = f"""
SELECT {STREET.format(c='community_code')} AS street, sum(hours) AS hours
FROM volunteer_services WHERE started_at >= :a AND started_at < :b GROUP BY street"""

ACTIVE_SQL = f"""
SELECT {STREET.format(c='v.community_code')} AS street, count(DISTINCT s.volunteer_id) AS active
FROM volunteer_services s JOIN volunteers v ON v.volunteer_id = s.volunteer_id
WHERE s.started_at >= :a AND s.started_at < :b GROUP BY street"""

ACTIVE_ALL_SQL = """
SELECT count(DISTINCT s.volunteer_id) FROM volunteer_services s
JOIN volunteers v ON v.volunteer_id = s.volunteer_id
WHERE s.started_at >= :a AND s.started_at < :b"""

REGISTERED_VOL_SQL = f"""
SELECT {STREET.format(c='community_code')} AS street, count(*) AS n
FROM volunteers WHERE registered_at < :b GROUP BY street"""

RESIDENTS_SQL = f"""
SELECT {STREET.format(c='p.community_code')} AS street, sum(p.residents) AS residents
FROM population p WHERE p.year = (SELECT max(q.year) FROM population q
                                  WHERE q.community_code = p.community_code AND q.year <= :y)
GROUP BY street"""

FEES_SQL = f"""
SELECT {STREET.format(c='community_code')} AS street, sum(households_paid) AS paid,
       sum(households_billed) AS billed
FROM property_fees WHERE period >= :m1 AND period <= :m2 GROUP BY street"""


def _ratio(num: float | None, den: float | None) -> float | None:
    return None if not den else (num or 0) / den


def raw_sql(engine: Engine, period: Period) -> dict[str, Any]:
    """(b) The core KPIs as hand-written aggregate SQL on the raw tables."""
    out: dict[str, Any] = {}
    with engine.connect() as c:
        out["gov.online_capable_rate"] = c.execute(text(
            "SELECT avg(online_capable) FROM service_items")).scalar_one()
        for tag, p in (("cur", period), ("prev", period.previous())):
            b = {"a": p.utc_start, "b": p.utc_end}
            res: dict[str, Any] = {}
            for name, sql in (("cases", CASES_SQL), ("on_time", ON_TIME_SQL),
                              ("reported", REPORTED_SQL), ("registered", REGISTERED_SQL),
                              ("hours", HOURS_SQL), ("active", ACTIVE_SQL),
                              ("vols", REGISTERED_VOL_SQL)):
                res[name] = [dict(r) for r in c.execute(text(sql), b).mappings()]
            res["active_all"] = c.execute(text(ACTIVE_ALL_SQL), b).scalar_one()
            res["residents"] = [dict(r) for r in c.execute(
                text(RESIDENTS_SQL), {"y": p.last_day.year}).mappings()]
            m1, m2 = p.months
            res["fees"] = [dict(r) for r in c.execute(text(FEES_SQL),
                                                      {"m1": m1, "m2": m2}).mappings()]
            out[tag] = _assemble_sql(res)
    return out


def _assemble_sql(res: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    kpis: dict[str, dict[str, float | None]] = {}

    def put(kpi: str, rows: list[dict[str, Any]], num: str, den: str) -> None:
        by = {r["street"]: _ratio(r[num], r[den]) for r in rows}
        by["district"] = _ratio(sum(r[num] or 0 for r in rows), sum(r[den] or 0 for r in rows))
        kpis[kpi] = by

    put("gov.online_case_rate", res["cases"], "online", "n")
    put("gov.avg_visits", res["cases"], "visits", "n")
    put("gov.good_rating_rate", res["cases"], "good", "rated")
    put("gov.rectification_rate", res["cases"], "rect", "bad")
    put("gov.on_time_rate", res["on_time"], "on_time", "done")
    put("grid.registration_rate", res["reported"], "registered", "n")
    put("grid.closure_rate", res["registered"], "closed", "n")
    put("grid.on_time_closure_rate", res["registered"], "on_time", "n")
    put("grid.rework_rate", res["registered"], "reworked", "closed")
    put("civic.property_fee_collection_rate", res["fees"], "paid", "billed")
    hours = {r["street"]: r["hours"] for r in res["hours"]}
    kpis["vol.service_hours"] = hours | {"district": sum(v or 0 for v in hours.values())}
    vols = {r["street"]: r["n"] for r in res["vols"]}
    active = {r["street"]: r["active"] for r in res["active"]}
    kpis["vol.active_rate"] = {s: _ratio(active.get(s, 0), n) for s, n in vols.items()} | {
        "district": _ratio(res["active_all"], sum(vols.values()))}
    residents = {r["street"]: r["residents"] for r in res["residents"]}
    kpis["vol.registered_per_1000"] = {
        s: None if not residents.get(s) else n / residents[s] * 1000 for s, n in vols.items()
    } | {"district": sum(vols.values()) / sum(residents.values()) * 1000}
    return kpis


def pandas(engine: Engine, period: Period) -> dict[str, Any]:
    """(a) Read the fact rows into pandas, then filter and group there."""
    with engine.connect() as c:
        frames = {t: pd.read_sql(text(f"SELECT * FROM {t}"), c)
                  for t in ("service_cases", "service_items", "work_calendar", "grid_events",
                            "volunteer_services", "volunteers", "population", "property_fees")}
    for name, f in frames.items():
        for col in f.columns:
            if col.endswith("_at") and name != "work_calendar":
                f[col] = pd.to_datetime(f[col])
    cases, events = frames["service_cases"], frames["grid_events"]
    cases["street"] = cases["community_code"].str[:9] + "000"
    events["street"] = events["grid_code"].str[:9] + "000"
    cal = frames["work_calendar"].assign(day=lambda d: pd.to_datetime(d["day"]).dt.date)
    rank = dict(zip(cal["day"], cal["day_rank"], strict=True))
    wdays = dict(zip(cal["day"], cal["workdays_to_date"], strict=True))
    promised = dict(zip(frames["service_items"]["item_code"],
                        frames["service_items"]["promised_days"], strict=True))
    out: dict[str, Any] = {"gov.online_capable_rate":
                           frames["service_items"]["online_capable"].mean()}
    for tag, p in (("cur", period), ("prev", period.previous())):
        a, b = pd.Timestamp(p.utc_start), pd.Timestamp(p.utc_end)
        k: dict[str, Any] = {}
        c = cases[(cases["submitted_at"] >= a) & (cases["submitted_at"] < b)]
        g = c.assign(online=c["channel"].eq("online"), good=c["rating"].ge(3),
                     rated=c["rating"].notna(), bad=c["rating"].le(2),
                     rect=c["rating"].le(2) & c["rectified"].fillna(False).astype(bool))
        agg = g.groupby("street")[["online", "visits", "good", "rated", "bad", "rect"]].sum()
        agg["n"] = g.groupby("street").size()
        k["gov.online_case_rate"] = (agg["online"] / agg["n"]).to_dict()
        k["gov.avg_visits"] = (agg["visits"] / agg["n"]).to_dict()
        k["gov.good_rating_rate"] = (agg["good"] / agg["rated"]).to_dict()
        k["gov.rectification_rate"] = (agg["rect"] / agg["bad"]).to_dict()
        d = cases[(cases["status"] == "completed") & (cases["completed_at"] >= a)
                  & (cases["completed_at"] < b)].copy()
        sd = (d["submitted_at"] + pd.Timedelta(hours=8)).dt.date
        cd = (d["completed_at"] + pd.Timedelta(hours=8)).dt.date
        n_days = d["item_code"].map(promised)
        d["on_time"] = [(c2 <= s2) if n == 0 else rank.get(c2, 1e18) <= 2 * (wdays[s2] + n)
                        for s2, c2, n in zip(sd, cd, n_days, strict=True)]
        t = d.groupby("street")["on_time"].mean()
        k["gov.on_time_rate"] = t.to_dict()
        r = events[(events["reported_at"] >= a) & (events["reported_at"] < b)]
        k["grid.registration_rate"] = r.groupby("street")["registered_at"].apply(
            lambda s: s.notna().mean()).to_dict()
        e = events[(events["registered_at"] >= a) & (events["registered_at"] < b)]
        k["grid.closure_rate"] = e.groupby("street")["closed_at"].apply(
            lambda s: s.notna().mean()).to_dict()
        e2 = e.assign(ot=e["closed_at"] <= e["deadline_at"])
        k["grid.on_time_closure_rate"] = e2.groupby("street")["ot"].mean().to_dict()
        closed = e[e["closed_at"].notna()]
        k["grid.rework_rate"] = closed.groupby("street")["reworked"].mean().to_dict()
        s = frames["volunteer_services"]
        s = s[(s["started_at"] >= a) & (s["started_at"] < b)]
        s = s.assign(street=s["community_code"].str[:9] + "000")
        k["vol.service_hours"] = s.groupby("street")["hours"].sum().to_dict()
        v = frames["volunteers"]
        v = v[v["registered_at"] < b].assign(street=lambda x: x["community_code"].str[:9] + "000")
        act = s.merge(v[["volunteer_id", "street"]], on="volunteer_id", suffixes=("_s", ""))
        k["vol.active_rate"] = (act.groupby("street")["volunteer_id"].nunique()
                                / v.groupby("street").size()).to_dict()
        pop = frames["population"]
        pop = pop[pop["year"] <= p.last_day.year].sort_values("year").groupby(
            "community_code").tail(1).assign(street=lambda x: x["community_code"].str[:9] + "000")
        k["vol.registered_per_1000"] = (v.groupby("street").size()
                                        / pop.groupby("street")["residents"].sum()
                                        * 1000).to_dict()
        f = frames["property_fees"]
        m1, m2 = p.months
        f = f[(f["period"] >= m1) & (f["period"] <= m2)].assign(
            street=lambda x: x["community_code"].str[:9] + "000")
        fs = f.groupby("street")[["households_paid", "households_billed"]].sum()
        k["civic.property_fee_collection_rate"] = (fs["households_paid"]
                                                   / fs["households_billed"]).to_dict()
        out[tag] = k
    return out
