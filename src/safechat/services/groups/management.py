"""Group management: create, update, delete (the owner's and admins' changes to the
group itself; members and roles are in members.py)."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from safechat.errors import GroupNotFound, ValidationFailed
from safechat.models.group import CreateGroup, Role, UpdateGroup
from safechat.repositories.audit import AuditRepository
from safechat.repositories.groups import GroupRepository, new_group_doc
from safechat.services.groups.access import GroupAccess, check_role
from safechat.services.groups.announce import GroupAnnouncer
from safechat.services.groups.members import refuse_direct
from safechat.services.groups.views import GroupViews
from safechat.services.ports import Clock, Limit, MessageHooks, RateLimiter
from safechat.services.ratelimit import enforce
from safechat.services.users import UserService


class GroupManagement:
    def __init__(
        self,
        access: GroupAccess,
        views: GroupViews,
        announce: GroupAnnouncer,
        groups: GroupRepository,
        audit: AuditRepository,
        users: UserService,
        clock: Clock,
        limiter: RateLimiter,
        create_limit: Limit,
        *,
        hooks: MessageHooks | None = None,
    ) -> None:
        self._access = access
        self._views = views
        self._announce = announce
        self._groups = groups
        self._audit = audit
        self._users = users
        self._clock = clock
        self._limiter = limiter
        self._create_limit = create_limit
        self._hooks = hooks  # AI: a deleted group's embeddings go with it

    async def create(self, user_id: str, body: CreateGroup) -> dict[str, Any]:
        # Here, not at an edge: every way of creating a group draws from one bucket.
        await enforce(self._limiter, user_id, self._create_limit)
        others = [u for u in body.memberIds if u != user_id]
        if others:
            await self._users.require_existing(others)
        now = self._clock.now()
        group = await self._groups.insert(
            new_group_doc(body.name, body.description, body.isPrivate, user_id, others, now)
        )
        await self._audit.record(
            "group.created", user_id, now, group_id=group.id, details={"members": len(others)}
        )
        for member in group.members:
            await self._announce.added(group, member.user_id)
        return await self._views.summary(user_id, group)

    async def update(self, user_id: str, group_id: str, body: UpdateGroup) -> dict[str, Any]:
        current = await self._access.require_member(group_id, user_id)
        refuse_direct(current, "Direct conversations have no name or settings of their own")
        check_role(current, user_id, Role.ADMIN)
        fields = body.model_dump(exclude_none=True)
        if not fields:
            raise ValidationFailed("Nothing to update")
        fields["updatedAt"] = self._clock.now()
        group = await self._groups.update_fields(ObjectId(group_id), fields)
        if group is None:
            raise GroupNotFound()
        await self._announce.updated(group)
        return await self._views.summary(user_id, group)

    async def delete(self, user_id: str, group_id: str) -> None:
        current = await self._access.require_member(group_id, user_id)
        refuse_direct(current, "Direct conversations cannot be deleted; mute them instead")
        check_role(current, user_id, Role.OWNER)
        now = self._clock.now()
        group = await self._groups.soft_delete(ObjectId(group_id), now)
        if group is None:
            raise GroupNotFound()
        if self._hooks is not None:
            await self._hooks.on_group_deleted(group.id)
        await self._audit.record("group.deleted", user_id, now, group_id=group.id)
        await self._announce.deleted(group)
