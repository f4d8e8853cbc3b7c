"""``sql``: incremental reads of a table or a query from any SQLAlchemy URL, by a cursor column.

Rows with ``cursor >= last value`` are read in cursor order, in chunks; the boundary value is
read again on purpose (rows committed later with the same cursor value are not missed) and
the merge makes re-reading harmless.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import polars as pl
from pydantic import model_validator
from sqlalchemy import MetaData, Table, column, create_engine, literal_column, select, text
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from gongzhi.errors import SourceError, TransientSourceError
from ingest.contract import ORIGIN, ROW, Batch, PluginConfig, Source


class SqlConfig(PluginConfig):
    url: str
    source_table: str | None = None
    query: str | None = None
    cursor: str | None = None
    batch_size: int = 100_000
    url_env: str | None = None  # name of an environment variable holding the URL's password

    @model_validator(mode="after")
    def _one_of(self) -> SqlConfig:
        if bool(self.source_table) == bool(self.query):
            raise ValueError("give exactly one of 'source_table' or 'query'")
        return self


def _encode(value: Any) -> dict[str, Any]:
    if isinstance(value, dt.datetime):
        return {"type": "datetime", "value": value.isoformat()}
    if isinstance(value, dt.date):
        return {"type": "date", "value": value.isoformat()}
    if isinstance(value, int | float):
        return {"type": "number", "value": value}
    return {"type": "str", "value": str(value)}


def _decode(c: dict[str, Any]) -> Any:
    kind, value = c.get("type"), c.get("value")
    if value is None:
        return None
    if kind == "datetime":
        return dt.datetime.fromisoformat(value)
    if kind == "date":
        return dt.date.fromisoformat(value)
    return value


class SqlSource(Source):
    """Reads a source database table or query; the cursor column makes reads incremental."""

    name = "sql"
    Config = SqlConfig
    tables = None

    config: SqlConfig

    def describe(self) -> str:
        what = self.config.source_table or "query"
        return f"{self._safe_url()} ({what})"

    def _safe_url(self) -> str:
        from sqlalchemy.engine import make_url

        try:
            return make_url(self._url()).render_as_string(hide_password=True)
        except Exception:
            return "<invalid url>"

    def _url(self) -> str:
        from sqlalchemy.engine import make_url

        url = self.config.url
        u = make_url(url)
        if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
            url = u.set(database=str(self.spec.resolve(u.database))).render_as_string(
                hide_password=False)
        if self.config.url_env:
            import os

            secret = os.environ.get(self.config.url_env)
            if secret is None:
                raise SourceError(f"environment variable {self.config.url_env} is not set")
            url = make_url(url).set(password=secret).render_as_string(hide_password=False)
        return url

    def extract(self, cursor: Any | None) -> Iterator[Batch]:
        location = self.describe()
        try:
            engine = create_engine(self._url())
        except (SQLAlchemyError, ValueError) as e:
            raise SourceError(f"bad source URL: {e}", location=location) from None
        try:
            yield from self._read(engine, cursor, location)
        except SQLAlchemyError as e:
            orig = getattr(e, "orig", None) or e
            err = TransientSourceError if "OperationalError" in type(e).__name__ else SourceError
            raise err(f"source database error: {str(orig).splitlines()[0]}",
                      location=location) from None
        finally:
            engine.dispose()

    def _read(self, engine: Any, cursor: Any | None, location: str) -> Iterator[Batch]:
        cfg = self.config
        if cfg.source_table:
            try:
                src: Any = Table(cfg.source_table, MetaData(), autoload_with=engine)
            except NoSuchTableError:
                raise SourceError(f"no table '{cfg.source_table}'", location=location) from None
            stmt = select(src)
            cur_col = src.c[cfg.cursor] if cfg.cursor else None
            if cfg.cursor and cur_col is None:
                raise SourceError(f"no cursor column '{cfg.cursor}'", location=location)
        else:
            src = text(cfg.query or "").columns().subquery("src")
            stmt = select(literal_column("*")).select_from(src)
            cur_col = column(cfg.cursor) if cfg.cursor else None
        last = _decode(cursor["last"]) if cursor and "last" in cursor else None
        if cur_col is not None:
            if last is not None:
                stmt = stmt.where(cur_col >= last)
            stmt = stmt.order_by(cur_col)

        row_no = 0
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True,
                                            yield_per=cfg.batch_size).execute(stmt)
            keys = list(result.keys())
            if cfg.cursor and cfg.cursor not in keys:
                raise SourceError(f"no cursor column '{cfg.cursor}' in the result",
                                  location=location)
            for part in result.partitions(cfg.batch_size):
                frame = pl.DataFrame([tuple(r) for r in part], schema=keys, orient="row",
                                     infer_schema_length=None, strict=False)
                frame = frame.with_columns(
                    pl.int_range(row_no + 1, row_no + frame.height + 1, dtype=pl.Int64).alias(ROW),
                    pl.lit(location).alias(ORIGIN))
                row_no += frame.height
                new_cursor: Any = cursor
                if cfg.cursor:
                    top = frame[cfg.cursor].drop_nulls()
                    if top.len():
                        new_cursor = {"last": _encode(top.max())}
                self.ctx.progress("read", row_no)
                cursor = new_cursor
                yield Batch(table=self.spec.table or "", frame=frame, cursor=new_cursor,
                            note=location)
