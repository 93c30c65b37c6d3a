"""Shared fixtures: one real SecantusDB server per test session, real servers per test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from safechat.adapters.embedded_mongo import find_command, free_port
from safechat.logs import configure_logging
from tests.helpers.redis_server import RedisServer
from tests.helpers.support import ChatServer, start_server, terminate

ROOT = Path(__file__).resolve().parent.parent
# What the in-process servers log goes through the same setup as `safechat serve`'s, off
# a terminal: plain tracebacks. structlog's default draws each with rich and the frames'
# locals, slow enough (tens of ms each) to stall a test's event loop when a database
# outage makes every operation log one.
TEST_LOGGING = ("INFO", "console", "dev")


def pytest_configure(config: pytest.Config) -> None:
    configure_logging(*TEST_LOGGING)


def _wait_port(port: int, timeout: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real MongoDB-protocol server (SecantusDB) for the whole test session.

    MONGODB_URI in the environment points the tests at another server instead.
    """
    external = os.environ.get("SAFECHAT_TEST_MONGODB_URI")
    if external:
        yield external
        return
    exe = find_command("secantusd-py")
    if exe is None:
        pytest.fail("secantusd-py not found: run `make test` (it installs .[embedded])")
    port = free_port()
    storage = tmp_path_factory.mktemp("secantus")
    log = (storage.parent / "secantus.log").open("wb")
    proc = subprocess.Popen(
        [exe, "--storage-path", str(storage), "--port", str(port), "--log-level", "WARNING"],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        _wait_port(port)
        yield f"mongodb://127.0.0.1:{port}/?directConnection=true"
    finally:
        terminate(proc)
        log.close()


@pytest.fixture
def db_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def server(mongo_uri: str, db_name: str, tmp_path: Path) -> AsyncIterator[ChatServer]:
    """A SafeChat app on a real TCP port, its own database, embedded dev issuer."""
    srv = await start_server(mongo_uri=mongo_uri, db_name=db_name, data_dir=tmp_path / "data")
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture(scope="session")
def safechat_bin() -> str:
    path = Path(sys.executable).parent / "safechat"
    found = str(path) if path.exists() else shutil.which("safechat")
    if not found:
        pytest.fail("safechat entry point not installed")
    return found


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server for the session (tests that stop it must start it again)."""
    srv = RedisServer(tmp_path_factory.mktemp("redis"))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
