"""A short run of the soak (bench/soak.py), so that `make soak` cannot rot unnoticed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

RATES = {"send", "typing", "read", "sync", "history", "reconnect", "upload", "ai"}

ROOT = Path(__file__).resolve().parents[2]


def test_a_short_soak_runs_every_operation_without_errors(mongo_uri: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "MONGODB_URI": mongo_uri,  # the session's database: no embedded one to start
        "MONGODB_DB": f"soak_{uuid.uuid4().hex[:8]}",
    }
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak.py"), "--seconds", "12", "--interval", "3",
         "--users", "12", "--group-size", "4", "--results", str(tmp_path)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode in (0, 3), out  # 2: errors, 1: a crash; 12 s cannot judge flatness
    assert "SOAK PASS" in out or "SOAK FAIL" in out, out
    (report_path,) = tmp_path.glob("soak-*.json")
    report = json.loads(report_path.read_text())
    samples = report["samples"]
    assert len(samples) >= 3, out
    assert all(s["rss_mb"] > 0 and s["fds"] > 0 and s["ops"] > 0 for s in samples), samples
    assert sum(s["errors"] for s in samples) == 0, samples
    done = {op for s in samples for op in s["by_op"]}
    assert done == set(RATES), done
