"""record_pieces (ingest/plugins/textstream.py): a file cut into pieces that end at records'
ends, with and without quoted fields holding newlines, against the csv module's records."""

from __future__ import annotations

import csv
import io
import random

import pytest

from ingest.plugins.textstream import record_pieces


def _file(rng: random.Random, rows: int, quoted: bool) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    for i in range(rows):
        note = f"第{i}行" + ("\n续行, \"引号\"" if quoted and rng.random() < 0.2 else "")
        w.writerow([i, note, "x" * rng.randrange(30)])
    return out.getvalue().encode("utf-8")


@pytest.mark.parametrize("quoted", [False, True])
@pytest.mark.parametrize("block", [7, 64, 1000, 10**6])
def test_pieces_end_where_records_end(quoted: bool, block: int) -> None:
    data = _file(random.Random(block), 300, quoted)
    pieces = list(record_pieces(io.BytesIO(data), block))
    assert b"".join(pieces) == data
    records = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    got = [r for p in pieces for r in csv.reader(io.StringIO(p.decode("utf-8")))]
    assert got == records  # no record cut in two (each piece parses on its own)
    assert pieces[-1] == b"" or pieces[-1].endswith(b"\n")
