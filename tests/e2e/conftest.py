"""Fixtures of the browser and Node client tests: a real `safechat serve` process."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from safechat.adapters.embedded_mongo import free_port
from tests.e2e.test_js_client import ServeProcess, clean_env
from tests.helpers.support import terminate


@pytest.fixture
def serve(safechat_bin: str, tmp_path: Path) -> Iterator[ServeProcess]:
    """`safechat serve` on a free port with its own data dir and embedded database."""
    port = free_port()
    data_dir = tmp_path / "data"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [safechat_bin, "serve", "--port", str(port), "--data-dir", str(data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=tmp_path,  # no stray .env from the repository
            env=clean_env(),
            start_new_session=True,
        )
    try:
        yield ServeProcess(proc, port, data_dir, log)
    finally:
        terminate(proc, grace=20)
