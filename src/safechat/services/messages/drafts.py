"""Drafts: validated messages waiting for their seq, and the documents stored for them.

The send path makes a Draft; GroupCommit queues it as a Pending, gives it a seq and
stores `new_message`, or a `placeholder` when the message itself could not be stored
(so seqs have no gaps).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bson import ObjectId

from safechat.models.message import StoredMessage


@dataclass(slots=True)
class Draft:
    """A validated message waiting for its seq. `text` is the plaintext, never stored."""

    sender_id: str
    group_id: ObjectId
    content: Any
    text: str
    type: str = "text"
    temp_id: str | None = None
    reply_to: ObjectId | None = None
    media: dict[str, Any] | None = None
    moderation: dict[str, Any] | None = None
    mentions: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str] | None:
        return (self.sender_id, self.temp_id) if self.temp_id is not None else None


@dataclass(frozen=True, slots=True)
class ThreadState:
    """A thread parent's counters right after a batch's replies were counted."""

    parent_id: ObjectId
    reply_count: int
    last_reply_at: datetime


@dataclass(frozen=True, slots=True)
class Stored:
    message: StoredMessage
    duplicate: bool
    # Set on the last reply to each parent in a batch, so one event announces the batch.
    thread: ThreadState | None = None


def new_message(draft: Draft, seq: int, now: datetime, *, hook: bool = False) -> StoredMessage:
    """The stored document of `draft` under its reserved seq; `hook`: with its
    notification webhooks pending (when webhooks are on)."""
    return StoredMessage(
        id=ObjectId(),
        group_id=draft.group_id,
        seq=seq,
        sender_id=draft.sender_id,
        type=draft.type,
        content=draft.content,
        created_at=now,
        updated_at=now,
        client_message_id=draft.temp_id,
        reply_to=draft.reply_to,
        media=draft.media,
        moderation=draft.moderation,
        hook_pending=hook,
        mentions=list(draft.mentions),
    )


def placeholder(message: StoredMessage, now: datetime) -> StoredMessage:
    """A deleted system message holding a seq whose message was not stored."""
    return StoredMessage(
        id=ObjectId(),
        group_id=message.group_id,
        seq=message.seq,
        sender_id="system",
        type="system",
        content="",
        created_at=now,
        updated_at=now,
        is_deleted=True,
        deleted_at=now,
        deleted_by="system",
    )


@dataclass(slots=True)
class Pending:
    """A draft in its group's queue, and the send waiting for its outcome."""

    draft: Draft
    future: asyncio.Future[Stored]
    arrived: float  # the clock's monotonic time
    # Later sends of the same tempId in the same batch: they get this one's outcome.
    followers: list[Pending] = field(default_factory=list)

    def succeed(
        self, message: StoredMessage, *, duplicate: bool, thread: ThreadState | None = None
    ) -> None:
        if not self.future.done():
            self.future.set_result(Stored(message, duplicate, thread))
        for f in self.followers:
            f.succeed(message, duplicate=True)

    def fail(self, exc: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(exc)
        for f in self.followers:
            f.fail(exc)
