"""Attacks on the socket edge: the catch-all event, unknown-event floods, forged
reserved events, and concurrent connects past the per-user socket cap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import socketio

from safechat.container import SERVICES, SIO
from tests.helpers.support import ChatServer, EventClient, pair, start_server

V = "VALIDATION_ERROR"


def assert_refused(ack: Any, code: str) -> None:
    assert isinstance(ack, dict), ack
    assert ack["ok"] is False, ack
    assert ack["error"]["code"] == code, ack


@pytest.fixture
async def limited(mongo_uri: str, db_name: str, tmp_path: Path) -> AsyncIterator[ChatServer]:
    """A server whose per-socket bucket holds 10 events and practically never refills."""
    srv = await start_server(
        mongo_uri=mongo_uri,
        db_name=db_name,
        data_dir=tmp_path / "data",
        rate_events_per_second=0.001,
        rate_events_burst=10,
    )
    try:
        yield srv
    finally:
        await srv.stop()


async def test_star_event_cannot_address_another_room_or_socket(server: ChatServer) -> None:
    """`'*'` once shifted python-socketio's catch-all arguments: the payload became the
    `to` of the error event, so any user could inject events into any room."""
    gid, a, b = await pair(server)
    eve = await server.client("user_eve")
    b_sid = b.sio.get_sid("/")
    targets: list[Any] = [
        "user:user_bob",
        f"group:{gid}",
        ["user:user_bob", f"group:{gid}"],
        b_sid,
        None,
        {"to": "user:user_bob"},
    ]
    for target in targets:
        ack = await eve.call("*", target)
        assert_refused(ack, V)
        assert (await eve.wait_for("error"))["code"] == V
    # Several payloads, too: none of them may address anyone but the caller.
    ack = await eve.call("*", ("user:user_bob", f"group:{gid}"))
    assert_refused(ack, V)
    # 50 more packets: still nothing for the victims.
    acks = await asyncio.gather(*(eve.call("*", "user:user_bob") for _ in range(50)))
    for ack in acks:
        assert_refused(ack, V)
    await a.expect_none("error", within=0.3)
    await b.expect_none("error", within=0)
    assert len(eve.drain("error")) == 51


async def test_unknown_event_names_of_any_shape_get_a_coded_ack(server: ChatServer) -> None:
    eve = await server.client("user_eve")
    bob = await server.client("user_bob")
    # Raw Socket.IO EVENT packets (Engine.IO adds the message type): odd names, and
    # a string where the argument list belongs: both are the unknown event "?".
    for raw in ['2["no_such_event","user:user_bob"]', '2[7,"user:user_bob"]', '2"*user"']:
        await eve.sio.eio.send(raw)
    names = [(await eve.wait_for("error"))["details"]["event"] for _ in range(3)]
    assert sorted(names) == ["?", "?", "no_such_event"]
    for name in ("no_such_event", "*", "x" * 500, "connect_error", "message"):
        assert_refused(await eve.call(name, "user:user_bob"), V)
    assert (await eve.call("typing_stop", {"groupId": "0" * 24}))["ok"] is False
    await bob.expect_none("error", within=0.3)
    assert eve.sio.connected


async def test_unknown_events_share_the_per_socket_limit(limited: ChatServer) -> None:
    eve = await limited.client("user_eve")
    acks = await asyncio.gather(*(eve.call("no_such_event", {}) for _ in range(300)))
    codes = [ack["error"]["code"] for ack in acks]
    assert codes.count(V) == 10
    assert codes.count("RATE_LIMITED") == 290
    limited_ack = next(ack for ack in acks if ack["error"]["code"] == "RATE_LIMITED")
    assert limited_ack["error"]["details"]["limit"] == "events"
    assert limited_ack["error"]["details"]["retryAfterMs"] > 0
    # The same bucket as known events, and `'*'` draws from it too.
    assert_refused(await eve.call("typing_stop", {"groupId": "0" * 24}), "RATE_LIMITED")
    assert_refused(await eve.call("*", "user:user_eve"), "RATE_LIMITED")
    # Another socket has its own bucket.
    other = await limited.client("user_eve")
    assert_refused(await other.call("no_such_event", {}), V)


async def test_forged_reserved_events_are_rate_limited(limited: ChatServer) -> None:
    """Client events named connect/disconnect, with any number of arguments, are
    answered like unknown events and drawn from the socket's bucket."""
    _, a, b = await pair(limited)
    shapes: list[Any] = [None, {"HTTP_AUTHORIZATION": "Bearer x"}, (1, 2, 3), (1, 2, 3, 4, 5)]
    acks = [await b.call(name, shape) for name in ("connect", "disconnect") for shape in shapes]
    for ack in acks:
        assert_refused(ack, V)
    acks = await asyncio.gather(*(b.call("connect", {}) for _ in range(20)))
    codes = [ack["error"]["code"] for ack in acks]
    assert codes.count(V) == 2
    assert codes.count("RATE_LIMITED") == 18
    assert_refused(await b.call("disconnect", "io client disconnect"), "RATE_LIMITED")
    await a.expect_none("user_offline", within=0.2)
    assert b.sio.connected


async def _try_connect(url: str, token: str) -> tuple[EventClient | None, Any]:
    client = EventClient(url, token)
    refused: asyncio.Queue[Any] = asyncio.Queue()

    async def on_error(data: Any = None) -> None:
        refused.put_nowait(data)

    client.sio.on("connect_error", on_error)
    try:
        await client.connect()
    except socketio.exceptions.ConnectionError:
        return None, await asyncio.wait_for(refused.get(), 10)
    return client, None


async def test_concurrent_connects_respect_the_socket_cap(
    mongo_uri: str, db_name: str, tmp_path: Path
) -> None:
    cap = 5
    server = await start_server(
        mongo_uri=mongo_uri, db_name=db_name, data_dir=tmp_path / "data", max_sockets_per_user=cap
    )
    try:
        token = await server.user("user_alice")
        results = await asyncio.gather(*(_try_connect(server.url, token) for _ in range(60)))
        accepted = [c for c, _ in results if c is not None]
        refusals = [r for c, r in results if c is None]
        server.clients.extend(accepted)
        assert len(accepted) == cap
        assert len(refusals) == 60 - cap
        assert {r["data"]["code"] for r in refusals} == {"RATE_LIMITED"}
        assert {r["data"]["details"]["limit"] for r in refusals} == {"connections"}
        services = server.app[SERVICES]
        assert len([s for s in services.connections.live() if s.user_id == "user_alice"]) == cap
        # Refused connects left no reservation behind: a freed slot is usable again.
        await accepted[0].close()
        for _ in range(100):
            if len(services.connections.live()) < cap:
                break
            await asyncio.sleep(0.02)
        again, refusal = await _try_connect(server.url, token)
        assert again is not None, refusal
        server.clients.append(again)
        _, refusal = await _try_connect(server.url, token)
        assert refusal is not None
        assert refusal["data"]["code"] == "RATE_LIMITED"
    finally:
        await server.stop()


async def test_binary_packets_end_only_that_session(server: ChatServer) -> None:
    """Binary packets would let a client park unbounded attachments in memory."""
    bob = await server.client("user_bob")
    sio = server.app[SIO]
    for raw in ['51-["send_message",{"_placeholder":true,"num":0}]', b"\x00\x01"]:
        eve = await server.client("user_eve")
        await eve.sio.eio.send(raw)
        for _ in range(100):
            if not eve.sio.connected:
                break
            await asyncio.sleep(0.02)
        assert not eve.sio.connected, raw
        assert not sio._binary_packet
    assert bob.sio.connected
    assert (await bob.call("authenticate"))["ok"] is True


async def test_events_whose_name_is_not_a_string_are_answered(server: ChatServer) -> None:
    eve = await server.client("user_eve")
    for payload in ('[["a"],1]', "[{}]", "[]", "{}", '"x"', "null"):
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        eve.sio.callbacks.setdefault("/", {})[901] = ack.set_result
        await eve.sio.eio.send("2901" + payload)
        assert_refused(await asyncio.wait_for(ack, 5), V)
    assert eve.sio.connected
