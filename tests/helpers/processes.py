"""Real `safechat` processes for tests: the CLI, `safechat serve`, and /proc lookups."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest

# Variables of the developer's shell that would change what the CLI does.
CONFIG_VARS = (
    "MONGODB_URI",
    "MONGODB_DB",
    "CLERK_JWKS_URL",
    "CLERK_ISSUER",
    "ENCRYPTION_KEYS",
    "ALLOWED_ORIGINS",
    "REDIS_URL",
)
STARTUP_TIMEOUT = 30.0


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SAFECHAT_") and k not in CONFIG_VARS
    }
    env.update(extra)
    return env


def run_cli(
    safechat_bin: str, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [safechat_bin, *args],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def processes_mentioning(text: str) -> list[tuple[int, list[str]]]:
    """(pid, argv) of every live process whose command line mentions `text` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        argv = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
        if any(text in a for a in argv):
            found.append((int(entry.name), argv))
    return found


def database_children(data_dir: Path) -> list[tuple[int, list[str]]]:
    return [
        (pid, argv)
        for pid, argv in processes_mentioning(str(data_dir))
        if any("secantusd" in a for a in argv)
    ]


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def kill_tree(data_dir: Path) -> None:
    for pid, _ in processes_mentioning(str(data_dir)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class Serve:
    """One `safechat serve` subprocess on a fixed port and data dir."""

    def __init__(
        self,
        safechat_bin: str,
        port: int,
        data_dir: Path,
        cwd: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        self.bin = safechat_bin
        self.port = port
        self.data_dir = data_dir
        self.cwd = cwd
        self.env = env or clean_env(SAFECHAT_LOG_LEVEL="WARNING")
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = cwd / f"serve-{port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, http: aiohttp.ClientSession) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [self.bin, "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"serve exited with {self.proc.returncode}:\n{self.log.read_text()}")
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with http.get(self.url + "/health") as resp:
                    if resp.status == 200 and (await resp.json())["status"] == "ok":
                        return
            await asyncio.sleep(0.1)
        pytest.fail(f"serve not healthy after {STARTUP_TIMEOUT}s:\n{self.log.read_text()}")

    async def stop(self, sig: signal.Signals, within: float = 10.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        started = time.monotonic()
        code = await asyncio.to_thread(self.proc.wait, within)
        elapsed = time.monotonic() - started
        assert elapsed < within, elapsed
        return code

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
