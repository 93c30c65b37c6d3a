"""The load generator in bench/ still works: a ~3 s run against a test server.

Not a benchmark (no numbers are checked): it keeps the tooling from rotting.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.helpers.support import ChatServer

BENCH = Path(__file__).resolve().parents[2] / "bench"


async def test_bench_smoke_run_reports_deliveries_and_latencies(
    server: ChatServer, tmp_path: Path
) -> None:
    node = shutil.which("node")
    if node is None or not (BENCH / "node_modules" / "socket.io-client").is_dir():
        pytest.fail("node or bench/node_modules missing: run `make test` (it installs them)")
    out = tmp_path / "smoke.json"
    proc = await asyncio.create_subprocess_exec(
        node,
        str(BENCH / "bench.mjs"),
        "smoke",
        "--url",
        server.url,
        "--data-dir",
        str(server.settings.data_dir),
        "--server-pid",
        str(os.getpid()),
        "--python",
        sys.executable,
        "--out",
        str(out),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, output.decode(errors="replace")
    report = json.loads(out.read_text())
    [step] = report["steps"]
    assert step["errors"] == {}, step
    assert step["ackedPerSec"] > 0
    assert step["deliveredRatio"] == 1
    assert step["reordered"] == 0
    assert step["e2eMs"]["p99"] is not None
    assert step["ackMs"]["p50"] is not None
    assert step["serverCpuPct"] >= 0
