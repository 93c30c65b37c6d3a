"""Groups and membership: who may do what, and who is told."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from safechat.errors import AccessDenied, Conflict, GroupNotFound, ValidationFailed
from safechat.events import Event, GroupAdded, GroupRemoved, GroupUpdated
from safechat.models.group import (
    AddMember,
    CreateGroup,
    DiscoverQuery,
    Group,
    Role,
    UpdateGroup,
)
from safechat.repositories.audit import AuditRepository
from safechat.repositories.groups import GroupRepository, new_group_doc
from safechat.repositories.messages import MessageRepository
from safechat.repositories.read_state import ReadStateRepository
from safechat.services.messages.rendering import MessageRenderer
from safechat.services.ports import (
    Clock,
    Limit,
    MessageHooks,
    Notifier,
    PresenceStore,
    RateLimiter,
)
from safechat.services.ratelimit import enforce
from safechat.services.users import UserService


class GroupService:
    def __init__(
        self,
        groups: GroupRepository,
        messages: MessageRepository,
        read_state: ReadStateRepository,
        audit: AuditRepository,
        users: UserService,
        presence: PresenceStore,
        renderer: MessageRenderer,
        notifier: Notifier,
        clock: Clock,
        limiter: RateLimiter,
        create_limit: Limit,
        *,
        hooks: MessageHooks | None = None,
    ) -> None:
        self._groups = groups
        self._messages = messages
        self._read_state = read_state
        self._audit = audit
        self._users = users
        self._presence = presence
        self._renderer = renderer
        self._notify = notifier
        self._clock = clock
        self._limiter = limiter
        self._create_limit = create_limit
        self._hooks = hooks  # AI: a deleted group's embeddings go with it

    # --- lookups and checks -------------------------------------------------

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
        role = group.role_of(user_id)
        assert role is not None
        if role.rank < minimum.rank:
            raise AccessDenied(f"Only the group {minimum.value} or above may do this")
        return group

    async def room_ids_for(self, user_id: str) -> list[str]:
        return await self._groups.ids_for_member(user_id)

    async def co_members(self, user_id: str) -> list[str]:
        """Everyone sharing at least one active group with the user (the user included)."""
        groups = await self._groups.for_member(user_id)
        return list(dict.fromkeys(m.user_id for g in groups for m in g.members))

    # --- summaries ----------------------------------------------------------

    async def summaries(self, user_id: str, groups: list[Group]) -> list[dict[str, Any]]:
        ids = [g.id for g in groups]
        if not ids:
            return []
        read = await self._read_state.for_user(user_id, ids)
        latest = await self._messages.latest({g.id: g.last_seq for g in groups})
        out = []
        for g in groups:
            last = latest.get(g.gid)
            out.append(
                g.summary(
                    user_id,
                    unread_count=max(0, g.last_seq - read.get(g.gid, 0)),
                    last_message=self._renderer.render(last) if last else None,
                )
            )
        return out

    async def mine(self, user_id: str) -> list[dict[str, Any]]:
        return await self.summaries(user_id, await self._groups.for_member(user_id))

    async def summary(self, user_id: str, group: Group) -> dict[str, Any]:
        return (await self.summaries(user_id, [group]))[0]

    async def discover(self, query: DiscoverQuery) -> dict[str, Any]:
        cursor = ObjectId(query.cursor) if query.cursor else None
        found = await self._groups.discover(query.limit + 1, cursor, query.q)
        page = found[: query.limit]
        has_more = len(found) > query.limit
        return {
            "groups": [g.public_view() for g in page],
            "hasMore": has_more,
            "nextCursor": page[-1].gid if has_more and page else None,
        }

    async def view(self, user_id: str, group_id: str) -> dict[str, Any]:
        group = await self.get_active(group_id)
        if group.member(user_id) is None:
            if group.is_private:
                raise AccessDenied("You are not a member of this group")
            return group.public_view()
        view = await self.summary(user_id, group)
        view["members"] = [m.to_wire() for m in group.members]
        return view

    async def members(self, user_id: str, group_id: str) -> list[dict[str, Any]]:
        group = await self.require_member(group_id, user_id)
        ids = [m.user_id for m in group.members]
        profiles = await self._users.summaries(ids)
        online = await self._presence.online(ids, self._clock.now().timestamp())
        return [
            {**m.to_wire(), "user": profiles[m.user_id], "isOnline": m.user_id in online}
            for m in group.members
        ]

    async def online_members(self, group: Group) -> list[dict[str, Any]]:
        ids = [m.user_id for m in group.members]
        online = await self._presence.online(ids, self._clock.now().timestamp())
        present = [u for u in ids if u in online]
        profiles = await self._users.summaries(present)
        statuses = await self._presence.statuses(present)
        return [{**profiles[u], "status": statuses.get(u, "online")} for u in present]

    # --- changes ------------------------------------------------------------

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
            await self._announce_added(group, member.user_id)
        return await self.summary(user_id, group)

    async def update(self, user_id: str, group_id: str, body: UpdateGroup) -> dict[str, Any]:
        await self.require_role(group_id, user_id, Role.ADMIN)
        fields = body.model_dump(exclude_none=True)
        if not fields:
            raise ValidationFailed("Nothing to update")
        fields["updatedAt"] = self._clock.now()
        group = await self._groups.update_fields(ObjectId(group_id), fields)
        if group is None:
            raise GroupNotFound()
        await self._updated(group)
        return await self.summary(user_id, group)

    async def delete(self, user_id: str, group_id: str) -> None:
        await self.require_role(group_id, user_id, Role.OWNER)
        now = self._clock.now()
        group = await self._groups.soft_delete(ObjectId(group_id), now)
        if group is None:
            raise GroupNotFound()
        if self._hooks is not None:
            await self._hooks.on_group_deleted(group.id)
        await self._audit.record("group.deleted", user_id, now, group_id=group.id)
        removed: GroupRemoved = {"groupId": group.gid}
        await self._notify.to_group(group.gid, Event.GROUP_REMOVED, removed)
        await self._notify.close_group(group.gid)

    async def join(self, user_id: str, group_id: str) -> dict[str, Any]:
        group = await self.get_active(group_id)
        if group.member(user_id) is not None:
            return await self.summary(user_id, group)
        if group.is_private:
            raise AccessDenied("This group is private: ask an admin to add you")
        return await self._add(user_id, group, user_id, Role.MEMBER)

    async def add_member(self, actor: str, group_id: str, body: AddMember) -> dict[str, Any]:
        group = await self.require_role(group_id, actor, Role.ADMIN)
        role = Role(body.role)
        if role is Role.ADMIN and group.role_of(actor) is not Role.OWNER:
            raise AccessDenied("Only the owner may add admins")
        if group.member(body.userId) is not None:
            raise Conflict("Already a member")
        await self._users.require_existing([body.userId])
        await self._add(actor, group, body.userId, role)
        return {"members": await self.members(actor, group_id)}

    async def _add(self, actor: str, group: Group, target: str, role: Role) -> dict[str, Any]:
        now = self._clock.now()
        updated = await self._groups.add_member(group.id, target, role, now)
        if updated is None:
            # Lost a race with another add, or the group was deleted meanwhile.
            current = await self.get_active(group.gid)
            if current.member(target) is None:
                raise GroupNotFound()
            return await self.summary(target, current)
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
        await self._updated(updated)
        await self._announce_added(updated, target)
        return await self.summary(target, updated)

    async def _updated(self, group: Group) -> None:
        event: GroupUpdated = {"group": group.shared_view()}
        await self._notify.to_group(group.gid, Event.GROUP_UPDATED, event)

    async def _announce_added(self, group: Group, user_id: str) -> None:
        await self._notify.add_user_to_group(user_id, group.gid)
        added: GroupAdded = {"group": await self.summary(user_id, group)}
        await self._notify.to_user(user_id, Event.GROUP_ADDED, added)

    async def leave(self, user_id: str, group_id: str) -> None:
        group = await self.require_member(group_id, user_id)
        if group.owner_id == user_id:
            raise AccessDenied("The owner must transfer ownership before leaving")
        await self._remove(user_id, group, user_id, "member.left")

    async def remove_member(self, actor: str, group_id: str, target: str) -> None:
        if actor == target:
            await self.leave(actor, group_id)
            return
        group = await self.require_role(group_id, actor, Role.ADMIN)
        target_role = group.role_of(target)
        if target_role is None:
            raise ValidationFailed("That user is not a member")
        actor_role = group.role_of(actor)
        assert actor_role is not None
        if target_role.rank >= actor_role.rank:
            raise AccessDenied("You may only remove members below your role")
        await self._remove(actor, group, target, "member.removed")

    async def _remove(self, actor: str, group: Group, target: str, action: str) -> None:
        now = self._clock.now()
        updated = await self._groups.remove_member(group.id, target, now)
        if updated is None:
            raise Conflict("Membership changed meanwhile; try again")
        await self._audit.record(action, actor, now, group_id=group.id, target_id=target)
        await self._notify.remove_user_from_group(target, group.gid)
        removed: GroupRemoved = {"groupId": group.gid}
        await self._notify.to_user(target, Event.GROUP_REMOVED, removed)
        await self._updated(updated)

    async def change_role(
        self, actor: str, group_id: str, target: str, role_name: str
    ) -> list[dict[str, Any]]:
        group = await self.require_role(group_id, actor, Role.OWNER)
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
        await self._updated(updated)
        return await self.members(actor, group_id)

    async def transfer(self, actor: str, group_id: str, target: str) -> dict[str, Any]:
        group = await self.require_role(group_id, actor, Role.OWNER)
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
        await self._updated(updated)
        return await self.summary(actor, updated)
