"""The database stopped for 10 s under load, then back: refusals, not hangs; no loss.

The server runs in the test process against a SecantusDB process the test owns. Two
ways for a database to stop: paused (SIGSTOP: its connections stay open and nothing
answers, like a hung host) and killed then restarted on the same storage and port.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import socketio

from tests.helpers.db_server import DbServer
from tests.helpers.load import ACK_TIMEOUT, Sender, check_nothing_lost_or_doubled, history
from tests.helpers.support import ChatServer, EventClient, pair, start_server

OUTAGE = 10.0
DB_TIMEOUT_MS = 5000  # the default DB_TIMEOUT_MS


@pytest.fixture
def db(tmp_path: Path) -> Iterator[DbServer]:
    server = DbServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def chat(db: DbServer, tmp_path: Path) -> AsyncIterator[ChatServer]:
    srv = await start_server(
        mongo_uri=db.uri, db_name="outage", data_dir=tmp_path / "data", db_timeout_ms=DB_TIMEOUT_MS
    )
    try:
        yield srv
    finally:
        await srv.stop()


async def timed(coro: object) -> tuple[object, float]:
    started = time.monotonic()
    result = await coro  # type: ignore[misc]
    return result, time.monotonic() - started


async def probe_rest(chat: ChatServer, token: str, gid: str) -> None:
    """REST during the outage: 503 SERVICE_UNAVAILABLE within the ack timeout."""
    for method, path, body in [
        ("GET", "/api/groups", None),
        ("GET", f"/api/messages/group/{gid}", None),
        ("POST", "/api/messages", {"groupId": gid, "content": "rest in outage"}),
    ]:
        (status, reply), took = await timed(chat.request(method, path, token, body))
        assert took < ACK_TIMEOUT, (path, took)
        assert status == 503, (path, reply)
        assert reply["error"]["code"] == "SERVICE_UNAVAILABLE", reply
    async with chat.http.get(chat.url + "/health") as resp:
        assert (await resp.json())["status"] == "degraded"


async def probe_connect(chat: ChatServer) -> None:
    """A new socket during the outage is refused with SERVICE_UNAVAILABLE, promptly."""
    late = EventClient(chat.url, chat.token("user_late"))
    refused: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    late.sio.on("connect_error", lambda data: refused.done() or refused.set_result(data))
    started = time.monotonic()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await late.connect()
    assert time.monotonic() - started < ACK_TIMEOUT
    data = await asyncio.wait_for(refused, 1)
    assert isinstance(data, dict), data
    assert data["data"]["code"] == "SERVICE_UNAVAILABLE", data


@pytest.mark.parametrize("how", ["paused", "killed"])
async def test_database_outage_under_load(chat: ChatServer, db: DbServer, how: str) -> None:
    gid, a, b = await pair(chat)
    alice = a.token
    senders = [Sender(a, gid), Sender(a, gid), Sender(b, gid)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(s.run(stop)) for s in senders]
    await asyncio.sleep(1.0)  # steady load before the fault
    assert all(s.acked for s in senders)

    down_at = time.monotonic()
    db.pause() if how == "paused" else db.kill()
    try:
        await asyncio.sleep(DB_TIMEOUT_MS / 1000 + 0.5)  # in-flight sends hit the timeout
        await asyncio.gather(probe_rest(chat, alice, gid), probe_connect(chat))
        # Sends during the outage were refused, each within the ack timeout.
        for s in senders:
            assert s.codes["SERVICE_UNAVAILABLE"] >= 1, s.codes
        await asyncio.sleep(max(0.0, OUTAGE - (time.monotonic() - down_at)))
    finally:
        db.resume() if how == "paused" else db.start()

    # The node recovers by itself: sends are acknowledged again, without a restart.
    deadline = time.monotonic() + 30
    recovered = {id(s): len(s.acked) for s in senders}
    while any(len(s.acked) <= recovered[id(s)] for s in senders):
        assert time.monotonic() < deadline, [s.codes for s in senders]
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*tasks)

    for s in senders:
        assert set(s.codes) <= {"SERVICE_UNAVAILABLE"}, s.codes  # never a hang or a 500
        assert s.slowest < ACK_TIMEOUT, s.slowest
    # The clients' retries with the same tempIds: each stored once, no acked one lost.
    for s in senders:
        await s.retry()
    checked = check_nothing_lost_or_doubled(await history(a, gid), senders)
    assert checked == sum(len(s.acked) for s in senders)
    assert a.sio.connected
    assert b.sio.connected
    ok = await a.call("get_group_members", {"groupId": gid})
    assert ok["ok"] is True
