"""Repeated tempIds on the send path: a client's retry gives back the stored message.

Found without a query in the common case: this node remembers its recent sends
(`RecentSends`), and sends of one tempId within a batch are merged (`merge_repeats`).
A retry this node does not remember (another node, a restart) is refused by the unique
(senderId, clientMessageId) index at insert instead (group_commit.py).
"""

from __future__ import annotations

from bson import ObjectId

from safechat.models.message import StoredMessage
from safechat.repositories.messages import MessageRepository
from safechat.services.messages.drafts import Pending

# (senderId, tempId) -> message id of this node's latest sends, to answer retries.
RECENT_TEMP_IDS = 50_000


class RecentSends:
    """This node's latest stored sends by (senderId, tempId), oldest forgotten first."""

    def __init__(self, messages: MessageRepository, capacity: int = RECENT_TEMP_IDS) -> None:
        self._messages = messages
        self._capacity = capacity
        self._ids: dict[tuple[str, str], ObjectId] = {}

    async def earlier(self, live: list[Pending]) -> dict[tuple[str, str], StoredMessage]:
        """Messages this node stored lately under the same tempIds (a client's retry).

        Memory, not a query per batch: retries are rare, and a retry this node does not
        remember (another node, a restart) is still caught by the unique index at insert.
        """
        ids = {k: self._ids[k] for p in live if (k := p.draft.key) in self._ids}
        if not ids:
            return {}
        found = await self._messages.get_many(list(ids.values()))
        return {k: found[i] for k, i in ids.items() if i in found}

    def remember(self, message: StoredMessage) -> None:
        if message.client_message_id is None:
            return
        if len(self._ids) >= self._capacity:
            del self._ids[next(iter(self._ids))]  # the oldest
        self._ids[(message.sender_id, message.client_message_id)] = message.id


def merge_repeats(batch: list[Pending]) -> list[Pending]:
    """Collapses sends of the same tempId within the batch onto the first one."""
    firsts: dict[tuple[str, str], Pending] = {}
    live: list[Pending] = []
    for p in batch:
        key = p.draft.key
        if key is not None and key in firsts:
            firsts[key].followers.append(p)
            continue
        if key is not None:
            firsts[key] = p
        live.append(p)
    return live
