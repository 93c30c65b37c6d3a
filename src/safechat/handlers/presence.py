"""Socket events about presence and typing."""

from __future__ import annotations

from typing import Any

from safechat.handlers.boundary import Boundary, parse
from safechat.models.presence import ChangeStatus, OnlineUsersQuery, TypingEvent
from safechat.services.connections import LiveSocket
from safechat.services.presence import PresenceService


class PresenceHandlers:
    def __init__(self, boundary: Boundary, presence: PresenceService) -> None:
        self._b = boundary
        self._presence = presence

    def register(self) -> None:
        on = self._b.event
        on("typing_start")(self.typing_start)
        on("typing_stop")(self.typing_stop)
        on("get_online_users")(self.get_online_users)
        on("change_status")(self.change_status)

    def _in_room(self, live: LiveSocket, group_id: str) -> bool:
        # Sockets are in a group's room exactly while their user is a member (rooms
        # follow membership changes), so typing needs no database read per event.
        # A direct lookup: sio.rooms(sid) would scan every room of the node per event.
        members = self._b.sio.manager.rooms.get("/", {}).get(f"group:{group_id}")
        return members is not None and live.sid in members

    async def typing_start(self, live: LiveSocket, payload: Any) -> None:
        body = parse(TypingEvent, payload)
        in_room = self._in_room(live, body.groupId)
        await self._presence.typing_start(live, body.groupId, in_room=in_room)

    async def typing_stop(self, live: LiveSocket, payload: Any) -> None:
        body = parse(TypingEvent, payload)
        in_room = self._in_room(live, body.groupId)
        await self._presence.typing_stop(live, body.groupId, in_room=in_room)

    async def get_online_users(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(OnlineUsersQuery, payload)
        users = await self._presence.online_users(live.user_id, body.groupId)
        result: dict[str, Any] = {"users": users}
        if body.groupId is not None:
            result = {"groupId": body.groupId, **result}
        await self._b.sio.emit("online_users", result, to=live.sid)
        return result

    async def change_status(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(ChangeStatus, payload)
        return await self._presence.change_status(live, body.status)
