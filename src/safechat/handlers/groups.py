"""Socket events about groups: join_group, leave_group, get_group_members."""

from __future__ import annotations

from typing import Any

from safechat.handlers.boundary import Boundary, parse
from safechat.models.group import GroupRef
from safechat.services.connections import LiveSocket
from safechat.services.groups import GroupService

CHANNEL = "group_error"


class GroupHandlers:
    def __init__(self, boundary: Boundary, groups: GroupService) -> None:
        self._b = boundary
        self._groups = groups

    def register(self) -> None:
        on = self._b.event
        on("join_group", CHANNEL)(self.join_group)
        on("leave_group", CHANNEL)(self.leave_group)
        on("get_group_members", CHANNEL)(self.get_group_members)

    async def join_group(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        ref = parse(GroupRef, payload)
        group = await self._groups.require_member(ref.groupId, live.user_id)
        await self._b.sio.enter_room(live.sid, f"group:{group.gid}")
        body = {
            "groupId": group.gid,
            "group": await self._groups.summary(live.user_id, group),
            "onlineMembers": await self._groups.online_members(group),
        }
        await self._b.sio.emit("group_joined", body, to=live.sid)
        return body

    async def leave_group(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        # Leaves the live room only; membership stays (REST /leave ends membership).
        ref = parse(GroupRef, payload)
        await self._b.sio.leave_room(live.sid, f"group:{ref.groupId}")
        body = {"groupId": ref.groupId}
        await self._b.sio.emit("group_left", body, to=live.sid)
        return body

    async def get_group_members(self, live: LiveSocket, payload: Any) -> dict[str, Any]:
        ref = parse(GroupRef, payload)
        body = {
            "groupId": ref.groupId,
            "members": await self._groups.members(live.user_id, ref.groupId),
        }
        await self._b.sio.emit("group_members", body, to=live.sid)
        return body
