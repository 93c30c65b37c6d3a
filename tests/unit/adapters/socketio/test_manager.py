"""CountingManager.emit: a broadcast is encoded once and queued on each recipient's
Engine.IO socket inline, in order, skipping `skip_sid`; what the fast path cannot serve
(acks, binary data, several rooms, stale or missing sockets) takes upstream's path.

A real python-socketio AsyncServer with real engineio AsyncSockets that have no
transport: what a writer would send is what sits in each socket's queue.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import engineio
import pytest
import socketio
from engineio import packet as eio_packet

from safechat.adapters.socketio.fast_json import OrjsonCodec
from safechat.adapters.socketio.manager import CountingManager, CountingRedisManager
from safechat.metrics import Metrics


class Node:
    def __init__(self, manager: CountingManager | None = None) -> None:
        self.metrics = Metrics()
        self.manager = manager or CountingManager()
        self.manager.metrics = self.metrics
        self.sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=self.manager)
        self.sockets: dict[str, Any] = {}  # sid -> engineio socket
        self.slow: list[str] = []  # eio sids upstream's send_packet was asked for
        upstream = self.sio.eio.send_packet

        async def send_packet(eio_sid: str, pkt: Any) -> None:
            self.slow.append(eio_sid)
            await upstream(eio_sid, pkt)

        self.sio.eio.send_packet = send_packet

    async def join(self, room: str, n: int, namespace: str = "/") -> list[str]:
        sids = []
        for _ in range(n):
            eio_sid = self.sio.eio.generate_id()
            socket = engineio.async_socket.AsyncSocket(self.sio.eio, eio_sid)
            self.sio.eio.sockets[eio_sid] = socket
            sid = await self.manager.connect(eio_sid, namespace)
            await self.manager.enter_room(sid, namespace, room)
            self.sockets[sid] = socket
            sids.append(sid)
        return sids

    def received(self, sid: str) -> list[str | bytes]:
        queue = self.sockets[sid].queue
        out = []
        while not queue.empty():
            pkt = queue.get_nowait()
            assert pkt.packet_type == eio_packet.MESSAGE
            out.append(pkt.data)
        return out

    def delivered(self) -> float:
        return float(self.metrics.fanout._value.get())


async def test_a_room_of_50_gets_each_broadcast_once_in_order_without_the_sender() -> None:
    node = Node()
    sids = await node.join("group:g", 50)
    sender = sids[7]
    for i in range(3):
        await node.sio.emit("new_message", {"seq": i, "t": "hi"}, room="group:g", skip_sid=sender)
    expected = [f'2["new_message",{{"seq":{i},"t":"hi"}}]' for i in range(3)]
    for sid in sids:
        assert node.received(sid) == ([] if sid == sender else expected)
    assert node.slow == []
    assert node.delivered() == 3 * 49


async def test_the_packet_is_encoded_once_with_the_configured_codec(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[Any] = []

    class Codec(OrjsonCodec):
        @staticmethod
        def dumps(obj: Any, **kwargs: Any) -> str:
            calls.append(obj)
            return OrjsonCodec.dumps(obj, **kwargs)

    # python-socketio keeps its codec on the packet class (process-wide): restored after.
    monkeypatch.setattr(socketio.packet.Packet, "json", Codec)
    node = Node()
    sids = await node.join("r", 10)
    await node.sio.emit("e", {"t": "é"}, room="r")
    assert calls == [["e", {"t": "é"}]]
    assert all(node.received(sid) == ['2["e",{"t":"é"}]'] for sid in sids)  # raw UTF-8


async def test_the_fan_out_creates_no_task_per_recipient(monkeypatch: pytest.MonkeyPatch) -> None:
    node = Node()
    sids = await node.join("r", 20)

    def no_tasks(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a task was created")

    monkeypatch.setattr(asyncio, "create_task", no_tasks)
    await node.sio.emit("e", "x", room="r")
    assert all(node.received(sid) == ['2["e","x"]'] for sid in sids)


async def test_skip_list_namespaces_argument_shapes_and_single_sockets() -> None:
    node = Node()
    sids = await node.join("r", 4, namespace="/chat")
    await node.sio.emit("e", ("a", 1), room="r", skip_sid=sids[:2], namespace="/chat")
    await node.sio.emit("bare", None, room="r", namespace="/chat")
    await node.sio.emit("one", {"k": [1]}, to=sids[0], namespace="/chat")
    await node.sio.emit("e", 1, room="r")  # no client on "/": nothing, no error
    assert node.received(sids[0]) == ['2/chat,["bare"]', '2/chat,["one",{"k":[1]}]']
    assert node.received(sids[1]) == ['2/chat,["bare"]']
    assert node.received(sids[2]) == ['2/chat,["e","a",1]', '2/chat,["bare"]']
    await node.sio.emit("e", 1, room="nobody", namespace="/chat")
    assert node.delivered() == 2 + 4 + 1


async def test_without_a_room_every_client_of_the_namespace_gets_it() -> None:
    node = Node()
    sids = await node.join("r1", 2) + await node.join("r2", 2)
    await node.sio.emit("all", 1)
    assert all(node.received(sid) == ['2["all",1]'] for sid in sids)


async def test_an_ack_callback_takes_upstreams_path_with_its_own_packet_id() -> None:
    node = Node()
    [sid] = await node.join("r", 1)
    await node.sio.emit("ask", 1, room="r", callback=lambda *a: None)
    assert node.received(sid) == ['21["ask",1]']  # "1": the ack id
    assert node.delivered() == 1


async def test_binary_data_takes_upstreams_path() -> None:
    node = Node()
    [sid] = await node.join("r", 1)
    await node.sio.emit("bin", {"b": b"\x01"}, room="r")
    assert node.received(sid) == ['51-["bin",{"b":{"_placeholder":true,"num":0}}]', b"\x01"]


async def test_several_rooms_at_once_take_upstreams_path() -> None:
    node = Node()
    a = await node.join("a", 1)
    b = await node.join("b", 1)
    await node.sio.emit("e", 1, to=["a", "b"])
    assert node.received(a[0]) == node.received(b[0]) == ['2["e",1]']


async def test_a_socket_whose_ping_timed_out_is_closed_as_upstream_does() -> None:
    node = Node()
    closed: list[str] = []
    node.sio.eio.on("disconnect", lambda eio_sid, reason: closed.append(eio_sid))
    sids = await node.join("r", 3)
    stale = node.sockets[sids[1]]
    stale.last_ping = time.time() - node.sio.eio.ping_timeout - 1
    node.sockets[sids[0]].last_ping = time.time()  # fresh
    await node.sio.emit("e", 1, room="r")
    assert node.slow == [stale.sid]
    assert stale.closed
    assert closed == [stale.sid]
    assert node.received(sids[0]) == node.received(sids[2]) == ['2["e",1]']
    assert node.received(sids[1]) == []  # upstream: a timed-out socket is closed, not sent to


async def test_a_session_engineio_lost_is_left_to_upstream() -> None:
    node = Node()
    sids = await node.join("r", 3)
    gone = node.sockets[sids[0]]
    del node.sio.eio.sockets[gone.sid]
    node.sockets[sids[2]].closed = True
    await node.sio.emit("e", 1, room="r")
    assert node.slow == [gone.sid, node.sockets[sids[2]].sid]
    assert node.received(sids[1]) == ['2["e",1]']
    assert node.sockets[sids[2]].sid not in node.sio.eio.sockets  # upstream forgets it


async def test_a_full_bounded_queue_waits_as_upstream_does() -> None:
    node = Node()
    [sid] = await node.join("r", 1)
    socket = node.sockets[sid]
    socket.queue = asyncio.Queue(maxsize=1)
    socket.queue.put_nowait(eio_packet.Packet(eio_packet.MESSAGE, "0"))
    emit = asyncio.ensure_future(node.sio.emit("e", 1, room="r"))
    await asyncio.sleep(0.01)
    assert not emit.done()
    assert node.slow == [socket.sid]
    assert node.received(sid) == ["0"]
    await emit
    assert node.received(sid) == ['2["e",1]']


async def test_the_redis_manager_delivers_other_nodes_emits_through_the_same_path() -> None:
    # No Redis needed: a message from the bus is handled by _handle_emit.
    node = Node(CountingRedisManager("redis://127.0.0.1:1/0", channel="t"))
    sids = await node.join("group:g", 5)
    message = {
        "method": "emit",
        "event": "new_message",
        "data": [{"seq": 1}],
        "binary": False,
        "namespace": "/",
        "room": "group:g",
        "skip_sid": sids[0],
        "callback": None,
        "host_id": "another-node",
    }
    await node.manager._handle_emit(message)
    assert node.received(sids[0]) == []
    assert all(node.received(sid) == ['2["new_message",{"seq":1}]'] for sid in sids[1:])
    assert node.slow == []
    assert node.delivered() == 4
