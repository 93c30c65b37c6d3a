"""Group bans (owner/admin): the member is removed as removal does (same events, audit
`member.banned`), and refused on join and add until the ban ends (`until`, compared with
the Clock) or is lifted. The check itself is services/groups/bans.py."""

from __future__ import annotations

from typing import Any

from safechat.errors import AccessDenied, ValidationFailed
from safechat.models.common import iso
from safechat.models.group import Role
from safechat.models.people import BanUser, when
from safechat.repositories.audit import AuditRepository
from safechat.repositories.bans import BanRepository
from safechat.services.groups.bans import ended
from safechat.services.groups.service import GroupService
from safechat.services.ports import Clock
from safechat.services.users import UserService


class GroupBanning:
    def __init__(
        self,
        groups: GroupService,
        bans: BanRepository,
        users: UserService,
        audit: AuditRepository,
        clock: Clock,
    ) -> None:
        self._groups = groups
        self._bans = bans
        self._users = users
        self._audit = audit
        self._clock = clock

    async def ban(self, actor: str, group_id: str, body: BanUser) -> dict[str, Any]:
        group = await self._groups.require_role(group_id, actor, Role.ADMIN)
        if group.is_direct:
            raise AccessDenied("Direct conversations have no bans; block the user instead")
        target = body.userId
        if target == actor:
            raise ValidationFailed("You cannot ban yourself")
        now = self._clock.now()
        until = when(body.until)
        if until is not None and until <= now:
            raise ValidationFailed("until must be in the future")
        target_role = group.role_of(target)
        actor_role = group.role_of(actor)
        assert actor_role is not None
        if target_role is not None and target_role.rank >= actor_role.rank:
            raise AccessDenied("You may only ban members below your role")
        if target_role is None:
            await self._users.require_existing([target])
        await self._bans.put(group.id, target, by=actor, reason=body.reason, until=until, now=now)
        if target_role is not None:
            await self._groups.ban_remove(actor, group, target)
        else:
            await self._audit.record(
                "member.banned", actor, now, group_id=group.id, target_id=target
            )
        ban = await self._bans.get(group.id, target)
        assert ban is not None
        return (await self._views([ban]))[0]

    async def lift(self, actor: str, group_id: str, target: str) -> None:
        group = await self._groups.require_role(group_id, actor, Role.ADMIN)
        if await self._bans.lift(group.id, target):
            now = self._clock.now()
            await self._audit.record(
                "member.unbanned", actor, now, group_id=group.id, target_id=target
            )

    async def listed(self, actor: str, group_id: str) -> list[dict[str, Any]]:
        group = await self._groups.require_role(group_id, actor, Role.ADMIN)
        now = self._clock.now()
        docs = [b for b in await self._bans.of_group(group.id) if not ended(b.get("until"), now)]
        return await self._views(docs)

    async def _views(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        profiles = await self._users.summaries(d["userId"] for d in docs)
        return [
            {
                "userId": d["userId"],
                "user": profiles[d["userId"]],
                "reason": d.get("reason"),
                "until": iso(d.get("until")),
                "bannedBy": d.get("bannedBy"),
                "bannedAt": iso(d.get("createdAt")),
            }
            for d in docs
        ]
