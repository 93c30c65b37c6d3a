"""Pins: owners and admins (either person in a direct conversation) pin a group's
messages, at most MAX_PINS per group; the room hears each change."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from safechat.errors import AccessDenied, Conflict, MessageNotFound
from safechat.events import Event, MessagePinned, MessageUnpinned
from safechat.models.common import iso
from safechat.models.group import Group
from safechat.models.threads import MAX_PINS
from safechat.repositories.messages import MessageRepository
from safechat.repositories.pins import PinRepository
from safechat.services.groups.service import GroupService
from safechat.services.messages.checks import MessageChecks
from safechat.services.messages.rendering import MessageRenderer
from safechat.services.ports import Clock, Notifier


def may_pin(group: Group, user_id: str) -> bool:
    """Owner or admin; in a direct conversation (`Group.kind == 'direct'`) either of
    the two."""
    return group.may_moderate(user_id)


class MessagePins:
    def __init__(
        self,
        checks: MessageChecks,
        groups: GroupService,
        messages: MessageRepository,
        pins: PinRepository,
        renderer: MessageRenderer,
        notifier: Notifier,
        clock: Clock,
        *,
        max_pins: int = MAX_PINS,
    ) -> None:
        self._checks = checks
        self._groups = groups
        self._messages = messages
        self._pins = pins
        self._renderer = renderer
        self._notify = notifier
        self._clock = clock
        self._max = max_pins

    async def pin(self, user_id: str, message_id: str) -> dict[str, Any]:
        """Idempotent (**decision**): pinning a pinned message answers its existing pin
        (who pinned it, when) and announces nothing."""
        group, message = await self._checks.member_message(user_id, message_id)
        if not may_pin(group, user_id):
            raise AccessDenied("Only owners and admins can pin messages")
        if message.is_deleted:
            raise MessageNotFound()
        outcome, entry = await self._pins.pin(
            group.id, message.id, user_id, self._clock.now(), self._max
        )
        if outcome == "full":
            raise Conflict(
                f"A group holds at most {self._max} pins; unpin one first",
                details={"maxPins": self._max},
            )
        assert entry is not None
        event: MessagePinned = {
            "messageId": str(message.id),
            "groupId": group.gid,
            "pinnedBy": entry["pinnedBy"],
            "pinnedAt": iso(entry["pinnedAt"]),
        }
        if outcome == "pinned":
            await self._notify.to_group(group.gid, Event.MESSAGE_PINNED, event)
        return {**event, "alreadyPinned": outcome == "exists"}

    async def unpin(self, user_id: str, message_id: str) -> dict[str, Any]:
        """Idempotent: unpinning a message that is not pinned changes and announces
        nothing. Deleted messages can be unpinned too (a pin that raced a delete)."""
        group, message = await self._checks.member_message(user_id, message_id)
        if not may_pin(group, user_id):
            raise AccessDenied("Only owners and admins can unpin messages")
        removed = await self._pins.unpin(group.id, message.id)
        event: MessageUnpinned = {"messageId": str(message.id), "groupId": group.gid}
        if removed:
            await self._notify.to_group(group.gid, Event.MESSAGE_UNPINNED, event)
        return {**event, "wasPinned": removed}

    async def drop_deleted(self, group_id: str, message_id: str) -> None:
        """A deleted message is unpinned (the room hears `message_unpinned`)."""
        if await self._pins.unpin(ObjectId(group_id), ObjectId(message_id)):
            event: MessageUnpinned = {"messageId": message_id, "groupId": group_id}
            await self._notify.to_group(group_id, Event.MESSAGE_UNPINNED, event)

    async def list(self, user_id: str, group_id: str) -> dict[str, Any]:
        """Newest pin first; a pinned message deleted meanwhile (a pin that raced the
        delete) is shown deleted."""
        group = await self._groups.require_member(group_id, user_id)
        entries = list(reversed(await self._pins.list(group.id)))
        stored = await self._messages.get_many([ObjectId(e["messageId"]) for e in entries])
        return {
            "pins": [
                {
                    "message": self._renderer.render(stored[e["messageId"]]),
                    "pinnedBy": e["pinnedBy"],
                    "pinnedAt": iso(e["pinnedAt"]),
                }
                for e in entries
                if e["messageId"] in stored
            ]
        }
