"""A third-party source: the certificate list (证明事项) of a 'no-proof city' reform."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl

from ingest.contract import ORIGIN, ROW, Batch, PluginConfig, Source


class CertificatesConfig(PluginConfig):
    total: int = 97
    retained: int = 13


class CertificatesSource(Source):
    """Yields ``total`` certificates, the first ``retained`` kept and the rest abolished."""

    name = "certlist"
    Config = CertificatesConfig
    tables = ("certificates",)
    needs_table = False

    config: CertificatesConfig

    def extract(self, cursor: Any | None) -> Iterator[Batch]:
        n = self.config.total
        frame = pl.DataFrame({
            "certificate_id": [f"ZM{i:03d}" for i in range(1, n + 1)],
            "name": [f"证明事项{i}" for i in range(1, n + 1)],
            "status": ["retained" if i <= self.config.retained else "取消"
                       for i in range(1, n + 1)],
            "changed_at": ["2022-06-30"] * n,
            ROW: list(range(1, n + 1)),
            ORIGIN: ["certlist"] * n,
        })
        yield Batch(table="certificates", frame=frame, cursor={"done": True})
