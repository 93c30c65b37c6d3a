"""Runs the SecantusDB server (MongoDB wire protocol) as a child process.

SecantusDB is GPL-2.0, so it is only ever executed as a separate program,
never imported. It is the embedded default when MONGODB_URI is not set.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
from pathlib import Path

import structlog

from safechat.errors import EmbeddedMongoError

log = structlog.get_logger(__name__)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the database gets SIGTERM if SafeChat itself is killed (no orphans)."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def find_command(name: str) -> str | None:
    """The launcher from PATH, or beside the running interpreter (inside a venv)."""
    found = shutil.which(name)
    if found:
        return found
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else None


class EmbeddedMongo:
    def __init__(
        self,
        storage: Path,
        *,
        command: str = "secantusd-py",
        host: str = "127.0.0.1",
        port: int | None = None,
        start_timeout: float = 30.0,
        sync_on_commit: bool = True,
    ) -> None:
        """`sync_on_commit`: the journal is fsynced before a write is answered, so what
        was acknowledged survives a power loss too (the server's own default only hands
        the journal to the OS: a crash of the process loses nothing, one of the machine
        may lose the last writes)."""
        self.storage = storage
        self.sync_on_commit = sync_on_commit
        self.command = command
        self.host = host
        self.port = port or free_port(host)
        self.start_timeout = start_timeout
        self._proc: asyncio.subprocess.Process | None = None
        self._log_path = storage.parent / "secantusdb.log"

    @property
    def uri(self) -> str:
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    async def start(self) -> str:
        exe = find_command(self.command)
        if exe is None:
            raise EmbeddedMongoError(
                f"{self.command!r} not found: install the embedded database with "
                "`pip install 'safechat[embedded]'` or set MONGODB_URI"
            )
        self.storage.mkdir(parents=True, exist_ok=True)
        log_file = self._log_path.open("ab")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                exe,
                "--storage-path",
                str(self.storage),
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--log-level",
                "WARNING",
                *(["--sync-on-commit"] if self.sync_on_commit else []),
                stdout=log_file,
                stderr=log_file,
                stdin=asyncio.subprocess.DEVNULL,
                # Own process group: a Ctrl-C in the terminal reaches us, and we
                # stop the child in order (it must flush WiredTiger cleanly).
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            log_file.close()
        await self._wait_ready()
        log.info(
            "embedded_mongo_started", pid=self._proc.pid, port=self.port, storage=str(self.storage)
        )
        return self.uri

    async def _wait_ready(self) -> None:
        loop = asyncio.get_running_loop()
        # The loop's own time, not the Clock port: this waits (really sleeping) for a real
        # child process to start, so only real time makes sense here.
        deadline = loop.time() + self.start_timeout
        while loop.time() < deadline:
            assert self._proc is not None
            if self._proc.returncode is not None:
                code = self._proc.returncode
                raise EmbeddedMongoError(f"embedded database exited ({code}); see {self._log_path}")
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection(self.host, self.port)
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
                return
            await asyncio.sleep(0.1)
        await self.stop()
        raise EmbeddedMongoError(f"embedded database did not start in {self.start_timeout}s")

    async def stop(self, grace_seconds: float = 15.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace_seconds)
        except TimeoutError:
            log.warning("embedded_mongo_kill", pid=proc.pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        log.info("embedded_mongo_stopped", pid=proc.pid)
