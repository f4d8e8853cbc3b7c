"""``gongzhi``: the command line that drives everything (DESIGN §7)."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from core.errors import ConfigError, GongzhiError
from core.privacy import redact
from core.settings import Settings

if TYPE_CHECKING:
    from metrics.catalog import Catalog
    from metrics.service import Metrics

EXIT_FAILED = 1
EXIT_CONFIG = 2


class Context:
    """Lazily loaded config and warehouse shared by the sub-commands."""

    def __init__(self, config: str | None):
        self.config = config
        self._settings: Settings | None = None

    def use_config(self, config: str) -> None:
        """Switch to another config file (settings are loaded again on first use)."""
        self.config, self._settings = config, None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from ingest.registry import load_validated
            from metrics.catalog import load_catalog

            # alert rules naming an unknown KPI are reported with the other config problems
            self._settings = load_validated(self.config, kpi_ids=set(load_catalog().kpis))
        return self._settings

    def engine(self, *, write: bool = False) -> Any:
        """The warehouse engine. Readers (the default) check the schema without writing and
        never wait for a running merge; commands that load data pass ``write=True`` and
        create or upgrade the schema when needed."""
        from warehouse.engine import open_for_reading, open_warehouse

        if write:
            return open_warehouse(self.settings.warehouse_url,
                                  partition=self.settings.warehouse_partition)
        return open_for_reading(self.settings.warehouse_url,
                                partition=self.settings.warehouse_partition)

    def metrics(self, catalog: Catalog | None = None) -> Metrics:
        """KPI computation on the reading engine, with ``[warehouse] query_threads``."""
        from metrics.service import Metrics

        return Metrics(self.engine(), catalog, threads=self.settings.warehouse_query_threads)


pass_ctx = click.make_pass_decorator(Context)


def _config_after_command(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        obj = ctx.find_object(Context)
        if obj is not None:
            obj.use_config(value)


class GongzhiGroup(click.Group):
    """A group whose every command also takes ``--config`` after its name.

    People type ``gongzhi runs --config x.toml`` as often as ``gongzhi --config x.toml runs``;
    both mean the same, for every command, without each command declaring it.
    """

    group_class = type  # nested groups (``users``) behave the same

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not any(p.name == "config" for p in cmd.params):
            cmd.params.append(click.Option(
                ["--config"], type=click.Path(dir_okay=False), expose_value=False,
                callback=_config_after_command,
                help="config file (same as `gongzhi --config`)"))
        super().add_command(cmd, name)


@click.group(cls=GongzhiGroup)
@click.option("--config", "config", envvar="GONGZHI_CONFIG", default=None,
              type=click.Path(dir_okay=False), help="config file (default config/gongzhi.toml)")
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    """共治 Gongzhi: governance data for a city district."""
    ctx.obj = Context(config)


def main() -> None:
    """Console entry point: clear messages for expected errors, no tracebacks."""
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except ConfigError as e:
        click.echo(f"error: {redact(str(e))}", err=True)
        sys.exit(EXIT_CONFIG)
    except GongzhiError as e:  # messages may quote source data: the redaction step applies
        click.echo(f"error: {redact(str(e))}", err=True)
        sys.exit(EXIT_FAILED)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # a clear line for people; the traceback on request
        if os.environ.get("GONGZHI_DEBUG"):
            raise
        from warehouse.engine import explain

        why = explain(e) or f"internal error: {type(e).__name__}: {str(e).splitlines()[0]}"
        click.echo(f"error: {redact(why)} (set GONGZHI_DEBUG=1 for the traceback)", err=True)
        sys.exit(EXIT_FAILED)


def _json_default(o: Any) -> Any:
    if isinstance(o, datetime):
        return o.isoformat() + ("Z" if o.tzinfo is None else "")
    return str(o)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default))


def echo_table(rows: list[dict[str, Any]], columns: list[str],
               headers: dict[str, str] | None = None) -> None:
    """A plain, aligned text table that stays readable with Chinese text in a terminal."""
    from gongzhi.textwidth import pad, width

    headers = headers or {}
    cells = [[headers.get(c, c) for c in columns]] + [
        ["" if r.get(c) is None else _fmt(r.get(c)) for c in columns] for r in rows
    ]
    widths = [max(width(row[i]) for row in cells) for i in range(len(columns))]
    for n, row in enumerate(cells):
        click.echo("  ".join(pad(v, widths[i]) for i, v in enumerate(row)).rstrip())
        if n == 0:
            click.echo("  ".join("-" * w for w in widths))


def _fmt(v: Any) -> str:
    if isinstance(v, datetime):
        from core.timezone import to_local

        return to_local(v).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, float):
        return f"{v:,.4g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


# Sub-commands live in their own modules; importing registers them on ``cli``.
from gongzhi import commands  # noqa: E402,F401
