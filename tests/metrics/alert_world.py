"""A small district for the alert and task tests, with real receivers on 127.0.0.1.

Service cases in two streets over the last complete month P and the month before (Q):
汉江街道 (420606001) is red on the online case rate in P (10 of 40 online, target 60 %);
王寨街道 (420606002) is blue in P (40 of 50) but fell from 50 of 50 in Q (−20 points).
The expected figures are computed here from the rows, independently of the metrics code.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from core.timezone import to_local
from metrics import periods
from tests.conftest import DIVISIONS_CSV, toml_value

HANJIANG, WANGZHAI = "420606001000", "420606002000"
COMMUNITY = {HANJIANG: "420606001001", WANGZHAI: "420606002001"}
NAMES = {HANJIANG: "汉江街道", WANGZHAI: "王寨街道"}
# (street, month tag) -> (cases, online)
COUNTS = {(HANJIANG, "P"): (40, 10), (HANJIANG, "Q"): (40, 12),
          (WANGZHAI, "P"): (50, 40), (WANGZHAI, "Q"): (50, 50)}


def months(today: dt.date | None = None) -> tuple[periods.Period, periods.Period]:
    """(P, Q): the last complete month in local time and the one before."""
    from warehouse.engine import utcnow

    day = today or to_local(utcnow()).date()
    p = periods.latest_complete("month", day)
    return p, p.previous()


def case_rows(p: periods.Period, q: periods.Period) -> list[dict[str, Any]]:
    rows = []
    for (street, tag), (n, online) in COUNTS.items():
        month = p if tag == "P" else q
        for i in range(n):
            day = month.start + dt.timedelta(days=i % 20)
            rows.append({"case_id": f"C{street[6:9]}{tag}{i:03d}", "item_code": "I1",
                         "community_code": COMMUNITY[street],
                         "channel": "online" if i < online else "window",
                         "submitted_at": f"{day:%Y-%m-%d} 09:30", "status": "accepted",
                         "visits": 0 if i < online else 1})
    return rows


def expected_rate(rows: list[dict[str, Any]], street: str, month: periods.Period) -> float:
    """The online case rate of a street in a month, counted from the rows themselves."""
    prefix = street[:9]
    mine = [r for r in rows if r["community_code"].startswith(prefix)
            and month.start <= dt.date.fromisoformat(r["submitted_at"][:10]) < month.end]
    return sum(r["channel"] == "online" for r in mine) / len(mine)


def write_world(folder: Path, alerts_toml: str, *, url: str | None = None,
                sign_in: str = "required") -> Path:
    """Division list, the cases as a CSV drop, and a config with the given alert rules."""
    p, q = months()
    (folder / "divisions").mkdir(parents=True, exist_ok=True)
    (folder / "divisions" / "fancheng_2023.csv").write_text(
        DIVISIONS_CSV.read_text(encoding="utf-8"), encoding="utf-8")
    rows = case_rows(p, q)
    (folder / "data").mkdir(exist_ok=True)
    with (folder / "data" / "cases.csv").open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    url = url or f"sqlite:///{folder / 'w.db'}"
    cfg = folder / "gongzhi.toml"
    cfg.write_text(f"""[warehouse]
url = {toml_value(url)}

[dashboard]
sign_in = "{sign_in}"

[[sources]]
id = "divs"
plugin = "divisions"
path = "divisions/*.csv"

[[sources]]
id = "cases"
plugin = "files"
table = "service_cases"
path = "data/cases.csv"

{alerts_toml}
""", encoding="utf-8")
    return cfg


# -- receivers -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class HttpReceiver:
    """A JSON webhook receiver on 127.0.0.1 (http.server in a thread)."""

    port: int = 0
    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self) -> HttpReceiver:
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                posts.append((self.path, json.loads(self.rfile.read(n).decode("utf-8"))))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port or 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class SmtpReceiver:
    """A real SMTP server on 127.0.0.1 (aiosmtpd) keeping the messages it is given."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Any] = []
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                import email
                from email import policy

                outer.messages.append(email.message_from_bytes(envelope.content,
                                                               policy=policy.default))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def bodies(self) -> list[tuple[str, str]]:
        out = []
        for m in self.messages:
            part = m.get_body(preferencelist=("plain", "html"))
            text = part.get_content() if part else ""
            out.append((str(m["Subject"]), text.replace("\r\n", "\n")))
        return out

    def stop(self) -> None:
        self.controller.stop()
        asyncio.set_event_loop(None)
