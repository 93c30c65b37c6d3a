"""Socket events about groups: join_group, leave_group, get_group_members."""

from __future__ import annotations

from typing import Any

from safechat.events import Event, GroupMembers
from safechat.handlers.boundary import Boundary, parse
from safechat.models.group import GroupRef
from safechat.services.connections import ConnectionService, LiveSocket
from safechat.services.groups.service import GroupService

CHANNEL = Event.GROUP_ERROR


class GroupHandlers:
    def __init__(
        self, boundary: Boundary, groups: GroupService, connections: ConnectionService
    ) -> None:
        self._b = boundary
        self._groups = groups
        self._connections = connections

    def register(self) -> None:
        on = self._b.event
        # Each answer also goes to the socket as an event with the ack's fields.
        on("join_group", CHANNEL, echo=Event.GROUP_JOINED)(self.join_group)
        on("leave_group", CHANNEL, echo=Event.GROUP_LEFT)(self.leave_group)
        on("get_group_members", CHANNEL, echo=Event.GROUP_MEMBERS)(self.get_group_members)

    async def join_group(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        ref = parse(GroupRef, payload)
        return dict(await self._connections.join_room(live, ref.groupId))

    async def leave_group(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        ref = parse(GroupRef, payload)
        return dict(await self._connections.leave_room(live, ref.groupId))

    async def get_group_members(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        ref = parse(GroupRef, payload)
        body: GroupMembers = {
            "groupId": ref.groupId,
            "members": await self._groups.members(live.user_id, ref.groupId),
        }
        return dict(body)
