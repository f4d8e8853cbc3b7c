"""``files``: CSV and XLSX drops in a folder.

Each file is one batch. A file whose content hash was loaded before is skipped, whatever its
name: the cursor keeps the hashes of loaded files and is committed with the data, so a file is
marked loaded exactly when its rows are.
"""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field

from gongzhi.errors import SourceError
from ingest.contract import Batch, PluginConfig, Source
from ingest.plugins.textfile import read_csv, read_xlsx
from warehouse.engine import utcnow
from warehouse.schema import content_columns, data_tables

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}


class FilesConfig(PluginConfig):
    path: str = Field(description="glob of files, relative to the config folder")
    sheet: str | int | None = None
    encoding: str | None = None
    delimiter: str | None = None
    max_file_mb: float = 1024.0


class FilesSource(Source):
    """CSV (UTF-8, UTF-8 with BOM, GB18030) and XLSX files matched by a glob."""

    name = "files"
    Config = FilesConfig
    tables = None

    config: FilesConfig

    def describe(self) -> str:
        return str(self.spec.resolve(self.config.path))

    def files(self) -> list[Path]:
        pattern = str(self.spec.resolve(self.config.path))
        return sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())

    def extract(self, cursor: Any | None) -> Iterator[Batch]:
        loaded: dict[str, Any] = dict((cursor or {}).get("files", {}))
        table = data_tables()[self.spec.table or ""]
        known = {c.name for c in content_columns(table)} | set(self.spec.columns)
        found = self.files()
        if not found:
            self.ctx.warn(f"no files match {self.describe()}")
        for path in found:
            location = str(path)
            size_mb = path.stat().st_size / 2**20
            if size_mb > self.config.max_file_mb:
                raise SourceError(f"file is {size_mb:,.0f} MB, over the limit of "
                                  f"{self.config.max_file_mb:,.0f} MB", location=location)
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if digest in loaded:
                continue
            suffix = path.suffix.lower()
            if suffix in XLSX_SUFFIXES:
                frame = read_xlsx(path, location=location, known_headers=known,
                                  sheet=self.config.sheet)
                encoding = "xlsx"
            elif suffix in CSV_SUFFIXES:
                frame, encoding = read_csv(data, location=location, known_headers=known,
                                           encoding=self.config.encoding,
                                           delimiter=self.config.delimiter)
            else:
                raise SourceError(f"unsupported file type '{suffix}' (use .csv or .xlsx)",
                                  location=location)
            loaded[digest] = {"path": location, "loaded_at": utcnow().isoformat(),
                              "encoding": encoding, "rows": frame.height}
            yield Batch(table=table.name, frame=frame, cursor={"files": dict(loaded)},
                        note=location)
