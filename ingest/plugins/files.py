"""``files``: CSV and XLSX drops in a folder.

A file is read in batches of about ``[ingest] chunk_rows`` rows (UTF-8 text and large files
in other encodings are streamed; small ones in other encodings and XLSX are read whole). A
file whose content hash was loaded before is skipped, whatever its name: the cursor keeps the
hashes of loaded files and is committed with the data, so a file is marked loaded exactly when
its rows are.
"""

from __future__ import annotations

import glob
import itertools
import zipfile
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import polars as pl
from pydantic import Field, field_validator

from core.errors import SourceError
from core.privacy import redact
from ingest.contract import Batch, PluginConfig, Source
from ingest.plugins.ahead import ahead
from ingest.plugins.textfile import read_csv, read_xlsx
from ingest.plugins.textstream import scan, stream_csv, stream_encoded, streamable
from warehouse.engine import utcnow
from warehouse.schema import content_columns, data_tables

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}


class FilesConfig(PluginConfig):
    path: str = Field(description="glob of files, relative to the config folder")
    sheet: str | int | None = None
    encoding: str | None = None
    delimiter: str | None = None
    max_file_mb: float = 102_400.0  # text is streamed: memory does not follow file size
    max_unzipped_mb: float = 1024.0  # an XLSX is a zip: its inflated size, checked first

    @field_validator("path")
    @classmethod
    def _inside(cls, v: str) -> str:
        # The drop folder is a sandbox: a config cannot make the loader read /etc or ../..
        p = PurePosixPath(v.replace("\\", "/"))
        if p.is_absolute() or PureWindowsPath(v).is_absolute():
            raise ValueError("must be relative to the config folder, not an absolute path")
        if ".." in p.parts:
            raise ValueError("must stay inside the config folder ('..' is not allowed)")
        return v


def check_inside(path: Path, root: Path) -> None:
    """Refuse symbolic links and anything that resolves outside the drop folder."""
    p = path
    while p != p.parent and p != root and str(p).startswith(str(root)):
        if p.is_symlink():
            raise SourceError("symbolic links are not followed in a drop folder",
                              location=str(path))
        p = p.parent
    if not path.resolve().is_relative_to(root):
        raise SourceError("the file is outside the config folder", location=str(path))


def check_zip(path: Path, max_unzipped_mb: float) -> None:
    """Refuse zip bombs before any parsing: too many entries, or too much once inflated."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except zipfile.BadZipFile:
        raise SourceError("not a valid XLSX (zip) file", location=str(path)) from None
    total = sum(i.file_size for i in infos)
    packed = max(sum(i.compress_size for i in infos), 1)
    if len(infos) > 10_000:
        raise SourceError(f"refused: the XLSX holds {len(infos):,} parts", location=str(path))
    if total > max_unzipped_mb * 2**20 or total / packed > 200:
        raise SourceError(f"refused: the XLSX inflates to {total / 2**20:,.0f} MB from "
                          f"{packed / 2**20:,.1f} MB (a zip bomb?); limit "
                          f"{max_unzipped_mb:,.0f} MB, ratio 200", location=str(path))


class FilesSource(Source):
    """CSV (UTF-8, UTF-8 with BOM, GB18030) and XLSX files matched by a glob."""

    name = "files"
    Config = FilesConfig
    tables = None

    config: FilesConfig

    def describe(self) -> str:
        return str(self.spec.resolve(self.config.path))

    def files(self) -> list[Path]:
        return matching_files(self.spec, self.config.path)

    def extract(self, cursor: Any | None) -> Iterator[Batch]:
        loaded: dict[str, Any] = dict((cursor or {}).get("files", {}))
        table = data_tables()[self.spec.table or ""]
        known = {c.name for c in content_columns(table)} | set(self.spec.columns)
        found = self.files()
        if not found:  # the export did not arrive: no input (files known before do not count)
            self.ctx.no_input(f"no files match {self.describe()}")
        for path in found:
            location = str(path)
            size_mb = path.stat().st_size / 2**20
            if size_mb > self.config.max_file_mb:
                raise SourceError(f"file is {size_mb:,.0f} MB, over the limit of "
                                  f"{self.config.max_file_mb:,.0f} MB", location=location)
            suffix = path.suffix.lower()
            wanted = (self.config.encoding or "utf-8").lower().replace("_", "-")
            streamed = suffix in CSV_SUFFIXES and wanted in ("utf-8", "utf8", "utf-8-sig")
            frames: Iterator[pl.DataFrame] | None = None
            pieces = None
            if streamed:  # the common case, and the only one a large export should be
                digest, pieces = _scan_and_start(path, location=location, known_headers=known,
                                                 delimiter=self.config.delimiter,
                                                 chunk_rows=self.ctx.chunk_rows)
            else:
                digest, _ = scan(path)  # streamed: the file is never held whole for this
            if digest in loaded:
                if pieces is not None:
                    pieces.close()
                continue
            if suffix in XLSX_SUFFIXES:
                check_zip(path, self.config.max_unzipped_mb)
                frames = iter([read_xlsx(path, location=location, known_headers=known,
                                         sheet=self.config.sheet)])
                encoding = "xlsx"
            elif suffix in CSV_SUFFIXES:
                if pieces is not None:  # UTF-8: read in pieces
                    frames, encoding = pieces, "utf-8"
                elif streamable(path, self.config.encoding):  # a large GB18030 export
                    # read and decoded a piece ahead, on a thread, while the run loads the last
                    pairs = ahead(stream_encoded(path, location=location, known_headers=known,
                                                 encoding=self.config.encoding,
                                                 delimiter=self.config.delimiter,
                                                 chunk_rows=self.ctx.chunk_rows))
                    frame, encoding = next(pairs)
                    frames = itertools.chain([frame], (f for f, _ in pairs))
                else:  # other or mixed encodings: decided and checked on the whole file
                    frame, encoding = read_csv(path.read_bytes(), location=location,
                                               known_headers=known,
                                               encoding=self.config.encoding,
                                               delimiter=self.config.delimiter)
                    frames = iter([frame])
            else:
                raise SourceError(f"unsupported file type '{suffix}' (use .csv or .xlsx)",
                                  location=location)
            # The file counts as loaded (the cursor) with its last piece only: the cursor is
            # stored with everything read before it. Serial day numbers are dates in a
            # spreadsheet's cells, never in a text file.
            rows = 0
            assert frames is not None
            frame = next(frames)
            for after in frames:
                rows += frame.height
                yield Batch(table=table.name, frame=frame, note=location,
                            serial_dates=encoding == "xlsx")
                frame = after
            rows += frame.height
            # the cursor names the file for people; a name may hold an ID number
            loaded[digest] = {"path": redact(location), "loaded_at": utcnow().isoformat(),
                              "encoding": encoding, "rows": rows}
            yield Batch(table=table.name, frame=frame, cursor={"files": dict(loaded)},
                        note=location, serial_dates=encoding == "xlsx")


def _scan_and_start(path: Path, **csv_options: Any
                    ) -> tuple[str, Generator[pl.DataFrame, None, None] | None]:
    """The file's hash (:func:`scan`), computed on a thread of its own while
    :func:`stream_csv` (``csv_options``) reads the first piece: hashlib and polars let go of
    the GIL, so the 0.2 s of hashing and checking 100 MB no longer come before the first row
    is cast. Returns the pieces, the first one already read, for a UTF-8 file; None for
    another (read whole by the caller). An error reading the first piece is raised when the
    pieces are asked for, so a file loaded before is skipped as it always was, whatever it
    holds (at the cost of one piece read for nothing)."""
    with ThreadPoolExecutor(1, thread_name_prefix="gongzhi-scan") as pool:
        scanned = pool.submit(scan, path)
        frames = stream_csv(path, **csv_options)
        try:
            first: pl.DataFrame | None = next(frames)
            error: Exception | None = None
        except Exception as e:
            first, error = None, e
        digest, utf8 = scanned.result()
    if not utf8:
        frames.close()
        return digest, None
    return digest, _pieces(first, error, frames)


def _pieces(first: pl.DataFrame | None, error: Exception | None,
            frames: Generator[pl.DataFrame, None, None]
            ) -> Generator[pl.DataFrame, None, None]:
    try:
        if error is not None:
            raise error
        assert first is not None
        yield first
        yield from frames
    finally:
        frames.close()


def matching_files(spec: Any, path: str) -> list[Path]:
    """The files a drop-folder glob matches, sorted, each checked to lie inside the config's
    folder (the sandbox every file-reading plugin shares)."""
    pattern = str(spec.resolve(path))
    root = spec.base_dir.resolve()
    found = sorted(Path(p) for p in glob.glob(pattern, recursive=True))
    for p in found:
        check_inside(p, root)
    return [p for p in found if p.is_file()]
