"""A small Gongzhi cluster on 127.0.0.1 for the tests: a PostgreSQL hot standby of the shared
test server (made with pg_basebackup, as the postgres user), nginx in front of several
``gongzhi serve`` processes, run from ``deploy/nginx/gongzhi.conf`` itself.

The primary at 127.0.0.1:5432 is shared with every other PostgreSQL test: it is never
restarted here. The only change made to it is one pg_hba.conf line allowing replication
connections from 127.0.0.1 (added when missing, then a reload), and standbys use no
replication slot, so one left behind by a killed test never holds WAL on the primary.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from tests.conftest import PG_ADMIN_URL, REQUIRE_PG
from tests.dashboard import browser

REPO = Path(__file__).resolve().parents[2]
NGINX_SITE = REPO / "deploy" / "nginx" / "gongzhi.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
REQUIRE = REQUIRE_PG or browser.REQUIRE  # CI (.ci/run installs nginx and starts PostgreSQL)
REPLICATION_HBA = "host replication postgres 127.0.0.1/32 trust"
# settings a hot standby must have at least as high as its primary
MATCH_PRIMARY = ("max_connections", "max_worker_processes", "max_wal_senders",
                 "max_prepared_transactions", "max_locks_per_transaction")


def need(what: str, why: str | None) -> None:
    if why is None:
        return
    if REQUIRE:
        pytest.fail(f"the cluster tests must run here but {what}: {why}")
    pytest.skip(f"{what}: {why}")


def admin() -> Engine:
    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def as_postgres(cmd: list[str]) -> list[str]:
    """Run ``cmd`` as the postgres user (PostgreSQL refuses to run as root)."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def pg_bin(engine: Engine) -> Path:
    with engine.connect() as c:
        major = int(c.execute(text("SHOW server_version_num")).scalar_one()) // 10000
    return Path(f"/usr/lib/postgresql/{major}/bin")


def allow_replication(engine: Engine) -> None:
    """Make sure the primary takes replication connections from 127.0.0.1 (a reload, never
    a restart). wal_level=replica and max_wal_senders > 0 are PostgreSQL's defaults."""
    with engine.connect() as c:
        level = c.execute(text("SHOW wal_level")).scalar_one()
        senders = int(c.execute(text("SHOW max_wal_senders")).scalar_one())
        if level not in ("replica", "logical") or senders < 3:
            need("the primary cannot feed a standby", f"wal_level={level}, "
                 f"max_wal_senders={senders} (changing them needs a restart)")
        rules = c.execute(text(
            "SELECT count(*) FROM pg_hba_file_rules WHERE 'replication' = ANY(database) "
            "AND type = 'host' AND address = '127.0.0.1' AND auth_method = 'trust'"
        )).scalar_one()
        if rules:
            return
        hba = Path(c.execute(text("SHOW hba_file")).scalar_one())
        with hba.open("a", encoding="utf-8") as f:
            f.write(f"\n# Gongzhi cluster tests: a standby on this machine\n{REPLICATION_HBA}\n")
        c.execute(text("SELECT pg_reload_conf()"))


class Standby:
    """A hot standby of the test server in a folder of its own, on ``port``."""

    def __init__(self, bindir: Path, folder: Path, port: int, settings: dict[str, str]):
        self.bindir, self.folder, self.port, self.settings = bindir, folder, port, settings
        self.data = folder / "data"
        self.log = folder / "standby.log"

    def url(self, options: str = "") -> str:
        base = PG_ADMIN_URL.replace("127.0.0.1:5432", f"127.0.0.1:{self.port}")
        return base + options

    def start(self) -> None:
        opts = " ".join(f"-c {k}={v}" for k, v in {
            "port": str(self.port), "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.folder), "hot_standby": "on",
            # the primary keeps rows a dashboard query on the standby still reads
            "hot_standby_feedback": "on", "shared_buffers": "32MB",
            **self.settings}.items())
        done = subprocess.run(as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data),
                                           "-l", str(self.log), "-o", opts, "-w", "-t", "60",
                                           "start"]), capture_output=True, text=True)
        if done.returncode:
            log = self.log.read_text(encoding="utf-8") if self.log.exists() else ""
            raise RuntimeError(f"the standby did not start: {done.stdout}{done.stderr}{log}")

    def stop(self) -> None:
        subprocess.run(as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m",
                                    "fast", "-w", "stop"]), capture_output=True)

    def engine(self) -> Engine:
        return create_engine(self.url(), isolation_level="AUTOCOMMIT", pool_pre_ping=True)


@contextmanager
def standby() -> Iterator[Standby]:
    """A fresh hot standby of the shared test server (pg_basebackup -R), removed afterwards."""
    with from_base_backup(["-R", "-X", "stream"]) as node:
        node.start()
        yield node


@contextmanager
def from_base_backup(args: list[str], conf: str = "") -> Iterator[Standby]:
    """A base backup of the shared test server taken now (``pg_basebackup`` with ``args``)
    in a folder of its own, not started; ``conf`` goes into its postgresql.conf. Stopped
    and removed afterwards."""
    primary = admin()
    try:
        with primary.connect() as c:
            c.execute(text("SELECT 1"))
    except Exception as e:
        need("PostgreSQL at 127.0.0.1:5432 is unreachable", str(e).splitlines()[0])
    allow_replication(primary)
    bindir = pg_bin(primary)
    with primary.connect() as c:
        settings = {k: str(c.execute(text(f"SHOW {k}")).scalar_one()) for k in MATCH_PRIMARY}
    primary.dispose()
    folder = postgres_folder("gz-node-")
    node = Standby(bindir, folder, browser.free_port(), settings)
    try:
        made = subprocess.run(as_postgres([
            str(bindir / "pg_basebackup"), "-h", "127.0.0.1", "-p", "5432", "-U", "postgres",
            "-D", str(node.data), "-c", "fast", *args]),
            capture_output=True, text=True, timeout=600)
        if made.returncode:
            need("pg_basebackup failed", made.stderr.strip()[-400:])
        # Debian keeps the server's config files in /etc, outside the copied data folder;
        # the node gets its own (settings that matter are passed on its command line)
        for name, body in (("postgresql.conf", f"# a test node: see tests/cluster\n{conf}"),
                           ("pg_hba.conf", "local all all trust\n"
                                           "host all all 127.0.0.1/32 trust\n"),
                           ("pg_ident.conf", "")):
            write_as_postgres(node.data / name, body)
        yield node
    finally:
        node.stop()
        shutil.rmtree(folder, ignore_errors=True)


def postgres_folder(prefix: str) -> Path:
    """A new folder under /tmp that the postgres user owns."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    return folder


def write_as_postgres(path: Path, body: str) -> None:
    path.write_text(body, encoding="utf-8")
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def wait_replayed(primary: Engine, node: Engine, timeout: float = 60.0) -> None:
    """Wait until the standby has replayed everything the primary has written so far."""
    with primary.connect() as c:
        lsn = c.execute(text("SELECT pg_current_wal_lsn()::text")).scalar_one()
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(Exception), node.connect() as c:
            if c.execute(text("SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), "
                              "CAST(:lsn AS pg_lsn)) >= 0"), {"lsn": lsn}).scalar_one():
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the standby did not replay up to {lsn} in {timeout} s")
        time.sleep(0.1)


# -- nginx -------------------------------------------------------------------------------------


def nginx_site(listen: int, upstreams: list[int]) -> str:
    """``deploy/nginx/gongzhi.conf`` with this test's ports and the repository's error page."""
    site = NGINX_SITE.read_text(encoding="utf-8")
    servers = "".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;\n"
                      for p in upstreams)
    site, n = re.subn(r"(?m)^    server 127\.0\.0\.1:\d+ [^\n]*\n", "", site)
    assert n >= 1, "the upstream block of deploy/nginx/gongzhi.conf changed shape"
    site = site.replace("    hash $gz_route consistent;\n",
                        "    hash $gz_route consistent;\n" + servers)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    return site.replace("root /opt/gongzhi/deploy/nginx;", f"root {NGINX_SITE.parent};")


@contextmanager
def nginx(folder: Path, upstreams: list[int]) -> Iterator[tuple[str, Path]]:
    """nginx in the foreground with the deploy config; yields its base URL and access log
    (one line per request: the upstream that answered, the route cookie, the path)."""
    if not Path(NGINX).exists():
        need("nginx is missing", "apt-get install nginx (.ci/run does)")
    folder.mkdir(parents=True, exist_ok=True)
    port = browser.free_port()
    (folder / "gongzhi.conf").write_text(nginx_site(port, upstreams), encoding="utf-8")
    temp = "\n".join(f"    {k}_temp_path {folder / k};" for k in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""  # its workers read the repo's page
    (folder / "nginx.conf").write_text(f"""{user}worker_processes 1;
daemon off;
pid {folder / 'nginx.pid'};
error_log {folder / 'error.log'} warn;
events {{ worker_connections 1024; }}
http {{
    log_format up '$cookie_gz_route $status $request_uri $upstream_addr';
    access_log {folder / 'access.log'} up;
{temp}
    include {folder / 'gongzhi.conf'};
}}
""", encoding="utf-8")
    check = subprocess.run([NGINX, "-t", "-p", str(folder), "-c", str(folder / "nginx.conf")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{base}/gz-nothing", timeout=2)
            except urllib.error.HTTPError:
                break  # nginx answers (404 or 502: the dashboards may still be starting)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
            else:
                break
        yield base, folder / "access.log"
    finally:
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def route_keys(base: str, log: Path, upstreams: list[int]) -> dict[int, str]:
    """A ``gz_route`` cookie value that nginx sends to each upstream (port → value): found by
    asking, so a test can put a browser on the server it means to stop."""
    found: dict[int, str] = {}
    for i in range(200):
        key = f"probe{i}"
        req = urllib.request.Request(f"{base}/_stcore/health?probe={key}",
                                     headers={"Cookie": f"gz_route={key}"})
        with contextlib.suppress(OSError):
            urllib.request.urlopen(req, timeout=5).read()
        time.sleep(0.02)
        for cookie, _status, uri, ports in _lines(log):
            if cookie == key and uri.endswith(f"probe={key}") and ports:
                found.setdefault(ports[-1], key)
        if set(found) >= set(upstreams):
            return found
    raise AssertionError(f"no route key found for every upstream: {found}")


def _lines(log: Path) -> Iterator[tuple[str, str, str, list[int]]]:
    """(route cookie, status, path, upstream ports tried in order) per logged request."""
    for line in log.read_text(encoding="utf-8").splitlines():
        cookie, status, uri, addrs = line.split(" ", 3)
        ports = [int(a.strip().rsplit(":", 1)[1]) for a in addrs.split(",")
                 if a.strip() not in ("", "-")]
        yield cookie, status, uri, ports


def served_by(log: Path, key: str) -> set[int]:
    """The upstreams that answered the browser holding route ``key`` (the last one tried
    for each of its requests that has finished; a websocket is logged when it closes)."""
    return {ports[-1] for cookie, status, _uri, ports in _lines(log)
            if cookie == key and ports and status != "502"}
