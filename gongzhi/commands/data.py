"""``gongzhi sources | runs | quarantine``: what is configured, what ran, what was set aside."""

from __future__ import annotations

import click

from gongzhi.cli import Context, cli, echo_json, echo_table, pass_ctx

RUN_HEADERS = {
    "run_id": "运行", "source": "数据源", "trigger": "触发", "status": "状态",
    "started_at": "开始", "finished_at": "结束", "read": "读取", "loaded": "入库",
    "quarantined": "隔离", "duplicates": "重复", "error": "错误",
}


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_ctx
def sources(ctx: Context, fmt: str) -> None:
    """List configured sources, installed plugins and plugins that failed to load."""
    from ingest.registry import registry
    from warehouse import runlog

    reg = registry()
    try:
        settings = ctx.settings
        states = runlog.source_states(ctx.engine())
        configured = [
            {"source": s.id, "plugin": s.plugin, "table": s.table or "",
             "schedule": s.schedule or "manual",
             "last_success": states.get(s.id, {}).get("checked"),
             "last_data": states.get(s.id, {}).get("arrived"),
             "warning": _no_input(states.get(s.id, {}).get("warning"))}
            for s in settings.sources
        ]
        config_error = None
    except Exception as e:  # still list plugins when the config itself is broken
        configured, config_error = [], str(e)
    plugins = [{"plugin": n, "status": "ok", "target": reg.origins[n]} for n in sorted(reg.plugins)]
    plugins += [{"plugin": b.name, "status": "broken", "target": f"{b.target}: {b.error}"}
                for b in reg.broken.values()]
    calendar = None if config_error else _calendar(ctx, fmt == "table")
    if fmt == "json":
        echo_json({"sources": configured, "plugins": plugins, "config_error": config_error,
                   "calendar": calendar})
        return
    if config_error:
        click.echo(f"config error: {config_error}\n", err=True)
    if configured:
        click.echo("Sources:")
        echo_table(configured, ["source", "plugin", "table", "schedule", "last_success",
                                "last_data", "warning"])
        click.echo("")
    if calendar is not None:
        click.echo("Holiday calendar (按期 working days):")
        labels = {"notice": "loaded notice", "package": "chinese-calendar",
                  None: "none: Monday-Friday"}
        echo_table([{**y, "year": str(y["year"]), "origin": labels[y["origin"]],
                     "sources": ", ".join(y["sources"])} for y in calendar["years"]],
                   ["year", "origin", "sources", "days"])
        click.echo("")
    click.echo("Plugins (entry-point group gongzhi.sources):")
    echo_table(plugins, ["plugin", "status", "target"])
    if reg.broken:
        click.echo(f"\n{len(reg.broken)} plugin(s) failed to load; sources using them cannot run.",
                   err=True)


@cli.command()
@click.option("--source", default=None, help="only this source")
@click.option("--limit", default=50, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_ctx
def runs(ctx: Context, source: str | None, limit: int, fmt: str) -> None:
    """The run log, newest first: read = loaded + quarantined + duplicates."""
    from core.privacy import redact
    from warehouse import runlog

    engine = ctx.engine()
    rows = runlog.list_runs(engine, source=source, limit=limit)
    for r in rows:  # errors are redacted when written; older rows pass the step here too
        r["error"] = redact(r["error"]) if r["error"] else r["error"]
    if fmt == "json":
        keys = ("run_id", "source", "status", "started_at", "finished_at", "read", "loaded",
                "quarantined", "duplicates", "error")
        echo_json([{k: r[k] for k in keys} for r in rows])
        return
    if not rows:
        click.echo("no runs yet; try `gongzhi ingest`")
    else:
        for r in rows:
            if r["status"] in WARN_STATUSES:
                r["status"] = f"⚠ {r['status']}"
        echo_table(rows, ["run_id", "source", "trigger", "status", "started_at", "read",
                          "loaded", "quarantined", "duplicates", "error"], RUN_HEADERS)
    for sid, state in sorted(runlog.source_states(engine).items()):
        if state["warning"] and (source is None or sid == source):
            click.echo(f"warning: {sid} {_no_input(state['warning'])}; its data was not "
                       "updated", err=True)
    # (JSON keeps its documented list shape: `gongzhi sources --format json` has the calendar)
    _calendar(ctx)


WARN_STATUSES = ("no_input", "interrupted")


def _no_input(message: str | None) -> str | None:
    """The warning shown where a source's latest run found nothing to read."""
    return f"found no input in its latest run ({message})" if message else None


def _calendar(ctx: Context, warn: bool = True) -> dict:
    """This year's and next year's holiday calendar; with ``warn``, a warning on stderr when
    one is missing (next year: from ``[calendar] warn_days_ahead`` days before it begins)."""
    from metrics.calendar import calendar_status, missing_message

    status = calendar_status(ctx.engine(),
                             warn_days_ahead=ctx.settings.calendar.warn_days_ahead)
    message = missing_message(status)
    if message and warn:
        click.echo(message, err=True)
    return {
        "years": [{"year": y.year, "origin": y.origin,
                   "sources": list(y.sources), "days": y.days} for y in status.years],
        "missing": list(status.missing),
    }


@cli.command()
@click.option("--source", default=None)
@click.option("--run", "run_id", type=int, default=None)
@click.option("--reason", default=None, help="e.g. unknown_community, bad_date")
@click.option("--limit", default=100, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option("--user", "username", default=None,
              help="a leader's account (password from GONGZHI_PASSWORD or a prompt); "
                   "needed unless the dashboard is open")
@pass_ctx
def quarantine(ctx: Context, source: str | None, run_id: int | None, reason: str | None,
               limit: int, fmt: str, username: str | None) -> None:
    """Rows set aside by runs, with the file, row, column and reason (raw source rows:
    leaders only, audited, as in the dashboard)."""
    from gongzhi.commands.access import require_leader, viewer_for
    from warehouse import audit, runlog

    viewer = viewer_for(ctx, username, "quarantine", person_level=True)
    assert viewer is not None  # person-level: a viewer or a refusal
    filters = {"source": source, "run": run_id, "reason": reason, "limit": limit}
    require_leader(ctx, viewer, "quarantine", filters)
    rows = runlog.list_quarantine(ctx.engine(), source=source, run_id=run_id, reason=reason,
                                  limit=limit)
    if rows:
        audit.record(ctx.engine(), username=viewer.username, role=viewer.role,
                     action=audit.VIEW_ROWS, target="cli:quarantine", filters=filters,
                     row_count=len(rows))
    if fmt == "json":
        echo_json(rows)
        return
    if not rows:
        click.echo("the quarantine is empty")
        return
    for r in rows:
        place = r["origin"] or ""
        if r["sheet"]:
            place += f" [{r['sheet']}]"
        click.echo(f"#{r['id']} run {r['run_id']} {r['source']} → {r['table_name']}: "
                   f"{place} row {r['row_number']}, column {r['column_name']}")
        click.echo(f"    {r['reason']}: {r['message']}")
        click.echo(f"    raw: {r['raw']}")
