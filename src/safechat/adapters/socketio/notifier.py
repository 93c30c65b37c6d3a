"""The Notifier port over python-socketio rooms (`group:<id>`, `user:<sub>`)."""

from __future__ import annotations

from typing import Any

import socketio

from safechat.services.ports import Clock, PresenceStore


def group_room(group_id: str) -> str:
    return f"group:{group_id}"


def user_room(user_id: str) -> str:
    return f"user:{user_id}"


class SocketIONotifier:
    def __init__(self, sio: socketio.AsyncServer, presence: PresenceStore, clock: Clock) -> None:
        self._sio = sio
        self._presence = presence
        self._clock = clock

    async def to_group(
        self, group_id: str, event: str, data: Any, *, skip_sid: str | None = None
    ) -> None:
        await self._sio.emit(event, data, room=group_room(group_id), skip_sid=skip_sid)

    async def to_user(self, user_id: str, event: str, data: Any) -> None:
        await self._sio.emit(event, data, room=user_room(user_id))

    async def _user_sids(self, user_id: str) -> list[str]:
        """The user's sockets on every node: local ones from the manager, the others
        from shared presence (room changes for those travel through the manager's bus)."""
        local = [sid for sid, _ in self._sio.manager.get_participants("/", user_room(user_id))]
        shared = await self._presence.sessions(user_id, self._clock.now().timestamp())
        return list(dict.fromkeys([*local, *shared]))

    async def add_user_to_group(self, user_id: str, group_id: str) -> None:
        for sid in await self._user_sids(user_id):
            await self._sio.enter_room(sid, group_room(group_id))

    async def remove_user_from_group(self, user_id: str, group_id: str) -> None:
        for sid in await self._user_sids(user_id):
            await self._sio.leave_room(sid, group_room(group_id))

    async def close_group(self, group_id: str) -> None:
        await self._sio.close_room(group_room(group_id))
