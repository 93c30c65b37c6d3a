"""What every message path checks before it writes: text limits, that the message
exists in a group the user belongs to; and the AI steps around a write (moderation
before, embeddings after), which do nothing without AI hooks."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from safechat.errors import MessageNotFound, MessageTooLong, ValidationFailed
from safechat.models.group import Group
from safechat.models.message import StoredMessage
from safechat.repositories.groups import GroupRepository
from safechat.repositories.messages import MessageRepository
from safechat.services.groups.service import GroupService
from safechat.services.ports import MessageHooks


class MessageChecks:
    def __init__(
        self,
        groups: GroupService,
        group_repo: GroupRepository,
        messages: MessageRepository,
        *,
        max_chars: int,
        hooks: MessageHooks | None,
    ) -> None:
        self._groups = groups
        self._group_repo = group_repo
        self._messages = messages
        self._max_chars = max_chars
        self.hooks = hooks  # AI: moderation before writes, embeddings after (services/ai)

    def check_text(self, content: str, *, required: bool) -> str:
        text = content.strip()
        if required and not text:
            raise ValidationFailed("Message content is empty")
        if len(text) > self._max_chars:
            raise MessageTooLong(
                f"Messages are limited to {self._max_chars} characters",
                details={"maxLength": self._max_chars, "length": len(text)},
            )
        return text

    async def screen(self, group: Group | None, text: str) -> dict[str, Any] | None:
        """Moderation step: may raise ContentRejected; returns a verdict to store.
        Without the group (not read on the fast path) screening stays local."""
        if self.hooks is None or not text:
            return None
        return await self.hooks.screen(text, ai_enabled=group is not None and group.ai_enabled)

    def stored(self, group: Group | None, message: StoredMessage, text: str) -> None:
        """After-store hook: schedules background AI work (embeddings); never blocks."""
        if self.hooks is not None and text:
            ai_enabled = None if group is None else group.ai_enabled
            self.hooks.on_stored(message, text, ai_enabled=ai_enabled)

    async def message_in_group(self, message_id: str, group_id: str | None = None) -> StoredMessage:
        message = await self._messages.get(ObjectId(message_id))
        if message is None or (group_id is not None and str(message.group_id) != group_id):
            raise MessageNotFound()
        return message

    async def member_message(
        self, user_id: str, message_id: str, group_id: str | None = None
    ) -> tuple[Group, StoredMessage]:
        """The message and its group, if the user is a member of that group.

        Non-members get MESSAGE_NOT_FOUND when no group is named, so message
        ids do not reveal which groups exist.
        """
        if group_id is not None:
            group = await self._groups.require_member(group_id, user_id)
            return group, await self.message_in_group(message_id, group_id)
        message = await self.message_in_group(message_id)
        found = await self._group_repo.get(message.group_id)
        if found is None or found.member(user_id) is None:
            raise MessageNotFound()
        return found, message
