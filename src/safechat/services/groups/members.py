"""Members and roles: join, add, leave, remove, change a role, transfer ownership.

Who may change whom follows the roles' ranks (owner > admin > member); every change is
audited, then announced (announce.py).
"""

from __future__ import annotations

from typing import Any

from safechat.errors import AccessDenied, Conflict, GroupNotFound, ValidationFailed
from safechat.models.group import AddMember, Group, Role
from safechat.repositories.audit import AuditRepository
from safechat.repositories.groups import GroupRepository
from safechat.repositories.read_state import ReadStateRepository
from safechat.services.groups.access import GroupAccess, check_role
from safechat.services.groups.announce import GroupAnnouncer
from safechat.services.groups.bans import BanGate
from safechat.services.groups.views import GroupViews
from safechat.services.ports import Clock
from safechat.services.users import UserService


class GroupMembers:
    def __init__(
        self,
        access: GroupAccess,
        views: GroupViews,
        announce: GroupAnnouncer,
        groups: GroupRepository,
        read_state: ReadStateRepository,
        audit: AuditRepository,
        users: UserService,
        clock: Clock,
        bans: BanGate | None = None,
    ) -> None:
        self._bans = bans
        self._access = access
        self._views = views
        self._announce = announce
        self._groups = groups
        self._read_state = read_state
        self._audit = audit
        self._users = users
        self._clock = clock

    async def join(self, user_id: str, group_id: str) -> dict[str, Any]:
        group = await self._access.get_active(group_id)
        if group.member(user_id) is not None:
            return await self._views.summary(user_id, group)
        if group.is_private:
            raise AccessDenied("This group is private: ask an admin to add you")
        if self._bans is not None:
            await self._bans.admit(group, user_id, self_join=True)
        return await self._add(user_id, group, user_id, Role.MEMBER)

    async def add_member(self, actor: str, group_id: str, body: AddMember) -> dict[str, Any]:
        group = await self._access.require_member(group_id, actor)
        refuse_direct(group, "Direct conversations cannot gain members")
        check_role(group, actor, Role.ADMIN)
        role = Role(body.role)
        if role is Role.ADMIN and group.role_of(actor) is not Role.OWNER:
            raise AccessDenied("Only the owner may add admins")
        if group.member(body.userId) is not None:
            raise Conflict("Already a member")
        await self._users.require_existing([body.userId])
        if self._bans is not None:
            await self._bans.admit(group, body.userId, self_join=False)
        await self._add(actor, group, body.userId, role)
        return {"members": await self._views.members(actor, group_id)}

    async def _add(self, actor: str, group: Group, target: str, role: Role) -> dict[str, Any]:
        now = self._clock.now()
        updated = await self._groups.add_member(group.id, target, role, now)
        if updated is None:
            # Lost a race with another add, or the group was deleted meanwhile.
            current = await self._access.get_active(group.gid)
            if target in current.banned_ids:  # banned meanwhile
                raise AccessDenied("That user is banned from this group")
            if current.member(target) is None:
                raise GroupNotFound()
            return await self._views.summary(target, current)
        # History from before joining does not count as unread for the newcomer.
        await self._read_state.advance(updated.id, target, updated.last_seq, now)
        await self._audit.record(
            "member.added",
            actor,
            now,
            group_id=group.id,
            target_id=target,
            details={"role": role.value},
        )
        await self._announce.updated(updated)
        await self._announce.added(updated, target)
        return await self._views.summary(target, updated)

    async def leave(self, user_id: str, group_id: str) -> None:
        group = await self._access.require_member(group_id, user_id)
        refuse_direct(group, "Direct conversations cannot be left; mute them instead")
        if group.owner_id == user_id:
            raise AccessDenied("The owner must transfer ownership before leaving")
        await self._remove(user_id, group, user_id, "member.left")

    async def remove_member(self, actor: str, group_id: str, target: str) -> None:
        if actor == target:
            await self.leave(actor, group_id)
            return
        group = await self._access.require_member(group_id, actor)
        refuse_direct(group, "Direct conversations cannot lose members")
        check_role(group, actor, Role.ADMIN)
        target_role = group.role_of(target)
        if target_role is None:
            raise ValidationFailed("That user is not a member")
        actor_role = group.role_of(actor)
        assert actor_role is not None
        if target_role.rank >= actor_role.rank:
            raise AccessDenied("You may only remove members below your role")
        await self._remove(actor, group, target, "member.removed")

    async def leave_direct_for_erasure(self, user_id: str, group: Group) -> None:
        """Only account erasure ends a direct conversation's membership (§8: it cannot be
        left otherwise); events and audit as for leaving."""
        now = self._clock.now()
        updated = await self._groups.retire_direct(group.id, user_id, now)
        if updated is None:
            raise Conflict("Membership changed meanwhile; try again")
        await self._audit.record("member.left", user_id, now, group_id=group.id, target_id=user_id)
        await self._announce.member_removed(group, user_id)
        await self._announce.updated(updated)

    async def ban_remove(self, actor: str, group: Group, target: str) -> None:
        """A ban's removal: as removal does (events, audit), recorded as a ban."""
        await self._remove(actor, group, target, "member.banned")

    async def _remove(self, actor: str, group: Group, target: str, action: str) -> None:
        now = self._clock.now()
        updated = await self._groups.remove_member(group.id, target, now)
        if updated is None:
            raise Conflict("Membership changed meanwhile; try again")
        await self._audit.record(action, actor, now, group_id=group.id, target_id=target)
        await self._announce.member_removed(group, target)
        await self._announce.updated(updated)

    async def change_role(
        self, actor: str, group_id: str, target: str, role_name: str
    ) -> list[dict[str, Any]]:
        group = await self._access.require_member(group_id, actor)
        refuse_direct(group, "Direct conversations have no roles")
        check_role(group, actor, Role.OWNER)
        if group.member(target) is None:
            raise ValidationFailed("That user is not a member")
        if target == actor:
            raise ValidationFailed("Use transfer-ownership to change the owner's role")
        now = self._clock.now()
        updated = await self._groups.set_role(group.id, target, Role(role_name), now)
        if updated is None:
            raise Conflict("Membership changed meanwhile; try again")
        await self._audit.record(
            "member.role_changed",
            actor,
            now,
            group_id=group.id,
            target_id=target,
            details={"role": role_name},
        )
        await self._announce.updated(updated)
        return await self._views.members(actor, group_id)

    async def transfer(self, actor: str, group_id: str, target: str) -> dict[str, Any]:
        group = await self._access.require_member(group_id, actor)
        refuse_direct(group, "Direct conversations have no owner")
        check_role(group, actor, Role.OWNER)
        if target == actor:
            raise ValidationFailed("You already own this group")
        if group.member(target) is None:
            raise ValidationFailed("The new owner must be a member")
        now = self._clock.now()
        updated = await self._groups.transfer_ownership(group.id, actor, target, now)
        if updated is None:
            raise Conflict("Membership changed meanwhile; try again")
        await self._audit.record(
            "group.ownership_transferred", actor, now, group_id=group.id, target_id=target
        )
        await self._announce.updated(updated)
        return await self._views.summary(actor, updated)


def refuse_direct(group: Group, why: str) -> None:
    """What groups allow and direct conversations do not: ACCESS_DENIED (§8)."""
    if group.is_direct:
        raise AccessDenied(why)
