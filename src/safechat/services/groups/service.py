"""GroupService: the one entry to groups for the edges and the other services.

It builds the focused parts and hands each call to its home: lookups and membership
checks (access.py), what a user sees (views.py), create/update/delete (management.py),
members and roles (members.py); what each change tells whom is in announce.py.
"""

from __future__ import annotations

from typing import Any

from safechat.models.group import AddMember, CreateGroup, DiscoverQuery, Group, Role, UpdateGroup
from safechat.repositories.audit import AuditRepository
from safechat.repositories.groups import GroupRepository
from safechat.repositories.messages import MessageRepository
from safechat.repositories.read_state import ReadStateRepository
from safechat.services.groups.access import GroupAccess
from safechat.services.groups.announce import GroupAnnouncer
from safechat.services.groups.bans import BanGate
from safechat.services.groups.management import GroupManagement
from safechat.services.groups.members import GroupMembers
from safechat.services.groups.views import GroupViews
from safechat.services.messages.rendering import MessageRenderer
from safechat.services.ports import (
    Clock,
    Limit,
    MessageHooks,
    Notifier,
    PresenceStore,
    RateLimiter,
)
from safechat.services.users import UserService
from safechat.services.webhooks.events import WebhookEvents


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
        bans: BanGate | None = None,
        webhooks: WebhookEvents | None = None,
    ) -> None:
        access = GroupAccess(groups)
        views = GroupViews(access, groups, messages, read_state, users, presence, renderer, clock)
        announce = GroupAnnouncer(notifier, views, webhooks)
        self._access = access
        self._views = views
        self._management = GroupManagement(
            access, views, announce, groups, audit, users, clock, limiter, create_limit,
            hooks=hooks,
        )  # fmt: skip
        self._announce = announce
        self._members = GroupMembers(
            access, views, announce, groups, read_state, audit, users, clock, bans
        )

    # --- lookups and checks (access.py) ---------------------------------------

    async def get_active(self, group_id: str) -> Group:
        return await self._access.get_active(group_id)

    async def require_member(self, group_id: str, user_id: str) -> Group:
        return await self._access.require_member(group_id, user_id)

    async def require_role(self, group_id: str, user_id: str, minimum: Role) -> Group:
        return await self._access.require_role(group_id, user_id, minimum)

    async def room_ids_for(self, user_id: str) -> list[str]:
        return await self._access.room_ids_for(user_id)

    async def member_groups(self, user_id: str) -> list[Group]:
        """The user's active groups (what `mine` summarizes)."""
        return await self._access.member_groups(user_id)

    async def co_members(self, user_id: str) -> list[str]:
        return await self._access.co_members(user_id)

    # --- views (views.py) -----------------------------------------------------

    async def summaries(
        self, user_id: str, groups: list[Group], *, shared: bool = False
    ) -> list[dict[str, Any]]:
        return await self._views.summaries(user_id, groups, shared=shared)

    async def mine(self, user_id: str) -> list[dict[str, Any]]:
        return await self._views.mine(user_id)

    async def summary(self, user_id: str, group: Group) -> dict[str, Any]:
        return await self._views.summary(user_id, group)

    async def discover(self, query: DiscoverQuery) -> dict[str, Any]:
        return await self._views.discover(query)

    async def view(self, user_id: str, group_id: str) -> dict[str, Any]:
        return await self._views.view(user_id, group_id)

    async def members(self, user_id: str, group_id: str) -> list[dict[str, Any]]:
        return await self._views.members(user_id, group_id)

    async def online_members(self, group: Group) -> list[dict[str, Any]]:
        return await self._views.online_members(group)

    # --- management (management.py) -------------------------------------------

    async def create(self, user_id: str, body: CreateGroup) -> dict[str, Any]:
        return await self._management.create(user_id, body)

    async def update(self, user_id: str, group_id: str, body: UpdateGroup) -> dict[str, Any]:
        return await self._management.update(user_id, group_id, body)

    async def delete(self, user_id: str, group_id: str) -> None:
        await self._management.delete(user_id, group_id)

    # --- members and roles (members.py) ---------------------------------------

    async def join(self, user_id: str, group_id: str) -> dict[str, Any]:
        return await self._members.join(user_id, group_id)

    async def add_member(self, actor: str, group_id: str, body: AddMember) -> dict[str, Any]:
        return await self._members.add_member(actor, group_id, body)

    async def leave(self, user_id: str, group_id: str) -> None:
        await self._members.leave(user_id, group_id)

    async def remove_member(self, actor: str, group_id: str, target: str) -> None:
        await self._members.remove_member(actor, group_id, target)

    async def change_role(
        self, actor: str, group_id: str, target: str, role_name: str
    ) -> list[dict[str, Any]]:
        return await self._members.change_role(actor, group_id, target, role_name)

    async def transfer(self, actor: str, group_id: str, target: str) -> dict[str, Any]:
        return await self._members.transfer(actor, group_id, target)

    # --- for direct conversations and bans (services/people/) --------------------

    async def announce_added(self, group: Group, user_id: str) -> None:
        """`group_added` to the user, whose sockets join the room (after the write)."""
        await self._announce.added(group, user_id)

    async def ban_remove(self, actor: str, group: Group, target: str) -> None:
        await self._members.ban_remove(actor, group, target)

    async def leave_direct_for_erasure(self, user_id: str, group: Group) -> None:
        await self._members.leave_direct_for_erasure(user_id, group)
