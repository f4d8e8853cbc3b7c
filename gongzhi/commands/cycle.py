"""``gongzhi alerts check | list | rules`` (预警) and ``gongzhi tasks list | open | ack |
answer | close | return | attachment`` (督办)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from gongzhi.cli import EXIT_FAILED, Context, cli, echo_json, echo_table, pass_ctx

STATUS_ZH = {"open": "待签收", "acknowledged": "已签收", "answered": "已反馈", "returned": "已退回",
             "closed": "已办结"}
ALERT_STATUS_ZH = {"pending": "待发送", "held": "免打扰暂存", "sent": "已发送",
                   "failed": "发送失败（将重试）", "logged": "仅记录"}

# ``--format`` of the listing commands (scripts read the json)
_format_option = click.option("--format", "fmt", type=click.Choice(["table", "json"]),
                              default="table")


# -- alerts --------------------------------------------------------------------------------------

@cli.group()
def alerts() -> None:
    """预警: alert rules from [[alerts]], checked after every run and on a schedule."""


@alerts.command("check")
@click.option("--period", default=None, help="KPI period (default: last complete month)")
@_format_option
@pass_ctx
def check_cmd(ctx: Context, period: str | None, fmt: str) -> None:
    """Evaluate every rule now; print the alerts recorded and what was sent (exit 1 when a
    destination failed: it is retried at the next check)."""
    from metrics import periods
    from metrics.alerts import check

    engine = ctx.engine(write=True)
    p = periods.parse(period) if period else None
    rep = check(engine, ctx.settings, period=p)
    if fmt == "json":
        echo_json({"period": rep.period, "new": rep.new, "sent": rep.sent,
                   "problems": rep.problems, "seconds": round(rep.seconds, 3)})
    else:
        click.echo(f"period {rep.period}: {len(rep.new)} new alert(s), "
                   f"{sum(1 for s in rep.sent if s['ok'])} delivered, "
                   f"{sum(1 for s in rep.sent if not s['ok'])} failed")
        for n in rep.new:
            click.echo(f"  new #{n['id']} [{n['rule_id']}] {n['title']} "
                       f"({ALERT_STATUS_ZH.get(n['status'], n['status'])})"
                       + (f" → task #{n['task_id']}" if n["task_id"] else ""))
        for s in rep.sent:
            state = "sent" if s["ok"] else f"NOT delivered ({s['error']}); retried later"
            click.echo(f"  #{s['alert_id']} → {s['dest']}: {state}")
        for p_ in rep.problems:
            click.echo(f"warning: {p_}", err=True)
    if any(not s["ok"] for s in rep.sent):
        sys.exit(EXIT_FAILED)


@alerts.command("list")
@click.option("--limit", default=50, show_default=True)
@_format_option
@pass_ctx
def list_alerts(ctx: Context, limit: int, fmt: str) -> None:
    """The alert log, newest first (destinations masked)."""
    from warehouse import cycle

    rows = cycle.alert_entries(ctx.engine(), limit=limit)
    if fmt == "json":
        echo_json([{k: r[k] for k in ("id", "rule_id", "rule", "severity", "subject_code",
                                       "subject_name", "kpi", "period", "value", "target",
                                       "title", "status", "created_at", "sent_at", "task_id")}
                   | {"deliveries": [{k: d[k] for k in ("dest", "status", "attempts",
                                                         "last_error", "sent_at")}
                                     for d in r["deliveries"]]} for r in rows])
        return
    out = [{"id": r["id"], "at": r["created_at"], "rule": r["rule_id"], "title": r["title"],
            "status": ALERT_STATUS_ZH.get(r["status"], r["status"]),
            "to": ", ".join(f"{d['dest']} {d['status']}" for d in r["deliveries"])}
           for r in rows]
    echo_table(out, ["id", "at", "rule", "title", "status", "to"],
               {"id": "编号", "at": "时间", "rule": "规则", "title": "预警", "status": "状态",
                "to": "发送"})


@alerts.command("rules")
@pass_ctx
def list_rules(ctx: Context) -> None:
    """The configured rules (destinations masked; secrets never shown)."""
    from metrics.alerts.deliver import destinations

    rows = []
    for r in ctx.settings.alerting.rules:
        dests, problem = destinations(r)
        rows.append({"id": r.id, "rule": r.rule, "level": r.level,
                     "kpis": ", ".join(r.kpis) or "(all with a target)",
                     "to": ", ".join(d.masked for d in dests) + (f" ⚠ {problem}" if problem
                                                                else ""),
                     "quiet": str(r.quiet_hours or ctx.settings.alerting.quiet_hours or "")})
    echo_table(rows, ["id", "rule", "level", "kpis", "to", "quiet"])


# -- tasks -----------------------------------------------------------------------------------------

TASKS = "tasks"  # the command name sign-ins and refusals are audited under


def _actor(ctx: Context, username: str | None) -> Any:
    """Who acts: the signed-in account; in open mode the district; else refused (audited)."""
    from gongzhi.commands.access import _os_user, deny, open_mode, sign_in
    from metrics.access import Viewer, leader

    if username:
        return sign_in(ctx, username, TASKS)
    if open_mode(ctx):
        return leader(ctx.metrics().district().code, username=_os_user())
    deny(ctx, Viewer(_os_user(), "leader", ""), TASKS, {}, role="-",
         why=f"sign-in required: `gongzhi {TASKS} --user NAME` (password from "
             "GONGZHI_PASSWORD or a prompt); staff see only their own area's tasks")


def _user_option(f: Any) -> Any:
    return click.option("--user", "username", default=None,
                        help="act as this account (password from GONGZHI_PASSWORD or a "
                             "prompt)")(f)


def _act(ctx: Context, actor: Any, task_id: int, move: Any, *args: Any) -> Any:
    """Do a task move; a refusal (another area's task, not a leader's move) is audited."""
    from gongzhi.commands.access import deny
    from warehouse import cycle

    try:
        return move(ctx.engine(), actor, task_id, *args)
    except cycle.TaskDenied as e:
        deny(ctx, actor, TASKS, {"task": task_id, "move": move.__name__}, why=str(e))


def _move(ctx: Context, username: str | None, task_id: int, move: Any, *args: Any) -> Any:
    """Sign in (or refuse) and do one task move: the commands that make a single move."""
    return _act(ctx, _actor(ctx, username), task_id, move, *args)


@cli.group()
def tasks() -> None:
    """督办: tasks to a street or community, acknowledged, answered, closed or sent back."""


@tasks.command("list")
@click.option("--mine", type=click.Choice(["all", "assigned", "issued"]), default="all",
              help="assigned: my area's tasks (我的任务); issued: tasks I opened (我发起的)")
@click.option("--status", "statuses", multiple=True,
              type=click.Choice(["open", "acknowledged", "answered", "returned", "closed"]))
@_format_option
@_user_option
@pass_ctx
def list_tasks(ctx: Context, mine: str, statuses: tuple[str, ...], fmt: str,
               username: str | None) -> None:
    """Tasks you may see (staff: only their own area's), newest first."""
    from metrics.alerts.tasks import task_json
    from warehouse import cycle

    actor = _actor(ctx, username)
    rows = cycle.list_tasks(ctx.engine(), actor, mine=mine, statuses=statuses or None)
    if fmt == "json":
        echo_json([task_json(r) for r in rows])
        return
    from metrics import format as mfmt

    out = [{"id": r["id"], "area": r["area_name"], "title": r["title"],
            "figure": mfmt.value(r["value"], r["unit"] or "") if r["kpi"] else "",
            "status": STATUS_ZH.get(r["status"], r["status"]) + (" ⚠逾期" if r["overdue"]
                                                                else ""),
            "due": r["due_date"].isoformat(), "by": r["created_by"]} for r in rows]
    echo_table(out, ["id", "area", "title", "figure", "status", "due", "by"],
               {"id": "编号", "area": "责任单位", "title": "事项", "figure": "数值",
                "status": "状态", "due": "办理期限", "by": "交办人"})


@tasks.command("open")
@click.option("--street", default=None, help="the responsible street (name or code)")
@click.option("--community", default=None, help="the responsible community (name or code)")
@click.option("--kpi", "kpi_id", default=None, help="the KPI the task is about")
@click.option("--period", default=None, help="the figure's period (default: last month)")
@click.option("--title", default="", help="default: made from the figure")
@click.option("--note", default="", help="what is asked of the unit")
@click.option("--due-days", type=click.IntRange(0, 250), default=None,
              help="working days to answer (default: [tasks] due_days)")
@_user_option
@pass_ctx
def open_cmd(ctx: Context, street: str | None, community: str | None, kpi_id: str | None,
             period: str | None, title: str, note: str, due_days: int | None,
             username: str | None) -> None:
    """Open a task for a street or community (leaders)."""
    import datetime as dt

    from core.timezone import to_local
    from metrics import periods
    from metrics.alerts.tasks import open_for_figure
    from warehouse.engine import utcnow

    if bool(street) == bool(community):
        raise click.UsageError("name one --street or one --community")
    actor = _actor(ctx, username)
    m = ctx.metrics()
    level = "street" if street else "community"
    code = m.scope(level, str(street or community)).code
    today: dt.date = to_local(utcnow()).date()
    p = periods.parse(period) if period else periods.latest_complete("month", today)
    task_id = open_for_figure(m, actor, level=level, code=code, period=p, kpi_id=kpi_id,
                              due_days=ctx.settings.tasks.due_days if due_days is None
                              else due_days, note=note, title=title, origin="cli")
    click.echo(f"task #{task_id} opened for {level} {code}")


@tasks.command("ack")
@click.argument("task_id", type=int)
@_user_option
@pass_ctx
def ack_cmd(ctx: Context, task_id: int, username: str | None) -> None:
    """签收: acknowledge a task of your area."""
    from warehouse import cycle

    _move(ctx, username, task_id, cycle.acknowledge)
    click.echo(f"task #{task_id} acknowledged")


@tasks.command("answer")
@click.argument("task_id", type=int)
@click.option("--note", required=True, help="the rectification note (整改说明)")
@click.option("--attach", "attach", type=click.Path(exists=True, dir_okay=False),
              default=None, help="a file to attach (size and type limited by [tasks])")
@_user_option
@pass_ctx
def answer_cmd(ctx: Context, task_id: int, note: str, attach: str | None,
               username: str | None) -> None:
    """反馈: answer a task of your area with what was done."""
    from warehouse import cycle

    actor = _actor(ctx, username)  # one sign-in for both moves
    _act(ctx, actor, task_id, cycle.get_task)  # another area's task: refused before any file
    stored = None
    if attach:
        conf = ctx.settings.tasks
        stored = cycle.store_attachment(conf.attachments, Path(attach).name,
                                        Path(attach).read_bytes(),
                                        max_bytes=int(conf.max_attachment_mb * 1_000_000),
                                        types=conf.attachment_types)
    _act(ctx, actor, task_id, cycle.answer, note, stored)
    click.echo(f"task #{task_id} answered" + (f" with {stored.name}" if stored else ""))


@tasks.command("close")
@click.argument("task_id", type=int)
@_user_option
@pass_ctx
def close_cmd(ctx: Context, task_id: int, username: str | None) -> None:
    """办结: close an answered task (leaders)."""
    from warehouse import cycle

    _move(ctx, username, task_id, cycle.close)
    click.echo(f"task #{task_id} closed")


@tasks.command("return")
@click.argument("task_id", type=int)
@click.option("--reason", required=True, help="why the answer is not enough")
@_user_option
@pass_ctx
def return_cmd(ctx: Context, task_id: int, reason: str, username: str | None) -> None:
    """退回: send an answered task back to its unit (leaders)."""
    from warehouse import cycle

    _move(ctx, username, task_id, cycle.send_back, reason)
    click.echo(f"task #{task_id} sent back")


@tasks.command("attachment")
@click.argument("task_id", type=int)
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True)
@_user_option
@pass_ctx
def attachment_cmd(ctx: Context, task_id: int, out: str, username: str | None) -> None:
    """Save a task's attachment (audited)."""
    from warehouse import cycle

    name, content = _move(ctx, username, task_id, cycle.read_attachment,
                          ctx.settings.tasks.attachments)
    Path(out).write_bytes(content)
    click.echo(f"{name}: {len(content):,} bytes → {out}")


__all__ = ["alerts", "tasks"]
