"""Server capacity at the protocol level (``make bench-load``): N people, spread over one or
more ``gongzhi serve`` processes, each speaking Streamlit's websocket protocol
(:mod:`benchmarks.bench_load_client`), no browsers.

For each (sessions, servers) pair the servers are started fresh on the same warehouse; the
people arrive evenly over ``spread`` seconds, round-robin across the servers (what nginx's
sticky routing does on average), sign in, open the overview, change the street filter and
stay until the last one is done (each server has served one visit before, not counted, as
a running server has). Measured: every script run a person waited for (time from
sending the message to ``script_finished``: the server's time, the client on loopback adds
next to nothing), errors, each server's resident memory (its whole process tree, sampled
every half second: the peak, and the figure with everyone still connected) and CPU time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from benchmarks.bench_load_client import Visit, visit
from tests.dashboard import browser


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its descendants so far (from /proc)."""

    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for p in [pid, *browser.descendants(pid)]:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


class Sampler:
    """Peak resident memory per server while a run goes on."""

    def __init__(self, pids: list[int]):
        self.pids = pids
        self.peak_kb = [0] * len(pids)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(0.5):
            for i, pid in enumerate(self.pids):
                self.peak_kb[i] = max(self.peak_kb[i], browser.rss_kb(pid))


@contextmanager
def servers(config: Path, count: int, logs: Path) -> Iterator[list[tuple[str, Any]]]:
    """``count`` fresh dashboard servers on ``config``: (base URL, process) each."""
    with ExitStack() as stack:
        yield [stack.enter_context(browser.serve(config, log=logs / f"serve-{count}-{i}.log",
                                                 timeout=120))
               for i in range(count)]


async def crowd(bases: list[str], users: list[tuple[str, str]], sessions: int,
                spread: float, password: str, query: str, tick_s: float,
                all_done: Any) -> list[Visit]:
    """``sessions`` people arriving over ``spread`` seconds, round-robin across ``bases``;
    ``all_done`` is called once every one has finished their steps (they are all open)."""
    leave = asyncio.Event()
    tasks = []
    for i in range(sessions):
        user = users[i % len(users)][0]
        tasks.append(asyncio.create_task(_arrive(i * spread / max(sessions - 1, 1),
                                                 bases[i % len(bases)], user, password, query,
                                                 leave, tick_s)))
    while not all(_steps_done(t) for t in tasks):
        await asyncio.sleep(0.2)
    all_done()
    leave.set()
    return list(await asyncio.gather(*tasks))


_PROGRESS: dict[int, bool] = {}


def _steps_done(task: Any) -> bool:
    return task.done() or _PROGRESS.get(id(task), False)


async def _arrive(delay: float, base: str, user: str, password: str, query: str,
                  leave: asyncio.Event, tick_s: float) -> Visit:
    await asyncio.sleep(delay)
    me = asyncio.current_task()
    v = await visit(base, user, password, query, leave, tick_s,
                    on_ready=lambda: _PROGRESS.__setitem__(id(me), True))
    return v


async def _warm(bases: list[str], user: str, password: str, query: str) -> None:
    gone = asyncio.Event()
    gone.set()
    for base in bases:
        v = await visit(base, user, password, query, gone)
        if v.error:
            raise RuntimeError(f"the warm-up visit to {base} failed: {v.error}")


def p95(values: list[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(0.95 * len(s)) - 1))]


def measure(config: Path, users: list[tuple[str, str]], password: str, query: str,
            sessions: int, count: int, spread: float, logs: Path,
            tick_s: float = 30.0) -> dict[str, Any]:
    """One (sessions, servers) pair on fresh servers; the entry of ``load.json``'s
    ``protocol`` list."""
    _PROGRESS.clear()
    with servers(config, count, logs) as procs:
        bases = [b for b, _ in procs]
        pids = [p.pid for _, p in procs]
        idle_kb = [browser.rss_kb(pid) for pid in pids]
        # a running office server has served someone already (imports, first connection,
        # the first cached figures): one visit per server, not counted
        asyncio.run(_warm(bases, users[0][0], password, query))
        warm_kb = [browser.rss_kb(pid) for pid in pids]
        cpu0 = [cpu_seconds(pid) for pid in pids]
        open_kb: list[int] = []
        t0 = time.perf_counter()
        with Sampler(pids) as sampler:
            visits = asyncio.run(crowd(bases, users, sessions, spread, password, query, tick_s,
                                       lambda: open_kb.extend(browser.rss_kb(p) for p in pids)))
        wall = time.perf_counter() - t0
        load_1m = os.getloadavg()[0]
        cpu = [cpu_seconds(pid) - c for pid, c in zip(pids, cpu0, strict=True)]
    runs = [t for v in visits for t in v.times()]
    errors = [v for v in visits if v.error]
    step = {name: p95([getattr(v, f"{name}_s") for v in visits
                       if getattr(v, f"{name}_s") is not None])
            for name in ("sign_in_form", "sign_in", "overview", "filter")}
    return {
        "sessions": sessions, "servers": count,
        "p95_ms": _ms(p95(runs)), "median_ms": _ms(statistics.median(runs) if runs else None),
        "max_ms": _ms(max(runs) if runs else None),
        "p95_ms_by_step": {k: _ms(v) for k, v in step.items()},
        "errors": len(errors),
        "error_samples": [f"{v.user}@{v.server}: {v.error}" for v in errors[:5]],
        "rss_mb_per_server": [round(kb / 1024) for kb in open_kb],
        "peak_rss_mb_per_server": [round(kb / 1024) for kb in sampler.peak_kb],
        "idle_rss_mb_per_server": [round(kb / 1024) for kb in idle_kb],
        "warm_rss_mb_per_server": [round(kb / 1024) for kb in warm_kb],
        "server_cpu_s": [round(c, 1) for c in cpu],
        "server_cpu_s_per_session": round(sum(cpu) / max(sessions, 1), 3),
        "arrivals_over_s": spread, "wall_s": round(wall, 1),
        # the machine is shared: its 1-minute load average when the sessions had all arrived
        "load_avg_1m": round(load_1m, 2),
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)
