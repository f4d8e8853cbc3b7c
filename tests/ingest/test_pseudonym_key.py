"""The pseudonym key: the warehouse keeps its fingerprint (never the key), a different key is
refused instead of silently re-keying every person, ``gongzhi rekey`` changes keys on purpose
(old pseudonyms withdrawn, people sources read again with the new key), and ``gongzhi demo``
pseudonymises with the key it writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core import privacy
from tests.conftest import divisions_source, write_config
from tests.ingest.test_privacy import GOOD_ID, GOOD_ID2
from warehouse import audit, meta, runlog
from warehouse.engine import open_warehouse
from warehouse.schema import volunteers

KEY_A = "first-pseudonym-key-000000000001"
KEY_B = "second-pseudonym-key-00000000002"
GZ = str(Path(sys.executable).with_name("gongzhi"))


def gongzhi(cfg: Path, *args: str, key: str | None, stdin: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GONGZHI_PSEUDONYM")}
    if key:
        env[privacy.KEY_ENV] = key
    return subprocess.run([GZ, "--config", str(cfg), *args], capture_output=True, text=True,
                          timeout=300, env=env, input=stdin)


@pytest.fixture
def people(tmp_path: Path) -> tuple[Path, str]:
    (tmp_path / "vols").mkdir()
    (tmp_path / "vols" / "v.csv").write_text(
        "志愿者编号,社区代码,注册时间,身份证号\n"
        f"V1,420606001001,2024-01-02,{GOOD_ID2}\n"
        f"V2,420606999999,2024-01-03,{GOOD_ID}\n", encoding="utf-8")  # V2: quarantined
    url = f"sqlite:///{tmp_path / 'w.db'}"
    cfg = write_config(tmp_path, url, [
        divisions_source(),
        {"id": "vols", "plugin": "files", "table": "volunteers", "path": "vols/*.csv",
         "columns": {"志愿者编号": "volunteer_id", "社区代码": "community_code",
                     "注册时间": "registered_at", "身份证号": "id_number"}}])
    return cfg, url


def hashes(url: str) -> dict[str, Any]:
    eng = open_warehouse(url)
    with eng.connect() as c:
        out = {r.volunteer_id: r.id_hash for r in c.execute(select(volunteers))}
    eng.dispose()
    return out


def test_a_different_key_is_refused_until_rekey(people: tuple[Path, str]) -> None:
    cfg, url = people
    first = gongzhi(cfg, "ingest", key=KEY_A)
    assert first.returncode == 0, first.stderr
    assert hashes(url) == {"V1": privacy.pseudonym(GOOD_ID2, KEY_A.encode())}
    eng = open_warehouse(url)
    assert meta.get(eng, meta.KEY_FINGERPRINT) == privacy.key_fingerprint(KEY_A.encode())

    # a new file arrives while someone changed the key: refused, nothing loaded
    (cfg.parent / "vols" / "w.csv").write_text(
        f"志愿者编号,社区代码,注册时间,身份证号\nV3,420606001002,2024-02-01,{GOOD_ID}\n",
        encoding="utf-8")
    refused = gongzhi(cfg, "ingest", "vols", key=KEY_B)
    assert refused.returncode == 1
    fp_a, fp_b = (privacy.key_fingerprint(k.encode()) for k in (KEY_A, KEY_B))
    assert "gongzhi rekey" in refused.stderr and fp_a in refused.stderr
    assert fp_b in refused.stderr and KEY_B not in refused.stderr
    assert hashes(url) == {"V1": privacy.pseudonym(GOOD_ID2, KEY_A.encode())}
    assert runlog.list_runs(eng, source="vols", limit=1)[0]["status"] == "failed"

    # rekey: asks first, then withdraws the old pseudonyms and resets the people sources
    asked = gongzhi(cfg, "rekey", key=KEY_B, stdin="n\n")
    assert asked.returncode == 130 and "Rekey now?" in asked.stdout  # answered no
    assert meta.get(eng, meta.KEY_FINGERPRINT) == fp_a
    done = gongzhi(cfg, "rekey", "--yes", key=KEY_B)
    assert done.returncode == 0, done.stderr
    assert "pseudonyms withdrawn: 1" in done.stdout and "vols" in done.stdout
    assert hashes(url) == {"V1": None}  # never a mix of old-key and new-key pseudonyms
    assert meta.get(eng, meta.KEY_FINGERPRINT) == fp_b
    assert meta.get_json(eng, meta.KEY_HISTORY)[0]["fingerprint"] == fp_a
    assert runlog.get_cursor(eng, "vols") is None
    assert runlog.list_quarantine(eng, source="vols") == []  # closed: the re-read decides
    [entry] = [a for a in audit.entries(eng) if a["action"] == "rekey"]
    assert entry["row_count"] == 1

    # the next run reads everything again and pseudonymises it with the new key
    again = gongzhi(cfg, "ingest", "vols", key=KEY_B)
    assert again.returncode == 0, again.stderr
    assert hashes(url) == {"V1": privacy.pseudonym(GOOD_ID2, KEY_B.encode()),
                           "V3": privacy.pseudonym(GOOD_ID, KEY_B.encode())}
    [q] = runlog.list_quarantine(eng, source="vols")
    assert q["reason"] == "unknown_community" and '"V2"' in q["raw"]  # once, not twice
    nothing = gongzhi(cfg, "rekey", key=KEY_B)
    assert nothing.returncode == 0 and "nothing to do" in nothing.stdout
    (cfg.parent / "vols" / "x.csv").write_text(
        f"志愿者编号,社区代码,注册时间,身份证号\nV4,420606001002,2024-03-01,{GOOD_ID2}\n",
        encoding="utf-8")
    old_key_again = gongzhi(cfg, "ingest", "vols", key=KEY_A)
    assert old_key_again.returncode == 1 and "gongzhi rekey" in old_key_again.stderr
    eng.dispose()  # before reading its files: closing them would drop SQLite's locks
    stored = b"".join(p.read_bytes() for p in cfg.parent.glob("w*.db*"))
    assert KEY_A.encode() not in stored and KEY_B.encode() not in stored  # fingerprints only


def test_the_demo_pseudonymises_with_the_key_it_writes(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    demo = subprocess.run(
        [GZ, "demo", "--dir", str(out), "--scale", "0.005", "--quiet"], capture_output=True,
        text=True, timeout=600, env={**os.environ, privacy.KEY_ENV: KEY_A})
    assert demo.returncode == 0, demo.stderr
    assert "uses its own key" in demo.stderr
    key = (out / ".pseudonym_key").read_text(encoding="utf-8").strip().encode()
    assert key != KEY_A.encode()
    first = (out / "sources" / "volunteer" / "volunteers.csv").read_text(
        encoding="utf-8-sig").splitlines()[1].split(",")
    volunteer_id, id_number = first[0], first[3]
    eng = open_warehouse(f"sqlite:///{out / 'warehouse.db'}")
    with eng.connect() as c:
        stored = c.execute(select(volunteers.c.id_hash).where(
            volunteers.c.volunteer_id == volunteer_id)).scalar_one()
    assert stored == privacy.pseudonym(id_number, key)  # the key in the file, not the env's
    assert meta.get(eng, meta.KEY_FINGERPRINT) == privacy.key_fingerprint(key)
    eng.dispose()
    # the register is exported again with one more volunteer: read anew, whole
    register = out / "sources" / "volunteer" / "volunteers.csv"
    lines = register.read_text(encoding="utf-8-sig").splitlines()
    lines.append(lines[1].replace(volunteer_id, "V9999999", 1))
    register.write_text("\n".join(lines) + "\n", encoding="utf-8-sig")
    cfg = out / "gongzhi.toml"
    refused = gongzhi(cfg, "ingest", "volunteers", key=KEY_A)
    assert refused.returncode == 1 and "gongzhi rekey" in refused.stderr
    again = gongzhi(cfg, "ingest", "volunteers", key=None)  # the key file: same pseudonyms
    assert again.returncode == 0 and "(new 1, changed 0)" in again.stderr, again.stderr
