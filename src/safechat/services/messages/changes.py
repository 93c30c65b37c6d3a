"""Changes to stored messages: edit (the sender), delete (the sender or an admin),
react (any member), and an edited message's earlier versions."""

from __future__ import annotations

from typing import Any

from safechat.errors import AccessDenied, Conflict, MessageNotFound
from safechat.events import Event, MessageDeleted, MessageEdited, MessageReaction
from safechat.models.common import iso
from safechat.models.group import Role
from safechat.repositories.messages import MessageRepository
from safechat.services.encryption import Encryptor
from safechat.services.messages.checks import MessageChecks
from safechat.services.messages.rendering import MessageRenderer
from safechat.services.ports import Clock, Notifier
from safechat.services.webhooks.events import NoWebhooks, WebhookEvents, message_change


class MessageChanges:
    def __init__(
        self,
        checks: MessageChecks,
        messages: MessageRepository,
        encryptor: Encryptor,
        renderer: MessageRenderer,
        notifier: Notifier,
        clock: Clock,
        *,
        max_reactions: int,
        webhooks: WebhookEvents | None = None,
    ) -> None:
        self._checks = checks
        self._messages = messages
        self._enc = encryptor
        self._renderer = renderer
        self._notify = notifier
        self._clock = clock
        self._max_reactions = max_reactions
        self._webhooks = webhooks or NoWebhooks()

    async def edit(self, user_id: str, message_id: str, content: str) -> dict[str, Any]:
        group, message = await self._checks.member_message(user_id, message_id)
        if message.sender_id != user_id:
            raise AccessDenied("Only the sender may edit a message")
        if message.is_deleted:
            raise MessageNotFound("The message was deleted")
        if message.type != "text" and not content.strip():
            text = ""
        else:
            text = self._checks.check_text(content, required=message.type == "text")
        moderation = await self._checks.screen(group, text)
        now = self._clock.now()
        updated = await self._messages.edit(
            message.id,
            user_id,
            self._enc.encrypt(text, group.gid),
            {"content": message.content, "editedAt": message.edited_at or message.created_at},
            now,
            moderation,
        )
        if updated is None:
            raise MessageNotFound("The message was deleted")
        if text:
            self._checks.stored(group, updated, text)
        elif self._checks.hooks is not None:  # a caption removed: its vector goes too
            await self._checks.hooks.on_deleted(message.id)
        wire = self._renderer.render(updated)
        await self._webhooks.record("message.updated", message_change(updated, group.gid, user_id))
        edited: MessageEdited = {"message": wire}
        await self._notify.to_group(group.gid, Event.MESSAGE_EDITED, edited)
        return wire

    async def history_of(self, user_id: str, message_id: str) -> list[dict[str, Any]]:
        group, message = await self._checks.member_message(user_id, message_id)
        entries = []
        for entry in message.edit_history:
            text = self._renderer.plaintext(entry.get("content"), group.gid, message_id)
            entries.append({"content": text, "editedAt": iso(entry.get("editedAt"))})
        return entries

    async def delete(
        self, user_id: str, message_id: str, group_id: str | None = None
    ) -> dict[str, Any]:
        group, message = await self._checks.member_message(user_id, message_id, group_id)
        role = group.role_of(user_id)
        if message.sender_id != user_id and (role is None or role.rank < Role.ADMIN.rank):
            raise AccessDenied("Only the sender or a group admin may delete a message")
        if message.is_deleted:
            raise MessageNotFound("The message was already deleted")
        now = self._clock.now()
        if await self._messages.soft_delete(message.id, user_id, now) is None:
            raise MessageNotFound("The message was already deleted")
        if self._checks.hooks is not None:
            await self._checks.hooks.on_deleted(message.id)
        await self._webhooks.record("message.deleted", message_change(message, group.gid, user_id))
        event: MessageDeleted = {
            "messageId": message_id,
            "groupId": group.gid,
            "deletedBy": user_id,
        }
        await self._notify.to_group(group.gid, Event.MESSAGE_DELETED, event)
        return dict(event)

    async def react(self, user_id: str, message_id: str, emoji: str) -> dict[str, Any]:
        group, message = await self._checks.member_message(user_id, message_id)
        action, updated = await self._messages.toggle_reaction(
            message.id, emoji, user_id, self._clock.now(), self._max_reactions
        )
        if action == "full":
            raise Conflict(
                f"A message can have at most {self._max_reactions} different reactions",
                details={"maxReactions": self._max_reactions},
            )
        if updated is None:
            raise MessageNotFound("The message was deleted")
        event: MessageReaction = {
            "messageId": message_id,
            "groupId": group.gid,
            "emoji": emoji,
            "userId": user_id,
            "action": action,
            "reactions": updated.reactions,
        }
        await self._notify.to_group(group.gid, Event.MESSAGE_REACTION, event)
        return dict(event)
