"""The official JavaScript socket.io-client drives a real `safechat serve` process.

Nothing is in-process here: the server is the installed `safechat` entry point with
its embedded SecantusDB (no MONGODB_URI), tokens come from the `safechat token` CLI,
and the chat itself is tests/e2e/chat_flow.mjs running under Node.js.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import AliasChoices

from safechat.config import Settings
from tests.helpers.support import require_node

E2E_DIR = Path(__file__).resolve().parent
SCRIPT = E2E_DIR / "chat_flow.mjs"
CLIENT_PKG = E2E_DIR / "node_modules" / "socket.io-client"
HEALTH_TIMEOUT = 60.0
NODE_TIMEOUT = 45.0

pytestmark = pytest.mark.e2e


def _setting_names() -> set[str]:
    """Every environment name a Settings field reads (MONGODB_URI, CLERK_*, SAFECHAT_*...)."""
    names: set[str] = set()
    for name, info in Settings.model_fields.items():
        names.add(name)
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(c for c in alias.choices if isinstance(c, str))
        elif isinstance(alias, str):
            names.add(alias)
    return {n.upper() for n in names}


def clean_env() -> dict[str, str]:
    """The caller's environment minus anything that would configure SafeChat."""
    drop = _setting_names()
    return {k: v for k, v in os.environ.items() if k.upper() not in drop}


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@pytest.fixture
def node_bin() -> str:
    return require_node(CLIENT_PKG, "e2e-deps")


class ServeProcess:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, data_dir: Path, log: Path):
        self.proc = proc
        self.port = port
        self.data_dir = data_dir
        self.log = log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def wait_healthy(srv: ServeProcess, http: aiohttp.ClientSession) -> dict[str, Any]:
    deadline = time.monotonic() + HEALTH_TIMEOUT
    last: Any = None
    while time.monotonic() < deadline:
        if srv.proc.poll() is not None:
            pytest.fail(f"safechat serve exited with {srv.proc.returncode}:\n{log_tail(srv.log)}")
        try:
            async with http.get(f"{srv.url}/health", timeout=aiohttp.ClientTimeout(total=3)) as r:
                last = await r.json()
                if r.status == 200 and last.get("status") == "ok":
                    return dict(last)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            last = repr(exc)
        await asyncio.sleep(0.2)
    pytest.fail(f"/health not ok after {HEALTH_TIMEOUT}s (last: {last}):\n{log_tail(srv.log)}")


async def run(*argv: str, env: dict[str, str], cwd: Path, timeout: float) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        pytest.fail(f"{argv[0]} {argv[1]} did not finish within {timeout}s")
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def cli_token(safechat_bin: str, srv: ServeProcess, sub: str, name: str, cwd: Path) -> str:
    code, out, err = await run(
        safechat_bin,
        "token",
        sub,
        "--name",
        name,
        "--data-dir",
        str(srv.data_dir),
        "--port",
        str(srv.port),
        env=clean_env(),
        cwd=cwd,
        timeout=30,
    )
    assert code == 0, f"safechat token {sub} failed ({code}): {err}"
    token = out.strip()
    assert token.count(".") == 2, f"not a JWT: {out!r}"
    return token


async def test_js_client_chat_flow(
    serve: ServeProcess, safechat_bin: str, node_bin: str, tmp_path: Path
) -> None:
    async with aiohttp.ClientSession() as http:
        health = await wait_healthy(serve, http)
        assert health["database"] == "ok"

        ann, ben, outsider = await asyncio.gather(
            cli_token(safechat_bin, serve, "user_ann", "Ann Lee", tmp_path),
            cli_token(safechat_bin, serve, "user_ben", "Ben Ode", tmp_path),
            cli_token(safechat_bin, serve, "user_out", "Otto Side", tmp_path),
        )

        async def rest(method: str, path: str, token: str, body: Any = None) -> Any:
            headers = {"Authorization": f"Bearer {token}"}
            async with http.request(method, serve.url + path, headers=headers, json=body) as r:
                data = await r.json()
                return r.status, data

        status, me = await rest("GET", "/api/me", ben)
        assert status == 200, me
        status, created = await rest(
            "POST",
            "/api/groups",
            ann,
            {"name": "JS e2e", "isPrivate": True, "memberIds": ["user_ben"]},
        )
        assert status == 201, created
        gid = created["group"]["id"]

    env = {
        **clean_env(),
        "SAFECHAT_URL": serve.url,
        "SAFECHAT_GROUP_ID": gid,
        "SAFECHAT_TOKEN_ANN": ann,
        "SAFECHAT_TOKEN_BEN": ben,
        "SAFECHAT_TOKEN_OUTSIDER": outsider,
        "E2E_TIMEOUT_MS": str(int((NODE_TIMEOUT - 5) * 1000)),
    }
    code, out, err = await run(node_bin, str(SCRIPT), env=env, cwd=E2E_DIR, timeout=NODE_TIMEOUT)
    lines = out.strip().splitlines()
    assert lines, f"chat_flow.mjs printed nothing (exit {code}); stderr:\n{err}"
    try:
        result = json.loads(lines[-1])
    except json.JSONDecodeError:
        pytest.fail(f"last line is not JSON (exit {code}): {lines[-1]!r}\nstderr:\n{err}")
    if code != 0 or result.get("ok") is not True:
        pytest.fail(
            f"chat_flow.mjs failed (exit {code}) at {result.get('step')}: {result.get('error')}\n"
            f"stderr:\n{err}\nserver log:\n{log_tail(serve.log)}"
        )

    assert result["ann"]["transports"] == ["polling", "websocket"]
    assert result["ann"]["groupRole"] == "owner"
    assert result["ann"]["memberCount"] == 2
    assert result["ben"]["transport"] == "websocket"
    assert result["ben"]["groupRole"] == "member"
    assert result["joinGroup"] == {"ok": True, "groupJoined": True}

    sent = result["annMessage"]
    assert sent["seq"] == 1
    assert sent["benSawContent"] == "Hello Ben, from socket.io-client"
    assert sent["senderFirstName"] == "Ann"
    assert sent["messageSentTempId"] == sent["tempId"]

    reply = result["benReply"]
    assert reply["seq"] == 2
    assert reply["annSawContent"] == "Hi Ann, got it"
    assert reply["replyTo"] == sent["id"]

    assert result["outsider"] == {
        "connected": True,
        "sawGroup": False,
        "ackOk": False,
        "ackCode": "ACCESS_DENIED",
        "messageErrorCode": "ACCESS_DENIED",
    }
    assert result["badToken"]["code"] == "INVALID_TOKEN"
    assert result["badToken"]["message"]

    # The messages really went through the server's database, readable over REST.
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{serve.url}/api/messages/group/{gid}",
            headers={"Authorization": f"Bearer {ben}"},
        ) as r,
    ):
        assert r.status == 200
        history = await r.json()
    assert [(m["seq"], m["senderId"]) for m in history["messages"]] == [
        (1, "user_ann"),
        (2, "user_ben"),
    ]
