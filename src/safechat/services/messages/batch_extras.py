"""What a stored batch writes besides its messages: read marks, mentions, thread counts.

Run by the group commit after the batch's insert returned and before any of its sends is
answered, all at once (one round trip's wait whatever the batch holds):
- the senders' read marks, and each mentioned user's mention seqs (read_state.py), in
  one bulk write;
- one `mentions` entry per (mentioned user, message), in one insert (for the listing);
- one atomic `$inc` per thread parent for all of the batch's replies to it, not a read
  or write per reply; its result (the counts after it) goes with the batch's last reply
  to that parent, whose send announces `thread_updated`.

The messages are stored by then, so these never fail a send: a failed step is logged and
its derived data stays behind (**decision**, docs/protocol.md: a database failure in this
one step can lose a mention count or a reply count, never a message).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime
from typing import Any

import structlog
from bson import ObjectId

from safechat.models.message import StoredMessage
from safechat.repositories.mentions import MentionRepository
from safechat.repositories.read_state import ReadStateRepository
from safechat.repositories.threads import ThreadRepository
from safechat.services.messages.drafts import ThreadState

log = structlog.get_logger(__name__)


class BatchExtras:
    def __init__(
        self,
        read_state: ReadStateRepository,
        mentions: MentionRepository | None = None,
        threads: ThreadRepository | None = None,
        *,
        marks_behind: bool = False,
    ) -> None:
        self._read_state = read_state
        self._marks_behind = marks_behind
        self._mentions = mentions
        self._threads = threads

    async def write(
        self, group_id: ObjectId, stored: list[StoredMessage], now: datetime
    ) -> dict[ObjectId, ThreadState]:
        """Returns the thread counters by the id of the last reply to each parent."""
        marks: dict[str, int] = {}
        mentioned: dict[str, list[int]] = {}
        entries: list[dict[str, Any]] = []
        replies: dict[ObjectId, tuple[int, datetime]] = {}
        last_reply: dict[ObjectId, ObjectId] = {}
        for m in stored:
            marks[m.sender_id] = max(marks.get(m.sender_id, 0), m.seq)
            for user in m.mentions:
                if user == m.sender_id:  # you have read what you wrote
                    continue
                mentioned.setdefault(user, []).append(m.seq)
                entries.append(
                    {
                        "userId": user,
                        "groupId": group_id,
                        "seq": m.seq,
                        "messageId": m.id,
                        "at": m.created_at,
                    }
                )
            if m.reply_to is not None:
                n, _ = replies.get(m.reply_to, (0, now))
                replies[m.reply_to] = (n + 1, m.created_at)
                last_reply[m.reply_to] = m.id
        steps: dict[str, Awaitable[Any]] = {}
        # Sending implies the sender has read the conversation up to there.
        if self._marks_behind:
            await self._read_state.advance_behind(group_id, marks, now)
            if mentioned:
                steps["read_state"] = self._read_state.advance_many(
                    group_id, {}, now, mentions=mentioned
                )
        elif mentioned:
            steps["read_state"] = self._read_state.advance_many(
                group_id, marks, now, mentions=mentioned
            )
        else:
            steps["read_state"] = self._read_state.advance_many(group_id, marks, now)
        if entries and self._mentions is not None:
            steps["mentions"] = self._mentions.insert_many(entries)
        if replies and self._threads is not None:
            steps["threads"] = self._threads.count_replies(replies)
        if not steps:
            return {}
        results = dict(
            zip(steps, await asyncio.gather(*steps.values(), return_exceptions=True), strict=True)
        )
        for name, result in results.items():
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                log.warning(
                    "send_batch_extra_failed", step=name, group_id=str(group_id), exc_info=result
                )
        counts = results.get("threads")
        if not isinstance(counts, dict):
            return {}
        return {
            last_reply[parent]: ThreadState(parent, count, at)
            for parent, (count, at) in counts.items()
        }
