"""Read receipts: marking one message or many read, which advances the reader's
read state (unread counts) and tells the group what was newly read."""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from safechat.events import Event, MessageRead, MessagesRead
from safechat.models.common import iso
from safechat.models.message import MarkMessagesRead
from safechat.repositories.messages import MessageRepository
from safechat.repositories.read_state import ReadStateRepository
from safechat.services.groups.service import GroupService
from safechat.services.messages.checks import MessageChecks
from safechat.services.ports import Clock, Notifier


class MessageReceipts:
    def __init__(
        self,
        checks: MessageChecks,
        groups: GroupService,
        messages: MessageRepository,
        read_state: ReadStateRepository,
        notifier: Notifier,
        clock: Clock,
    ) -> None:
        self._checks = checks
        self._groups = groups
        self._messages = messages
        self._read_state = read_state
        self._notify = notifier
        self._clock = clock

    async def mark_read(self, user_id: str, message_id: str, group_id: str) -> dict[str, Any]:
        group, message = await self._checks.member_message(user_id, message_id, group_id)
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
