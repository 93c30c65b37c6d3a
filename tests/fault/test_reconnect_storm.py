"""A reconnect storm: every client of a node reconnects at once after it restarts.

All of them get in (each may retry its connect, as socket.io clients do), and a user
who is already connected is served throughout: no send or REST call of theirs times
out. `make test` runs 200 clients; `make soak` the full 1000 (SAFECHAT_STORM_CLIENTS).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from safechat.adapters.embedded_mongo import free_port
from safechat.services.auth import DevIssuer
from tests.helpers.load import ACK_TIMEOUT
from tests.helpers.processes import Serve, clean_env
from tests.helpers.support import GENEROUS_LIMITS, EventClient

CLIENTS = int(os.environ.get("SAFECHAT_STORM_CLIENTS", "200"))
GROUPS = 10
PUBLIC_URL = "http://storm.test"
STORM_TIMEOUT = 120.0  # seconds for all clients to get in
ROOT = Path(__file__).resolve().parents[2]


class StormClients:
    """tests/fault/storm_clients.py in a child process: N clients of their own users."""

    def __init__(self, url: str, tokens: list[str]) -> None:
        self.url = url
        self.tokens = tokens
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.fault.storm_clients", self.url,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT,
        )  # fmt: skip
        await self._say("\n".join(self.tokens) + "\n\n")
        assert await self._line(STORM_TIMEOUT) == "connected"

    async def storm(self) -> dict[str, Any]:
        await self._say("go\n")
        return dict(json.loads(await self._line(STORM_TIMEOUT)))

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await self._say("quit\n")
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    async def _say(self, text: str) -> None:
        assert self.proc is not None
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode())
        await self.proc.stdin.drain()

    async def _line(self, timeout: float) -> str:
        assert self.proc is not None
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        assert line, f"the storm clients exited ({await self.proc.wait()})"
        return line.decode().strip()


async def probe(node: Serve, http: aiohttp.ClientSession, me: EventClient, gid: str,
                stop: asyncio.Event) -> list[float]:  # fmt: skip
    """The connected user's sends and REST reads while the storm goes on: their latencies."""
    took: list[float] = []
    headers = {"Authorization": f"Bearer {me.token}"}
    while not stop.is_set():
        started = time.monotonic()
        ack = await me.call("send_message", {"groupId": gid, "content": "x"}, ACK_TIMEOUT)
        assert ack["ok"] is True, ack
        timeout = aiohttp.ClientTimeout(total=ACK_TIMEOUT)
        async with http.get(node.url + "/api/groups", headers=headers, timeout=timeout) as r:
            assert r.status == 200, await r.text()
        took.append(time.monotonic() - started)
        await asyncio.sleep(0.1)
    return took


async def test_reconnect_storm_after_a_restart(
    mongo_uri: str, safechat_bin: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "node"
    data_dir.mkdir()
    issuer = DevIssuer.load_or_create(data_dir, PUBLIC_URL)
    env = clean_env(
        MONGODB_URI=mongo_uri,
        MONGODB_DB=f"storm_{free_port()}",
        SAFECHAT_PUBLIC_URL=PUBLIC_URL,
        SAFECHAT_LOG_LEVEL="WARNING",
        **{k.upper(): str(v) for k, v in GENEROUS_LIMITS.items()},
    )
    node = Serve(safechat_bin, free_port(), data_dir, cwd=tmp_path, env=env)
    http = aiohttp.ClientSession()
    clients = StormClients("", [])
    try:
        await node.start(http)
        tokens = [issuer.mint(f"user_s{i:05d}") for i in range(CLIENTS)]
        clients = StormClients(node.url, tokens)
        await clients.start()  # signs every user in
        owner = issuer.mint("user_prober")
        headers = {"Authorization": f"Bearer {owner}"}
        gids: list[str] = []
        for g in range(GROUPS):  # every client shares a group (presence fans out)
            members = [f"user_s{i:05d}" for i in range(g, CLIENTS, GROUPS)]
            body: dict[str, Any] = {"name": f"storm {g}", "memberIds": members}
            async with http.post(node.url + "/api/groups", json=body, headers=headers) as r:
                assert r.status == 201, await r.text()
                gids.append((await r.json())["group"]["id"])

        # A SIGTERM with every client connected closes their sockets and exits promptly
        # (it used to wait ~45 s for each websocket to time out).
        await node.stop(signal.SIGTERM, within=15)
        await node.start(http)
        me = EventClient(node.url, owner)
        await me.connect()
        await me.wait_for("user_groups")

        stop = asyncio.Event()
        probing = asyncio.create_task(probe(node, http, me, gids[0], stop))
        await asyncio.sleep(0.3)
        result = await clients.storm()  # raises unless every client got in
        stop.set()
        took = await probing

        assert result["clients"] == CLIENTS
        assert took, "the probe never completed a round"
        assert max(took) < ACK_TIMEOUT
        print(  # the numbers behind the README fault section (pytest -s)
            f"{CLIENTS} clients in after {result['seconds']:.1f} s with {result['retries']} "
            "connect retries; "
            f"probe rounds {len(took)}, slowest {max(took) * 1000:.0f} ms"
        )
        await me.close()
    finally:
        await clients.stop()
        await http.close()
        node.kill()
