"""python-socketio client managers: a room broadcast without a task per recipient, and
a count of the deliveries this node makes.

Upstream `AsyncManager.emit` (python-socketio 5.18) encodes a broadcast once, then
creates one asyncio task per recipient to run `eio.send_packet` -> `socket.send`, which
only checks the socket and puts the packet on its (unbounded) queue; the WebSocket
writer or the long-poll takes it from there. In rooms of 50 the tasks were most of the
cost of an emit. `CountingManager.emit` does that queueing inline, in room order:
- one Socket.IO packet, encoded once with the server's packet class and JSON codec,
  and one shared Engine.IO MESSAGE packet (its encoding is cached for every writer);
- a live socket gets `queue.put_nowait(pkt)`: what `socket.send` does when its ping is
  fresh, since `put` on an unbounded queue never waits;
- anything else takes upstream's path, per socket, after the loop: a socket whose ping
  timed out (`send` closes it), a bounded queue that is full, a session engineio no
  longer has (a warning, as upstream);
- broadcasts with an ack callback (each recipient needs its own packet id), to several
  rooms at once, or with binary data (SafeChat sends none, so encoding assumes none and
  hands over when the JSON codec refuses bytes) go to upstream unchanged.
Nothing awaits between two recipients, so a broadcast is queued for every recipient
before the next one starts: each socket receives broadcasts in emit order.

With Redis, the pub/sub manager delivers locally through `super().emit` (for its own
emits and for those received from other nodes); slotting this class between
`AsyncPubSubManager` and `AsyncManager` makes both go through the path above and counts
exactly the packets this node sends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import socketio
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from safechat.metrics import Metrics


class CountingManager(socketio.AsyncManager):  # type: ignore[misc]
    metrics: Metrics | None = None

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: str | None = None,
        skip_sid: str | list[str] | None = None,
        callback: Any = None,
        to: str | None = None,
        **kwargs: Any,
    ) -> Any:
        namespace = namespace or "/"
        room = to or room
        if callback is None and (room is None or isinstance(room, str)):
            eio_pkt = self._encode(event, data, namespace)
            if eio_pkt is not None:
                await self._fan_out(eio_pkt, namespace, room, skip_sid)
                return None
        if self.metrics is not None:
            self.metrics.fanout.inc(self._recipients(namespace, room, skip_sid))
        return await super().emit(
            event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs
        )

    def _encode(self, event: str, data: Any, namespace: str) -> Any:
        """The Engine.IO MESSAGE packet for an EVENT, or None when the data needs
        upstream's binary handling (the codec refuses bytes)."""
        if isinstance(data, tuple):  # upstream: a tuple is several arguments
            args = [event, *data]
        elif data is not None:
            args = [event, data]
        else:
            args = [event]
        # binary=False skips upstream's recursive scan of the payload for bytes: SafeChat
        # sends none, and if some did, the JSON codec raises TypeError on them here.
        pkt = self.server.packet_class(
            sio_packet.EVENT, namespace=namespace, data=args, binary=False
        )
        try:
            encoded = pkt.encode()
        except TypeError:
            return None
        return eio_packet.Packet(eio_packet.MESSAGE, encoded)

    async def _fan_out(
        self, eio_pkt: Any, namespace: str, room: str | None, skip_sid: str | list[str] | None
    ) -> None:
        members = self.rooms.get(namespace, {}).get(room)
        if not members:
            return
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        eio = self.server.eio
        sockets = eio.sockets
        # socket.check_ping_timeout's test, with one clock read per broadcast.
        stale_before = time.time() - eio.ping_timeout
        logger = eio.logger
        log_each = logger.isEnabledFor(logging.INFO)
        sent = 0
        later: list[str] = []
        for sid, eio_sid in members.items():
            if sid in skip:
                continue
            sent += 1
            socket = sockets.get(eio_sid)
            if socket is None or socket.closed:
                later.append(eio_sid)
                continue
            last_ping = socket.last_ping
            if last_ping and last_ping < stale_before:
                later.append(eio_sid)
                continue
            try:
                socket.queue.put_nowait(eio_pkt)
            except asyncio.QueueFull:
                later.append(eio_sid)
                continue
            if log_each:
                logger.info("%s: Sending packet MESSAGE data %s", eio_sid, eio_pkt.data)
        if self.metrics is not None and sent:
            self.metrics.fanout.inc(sent)
        for eio_sid in later:
            # Upstream's path: closes a timed-out socket, waits on a full queue, or logs
            # "Cannot send to sid" for a session that is gone.
            await eio.send_packet(eio_sid, eio_pkt)

    def _recipients(self, namespace: str, room: Any, skip: str | list[str] | None) -> int:
        if room is not None and not isinstance(room, str):
            return sum(self._recipients(namespace, r, skip) for r in room)
        members = self.rooms.get(namespace, {}).get(room) or {}
        skipped = skip if isinstance(skip, list) else [skip]
        return len(members) - sum(1 for sid in skipped if sid in members)


class CountingRedisManager(socketio.AsyncRedisManager, CountingManager):  # type: ignore[misc]
    pass


def client_manager(redis_url: str | None, channel: str, metrics: Metrics) -> CountingManager:
    manager: CountingManager
    if redis_url:
        # socket_timeout=None for the pub/sub listener: redis-py 8's default timeout
        # would make an idle listener loop on timeouts; health checks detect dead links.
        manager = CountingRedisManager(
            redis_url,
            channel=channel,
            redis_options={
                "socket_timeout": None,
                "socket_connect_timeout": 2.0,
                "health_check_interval": 10,
            },
        )
    else:
        manager = CountingManager()
    manager.metrics = metrics
    return manager
