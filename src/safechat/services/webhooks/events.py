"""What the services tell the outbox: one call after the write it announces returned,
before the triggering request is answered (so an answered change is never unnotified).

`message.new` and `mention.new` are not queued here: a sent message carries its pending
webhooks in its own document (see the worker), written by the group commit's insert.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, Protocol

from safechat.models.common import iso
from safechat.models.message import StoredMessage
from safechat.repositories.webhooks import OutboxRepository
from safechat.services.ports import Clock

Kind = Literal[
    "message.new",
    "message.updated",
    "message.deleted",
    "mention.new",
    "member.added",
    "member.removed",
]


class WebhookEvents(Protocol):
    async def record(self, kind: Kind, data: dict[str, Any]) -> None: ...


class NoWebhooks:
    """Webhooks not configured: nothing is queued."""

    async def record(self, kind: Kind, data: dict[str, Any]) -> None:
        return None


def message_change(message: StoredMessage, group_id: str, by: str) -> dict[str, Any]:
    """The data of `message.updated` / `message.deleted`: ids only, never content."""
    return {
        "groupId": group_id,
        "messageId": str(message.id),
        "seq": message.seq,
        "senderId": message.sender_id,
        "by": by,
    }


def entry(delivery_id: str, kind: Kind, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "_id": delivery_id,
        "event": kind,
        "data": data,
        "state": "pending",
        "attempts": 0,
        "dueAt": now,
        "createdAt": now,
        "createdAtIso": iso(now),
    }


class OutboxEvents:
    def __init__(self, outbox: OutboxRepository, clock: Clock) -> None:
        self._outbox = outbox
        self._clock = clock

    async def record(self, kind: Kind, data: dict[str, Any]) -> None:
        await self._outbox.add_many([entry(uuid.uuid4().hex, kind, data, self._clock.now())])
