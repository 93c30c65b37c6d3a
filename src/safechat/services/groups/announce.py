"""What group changes tell whom: the group's room, the member concerned, and the
room memberships of their sockets. Called only after the write announced returned."""

from __future__ import annotations

from safechat.events import Event, GroupAdded, GroupRemoved, GroupUpdated
from safechat.models.group import Group
from safechat.services.groups.views import GroupViews
from safechat.services.ports import Notifier
from safechat.services.webhooks.events import NoWebhooks, WebhookEvents


class GroupAnnouncer:
    def __init__(
        self, notifier: Notifier, views: GroupViews, webhooks: WebhookEvents | None = None
    ) -> None:
        self._notify = notifier
        self._views = views
        self._webhooks = webhooks or NoWebhooks()

    async def updated(self, group: Group) -> None:
        event: GroupUpdated = {"group": group.shared_view()}
        await self._notify.to_group(group.gid, Event.GROUP_UPDATED, event)

    async def added(self, group: Group, user_id: str) -> None:
        await self._notify.add_user_to_group(user_id, group.gid)
        added: GroupAdded = {"group": await self._views.summary(user_id, group)}
        await self._notify.to_user(user_id, Event.GROUP_ADDED, added)
        await self._webhooks.record("member.added", _member(group, user_id))

    async def member_removed(self, group: Group, user_id: str) -> None:
        await self._notify.remove_user_from_group(user_id, group.gid)
        removed: GroupRemoved = {"groupId": group.gid}
        await self._notify.to_user(user_id, Event.GROUP_REMOVED, removed)
        await self._webhooks.record("member.removed", _member(group, user_id))

    async def deleted(self, group: Group) -> None:
        removed: GroupRemoved = {"groupId": group.gid}
        await self._notify.to_group(group.gid, Event.GROUP_REMOVED, removed)
        await self._notify.close_group(group.gid)


def _member(group: Group, user_id: str) -> dict[str, str]:
    return {"groupId": group.gid, "groupType": group.kind, "userId": user_id}
