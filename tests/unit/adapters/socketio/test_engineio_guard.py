"""SafeChatSocketServer.established: work a connect handler starts learns when the
CONNECT packet is out (or that the handshake was refused), without polling."""

from __future__ import annotations

import asyncio
from typing import Any

import socketio

from safechat.adapters.socketio.engineio_guard import SafeChatSocketServer


def server(*, accept: bool, seen: list[tuple[str, bool, bool]]) -> SafeChatSocketServer:
    sio = SafeChatSocketServer(async_mode="aiohttp")
    tasks: list[asyncio.Task[None]] = []

    async def after_connect(sid: str) -> None:
        ok = await sio.established(sid)
        seen.append((sid, ok, bool(sio.manager.is_connected(sid, "/"))))

    async def on_connect(sid: str, environ: dict[str, Any], auth: Any) -> bool:
        tasks.append(asyncio.get_running_loop().create_task(after_connect(sid)))
        await asyncio.sleep(0.01)  # the task runs, and waits, while the handshake goes on
        assert not sio.manager.is_connected(sid, "/")
        if not accept:
            raise socketio.exceptions.ConnectionRefusedError("no", {"code": "INVALID_TOKEN"})
        return True

    sio.on("connect", on_connect)
    sio.tasks = tasks  # type: ignore[attr-defined]
    return sio


async def handshake(sio: SafeChatSocketServer, eio_sid: str) -> None:
    # No transport: packets for an unknown Engine.IO session are dropped, which is all
    # this needs; the manager's bookkeeping is python-socketio's own.
    sio.environ[eio_sid] = {}
    await sio._handle_connect(eio_sid, "/", {"token": "t"})
    await asyncio.gather(*sio.tasks)  # type: ignore[attr-defined]


async def test_established_waits_for_the_connect_packet() -> None:
    seen: list[tuple[str, bool, bool]] = []
    sio = server(accept=True, seen=seen)
    await handshake(sio, "eio-1")
    [(sid, ok, connected)] = seen
    assert ok is True
    assert connected is True  # by the time it answered, the socket counts as connected
    assert await sio.established(sid) is True  # asked later: answers at once
    assert sio._connecting == {}


async def test_established_is_false_for_a_refused_handshake() -> None:
    seen: list[tuple[str, bool, bool]] = []
    sio = server(accept=False, seen=seen)
    await handshake(sio, "eio-2")
    [(sid, ok, connected)] = seen
    assert (ok, connected) == (False, False)
    assert await sio.established(sid) is False
    assert sio._connecting == {}


async def test_established_is_false_for_an_unknown_sid() -> None:
    sio = SafeChatSocketServer(async_mode="aiohttp")
    assert await sio.established("nobody") is False


class _Socket:
    closing = closed = False


async def test_a_connect_being_handled_outlives_the_handshake_deadline() -> None:
    """Under a reconnect storm a CONNECT may wait its turn for admission past the
    deadline for sessions that never authenticate; it must not be closed meanwhile.
    A refused CONNECT gets no extra time."""
    sio = SafeChatSocketServer(async_mode="aiohttp")
    eio = sio.eio
    eio.handshake_timeout = 0.05
    expired: list[str] = []
    eio._expire = expired.append  # type: ignore[method-assign]
    eio.sockets["s1"] = _Socket()
    eio._watch("s1")
    eio.hold("s1")
    await asyncio.sleep(0.1)
    assert expired == []
    assert eio.pending_sessions == 1  # still counted against the cap
    eio.rearm("s1")  # refused: the original deadline, long past, applies at once
    await asyncio.sleep(0.01)
    assert expired == ["s1"]
