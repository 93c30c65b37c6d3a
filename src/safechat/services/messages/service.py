"""Messages: durable, ordered, idempotent sends; edits, deletes, reactions, reads, sync."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from safechat.errors import (
    AccessDenied,
    Conflict,
    MessageNotFound,
    MessageTooLong,
    ValidationFailed,
)
from safechat.events import (
    Event,
    MessageDeleted,
    MessageEdited,
    MessageReaction,
    MessageRead,
    MessageSent,
    MessagesRead,
    NewMessage,
)
from safechat.models.common import iso
from safechat.models.group import Group, Role
from safechat.models.message import (
    HistoryQuery,
    MarkMessagesRead,
    SendMessage,
    StoredMessage,
)
from safechat.repositories.groups import GroupRepository
from safechat.repositories.messages import MessageRepository
from safechat.repositories.read_state import ReadStateRepository
from safechat.services.encryption import Encryptor
from safechat.services.groups import GroupService
from safechat.services.media.service import MediaService
from safechat.services.messages.group_commit import Draft, GroupCommit
from safechat.services.messages.rendering import MessageRenderer
from safechat.services.ports import Clock, MessageHooks, Notifier
from safechat.services.users import UserService


@dataclass(frozen=True, slots=True)
class SendResult:
    message: dict[str, Any]
    duplicate: bool


class MessageService:
    def __init__(
        self,
        groups: GroupService,
        group_repo: GroupRepository,
        messages: MessageRepository,
        read_state: ReadStateRepository,
        users: UserService,
        encryptor: Encryptor,
        renderer: MessageRenderer,
        notifier: Notifier,
        clock: Clock,
        *,
        commit: GroupCommit,
        max_chars: int = 4000,
        max_reactions: int = 50,
        hooks: MessageHooks | None = None,
        media: MediaService | None = None,
    ) -> None:
        self._groups = groups
        self._group_repo = group_repo
        self._messages = messages
        self._read_state = read_state
        self._users = users
        self._enc = encryptor
        self._renderer = renderer
        self._notify = notifier
        self._clock = clock
        self._max_chars = max_chars
        self._max_reactions = max_reactions
        self._hooks = hooks  # AI: moderation before writes, embeddings after (services/ai)
        self._media = media
        self._commit = commit  # shared, built by the wiring (safechat/wiring.py)

    def _check_text(self, content: str, *, required: bool) -> str:
        text = content.strip()
        if required and not text:
            raise ValidationFailed("Message content is empty")
        if len(text) > self._max_chars:
            raise MessageTooLong(
                f"Messages are limited to {self._max_chars} characters",
                details={"maxLength": self._max_chars, "length": len(text)},
            )
        return text

    async def _screen(self, group: Group | None, text: str) -> dict[str, Any] | None:
        """Moderation step: may raise ContentRejected; returns a verdict to store.
        Without the group (not read on the fast path) screening stays local."""
        if self._hooks is None or not text:
            return None
        return await self._hooks.screen(text, ai_enabled=group is not None and group.ai_enabled)

    def _stored(self, group: Group | None, message: StoredMessage, text: str) -> None:
        """After-store hook: schedules background AI work (embeddings); never blocks."""
        if self._hooks is not None and text:
            ai_enabled = None if group is None else group.ai_enabled
            self._hooks.on_stored(message, text, ai_enabled=ai_enabled)

    async def _message_in_group(
        self, message_id: str, group_id: str | None = None
    ) -> StoredMessage:
        message = await self._messages.get(ObjectId(message_id))
        if message is None or (group_id is not None and str(message.group_id) != group_id):
            raise MessageNotFound()
        return message

    async def _member_message(
        self, user_id: str, message_id: str, group_id: str | None = None
    ) -> tuple[Group, StoredMessage]:
        """The message and its group, if the user is a member of that group.

        Non-members get MESSAGE_NOT_FOUND when no group is named, so message
        ids do not reveal which groups exist.
        """
        if group_id is not None:
            group = await self._groups.require_member(group_id, user_id)
            return group, await self._message_in_group(message_id, group_id)
        message = await self._message_in_group(message_id)
        found = await self._group_repo.get(message.group_id)
        if found is None or found.member(user_id) is None:
            raise MessageNotFound()
        return found, message

    # --- send ---------------------------------------------------------------

    async def send(
        self, user_id: str, body: SendMessage, *, origin_sid: str | None = None
    ) -> SendResult:
        """validate -> durable write (batched per group) -> announce.

        The sender gets `message_sent {message, tempId}` (repeats too, so a client
        resolves its tempId either way): the sending socket (`origin_sid`), or for a
        REST send, which no socket made, every socket of the sender."""
        # No waiting between the event's arrival and its place in the group's queue (for
        # plain messages, with local moderation), so a sender's concurrent sends keep their
        # order; and none between the write and the emit (the batch warmed the sender's
        # summary), so new_message events leave this node in seq order.
        draft, group = await self._draft(user_id, body)
        stored = await self._commit.store(draft)
        if stored.duplicate:
            result = self._duplicate(stored.message, body)
            await self._sent(user_id, origin_sid, result.message, body.tempId)
            return result
        message = stored.message
        if draft.media is not None and self._media is not None:
            await self._media.attached(draft.media["mediaId"], message.id)
        wire = self._renderer.render_known(message, draft.text)
        event: NewMessage = {"message": wire, "sender": await self._users.summary(user_id)}
        await self._notify.to_group(wire["groupId"], Event.NEW_MESSAGE, event, skip_sid=origin_sid)
        self._stored(group, message, draft.text)
        own = dict(wire)
        if body.tempId is not None:
            own["tempId"] = body.tempId
        await self._sent(user_id, origin_sid, own, body.tempId)
        return SendResult(own, duplicate=False)

    async def _sent(
        self, user_id: str, origin_sid: str | None, own: dict[str, Any], temp_id: str | None
    ) -> None:
        event: MessageSent = {"message": own, "tempId": temp_id}
        if origin_sid is not None:
            await self._notify.to_socket(origin_sid, Event.MESSAGE_SENT, event)
        else:
            await self._notify.to_user(user_id, Event.MESSAGE_SENT, event)

    async def _draft(self, user_id: str, body: SendMessage) -> tuple[Draft, Group | None]:
        """Everything checked before the write, and the group when a check needed it.

        Membership is checked by the write itself (atomically with the seq reservation),
        except where a step needs the group first: a reply (only members may look up the
        replied-to message), media (the upload must be the sender's, to this group) and
        moderation by a remote provider (only if the group allows AI)."""
        text = self._check_text(body.content, required=body.type == "text")
        if body.type == "text" and body.mediaId is not None:
            raise ValidationFailed("mediaId goes with type 'image' or 'file'")
        if body.type != "text" and body.mediaId is None:
            raise ValidationFailed("Media messages need the mediaId of an upload")
        group_id = ObjectId(body.groupId)
        gid = str(group_id)
        needs_group = (
            body.replyTo is not None
            or body.type != "text"
            or (self._hooks is not None and self._hooks.needs_group)
        )
        group = await self._groups.require_member(gid, user_id) if needs_group else None
        reply_to = None
        if body.replyTo is not None:
            await self._message_in_group(body.replyTo, gid)
            reply_to = ObjectId(body.replyTo)
        media = None
        if body.type != "text":
            if self._media is None:
                raise ValidationFailed("Media uploads are not enabled")
            assert body.mediaId is not None
            media = await self._media.for_message(user_id, gid, body.type, body.mediaId)
        moderation = await self._screen(group, text)
        draft = Draft(
            sender_id=user_id,
            group_id=group_id,
            content=self._enc.encrypt(text, gid),
            text=text,
            type=body.type,
            temp_id=body.tempId,
            reply_to=reply_to,
            media=media,
            moderation=moderation,
        )
        return draft, group

    def _duplicate(self, existing: StoredMessage, body: SendMessage) -> SendResult:
        if str(existing.group_id) != str(ObjectId(body.groupId)):
            raise ValidationFailed("tempId was already used for another group")
        return SendResult(self._renderer.render(existing, temp_id=body.tempId), duplicate=True)

    # --- edit / delete / react ----------------------------------------------

    async def edit(self, user_id: str, message_id: str, content: str) -> dict[str, Any]:
        group, message = await self._member_message(user_id, message_id)
        if message.sender_id != user_id:
            raise AccessDenied("Only the sender may edit a message")
        if message.is_deleted:
            raise MessageNotFound("The message was deleted")
        if message.type != "text" and not content.strip():
            text = ""
        else:
            text = self._check_text(content, required=message.type == "text")
        moderation = await self._screen(group, text)
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
            self._stored(group, updated, text)
        elif self._hooks is not None:  # a caption removed: its vector goes too
            await self._hooks.on_deleted(message.id)
        wire = self._renderer.render(updated)
        edited: MessageEdited = {"message": wire}
        await self._notify.to_group(group.gid, Event.MESSAGE_EDITED, edited)
        return wire

    async def history_of(self, user_id: str, message_id: str) -> list[dict[str, Any]]:
        group, message = await self._member_message(user_id, message_id)
        entries = []
        for entry in message.edit_history:
            text = self._renderer.plaintext(entry.get("content"), group.gid, message_id)
            entries.append({"content": text, "editedAt": iso(entry.get("editedAt"))})
        return entries

    async def delete(
        self, user_id: str, message_id: str, group_id: str | None = None
    ) -> dict[str, Any]:
        group, message = await self._member_message(user_id, message_id, group_id)
        role = group.role_of(user_id)
        if message.sender_id != user_id and (role is None or role.rank < Role.ADMIN.rank):
            raise AccessDenied("Only the sender or a group admin may delete a message")
        if message.is_deleted:
            raise MessageNotFound("The message was already deleted")
        now = self._clock.now()
        if await self._messages.soft_delete(message.id, user_id, now) is None:
            raise MessageNotFound("The message was already deleted")
        if self._hooks is not None:
            await self._hooks.on_deleted(message.id)
        event: MessageDeleted = {
            "messageId": message_id,
            "groupId": group.gid,
            "deletedBy": user_id,
        }
        await self._notify.to_group(group.gid, Event.MESSAGE_DELETED, event)
        return dict(event)

    async def react(self, user_id: str, message_id: str, emoji: str) -> dict[str, Any]:
        group, message = await self._member_message(user_id, message_id)
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

    # --- reads --------------------------------------------------------------

    async def mark_read(self, user_id: str, message_id: str, group_id: str) -> dict[str, Any]:
        group, message = await self._member_message(user_id, message_id, group_id)
        now = self._clock.now()
        newly = await self._messages.unread_by(group.id, user_id, [message.id])
        if newly:
            await self._messages.add_reads([message.id], user_id, now)
        await self._read_state.advance(group.id, user_id, message.seq, now)
        event: MessageRead = {
            "messageId": message_id,
            "groupId": group.gid,
            "readBy": user_id,
            "readAt": iso(now),
        }
        if newly:
            await self._notify.to_group(group.gid, Event.MESSAGE_READ, event)
        return {**event, "newlyRead": bool(newly)}

    async def mark_many_read(self, user_id: str, body: MarkMessagesRead) -> dict[str, Any]:
        group = await self._groups.require_member(body.groupId, user_id)
        now = self._clock.now()
        through: int | None = None
        if body.messageIds is not None:
            ids = [ObjectId(i) for i in body.messageIds]
            newly = await self._messages.unread_by(group.id, user_id, ids)
            up_to = max(
                max((s for _, s in newly), default=0),
                await self._messages.max_seq(group.id, ids),
            )
        else:
            assert body.upToSeq is not None
            up_to = min(body.upToSeq, group.last_seq)
            # Only the seqs after the last complete pass can still be unread.
            start = await self._read_state.read_by_through(group.id, user_id)
            newly, through = await self._messages.unread_between(group.id, user_id, start, up_to)
        if newly:
            await self._messages.add_reads([i for i, _ in newly], user_id, now)
        # `through` only after add_reads: it claims those reads are stored.
        await self._read_state.advance(group.id, user_id, up_to, now, read_by_through=through)
        event: MessagesRead = {
            "groupId": group.gid,
            "messageIds": [str(i) for i, _ in sorted(newly, key=lambda x: x[1])],
            "readBy": user_id,
            "readAt": iso(now),
        }
        if newly:
            await self._notify.to_group(group.gid, Event.MESSAGES_READ, event)
        return {**event, "lastReadSeq": up_to}

    # --- history and sync ---------------------------------------------------

    async def history(self, user_id: str, group_id: str, q: HistoryQuery) -> dict[str, Any]:
        group = await self._groups.require_member(group_id, user_id)
        before_seq, after_seq = q.beforeSeq, q.afterSeq
        if q.before is not None:
            before_seq = (await self._message_in_group(q.before, group.gid)).seq
        if q.after is not None:
            after_seq = (await self._message_in_group(q.after, group.gid)).seq
        found = await self._messages.page(
            group.id,
            q.limit + 1,
            last_seq=group.last_seq,
            before_seq=before_seq,
            after_seq=after_seq,
        )
        has_more = len(found) > q.limit
        if has_more:
            # Backwards pages drop the oldest extra one; forward pages the newest.
            found = found[:-1] if after_seq is not None else found[1:]
        cursor_msg = None
        if has_more and found:
            cursor_msg = found[-1] if after_seq is not None else found[0]
        return {
            "messages": self._renderer.render_many(found),
            "hasMore": has_more,
            "nextCursor": str(cursor_msg.id) if cursor_msg else None,
        }

    async def sync(self, user_id: str, targets: dict[str, int], limit: int) -> dict[str, Any]:
        """Catch-up after a reconnect: every message after `afterSeq` in seq order,
        plus earlier messages changed (edited, deleted, reacted) since the client's
        newest known message was created."""
        results: dict[str, Any] = {}
        for group_id, after_seq in targets.items():
            group = await self._groups.require_member(group_id, user_id)
            found = await self._messages.page(
                group.id, limit + 1, last_seq=group.last_seq, after_seq=after_seq
            )
            has_more = len(found) > limit
            updated: list[StoredMessage] = []
            if after_seq > 0:
                anchor = await self._messages.by_seq(group.id, after_seq)
                if anchor is not None:
                    updated = await self._messages.updated_since(
                        group.id, after_seq, anchor.created_at, limit
                    )
            results[group.gid] = {
                "messages": self._renderer.render_many(found[:limit]),
                "updated": self._renderer.render_many(updated),
                "hasMore": has_more,
                "lastSeq": group.last_seq,
            }
        return results
