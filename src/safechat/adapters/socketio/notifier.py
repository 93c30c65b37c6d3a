"""The Notifier port over python-socketio rooms (events.group_room, events.user_room)."""

from __future__ import annotations

import socketio

from safechat.events import Event, group_room, user_room
from safechat.services.ports import Clock, Payload, PresenceStore


class SocketIONotifier:
    def __init__(self, sio: socketio.AsyncServer, presence: PresenceStore, clock: Clock) -> None:
        self._sio = sio
        self._presence = presence
        self._clock = clock

    async def to_group(
        self, group_id: str, event: Event, data: Payload, *, skip_sid: str | None = None
    ) -> None:
        await self._sio.emit(event.value, data, room=group_room(group_id), skip_sid=skip_sid)

    async def to_groups(
        self,
        group_ids: list[str],
        event: Event,
        data: Payload,
        *,
        skip_sid: str | None = None,
        also_user: str | None = None,
    ) -> None:
        # One emit to a list of rooms: python-socketio takes the union of their members
        # (on every node, through the pub/sub manager too), so each socket gets it once.
        rooms = [group_room(gid) for gid in group_ids]
        if also_user is not None:
            rooms.append(user_room(also_user))
        if rooms:
            # One room as a name, not a list: the manager's fast path (no task per
            # recipient) serves single rooms, e.g. a connect's user_online to its group.
            room: str | list[str] = rooms[0] if len(rooms) == 1 else rooms
            await self._sio.emit(event.value, data, room=room, skip_sid=skip_sid)

    async def to_user(self, user_id: str, event: Event, data: Payload) -> None:
        await self._sio.emit(event.value, data, room=user_room(user_id))

    async def to_socket(self, sid: str, event: Event, data: Payload) -> None:
        # `to` also takes room names and lists of them, and None broadcasts to everyone.
        if not isinstance(sid, str):
            raise TypeError("to_socket needs one sid")
        await self._sio.emit(event.value, data, to=sid)

    async def enter_rooms(self, sid: str, user_id: str, group_ids: list[str]) -> None:
        await self._sio.enter_room(sid, user_room(user_id))
        for gid in group_ids:
            await self._sio.enter_room(sid, group_room(gid))

    async def join(self, sid: str, group_id: str) -> None:
        await self._sio.enter_room(sid, group_room(group_id))

    async def leave(self, sid: str, group_id: str) -> None:
        await self._sio.leave_room(sid, group_room(group_id))

    def in_group_room(self, sid: str, group_id: str) -> bool:
        # A direct lookup in the manager's table: sio.rooms(sid) scans every room of
        # the node, and get_participants copies the room, on every typing event.
        members = self._sio.manager.rooms.get("/", {}).get(group_room(group_id))
        return members is not None and sid in members

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

    async def disconnect_user(self, user_id: str) -> None:
        # A sid of another node: the client manager forwards the disconnect to it.
        for sid in await self._user_sids(user_id):
            await self._sio.disconnect(sid)
