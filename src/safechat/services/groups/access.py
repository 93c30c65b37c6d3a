"""Group lookups and membership checks: who may see or act on a group.

Every service that acts on a group asks here first (messages, media, presence, AI).
"""

from __future__ import annotations

from bson import ObjectId

from safechat.errors import AccessDenied, GroupNotFound
from safechat.models.group import Group, Role
from safechat.repositories.groups import GroupRepository


class GroupAccess:
    def __init__(self, groups: GroupRepository) -> None:
        self._groups = groups

    async def get_active(self, group_id: str) -> Group:
        group = await self._groups.get(ObjectId(group_id))
        if group is None:
            raise GroupNotFound()
        return group

    async def require_member(self, group_id: str, user_id: str) -> Group:
        group = await self.get_active(group_id)
        if group.member(user_id) is None:
            raise AccessDenied("You are not a member of this group")
        return group

    async def require_role(self, group_id: str, user_id: str, minimum: Role) -> Group:
        group = await self.require_member(group_id, user_id)
        check_role(group, user_id, minimum)
        return group

    async def room_ids_for(self, user_id: str) -> list[str]:
        return await self._groups.ids_for_member(user_id)

    async def member_groups(self, user_id: str) -> list[Group]:
        return await self._groups.for_member(user_id)

    async def co_members(self, user_id: str) -> list[str]:
        """Everyone sharing at least one active group with the user (the user included)."""
        groups = await self._groups.for_member(user_id)
        return list(dict.fromkeys(m.user_id for g in groups for m in g.members))


def check_role(group: Group, user_id: str, minimum: Role) -> None:
    """For a member: ACCESS_DENIED below `minimum`."""
    role = group.role_of(user_id)
    assert role is not None
    if role.rank < minimum.rank:
        raise AccessDenied(f"Only the group {minimum.value} or above may do this")
