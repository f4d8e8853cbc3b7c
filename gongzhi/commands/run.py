"""``gongzhi ingest | schedule | serve | demo``: the commands that do work."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from core import privacy
from core.errors import ConfigError, Problem
from gongzhi.cli import EXIT_FAILED, Context, cli, pass_ctx

REPO = Path(__file__).resolve().parents[2]


def demo_key(out_dir: Path) -> bytes:
    """The pseudonym key the demo wrote beside its config."""
    from gongzhi.demo import KEY_FILE

    return (out_dir / KEY_FILE).read_text(encoding="utf-8").strip().encode("utf-8")


def _check_jobs(_ctx: click.Context, _param: click.Parameter, value: int | None
                ) -> int | None:
    from core.run_settings import check_parallel_runs

    wrong = None if value is None else check_parallel_runs(value)
    if wrong:
        raise click.BadParameter(wrong)
    return value


@cli.command()
@click.argument("source_ids", nargs=-1)
@click.option("--quiet", is_flag=True, help="no progress lines")
@click.option("--jobs", type=int, default=None, callback=_check_jobs,
              help="sources run at once, in worker processes (PostgreSQL); "
                   "default [ingest] parallel_runs (1)")
@pass_ctx
def ingest(ctx: Context, source_ids: tuple[str, ...], quiet: bool, jobs: int | None) -> None:
    """Run the given sources now (all when none are named); exit 1 if any failed."""
    from ingest.progress import Progress
    from ingest.runner import build_runner

    lower_priority(ctx.settings.scheduler.nice)
    runner = build_runner(ctx.settings, ctx.engine(write=True),
                          progress=Progress(enabled=not quiet))
    results = runner.run(source_ids or None, trigger="manual",
                         jobs=jobs or ctx.settings.ingest.parallel_runs)
    for r in results:
        if r.status == "no_input":  # not a failure unless the source says `required = true`
            click.echo(f"warning: source {r.source} found no input ({r.error}); its data "
                       "was not updated", err=True)
    failed = [r for r in results if not r.ok]
    if failed:
        for r in failed:
            click.echo(f"error: source {r.source} {r.status}: {r.error}", err=True)
        sys.exit(EXIT_FAILED)


def lower_priority(nice: int) -> None:
    """Loads yield the CPU and the disk to the dashboard: a merge of a million rows uses
    every core and a lot of I/O, and the people looking at KPIs meanwhile should not wait."""
    if nice <= 0:
        return
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(nice)
    if sys.platform.startswith("linux"):  # I/O priority: the idle class (ioprio_set)
        with contextlib.suppress(Exception):
            import ctypes
            import platform

            nr = {"x86_64": 251, "aarch64": 30}.get(platform.machine())
            if nr is not None:
                idle_class = 3 << 13  # IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT
                ctypes.CDLL(None, use_errno=True).syscall(nr, 1, 0, idle_class)


def check_office_config(ctx: Context) -> None:
    """Scoring schemes are checked at start-up (``[bulletin]`` is, with the whole config): a
    scheme naming an unknown KPI stops the start with every problem listed (ConfigError,
    exit 2)."""
    from metrics.catalog import load_catalog
    from metrics.scoring import load_schemes

    load_schemes(load_catalog())


def _office_jobs(ctx: Context, engine: Any) -> list[tuple[str, str, Any]]:
    """The monthly bulletin on ``[bulletin] schedule`` (last month's, into the archive)."""
    conf = ctx.settings.bulletin
    if not conf.schedule:
        return []

    def bulletin() -> None:
        from bulletin import archive
        from core.timezone import to_local
        from metrics.scoring import load_schemes, pick
        from metrics.service import Metrics
        from warehouse.engine import utcnow

        m = Metrics(engine)
        scheme = pick(load_schemes(m.catalog), conf.scheme)
        made = archive.scheduled(m, scheme, conf, to_local(utcnow()).date())
        click.echo(f"bulletin: {len(made)} file(s) archived in {conf.archive}")

    return [("bulletin", conf.schedule, bulletin)]


@cli.command()
@click.option("--once", is_flag=True, help="do the start-up catch-up and exit (for cron/tests)")
@pass_ctx
def schedule(ctx: Context, once: bool) -> None:
    """Run the scheduler process: cron per source (Asia/Shanghai), catch-up at start-up."""
    from ingest.scheduler import SchedulerService

    lower_priority(ctx.settings.scheduler.nice)
    check_office_config(ctx)
    engine = ctx.engine(write=True)
    service = SchedulerService(ctx.settings, engine, extra_jobs=_office_jobs(ctx, engine))
    if once:
        results = service.catch_up()
        if any(not r.ok for r in results):
            sys.exit(EXIT_FAILED)
        return
    service.serve_forever()


@cli.command()
@click.option("--port", default=8501, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@pass_ctx
def serve(ctx: Context, port: int, host: str) -> None:
    """Start the dashboard (Streamlit) on the configured warehouse."""
    settings = ctx.settings  # validate before starting a server
    check_office_config(ctx)
    ctx.engine()  # the schema is checked (never upgraded: a reader never waits for a merge)
    from gongzhi.supervise import die_with_parent

    with tempfile.TemporaryDirectory(prefix="gongzhi-secrets-") as private:
        cmd, env = dashboard_command(settings, port, host, Path(private))
        os.chdir(REPO)  # .streamlit/config.toml (theme) is read from the working folder
        if "--secrets.files" not in cmd:
            # Nothing to clean up afterwards: become the server. A waiting parent would hold
            # ~80 MB (the config checks import the warehouse and plugin code) for nothing,
            # on every dashboard server of a cluster.
            os.execve(cmd[0], cmd, env)
        # Streamlit stops with this process: signals are passed on, and on Linux it is told
        # to stop if this process is killed outright (no server left behind on its port)
        proc = subprocess.Popen(cmd, env=env, preexec_fn=die_with_parent)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, _frame: proc.send_signal(signum))
        code = proc.wait()
    sys.exit(code)


def dashboard_command(settings: Any, port: int, host: str, private: Path
                      ) -> tuple[list[str], dict[str, str]]:
    """The Streamlit command line and environment of the dashboard (to run from ``REPO``);
    OIDC secrets, when configured, go to a file in ``private`` that must outlive it."""
    app = REPO / "dashboard" / "server.py"  # app.py plus the sign-in cookie's routes
    env = dict(os.environ)
    # glibc gives each thread that allocates its own malloc arena (up to 8 per core) and
    # keeps what they freed: every session's script thread left ~6 MB behind that way
    # (30 sessions: 769 MB with the default, 587 MB with 2 arenas; make bench-load)
    env.setdefault("MALLOC_ARENA_MAX", "2")
    if settings.path is not None:
        env["GONGZHI_CONFIG"] = str(Path(settings.path).resolve())
    cmd = [sys.executable, "-m", "streamlit", "run", str(app),
           "--server.port", str(port), "--server.address", host,
           "--server.headless", "true", "--browser.gatherUsageStats", "false",
           # a served dashboard does not watch its own source files (polling per session)
           "--server.fileWatcherType", "none", "--server.runOnSave", "false",
           # Streamlit forces a full gc.collect(2) after every run, fragment ticks included:
           # ~0.2 s of CPU each with our libraries loaded; Python's own GC is enough
           "--runner.postScriptGC", "false"]
    secrets_file = oidc_secrets(settings, private)
    if secrets_file is not None:
        cmd += ["--secrets.files", str(secrets_file)]
    return cmd, env


@cli.command()
@click.option("--port", default=8501, show_default=True, help="the dashboard's port")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--log-dir", type=click.Path(file_okay=False), default=None,
              help="where each process logs (default: logs/ beside the config file)")
@pass_ctx
def up(ctx: Context, port: int, host: str, log_dir: str | None) -> None:
    """Run the dashboard and the scheduler together, as two supervised processes.

    A process that stops is started again (backoff from 1 s to a minute); Ctrl-C or SIGTERM
    stops both, letting running loads finish (press again to stop at once)."""
    from gongzhi.supervise import Child, Supervisor

    settings = ctx.settings  # one validation for both, before anything starts
    check_office_config(ctx)
    ctx.engine(write=True)  # create or upgrade the schema once, before either reads it
    logs = Path(log_dir) if log_dir else settings.base_dir / "logs"
    config = [] if settings.path is None else ["--config", str(Path(settings.path).resolve())]
    with tempfile.TemporaryDirectory(prefix="gongzhi-secrets-") as private:
        cmd, env = dashboard_command(settings, port, host, Path(private))
        env["PYTHONUNBUFFERED"] = "1"  # log lines reach the files as they are written
        children = [
            Child("scheduler", [sys.executable, "-m", "gongzhi", *config, "schedule"],
                  logs / "scheduler.log", env=env),
            Child("dashboard", cmd, logs / "dashboard.log", env=env, cwd=REPO),
        ]
        click.echo(f"dashboard: http://{host}:{port} (log: {children[1].log})")
        click.echo(f"scheduler: runs sources on schedule and on request "
                   f"(log: {children[0].log})")
        sys.exit(Supervisor(children).run())


def oidc_secrets(settings: Any, folder: Path) -> Path | None:
    """Streamlit's ``[auth]`` secrets for ``st.login``, built from the config's ``[auth]``
    (settings) and the environment (secrets), in a private file that lives as long as the
    server. None when no provider is configured."""
    auth = settings.auth
    if not auth.oidc:
        return None
    missing = [k for k in ("client_secret_env", "cookie_secret_env")
               if not os.environ.get(str(getattr(auth, k) or ""))]
    if missing or not auth.client_id or not auth.redirect_uri:
        raise ConfigError([Problem("[auth]", "an OIDC provider needs client_id, redirect_uri, "
                                             "server_metadata_url, and the environment "
                                             "variables named by client_secret_env and "
                                             "cookie_secret_env")])
    assert auth.cookie_secret_env and auth.client_secret_env  # checked just above
    lines = ["[auth]",
             f"redirect_uri = {json.dumps(auth.redirect_uri)}",
             f"cookie_secret = {json.dumps(os.environ[auth.cookie_secret_env])}",
             f"client_id = {json.dumps(auth.client_id)}",
             f"client_secret = {json.dumps(os.environ[auth.client_secret_env])}",
             f"server_metadata_url = {json.dumps(auth.server_metadata_url)}"]
    path = folder / "secrets.toml"
    path.touch(mode=0o600)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@cli.command()
@click.option("--dir", "out_dir", default="var/demo", show_default=True,
              type=click.Path(file_okay=False), help="where the demo sources and config go")
@click.option("--scale", default=1.0, show_default=True,
              help="activity volume: 1 ≈ 150k cases; 67 ≈ the benchmark's 10M "
                   "(people stay the seed's)")
@click.option("--seed", default=2023, show_default=True)
@click.option("--no-ingest", is_flag=True, help="only write the sources and the config")
@click.option("--quiet", is_flag=True)
def demo(out_dir: str, scale: float, seed: int, no_ingest: bool, quiet: bool) -> None:
    """Write a realistic 樊城区 demo source set and a config for it, then ingest it."""
    from gongzhi.demo import write_demo
    from ingest.progress import Progress
    from ingest.registry import load_validated
    from ingest.runner import build_runner
    from warehouse.engine import open_warehouse

    config_path = write_demo(Path(out_dir), scale=scale, seed=seed,
                             log=(lambda m: None) if quiet else click.echo)
    click.echo(f"demo config: {config_path}")
    if no_ingest:
        return
    settings = load_validated(config_path)
    engine = open_warehouse(settings.warehouse_url, partition=settings.warehouse_partition)
    runner = build_runner(settings, engine, progress=Progress(enabled=not quiet))
    # The demo pseudonymises with the key it wrote beside its config and no other, so the
    # key file holds the key its warehouse was made with (an environment key would win
    # otherwise, and every later run without it would be refused).
    key = demo_key(Path(out_dir))
    if os.environ.get(privacy.KEY_ENV, "").encode() not in (b"", key):
        click.echo(f"note: {privacy.KEY_ENV} is set but the demo uses its own key "
                   "(the file named in its config); unset it for commands on the demo",
                   err=True)
    with privacy.using_key(key):
        results = runner.run(trigger="demo")
    bad = [r for r in results if not r.ok]
    for r in bad:
        click.echo(f"error: source {r.source} {r.status}: {r.error}", err=True)
    click.echo(f"warehouse: {settings.warehouse_url}")
    if bad:
        sys.exit(EXIT_FAILED)
