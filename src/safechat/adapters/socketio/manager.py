"""python-socketio client managers that count the deliveries they make on this node.

With Redis, the pub/sub manager delivers locally through AsyncManager.emit (both
for its own emits and for those received from other nodes); slotting the
counting class between the two counts exactly the packets this node sends.
"""

from __future__ import annotations

from typing import Any

import socketio

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
        if self.metrics is not None:
            self.metrics.fanout.inc(self._recipients(namespace or "/", to or room, skip_sid))
        return await super().emit(
            event,
            data,
            namespace,
            room=room,
            skip_sid=skip_sid,
            callback=callback,
            to=to,
            **kwargs,
        )

    def _recipients(self, namespace: str, room: str | None, skip: str | list[str] | None) -> int:
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
