"""The server warms the leader's map: after the warm-up the map page draws every level it
offers without computing a figure, a polygon or a hexagon (each of those fails once the
warm-up is done, so only cache hits can draw the page); a new data version warms again; the
``st.App`` lifespan starts the warmer with the server."""

from __future__ import annotations

import asyncio
import collections
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import data, warm
from dashboard.data import base
from metrics import geo
from tests.dashboard.conftest import APP, copy_demo

LEVELS = ["street", "community", "grid"]


@pytest.fixture
def demo(office_demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    config = copy_demo(office_demo, tmp_path / "demo")
    monkeypatch.setenv("GONGZHI_CONFIG", str(config))
    yield config


def no_computing(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, whatever the map computes from the warehouse raises (and is listed)."""
    called: list[str] = []
    for name in ("choropleth", "shapes", "hex_bins", "notes"):
        def boom(*_a: Any, _name: str = name, **_k: Any) -> Any:
            called.append(_name)
            raise RuntimeError(f"geo.{_name} computed: the cache missed")
        monkeypatch.setattr(geo, name, boom)
    return called


def map_page(level: str, period: str | None = None) -> AppTest:
    """The map page of a new session (the leader: sign-in is open) at ``level``."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["level"] = level
    if period:
        at.query_params["period"] = period
    at.run()
    found = [h for h, info in at._registered_pages.items()
             if info.get("url_pathname") == "map"]
    assert found
    at._page_hash = found[0]
    at.run()
    return at


def test_after_the_warm_up_the_leaders_map_is_drawn_from_the_cache(
        demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warmed = warm.warm_once()
    assert [lv for lv, _ in warmed.views] == LEVELS
    called = no_computing(monkeypatch)
    for level in LEVELS:
        at = map_page(level)
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
        maps = [c for c in at.get("vega_lite_chart") if "geoshape" in c.proto.spec]
        assert maps, level  # the map was drawn
        assert not [i.value for i in at.info], level  # not "no polygons of this level"
    assert called == []
    # the check is live: a month that was not warmed must compute, and cannot here
    other = "2024-06" if warmed.period != "2024-06" else "2024-05"
    at = map_page("grid", other)
    assert called and (at.error or at.exception)


def test_a_session_arriving_during_the_warm_up_waits_for_it_instead_of_computing_again(
        demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The leader opens the map while the warm-up is still computing the very polygons the
    page needs: the session takes the warm-up's result (the cached loaders compute one
    entry once, whoever asks first; the others wait for it), so nothing is computed twice
    and the warm-up finds the session's own results in the cache."""
    calls: collections.Counter[tuple[str, str]] = collections.Counter()
    inside, release = threading.Event(), threading.Event()
    originals = {n: getattr(geo, n) for n in ("choropleth", "shapes", "hex_bins", "notes")}
    for name, orig in originals.items():
        def counted(*a: Any, _orig: Any = orig, _name: str = name, **k: Any) -> Any:
            viewer = k.get("viewer")
            calls[(_name, repr((a[1:], viewer.key() if viewer else None,
                                sorted((x, y) for x, y in k.items() if x != "viewer"))))] += 1
            if threading.current_thread().name == "warm" and _name == "shapes" \
                    and not inside.is_set():
                inside.set()  # the warm-up is computing the street polygons now ...
                release.wait(60)  # ... and stays at it until the session has asked too
            return _orig(*a, **k)
        monkeypatch.setattr(geo, name, counted)
    warming = threading.Thread(target=warm.warm_once, name="warm")
    warming.start()
    try:
        assert inside.wait(120)
        # the session's run goes on in this thread: the warm-up may finish once it asked
        threading.Timer(1.0, release.set).start()
        at = map_page("street")  # the page's opening level: the one being warmed
    finally:
        release.set()
        warming.join(120)
    assert not at.exception, [e.value for e in at.exception]
    assert [c for c in at.get("vega_lite_chart") if "geoshape" in c.proto.spec]
    twice = {k: n for k, n in calls.items() if n > 1}
    assert not twice, twice
    assert any(name == "shapes" for name, _ in calls)  # the counting saw the work


def test_the_warmer_warms_at_start_and_on_a_new_data_version(
        demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    w = warm.Warmer(poll_seconds=0.05)
    w.start()
    try:
        assert w.warmed.wait(120), w.failed
        assert w.last is not None and w.last.version == data.version()
        first = w.last.version
        w.warmed.clear()
        monkeypatch.setattr(base, "version", lambda: first + 1)  # a run landed
        monkeypatch.setattr(data, "version", lambda: first + 1)
        assert w.warmed.wait(120), w.failed
        assert w.last.version == first + 1
        w.warmed.clear()
        assert not w.warmed.wait(0.5)  # nothing new: no warm-up again
    finally:
        w.stop()


def test_the_apps_lifespan_runs_the_warmer(demo: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    monkeypatch.setenv(warm.ENV, "1")  # tests/conftest.py turns it off for test servers
    done = threading.Event()

    async def serve() -> None:
        async with warm.lifespan(None) as state:
            warmer = state["map_warmer"]
            assert await asyncio.to_thread(warmer.warmed.wait, 120), warmer.failed
            done.set()
        assert not warmer._thread.is_alive()

    asyncio.run(serve())
    assert done.is_set()


@pytest.mark.parametrize("value", ["0", "1", None])
def test_the_warm_up_is_on_unless_the_environment_says_0(
        value: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if value is None:
        monkeypatch.delenv(warm.ENV, raising=False)
    else:
        monkeypatch.setenv(warm.ENV, value)
    assert warm.enabled() is (value != "0")


def test_with_the_warm_up_off_the_lifespan_starts_no_thread(
        demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(warm.ENV, "0")
    before = {t.name for t in threading.enumerate()}

    async def serve() -> None:
        async with warm.lifespan(None) as state:
            assert state["map_warmer"] is None
            assert "gongzhi-warm" not in {t.name for t in threading.enumerate()} - before

    asyncio.run(serve())

