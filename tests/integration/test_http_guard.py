"""HTTP read deadlines and response headers (issue 9, findings 10 and 13)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.helpers.support import ChatServer, start_server

HALF_OPEN = 20  # raw connections per test


@pytest.fixture
async def quick(mongo_uri: str, db_name: str, tmp_path: Path) -> AsyncIterator[ChatServer]:
    srv = await start_server(
        mongo_uri=mongo_uri,
        db_name=db_name,
        data_dir=tmp_path,
        http_header_timeout_seconds=0.5,
        http_body_timeout_seconds=0.5,
    )
    try:
        yield srv
    finally:
        await srv.stop()


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sent before closing; fails if it is still open after `seconds`."""
    return await asyncio.wait_for(reader.read(), seconds)


async def test_half_sent_request_heads_are_closed_at_the_header_deadline(quick: ChatServer) -> None:
    port = quick.settings.port
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(HALF_OPEN)]
    started = time.monotonic()
    for _, writer in conns:
        writer.write(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        await writer.drain()
    # One more trickles a byte at a time: bytes arriving do not extend the deadline.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /health HTTP/1.1\r\n")

    async def trickle() -> None:
        for _ in range(40):
            await asyncio.sleep(0.05)
            if writer.is_closing():
                return
            writer.write(b"X")

    dribble = asyncio.create_task(trickle())
    for conn_reader, _ in conns:
        assert await closed_within(conn_reader, 3.0) == b""
    assert await closed_within(reader, 3.0) == b""
    assert time.monotonic() - started < 3.0
    dribble.cancel()
    for _, conn_writer in [*conns, (reader, writer)]:
        conn_writer.close()


async def test_idle_connection_is_closed_but_a_complete_request_is_served(
    quick: ChatServer,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", quick.settings.port)
    writer.write(b"GET /api/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3.0)
    assert head.startswith(b"HTTP/1.1 200")
    # Kept alive afterwards, but only up to the same deadline.
    rest = await closed_within(reader, 3.0)
    assert b"HTTP/1.1" not in rest
    writer.close()


async def test_a_body_that_stalls_gets_408_and_the_connection_closes(quick: ChatServer) -> None:
    token = await quick.user("user_slow")
    reader, writer = await asyncio.open_connection("127.0.0.1", quick.settings.port)
    writer.write(
        b"POST /api/groups HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Authorization: Bearer " + token.encode() + b"\r\n"
        b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        b'{"name": "'
    )
    await writer.drain()
    started = time.monotonic()
    answer = await closed_within(reader, 3.0)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"VALIDATION_ERROR"' in answer
    assert time.monotonic() - started < 3.0
    writer.close()


async def test_a_stalled_polling_post_gets_408(quick: ChatServer) -> None:
    async with quick.http.get(quick.url + "/socket.io/?EIO=4&transport=polling") as resp:
        sid = (await resp.text()).split('"sid":"')[1].split('"')[0]
    reader, writer = await asyncio.open_connection("127.0.0.1", quick.settings.port)
    writer.write(
        f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 50\r\n\r\n40".encode()
    )
    await writer.drain()
    answer = await closed_within(reader, 3.0)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    writer.close()


async def test_rest_responses_carry_nosniff_no_store_and_a_neutral_server(
    server: ChatServer,
) -> None:
    token = await server.user("user_headers")
    gid = await server.group(token)
    for path, auth in [
        ("/api/me", token),
        ("/api/groups", token),
        (f"/api/messages/group/{gid}", token),
        ("/api/v1/me", token),
        ("/api/me", None),  # 401
        ("/api/nothing-here", token),  # 404
    ]:
        headers = {"Authorization": f"Bearer {auth}"} if auth else {}
        async with server.http.get(server.url + path, headers=headers) as resp:
            assert resp.headers["X-Content-Type-Options"] == "nosniff", path
            assert resp.headers["Cache-Control"] == "no-store", path
            assert resp.headers["Server"] == "SafeChat", path
    for path in ("/health", "/socket.io/?EIO=4&transport=polling", "/.well-known/jwks.json"):
        async with server.http.get(server.url + path) as resp:
            assert resp.status == 200, path
            assert resp.headers["Server"] == "SafeChat", path
            assert "aiohttp" not in str(resp.headers).lower(), path
            assert resp.headers["X-Content-Type-Options"] == "nosniff", path
    async with server.http.get(server.url + "/.well-known/jwks.json") as resp:
        assert resp.headers["Cache-Control"] == "public, max-age=300"  # its own choice stays


async def test_the_websocket_upgrade_carries_them_and_the_socket_works_after(
    server: ChatServer,
) -> None:
    """The 101's headers are dropped from memory once sent (adapters/socketio/websocket.py):
    they must still be on the wire, and the socket must keep working."""
    url = server.url + "/socket.io/?EIO=4&transport=websocket"
    async with server.http.ws_connect(url) as ws:
        headers = ws._response.headers
        assert headers["Server"] == "SafeChat"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "aiohttp" not in str(headers).lower()
        opening = await asyncio.wait_for(ws.receive_str(), 5.0)
        assert opening.startswith("0{")  # engine.io OPEN
        await ws.send_str("40")  # a Socket.IO CONNECT without a token: refused over it
        assert (await asyncio.wait_for(ws.receive_str(), 5.0)).startswith("44")
