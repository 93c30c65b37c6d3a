"""A SecantusDB server the test owns: paused, killed and restarted on its storage and port."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

from safechat.adapters.embedded_mongo import find_command, free_port
from tests.helpers.support import terminate


class DbServer:
    """One `secantusd-py` process; `kill()` then `start()` reuses its storage path and port."""

    def __init__(self, workdir: Path) -> None:
        exe = find_command("secantusd-py")
        if exe is None:
            raise RuntimeError("secantusd-py not found: run `make install`")
        self.exe = exe
        self.storage = workdir / "db"
        self.storage.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / "secantus.log"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self, timeout: float = 30.0) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [self.exe, "--storage-path", str(self.storage), "--port", str(self.port),
                 "--log-level", "WARNING"],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"secantusd-py not listening on {self.port} after {timeout}s")

    def pause(self) -> None:
        """SIGSTOP: connections stay open and nothing answers (a hung database)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: connections are refused until `start()` (a crashed database)."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)  # a paused process cannot handle SIGTERM
            terminate(self.proc)
            self.proc = None
