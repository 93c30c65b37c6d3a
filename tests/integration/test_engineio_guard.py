"""Engine.IO hardening (issue 9, findings 1, 7 and 9) against a real server."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from safechat.adapters.socketio.engineio_guard import GuardedEngineIO
from safechat.container import SIO
from tests.helpers.support import ChatServer, start_server

POLL = "/socket.io/?EIO=4&transport=polling"
ROUNDS = 25  # oversize POSTs per test; each used to leave a request hanging forever


def eio_of(server: ChatServer) -> GuardedEngineIO:
    eio: GuardedEngineIO = server.app[SIO].eio
    return eio


async def open_session(server: ChatServer, **kw: Any) -> str:
    async with server.http.get(server.url + POLL, **kw) as resp:
        assert resp.status == 200, await resp.text()
        opening = await resp.text()
    assert opening.startswith("0{")
    return str(json.loads(opening[1:])["sid"])


async def post(server: ChatServer, sid: str, body: bytes, timeout: float = 3.0) -> int:
    async with server.http.post(
        f"{server.url}{POLL}&sid={sid}",
        data=body,
        timeout=aiohttp.ClientTimeout(total=timeout),
    ) as resp:
        await resp.read()
        return resp.status


async def wait_until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


@pytest.fixture
async def own_server(
    mongo_uri: str, db_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[ChatServer]:
    """A server with the settings overrides given by indirect parametrization."""
    overrides = getattr(request, "param", {})
    srv = await start_server(mongo_uri=mongo_uri, db_name=db_name, data_dir=tmp_path, **overrides)
    try:
        yield srv
    finally:
        await srv.stop()


async def test_oversize_polling_post_answers_413_frees_the_session_and_shuts_down_fast(
    mongo_uri: str, db_name: str, tmp_path: Path
) -> None:
    srv = await start_server(mongo_uri=mongo_uri, db_name=db_name, data_dir=tmp_path)
    stopped = False
    try:
        eio = eio_of(srv)
        oversize = b"4" + b"x" * (srv.settings.max_frame_bytes + 500)
        for _ in range(ROUNDS):
            sid = await open_session(srv)
            started = time.monotonic()
            assert await post(srv, sid, oversize) == 413
            assert time.monotonic() - started < 1.0
            assert sid not in eio.sockets
            # The session is gone: later requests on it are 4xx, never 500 or a hang.
            assert await post(srv, sid, b"40") == 400
            assert await post(srv, sid, oversize) == 400
        # Same class: any failed POST ends its session; upstream then waited on the queue.
        sid = await open_session(srv)
        assert await post(srv, sid, b"0") == 400  # OPEN: not a packet a client sends
        assert eio.sockets == {}
        started = time.monotonic()
        await srv.stop()
        stopped = True
        assert time.monotonic() - started < 5.0  # no handler left waiting on a queue
    finally:
        if not stopped:
            await srv.stop()


async def test_a_closed_session_answers_400(server: ChatServer) -> None:
    eio = eio_of(server)
    sid = await open_session(server)
    # What the ping-timeout check does: closed, but still listed until the next sweep.
    await eio.sockets[sid].close(wait=False, abort=True)
    assert sid in eio.sockets
    assert await post(server, sid, b"40") == 400
    async with server.http.get(f"{server.url}{POLL}&sid={sid}") as resp:
        assert resp.status == 400
    assert sid not in eio.sockets


async def test_a_normal_polling_client_still_works(server: ChatServer) -> None:
    token = await server.user("user_poll")
    client = await server.client(token, connect=False)
    await client.connect(transports=["polling"])
    user_groups = await client.wait_for("user_groups")
    assert user_groups == []
    started = time.monotonic()
    await client.close()  # POSTs CLOSE, then waits for its pending long-poll to return
    assert time.monotonic() - started < 2.0
    assert eio_of(server).sockets == {}


@pytest.mark.parametrize(
    "own_server",
    [{"max_pending_sockets": 5, "socket_handshake_timeout_seconds": 0.5}],
    indirect=True,
)
async def test_unauthenticated_sessions_are_capped_and_expire(own_server: ChatServer) -> None:
    srv = own_server
    eio = eio_of(srv)
    sids = [await open_session(srv) for _ in range(5)]
    assert eio.pending_sessions == 5
    async with srv.http.get(srv.url + POLL) as resp:
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "2"
    # A long-poll of a session that never authenticates ends at the deadline with CLOSE.
    async with srv.http.get(
        f"{srv.url}{POLL}&sid={sids[0]}", timeout=aiohttp.ClientTimeout(total=5)
    ) as resp:
        assert resp.status == 200
        assert "1" in (await resp.text()).split("\x1e")
    await wait_until(lambda: eio.pending_sessions == 0 and not eio.sockets)
    # Room again, and an authenticated socket does not count against the cap.
    client = await srv.client("user_capped")
    assert client.sio.connected
    assert eio.pending_sessions == 0
    assert len([await open_session(srv) for _ in range(5)]) == 5


async def test_a_refused_token_leaves_the_session_pending_until_the_deadline(
    server: ChatServer,
) -> None:
    eio = eio_of(server)
    sid = await open_session(server)
    assert await post(server, sid, b'40{"token":"not-a-token"}') == 200
    assert sid in eio.sockets
    assert eio.pending_sessions == 1  # CONNECT refused: still unauthenticated


@pytest.mark.parametrize(
    "own_server",
    [
        {
            "env": "production",
            "allow_dev_issuer": True,
            "encryption_keys": "k1:" + base64.b64encode(os.urandom(32)).decode(),
        }
    ],
    indirect=True,
)
async def test_production_without_allowed_origins_refuses_every_origin_but_its_own(
    own_server: ChatServer,
) -> None:
    srv = own_server
    async with srv.http.get(srv.url + POLL, headers={"Origin": "https://evil.example"}) as resp:
        assert resp.status == 400
        assert "not an accepted origin" in await resp.text()
        assert "Access-Control-Allow-Origin" not in resp.headers
    # The server's own origin (it serves the web client at /) is always allowed (§7).
    async with srv.http.get(srv.url + POLL, headers={"Origin": srv.url}) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.headers["Access-Control-Allow-Origin"] == srv.url
    ws_url = srv.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await srv.http.ws_connect(ws_url, headers={"Origin": "https://evil.example"})
    # Native clients send no Origin and are not affected.
    assert await open_session(srv)
