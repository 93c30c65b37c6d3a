"""Socket events about presence and typing."""

from __future__ import annotations

from typing import Any

from safechat.events import Event, OnlineUsers
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
        on("get_online_users", echo=Event.ONLINE_USERS)(self.get_online_users)
        on("change_status")(self.change_status)

    async def typing_start(self, live: LiveSocket, payload: Any) -> None:
        body = parse(TypingEvent, payload)
        await self._presence.typing_start(live, body.groupId)

    async def typing_stop(self, live: LiveSocket, payload: Any) -> None:
        body = parse(TypingEvent, payload)
        await self._presence.typing_stop(live, body.groupId)

    async def get_online_users(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(OnlineUsersQuery, payload)
        users = await self._presence.online_users(live.user_id, body.groupId)
        result: OnlineUsers = {"users": users}
        if body.groupId is not None:
            result = {"groupId": body.groupId, "users": users}
        return dict(result)

    async def change_status(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        body = parse(ChangeStatus, payload)
        return await self._presence.change_status(live, body.status)
