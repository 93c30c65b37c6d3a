"""The load generator in bench/ still works: ~3 s runs against a test server and
against the bare reference server (bench/reference_server.py, which bench.mjs starts).

Not a benchmark (no numbers are checked): it keeps the tooling from rotting.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.support import ChatServer

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _node() -> str:
    node = shutil.which("node")
    if node is None or not (BENCH / "node_modules" / "socket.io-client").is_dir():
        pytest.fail("node or bench/node_modules missing: run `make test` (it installs them)")
    return node


async def _bench(*args: str, out: Path) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        _node(),
        str(BENCH / "bench.mjs"),
        *args,
        "--python",
        sys.executable,
        "--out",
        str(out),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, output.decode(errors="replace")
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def _clean(step: dict[str, Any]) -> None:
    assert step["errors"] == {}, step
    assert step["ackedPerSec"] > 0
    assert step["deliveredRatio"] == 1
    assert step["reordered"] == 0
    assert step["e2eMs"]["p99"] is not None
    assert step["ackMs"]["p50"] is not None
    assert step["serverCpuPct"] >= 0


async def test_bench_smoke_run_reports_deliveries_and_latencies(
    server: ChatServer, tmp_path: Path
) -> None:
    report = await _bench(
        "smoke", "--url", server.url, "--data-dir", str(server.settings.data_dir),
        "--server-pid", str(os.getpid()), out=tmp_path / "smoke.json",
    )  # fmt: skip
    [step] = report["steps"]
    _clean(step)


async def test_bench_smoke_against_the_reference_server(tmp_path: Path) -> None:
    report = await _bench("smoke", "--target", "reference", out=tmp_path / "ref.json")
    assert report["target"] == "reference"
    [step] = report["steps"]
    _clean(step)
    assert step["dbCpuMsPerMsg"] == 0  # no database


async def test_bench_steady_reports_per_slice_and_a_verdict(tmp_path: Path) -> None:
    report = await _bench(
        "steady", "--target", "reference", "--minutes", "0.05", "--bucket", "1",
        "--warmup", "0.5", "--drain", "1", "--clients", "6", "--group-size", "3",
        "--rate", "30", "--workers", "1", out=tmp_path / "steady.json",
    )  # fmt: skip
    slices = report["run"]["slices"]
    assert len(slices) == 3
    for s in slices:
        assert s["errors"] == 0, s
        assert s["deliveredRatio"] == 1, s
        assert s["e2eMs"]["p99"] is not None
        assert s["serverCpuMsPerMsg"] is not None
    assert report["p99Ratio"] is not None
    assert isinstance(report["holds"], bool)
    assert report["verdict"]


async def test_bench_storm_reconnects_everyone(tmp_path: Path) -> None:
    report = await _bench(
        "storm", "--target", "reference", "--clients", "20", "--group-size", "5",
        "--pause", "0.2", "--workers", "2", out=tmp_path / "storm.json",
    )  # fmt: skip
    assert report["first"]["connected"] == 20
    assert report["first"]["failed"] == 0
    storm = report["storm"]
    assert storm["connected"] == 20
    assert storm["failed"] == 0
    assert storm["reconnectsPerSec"] > 0
    assert storm["dbWrites"] is None  # the reference has no database
