"""An in-memory MessageRepository with the unique indexes of the real collection."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bson import ObjectId

from safechat.errors import DuplicateKey
from safechat.models.message import StoredMessage
from tests.helpers.fakes.faults import Faults, faulty

Doc = dict[str, Any]


def _unique_keys(m: StoredMessage) -> list[tuple[Any, ...]]:
    """The keys of the collection's unique indexes (repositories/db.py INDEXES)."""
    keys: list[tuple[Any, ...]] = [("group_seq", m.group_id, m.seq)]
    if isinstance(m.client_message_id, str):
        keys.append(("sender_client_id", m.sender_id, m.client_message_id))
    if m.media is not None and isinstance(m.media.get("mediaId"), str):
        keys.append(("media_id", m.media["mediaId"]))
    return keys


class FakeMessageRepository(Faults):
    def __init__(self) -> None:
        super().__init__()
        self.docs: dict[ObjectId, StoredMessage] = {}
        # A write error other than a duplicate key for the messages it is true of (as a
        # document failing validation): `insert_batch` reports them False.
        self.reject: Callable[[StoredMessage], bool] = lambda _m: False

    # --- for tests ----------------------------------------------------------------------

    def in_group(self, group_id: ObjectId) -> list[StoredMessage]:
        """Everything stored in the group, in seq order."""
        return sorted((m for m in self.docs.values() if m.group_id == group_id), key=_seq)

    def _taken(self) -> set[tuple[Any, ...]]:
        return {k for m in self.docs.values() for k in _unique_keys(m)}

    def _store(self, message: StoredMessage) -> bool:
        if set(_unique_keys(message)) & self._taken():
            return False
        self.docs[message.id] = copy.deepcopy(message)
        return True

    def _live(self, message_id: ObjectId) -> StoredMessage | None:
        m = self.docs.get(message_id)
        return m if m is not None and not m.is_deleted else None

    # --- MessageRepository --------------------------------------------------------------

    @faulty
    async def insert(self, message: StoredMessage) -> None:
        if not self._store(message):
            raise DuplicateKey("message")

    @faulty
    async def insert_batch(self, messages: list[StoredMessage]) -> dict[int, bool]:
        # Unordered insert_many: each stands alone, in order, against what is stored
        # so far (an earlier message of the same batch included).
        failed: dict[int, bool] = {}
        for i, m in enumerate(messages):
            if self.reject(m):
                failed[i] = False
            elif not self._store(m):
                failed[i] = True
        return failed

    @faulty
    async def get(self, message_id: ObjectId) -> StoredMessage | None:
        return copy.deepcopy(self.docs.get(message_id))

    @faulty
    async def get_many(self, ids: list[ObjectId]) -> dict[ObjectId, StoredMessage]:
        return {i: copy.deepcopy(self.docs[i]) for i in ids if i in self.docs}

    @faulty
    async def by_client_ids(
        self, keys: list[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredMessage]:
        wanted = set(keys)
        return {
            (m.sender_id, m.client_message_id): copy.deepcopy(m)
            for m in self.docs.values()
            if m.client_message_id is not None and (m.sender_id, m.client_message_id) in wanted
        }

    @faulty
    async def page(
        self,
        group_id: ObjectId,
        limit: int,
        *,
        last_seq: int,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> list[StoredMessage]:
        found = self.in_group(group_id)
        if after_seq is not None:
            found = [m for m in found if m.seq > after_seq]
            return copy.deepcopy(found[:limit] if limit else found)  # limit 0: no limit
        if before_seq is not None:
            found = [m for m in found if m.seq < before_seq]
        return copy.deepcopy(found[-limit:] if limit else found)

    @faulty
    async def updated_since(
        self, group_id: ObjectId, max_seq: int, since: datetime, limit: int
    ) -> list[StoredMessage]:
        found = [m for m in self.in_group(group_id) if m.seq <= max_seq and m.updated_at >= since]
        found = found[:limit] if limit else found
        return copy.deepcopy([m for m in found if m.updated_at > m.created_at])

    @faulty
    async def by_seq(self, group_id: ObjectId, seq: int) -> StoredMessage | None:
        found = [m for m in self.in_group(group_id) if m.seq == seq]
        return copy.deepcopy(found[0]) if found else None

    @faulty
    async def latest(self, last_seqs: dict[ObjectId, int]) -> dict[str, StoredMessage]:
        out = {}
        for gid in last_seqs:
            if found := self.in_group(gid):
                out[str(gid)] = copy.deepcopy(found[-1])
        return out

    @faulty
    async def edit(
        self,
        message_id: ObjectId,
        sender_id: str,
        new_content: Any,
        previous: Doc,
        now: datetime,
        moderation: Doc | None = None,
    ) -> StoredMessage | None:
        m = self._live(message_id)
        if m is None or m.sender_id != sender_id:
            return None
        m.content, m.edited_at, m.updated_at = new_content, now, now
        m.edit_history.append(copy.deepcopy(previous))
        m.moderation = moderation
        return copy.deepcopy(m)

    @faulty
    async def soft_delete(
        self, message_id: ObjectId, deleted_by: str, now: datetime
    ) -> StoredMessage | None:
        m = self._live(message_id)
        if m is None:
            return None
        m.is_deleted, m.deleted_at, m.deleted_by = True, now, deleted_by
        m.content, m.edit_history, m.reactions, m.updated_at = "", [], {}, now
        return copy.deepcopy(m)

    @faulty
    async def toggle_reaction(
        self, message_id: ObjectId, emoji: str, user_id: str, now: datetime, max_keys: int
    ) -> tuple[str, StoredMessage | None]:
        m = self._live(message_id)
        if m is None:
            return "gone", None
        holders = m.reactions.get(emoji, [])
        if user_id in holders:
            holders.remove(user_id)
            if not holders:
                del m.reactions[emoji]
            m.updated_at = now
            return "removed", copy.deepcopy(m)
        if not holders and sum(1 for v in m.reactions.values() if v) >= max_keys:
            return "full", None
        m.reactions.setdefault(emoji, []).append(user_id)
        m.updated_at = now
        return "added", copy.deepcopy(m)

    @faulty
    async def unread_by(
        self, group_id: ObjectId, user_id: str, ids: list[ObjectId]
    ) -> list[tuple[ObjectId, int]]:
        return [(m.id, m.seq) for m in self._unread(group_id, user_id) if m.id in ids]

    @faulty
    async def unread_between(
        self, group_id: ObjectId, user_id: str, after_seq: int, up_to_seq: int
    ) -> tuple[list[tuple[ObjectId, int]], int]:
        unread = [
            (m.id, m.seq) for m in self._unread(group_id, user_id) if after_seq < m.seq <= up_to_seq
        ]
        present = {m.seq for m in self.in_group(group_id)}
        through = after_seq
        while through < up_to_seq and through + 1 in present:
            through += 1
        return unread, through

    def _unread(self, group_id: ObjectId, user_id: str) -> list[StoredMessage]:
        return [
            m
            for m in self.in_group(group_id)
            if m.sender_id != user_id and all(r["userId"] != user_id for r in m.read_by)
        ]

    @faulty
    async def add_reads(self, ids: list[ObjectId], user_id: str, now: datetime) -> None:
        for i in ids:
            m = self.docs.get(i)
            if m is not None and all(r["userId"] != user_id for r in m.read_by):
                m.read_by.append({"userId": user_id, "readAt": now})

    @faulty
    async def max_seq(self, group_id: ObjectId, ids: list[ObjectId]) -> int:
        return max((m.seq for m in self.in_group(group_id) if m.id in ids), default=0)


def _seq(m: StoredMessage) -> int:
    return m.seq
