"""In-memory users, read state and audit log."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bson import ObjectId

from safechat.errors import Conflict, DuplicateKey
from safechat.models.user import User
from safechat.repositories.read_state import Mute, UserGroupState
from tests.helpers.fakes.clock import START
from tests.helpers.fakes.faults import Faults, faulty

Doc = dict[str, Any]


class FakeUserRepository(Faults):
    """Users by clerkId, with the unique username of the real collection."""

    def __init__(self) -> None:
        super().__init__()
        self.docs: dict[str, Doc] = {}

    def seed(self, user_id: str, now: datetime = START, **fields: Any) -> User:
        """A user who has signed in once (camelCase fields, as stored)."""
        self.docs[user_id] = {"clerkId": user_id, "createdAt": now, "isActive": True, **fields}
        return User.from_doc(self.docs[user_id])

    def _username_taken(self, user_id: str, fields: Doc) -> bool:
        name = fields.get("username")
        return isinstance(name, str) and any(
            d.get("username") == name for uid, d in self.docs.items() if uid != user_id
        )

    @faulty
    async def upsert(self, user_id: str, fields: Doc, now: datetime) -> User:
        if self._username_taken(user_id, fields):
            raise DuplicateKey("username")
        doc = self.docs.setdefault(user_id, {"clerkId": user_id, "createdAt": now})
        doc.update({**copy.deepcopy(fields), "isActive": True, "lastSeen": now, "updatedAt": now})
        return User.from_doc(doc)

    @faulty
    async def get(self, user_id: str) -> User | None:
        doc = self.docs.get(user_id)
        return User.from_doc(doc) if doc else None

    @faulty
    async def get_current(self, user_id: str) -> User | None:
        return await self.get(user_id)  # no directory keys kept here

    @faulty
    async def get_many(self, user_ids: Iterable[str]) -> dict[str, User]:
        return {u: User.from_doc(self.docs[u]) for u in set(user_ids) if u in self.docs}

    @faulty
    async def existing_ids(self, user_ids: Iterable[str]) -> set[str]:
        return {u for u in set(user_ids) if u in self.docs}

    @faulty
    async def update_profile(self, user_id: str, fields: Doc, now: datetime) -> User | None:
        if self._username_taken(user_id, fields):
            raise Conflict("That username is taken")
        doc = self.docs.get(user_id)
        if doc is None:
            return None
        doc.update({**copy.deepcopy(fields), "updatedAt": now})
        return User.from_doc(doc)

    @faulty
    async def touch_last_seen(self, user_id: str, now: datetime) -> None:
        if user_id in self.docs:
            self.docs[user_id]["lastSeen"] = now

    @faulty
    async def seen_many(self, seen: list[tuple[str, datetime]]) -> None:
        for user_id, at in seen:
            doc = self.docs.get(user_id)
            if doc is not None and (doc.get("lastSeen") is None or doc["lastSeen"] < at):
                doc["lastSeen"] = at


class FakeReadStateRepository(Faults):
    """(groupId, userId) -> lastReadSeq; marks only move forward, as with `$max`."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: dict[tuple[ObjectId, str], int] = {}
        self.read_by: dict[tuple[ObjectId, str], int] = {}
        self.mention_seqs: dict[tuple[ObjectId, str], list[int]] = {}
        self.mutes: dict[tuple[ObjectId, str], Mute] = {}

    @faulty
    async def advance(
        self,
        group_id: ObjectId,
        user_id: str,
        seq: int,
        now: datetime,
        *,
        read_by_through: int | None = None,
    ) -> None:
        key = (group_id, user_id)
        self.marks[key] = max(self.marks.get(key, seq), seq)
        if read_by_through is not None:
            self.read_by[key] = max(self.read_by.get(key, 0), read_by_through)

    @faulty
    async def read_by_through(self, group_id: ObjectId, user_id: str) -> int:
        return self.read_by.get((group_id, user_id), 0)

    @faulty
    async def advance_many(
        self,
        group_id: ObjectId,
        marks: dict[str, int],
        now: datetime,
        *,
        mentions: dict[str, list[int]] | None = None,
    ) -> None:
        for user_id, seq in marks.items():
            key = (group_id, user_id)
            self.marks[key] = max(self.marks.get(key, seq), seq)
        for user_id, seqs in (mentions or {}).items():
            self.mention_seqs.setdefault((group_id, user_id), []).extend(seqs)

    @faulty
    async def for_user(self, user_id: str, group_ids: list[ObjectId]) -> dict[str, int]:
        return {str(g): self.marks[(g, user_id)] for g in group_ids if (g, user_id) in self.marks}

    @faulty
    async def states_for_user(
        self, user_id: str, group_ids: list[ObjectId]
    ) -> dict[str, UserGroupState]:
        found: dict[str, UserGroupState] = {}
        for g in group_ids:
            key = (g, user_id)
            if key in self.marks or key in self.mention_seqs or key in self.mutes:
                mark = self.marks.get(key, 0)
                unread = sum(1 for s in self.mention_seqs.get(key, []) if s > mark)
                found[str(g)] = UserGroupState(mark, unread, self.mutes.get(key))
        return found

    @faulty
    async def set_mute(
        self, group_id: ObjectId, user_id: str, muted: bool, until: datetime | None, now: datetime
    ) -> None:
        if muted:
            self.mutes[(group_id, user_id)] = Mute(until)
        else:
            self.mutes.pop((group_id, user_id), None)

    @faulty
    async def muted_user_ids(self, group_id: ObjectId, now: datetime) -> set[str]:
        return {u for (g, u), m in self.mutes.items() if g == group_id and m.at(now)}


class FakeAuditRepository(Faults):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[Doc] = []

    @faulty
    async def record(
        self,
        action: str,
        actor_id: str | None,
        now: datetime,
        *,
        group_id: ObjectId | None = None,
        target_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.events.append(
            {
                "action": action,
                "actorId": actor_id,
                "groupId": group_id,
                "targetId": target_id,
                "details": details or {},
                "at": now,
            }
        )

    @faulty
    async def for_group(self, group_id: ObjectId, limit: int = 100) -> list[Doc]:
        found = [e for e in reversed(self.events) if e["groupId"] == group_id]
        return found[:limit]

    def actions(self) -> list[str]:
        return [e["action"] for e in self.events]
