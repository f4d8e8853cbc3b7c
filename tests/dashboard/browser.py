"""A real dashboard server and headless Chromium for the end-to-end tests and the benchmark.

The browser is Debian's ``chromium`` (``/usr/bin/chromium``) driven by Playwright; it is
never downloaded (no ``playwright install``). Without it the browser tests skip locally and
fail in CI (``GONGZHI_REQUIRE_BROWSER=1``, set by ``.ci/run``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("GONGZHI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
REQUIRE = os.environ.get("GONGZHI_REQUIRE_BROWSER") == "1"
REPO = Path(__file__).resolve().parents[2]
GONGZHI = Path(sys.executable).with_name("gongzhi")


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is missing (make install)"
    return None


def require_browser() -> None:
    """Skip (locally) or fail (in CI, GONGZHI_REQUIRE_BROWSER=1) without a browser."""
    import pytest

    why = missing_browser()
    if why is None:
        return
    if REQUIRE:
        pytest.fail(f"the browser tests must run (GONGZHI_REQUIRE_BROWSER=1): {why}")
    pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(config: Path, *, env: dict[str, str] | None = None, timeout: float = 60.0,
          log: Path | None = None, port: int | None = None
          ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``gongzhi --config CONFIG serve --port N`` until ``/_stcore/health`` answers;
    yield the base URL and the process (its own process group, stopped at the end)."""
    port = port or free_port()
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(
        [str(GONGZHI), "--config", str(config), "serve", "--port", str(port)],
        cwd=REPO, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT,
        start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gongzhi serve exited with {proc.returncode}"
                                   + (f"; see {log}" if log else ""))
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the dashboard did not answer on {base} in {timeout} s")
            time.sleep(0.2)
        yield base, proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if log:
            out.close()  # type: ignore[union-attr]


# Under pytest (tests/conftest.py sets SHARE) one Chromium serves consecutive test modules
# that use it: launching costs seconds, a new context per test isolates as well. It is
# closed before a module that does not use it, because a live sync Playwright marks an
# asyncio loop as running in this thread (asyncio.run() refuses to start then).
SHARE = False
_shared: dict[str, Any] = {}


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (the Debian package) under Playwright; the shared one when
    :data:`SHARE` is set (then leaving the block does not close it)."""
    if SHARE:
        yield shared_chromium()
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def shared_chromium() -> Any:
    """The shared headless Chromium, launched on first use (or again after a crash)."""
    if "browser" in _shared and not _shared["browser"].is_connected():
        close_shared()
    if "browser" not in _shared:
        from playwright.sync_api import sync_playwright

        pw = sync_playwright().start()
        try:
            _shared["browser"] = pw.chromium.launch(executable_path=CHROMIUM,
                                                    args=CHROMIUM_ARGS)
        except BaseException:
            pw.stop()
            raise
        _shared["pw"] = pw
    return _shared["browser"]


def shared_is_open() -> bool:
    return "browser" in _shared


def close_shared_contexts() -> None:
    """Close what a module left open in the shared browser (pages that still poll a server)."""
    b = _shared.get("browser")
    if b is not None and b.is_connected():
        for ctx in list(b.contexts):
            with contextlib.suppress(Exception):
                ctx.close()


def close_shared() -> None:
    """Close the shared browser and its Playwright (no-op when none is open)."""
    b, pw = _shared.pop("browser", None), _shared.pop("pw", None)
    if b is not None:
        with contextlib.suppress(Exception):
            b.close()
    if pw is not None:
        with contextlib.suppress(Exception):
            pw.stop()


def wait_cards(page: Any, count: int, timeout: float = 30_000) -> None:
    """Wait until ``count`` KPI card values are drawn."""
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=\"stMetricValue\"]').length >= n",
        arg=count, timeout=timeout, polling=20)


def card_value(page: Any, kpi: str) -> str:
    """The value drawn on the card of ``kpi`` (e.g. 'gov.online_case_rate')."""
    css = f".st-key-card_{kpi.replace('.', '_')} [data-testid=\"stMetricValue\"]"
    return str(page.locator(css).inner_text()).strip()


CARDS_JS = """() => Object.fromEntries(
    [...document.querySelectorAll('[class*="st-key-card_"]')].map(el => [
        [...el.classList].find(c => c.startsWith('st-key-card_')).slice(12),
        el.querySelector('[data-testid="stMetricValue"]')?.innerText.trim()]))"""


def cards(page: Any) -> dict[str, str]:
    """kpi id (dots as underscores) → value, for every card drawn."""
    return dict(page.evaluate(CARDS_JS))


def script_done(page: Any, timeout: float = 30_000) -> None:
    """Wait until Streamlit marks the script run ended (``data-test-script-state`` of
    ``stApp``): a button clicked during a rerun may be the one the rerun replaces."""
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')"
        "?.dataset.testScriptState === 'notRunning'", timeout=timeout, polling=50)


def settled_cards(page: Any, timeout: float = 30_000) -> dict[str, str]:
    """Every card the page draws: read once Streamlit marks the script run ended
    (``data-test-script-state`` of ``stApp``) and two readings 300 ms apart agree. A reading
    right after the first cards appear can miss the ones a slower query draws later."""
    deadline = time.monotonic() + timeout / 1000
    last: dict[str, str] | None = None
    while True:
        script_done(page, max(deadline - time.monotonic(), 0.1) * 1000)
        now = cards(page)
        if now == last or time.monotonic() > deadline:
            return now
        last = now
        page.wait_for_timeout(300)


def wait_for_cards(page: Any, want: dict[str, str], timeout: float = 20_000) -> dict[str, str]:
    """Wait until the cards show exactly ``want`` (a rerun redraws them one by one); return
    what is drawn (the last reading, when the wait times out, to show the difference)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):  # fall through to the comparison
        page.wait_for_function(f"want => JSON.stringify(Object.entries(({CARDS_JS})()).sort())"
                               " === JSON.stringify(Object.entries(want).sort())",
                               arg=want, timeout=timeout, polling=50)
    return cards(page)


def wait_query(page: Any, part: str, timeout: float = 20_000) -> None:
    """Wait until the address bar's query string contains ``part`` (Streamlit changes it with
    history.pushState)."""
    page.wait_for_function("part => location.search.includes(part)", arg=part,
                           timeout=timeout)


def pick(page: Any, label: str, option: str) -> None:
    """Choose ``option`` in the select labelled ``label``."""
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, in KiB (from /proc)."""
    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        out += [int(k) for k in kids]
        todo += [int(k) for k in kids]
    return out
