"""Micro-benchmark of one room broadcast: python-socketio's AsyncManager against
SafeChat's CountingManager (adapters/socketio/manager.py), in one process, interleaved.

Not part of bench.mjs: it isolates the manager's own cost (encode + hand the packet to
each recipient's Engine.IO queue) from the database, the network and the writers, which
are the same for both. Run: `.venv/bin/python bench/fanout_micro.py [--room 50]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import engineio
import socketio

from safechat.adapters.socketio.fast_json import OrjsonCodec
from safechat.adapters.socketio.manager import CountingManager
from safechat.metrics import Metrics

PAYLOAD = {
    "message": {
        "id": "6650f0c2a1b2c3d4e5f60718",
        "groupId": "g" * 24,
        "seq": 1,
        "content": "x" * 100,
    },
    "sender": {"userId": "bench_u00001", "firstName": "Bench", "lastName": None},
}


async def server(manager: Any, room: int) -> tuple[socketio.AsyncServer, list[Any], str]:
    sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=manager, json=OrjsonCodec())
    sockets, sender = [], ""
    for _ in range(room):
        eio_sid = sio.eio.generate_id()
        sock = engineio.async_socket.AsyncSocket(sio.eio, eio_sid)
        sock.last_ping = time.time()
        sio.eio.sockets[eio_sid] = sock
        sid = await manager.connect(eio_sid, "/")
        await manager.enter_room(sid, "/", "group:g")
        sockets.append(sock)
        sender = sender or sid
    return sio, sockets, sender


async def per_emit_us(sio: Any, sockets: list[Any], sender: str, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await sio.emit("new_message", PAYLOAD, room="group:g", skip_sid=sender)
        for sock in sockets:  # what the WebSocket writers would take (same for both)
            while not sock.queue.empty():
                sock.queue.get_nowait()
    return (time.perf_counter() - start) / n * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--room", type=int, default=50)
    parser.add_argument("--emits", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    opt = parser.parse_args()
    counting = CountingManager()
    counting.metrics = Metrics()
    servers = {
        "upstream AsyncManager": await server(socketio.AsyncManager(), opt.room),
        "CountingManager": await server(counting, opt.room),
    }
    times: dict[str, list[float]] = {name: [] for name in servers}
    for _ in range(opt.rounds):
        for name, (sio, sockets, sender) in servers.items():
            times[name].append(await per_emit_us(sio, sockets, sender, opt.emits))
    for name, ts in times.items():
        loop = type(asyncio.get_running_loop()).__module__.split(".")[0]
        median = statistics.median(ts)
        print(f"{name:24} ({loop}) room of {opt.room}: {median:8.1f} µs per emit (median)")


if __name__ == "__main__":
    try:  # what `safechat serve` runs on when the `speed` extra is installed
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
