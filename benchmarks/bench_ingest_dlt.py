"""The dlt 1.31 baseline of ``make bench-ingest``: ``benchmarks/dlt_load.py`` run in its own venv
(``benchmarks/.venv-dlt``, made from ``requirements-dlt.txt``: dlt pins dependencies that clash
with the project's), timing itself and answering in JSON."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.bench_ingest_data import HERE, ROOT

DLT_VENV = HERE / ".venv-dlt"
DLT_REQUIREMENTS = HERE / "requirements-dlt.txt"


def dlt_python() -> Path:
    """The dlt venv's python, creating or refreshing the venv when the requirements changed."""
    py = DLT_VENV / "bin" / "python"
    stamp = DLT_VENV / ".requirements-sha256"
    want = hashlib.sha256(DLT_REQUIREMENTS.read_bytes()).hexdigest()
    if py.exists() and stamp.exists() and stamp.read_text().strip() == want:
        return py
    print(f"preparing the dlt venv in {DLT_VENV.relative_to(ROOT)} …")
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(DLT_VENV)], check=True)
    pip = subprocess.run([str(py), "-m", "pip", "install", "--quiet",
                          "--disable-pip-version-check", "-r", str(DLT_REQUIREMENTS)],
                         capture_output=True, text=True)
    if pip.returncode != 0:  # pip's chatter only matters when it failed
        sys.stderr.write(pip.stdout[-4000:] + pip.stderr[-4000:])
        raise SystemExit(f"cannot install {DLT_REQUIREMENTS.name} into {DLT_VENV}")
    stamp.write_text(want)
    return py


def run_dlt(target: str, url: str, dataset: str, csv_path: Path, work: Path) -> dict[str, Any]:
    """Run benchmarks/dlt_load.py in the dlt venv; its own timing comes back as JSON."""
    work.mkdir(parents=True, exist_ok=True)
    cmd = [str(dlt_python()), str(HERE / "dlt_load.py"), "--csv", str(csv_path),
           "--target", target, "--url", url, "--dataset", dataset, "--workdir", str(work)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
        cause = next((ln for ln in reversed(lines) if "Error" in ln or "Exception" in ln),
                     lines[-1] if lines else f"exit status {proc.returncode}")
        raise RuntimeError(f"dlt into {target} failed: {cause.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
