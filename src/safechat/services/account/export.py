"""GET /api/me/export: everything SafeChat holds about the caller, as sections.

The export is produced a section (and, for messages, a page) at a time so the edge can
stream one JSON document without holding a large history in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from bson import ObjectId

from safechat.models.common import iso
from safechat.repositories.blocks import BlockRepository
from safechat.repositories.groups import GroupRepository
from safechat.repositories.media import MediaRepository
from safechat.repositories.messages import MessageRepository
from safechat.repositories.read_state import ReadStateRepository
from safechat.services.messages.rendering import MessageRenderer
from safechat.services.ports import Clock
from safechat.services.users import UserService

PAGE = 200

# What the edge streams: a section's name and its value, or ("messages", page) repeated.
Section = tuple[str, Any]


class AccountExport:
    def __init__(
        self,
        users: UserService,
        groups: GroupRepository,
        messages: MessageRepository,
        read_state: ReadStateRepository,
        media: MediaRepository,
        blocks: BlockRepository,
        renderer: MessageRenderer,
        clock: Clock,
    ) -> None:
        self._users = users
        self._groups = groups
        self._messages = messages
        self._read_state = read_state
        self._media = media
        self._blocks = blocks
        self._renderer = renderer
        self._clock = clock

    async def sections(self, user_id: str) -> AsyncIterator[Section]:
        """Raises UserNotFound before the first section when the user is unknown."""
        user = await self._users.me(user_id)
        yield "exportedAt", iso(self._clock.now())
        yield "profile", user.profile()
        groups = await self._groups.for_member(user_id)
        memberships = []
        for group in groups:
            member = group.member(user_id)
            assert member is not None
            memberships.append({"groupId": group.gid, "name": group.name, **member.to_wire()})
        yield "memberships", memberships
        states = await self._read_state.all_for_user(user_id)
        yield (
            "readMarks",
            [
                {
                    "groupId": g,
                    "lastReadSeq": state.mark,
                    "muted": state.mute is not None,
                    "mutedUntil": iso(state.mute.until) if state.mute else None,
                }
                for g, state in sorted(states.items())
            ],
        )
        blocked = await self._blocks.by(user_id)
        yield (
            "blocks",
            [{"userId": b["blockedId"], "blockedAt": iso(b.get("createdAt"))} for b in blocked],
        )
        yield "uploads", [u async for u in self._uploads(user_id)]
        yield "reactions", [r async for r in self._reactions(user_id, [g.id for g in groups])]
        after: ObjectId | None = None
        while True:
            page = await self._messages.by_sender(user_id, after, PAGE)
            if page:
                yield "messages", self._renderer.render_many(page)
            if len(page) < PAGE:
                return
            after = page[-1].id

    async def _uploads(self, user_id: str) -> AsyncIterator[dict[str, Any]]:
        after: ObjectId | None = None
        while True:
            page = await self._media.by_owner(user_id, after, PAGE)
            for media in page:
                yield {
                    "id": media.mid,
                    "groupId": str(media.group_id),
                    "filename": media.filename,
                    "kind": media.kind,
                    "mimeType": media.mime_type,
                    "size": media.size,
                    "status": media.status,
                    "messageId": str(media.message_id) if media.message_id else None,
                    "createdAt": iso(media.created_at),
                }
            if len(page) < PAGE:
                return
            after = page[-1].id

    async def _reactions(
        self, user_id: str, group_ids: list[ObjectId]
    ) -> AsyncIterator[dict[str, Any]]:
        async for message_id, group_id, emoji in reactions_of(self._messages, user_id, group_ids):
            yield {"messageId": message_id, "groupId": group_id, "emoji": emoji}


async def reactions_of(
    messages: MessageRepository, user_id: str, group_ids: list[ObjectId]
) -> AsyncIterator[tuple[str, str, str]]:
    """(messageId, groupId, emoji) of the user's reactions in those groups.

    Reactions are stored per message as emoji -> user ids, so there is no index by
    reacting user: this pages through the groups' reacted-to messages. Export and
    erasure are rare and rate limited; the send path never pays for it."""
    if not group_ids:
        return
    after: ObjectId | None = None
    while True:
        page = await messages.reactions_page(group_ids, after, PAGE * 5)
        for doc in page:
            for emoji, users in (doc.get("reactions") or {}).items():
                if user_id in users:
                    yield str(doc["_id"]), str(doc["groupId"]), emoji
        if len(page) < PAGE * 5:
            return
        after = page[-1]["_id"]
