"""数据与运行 offers "reprocess the quarantine" to leaders only: the page sends a request the
scheduler process does (nothing is ingested inside Streamlit), and the request is audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import WANGZHAI


def test_a_leader_asks_the_scheduler_to_reprocess(app: AppTest, case_config: Path) -> None:
    from ingest.registry import load_validated
    from warehouse import audit, requests, runlog
    from warehouse.engine import make_engine

    engine = make_engine(load_validated(case_config).warehouse_url)
    runs_before = len(runlog.list_runs(engine, limit=1000))
    app.run()
    app.switch_page("screens/runs.py").run()
    assert not app.exception and not app.error
    shown = " ".join(app.selectbox(key="q_reason__zh").options)  # every code ingestion sets
    assert "invalid_id_number" in shown and "too_long" in shown and "bad_encoding" in shown
    assert "bad_encoding" not in " ".join(app.selectbox(key="rp_reason__zh").options)
    app.selectbox(key="rp_source__zh").set_value("t_service_cases")
    app.selectbox(key="rp_reason__zh").set_value("bad_date")
    [button] = [b for b in app.button if b.label == "重新校验隔离行"]
    button.click().run()
    assert not app.exception
    [done] = [s.value for s in app.success if "重新校验请求" in s.value]
    rid = requests.recent_reprocess(engine)[0]
    assert f"#{rid['id']}" in done
    assert (rid["source"], rid["reason"], rid["run_id"], rid["requested_by"]) == (
        "t_service_cases", "bad_date", None, "demo")
    assert len(runlog.list_runs(engine, limit=1000)) == runs_before  # nothing ran here
    [entry] = [a for a in audit.entries(engine) if a["action"] == "reprocess_request"]
    assert entry["username"] == "demo" and json.loads(entry["filters"])["request"] == rid["id"]
    engine.dispose()


def test_staff_are_not_offered_reprocessing(app: AppTest, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    from dashboard import auth, data
    from metrics.access import AccessDenied, Viewer

    staff = Viewer("wz", "street_staff", WANGZHAI)
    monkeypatch.setattr(auth, "current_user", lambda: staff)
    app.run()
    app.switch_page("screens/runs.py").run()
    assert not app.exception
    assert not [b for b in app.button if b.label == "重新校验隔离行"]
    with pytest.raises(AccessDenied):
        data.request_reprocess(staff, None, None, None)
    from core.errors import SourceError

    with pytest.raises(SourceError, match="cannot be reprocessed"):
        data.request_reprocess(Viewer("li", "leader", ""), None, "bad_encoding", None)
