"""The `read_state` collection: (groupId, userId) -> lastReadSeq high-water mark.

`readByThrough`: every message of the group up to this seq has the user in its `readBy`
(or is their own), so "mark read up to N" only has to look at the seqs after it.

`mentionSeqs`: the seqs of the group's messages that mention the user, pushed by the group
commit in the same round trip as the senders' marks and pruned up to the mark whenever it
moves here; `unreadMentions` counts those above `lastReadSeq`, from the document the
group list reads anyway (no query per group, no history scan)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bson import ObjectId
from pymongo import UpdateOne

from safechat.repositories.db import Database
from safechat.repositories.marks_behind import Key, MarksBehind

# Seqs kept per (group, user) at most: a conversation never read keeps its newest ones,
# so unreadMentions counts up to this many (documented in docs/protocol.md).
MAX_MENTION_SEQS = 500

# Operations per command of a background write (docs/performance.md).
BACKGROUND_CHUNK = 8


class ReadStateRepository:
    def __init__(self, db: Database) -> None:
        self._c = db.collection("read_state")
        self._writes = db.collection("read_state", writes=True)
        self._turns = db.turns
        self._behind = MarksBehind(self._write_behind)

    async def advance_behind(
        self, group_id: ObjectId, marks: dict[str, int], now: datetime
    ) -> None:
        """`advance_many` without mentions, written after this returns, coalesced
        (marks_behind.py); this node's reads see the marks at once."""
        await self._behind.add(group_id, marks, now)

    async def flush_behind(self) -> None:
        """Writes the marks `advance_behind` took (a background tick, and the shutdown)."""
        await self._behind.flush()

    async def close_behind(self) -> None:
        """At shutdown: everything not yet written."""
        await self._behind.flush(until_empty=True)

    async def _write_behind(self, marks: dict[Key, tuple[int, datetime]]) -> None:
        ops = [
            UpdateOne(
                {"groupId": group_id, "userId": user_id},
                {"$max": {"lastReadSeq": seq}, "$set": {"updatedAt": now}},
                upsert=True,
            )
            for (group_id, user_id), (seq, now) in marks.items()
        ]
        # In short commands: the embedded database serves one at a time, and a send's
        # insert should not queue behind hundreds of upserts (~1.5 ms each there).
        for start in range(0, len(ops), BACKGROUND_CHUNK):
            await self._turns.background()
            await self._writes.bulk_write(ops[start : start + BACKGROUND_CHUNK], ordered=False)

    async def advance(
        self,
        group_id: ObjectId,
        user_id: str,
        seq: int,
        now: datetime,
        *,
        read_by_through: int | None = None,
    ) -> None:
        """Moves the marks forward only ($max), so late or repeated reads are harmless."""
        marks = {"lastReadSeq": seq}
        if read_by_through is not None:
            marks["readByThrough"] = read_by_through
        await self._c.update_one(
            {"groupId": group_id, "userId": user_id},
            # Mentions at or below the new mark are read: dropped, so the list stays short.
            {"$max": marks, "$set": {"updatedAt": now}, "$pull": {"mentionSeqs": {"$lte": seq}}},
            upsert=True,
        )

    async def read_by_through(self, group_id: ObjectId, user_id: str) -> int:
        doc = await self._c.find_one({"groupId": group_id, "userId": user_id}, {"readByThrough": 1})
        return int(doc.get("readByThrough", 0)) if doc else 0

    async def advance_many(
        self,
        group_id: ObjectId,
        marks: dict[str, int],
        now: datetime,
        *,
        mentions: dict[str, list[int]] | None = None,
    ) -> None:
        """`advance` for several users of one group in one round trip, which also records
        `mentions` (user -> seqs of messages mentioning them)."""
        ops = [
            UpdateOne(
                {"groupId": group_id, "userId": user_id},
                {"$max": {"lastReadSeq": seq}, "$set": {"updatedAt": now}},
                upsert=True,
            )
            for user_id, seq in marks.items()
        ]
        ops += [
            UpdateOne(
                {"groupId": group_id, "userId": user_id},
                {"$push": {"mentionSeqs": {"$each": seqs, "$slice": -MAX_MENTION_SEQS}}},
                upsert=True,
            )
            for user_id, seqs in (mentions or {}).items()
        ]
        if ops:
            await self._c.bulk_write(ops, ordered=False)

    async def for_user(self, user_id: str, group_ids: list[ObjectId]) -> dict[str, int]:
        cursor = self._c.find({"userId": user_id, "groupId": {"$in": group_ids}})
        found = {str(d["groupId"]): int(d.get("lastReadSeq", 0)) async for d in cursor}
        for gid, seq in self._behind.marks_of(user_id).items():
            if gid in group_ids:
                found[str(gid)] = max(found.get(str(gid), 0), seq)
        return found

    async def all_for_user(self, user_id: str) -> dict[str, UserGroupState]:
        """groupId -> the user's mark and mute, for every group they have a record in
        (or a mark still behind)."""
        cursor = self._c.find(
            {"userId": user_id}, {"groupId": 1, "lastReadSeq": 1, "muted": 1, "mutedUntil": 1}
        )
        found: dict[str, UserGroupState] = {}
        behind = self._behind.marks_of(user_id)
        async for d in cursor:
            mute = Mute(_aware(d.get("mutedUntil"))) if d.get("muted") else None
            mark = max(int(d.get("lastReadSeq", 0)), behind.pop(d["groupId"], 0))
            found[str(d["groupId"])] = UserGroupState(mark, 0, mute)
        for gid, seq in behind.items():  # no document yet
            found[str(gid)] = UserGroupState(seq)
        return found

    async def delete_user(self, user_id: str) -> int:
        # Marks still behind would re-create what this deletes.
        await self._behind.flush()
        self._behind.forget(user_id)
        result = await self._c.delete_many({"userId": user_id})
        return result.deleted_count

    # --- per-user settings of a conversation (protocol §8 muting) ---------------
    # They live beside the read marks: the summaries read this document anyway.

    async def states_for_user(
        self, user_id: str, group_ids: list[ObjectId]
    ) -> dict[str, UserGroupState]:
        """groupId -> the user's read mark, unread mentions and mute, in one query (the
        summaries read this document anyway)."""
        cursor = self._c.find(
            {"userId": user_id, "groupId": {"$in": group_ids}},
            {"groupId": 1, "lastReadSeq": 1, "mentionSeqs": 1, "muted": 1, "mutedUntil": 1},
        )
        found: dict[str, UserGroupState] = {}
        async for d in cursor:
            mark = max(int(d.get("lastReadSeq", 0)), self._behind.mark(d["groupId"], user_id))
            unread = sum(1 for s in d.get("mentionSeqs") or [] if int(s) > mark)
            mute = Mute(_aware(d.get("mutedUntil"))) if d.get("muted") else None
            found[str(d["groupId"])] = UserGroupState(mark, unread, mute)
        for gid, seq in self._behind.marks_of(user_id).items():  # no document yet
            if gid in group_ids and str(gid) not in found:
                found[str(gid)] = UserGroupState(seq)
        return found

    async def set_mute(
        self, group_id: ObjectId, user_id: str, muted: bool, until: datetime | None, now: datetime
    ) -> None:
        await self._c.update_one(
            {"groupId": group_id, "userId": user_id},
            {"$set": {"muted": muted, "mutedUntil": until if muted else None, "updatedAt": now}},
            upsert=True,
        )

    async def muted_user_ids(self, group_id: ObjectId, now: datetime) -> set[str]:
        """Who has the group muted at `now` (the notification webhooks skip them)."""
        cursor = self._c.find({"groupId": group_id, "muted": True}, {"userId": 1, "mutedUntil": 1})
        return {d["userId"] async for d in cursor if Mute(_aware(d.get("mutedUntil"))).at(now)}


@dataclass(frozen=True, slots=True)
class Mute:
    until: datetime | None  # None: until unmuted

    def at(self, now: datetime) -> bool:
        return self.until is None or self.until > now


@dataclass(frozen=True, slots=True)
class UserGroupState:
    """One user's state in one conversation, as the group summaries show it."""

    mark: int = 0
    unread_mentions: int = 0
    mute: Mute | None = None


def _aware(value: datetime | None) -> datetime | None:
    # PyMongo hands back naive UTC datetimes unless the client is tz-aware.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
