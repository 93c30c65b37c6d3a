"""The `read_state` collection: (groupId, userId) -> lastReadSeq high-water mark.

`readByThrough`: every message of the group up to this seq has the user in its `readBy`
(or is their own), so "mark read up to N" only has to look at the seqs after it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bson import ObjectId
from pymongo import UpdateOne

from safechat.repositories.db import Database


class ReadStateRepository:
    def __init__(self, db: Database) -> None:
        self._c = db.collection("read_state")

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
            {"$max": marks, "$set": {"updatedAt": now}},
            upsert=True,
        )

    async def read_by_through(self, group_id: ObjectId, user_id: str) -> int:
        doc = await self._c.find_one({"groupId": group_id, "userId": user_id}, {"readByThrough": 1})
        return int(doc.get("readByThrough", 0)) if doc else 0

    async def advance_many(self, group_id: ObjectId, marks: dict[str, int], now: datetime) -> None:
        """`advance` for several users of one group in one round trip."""
        if not marks:
            return
        await self._c.bulk_write(
            [
                UpdateOne(
                    {"groupId": group_id, "userId": user_id},
                    {"$max": {"lastReadSeq": seq}, "$set": {"updatedAt": now}},
                    upsert=True,
                )
                for user_id, seq in marks.items()
            ],
            ordered=False,
        )

    async def for_user(self, user_id: str, group_ids: list[ObjectId]) -> dict[str, int]:
        cursor = self._c.find({"userId": user_id, "groupId": {"$in": group_ids}})
        return {str(d["groupId"]): int(d.get("lastReadSeq", 0)) async for d in cursor}

    async def all_for_user(self, user_id: str) -> dict[str, int]:
        """groupId -> lastReadSeq for every group the user has a mark in."""
        cursor = self._c.find({"userId": user_id}, {"groupId": 1, "lastReadSeq": 1})
        return {str(d["groupId"]): int(d.get("lastReadSeq", 0)) async for d in cursor}

    async def delete_user(self, user_id: str) -> int:
        result = await self._c.delete_many({"userId": user_id})
        return result.deleted_count

    # --- per-user settings of a conversation (protocol §8 muting) ---------------
    # They live beside the read marks: the summaries read this document anyway.

    async def for_user_with_mutes(
        self, user_id: str, group_ids: list[ObjectId]
    ) -> tuple[dict[str, int], dict[str, Mute]]:
        """`for_user` and the user's mutes of those groups, in the same one query."""
        cursor = self._c.find({"userId": user_id, "groupId": {"$in": group_ids}})
        marks: dict[str, int] = {}
        mutes: dict[str, Mute] = {}
        async for d in cursor:
            gid = str(d["groupId"])
            marks[gid] = int(d.get("lastReadSeq", 0))
            if d.get("muted"):
                mutes[gid] = Mute(_aware(d.get("mutedUntil")))
        return marks, mutes

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


def _aware(value: datetime | None) -> datetime | None:
    # PyMongo hands back naive UTC datetimes unless the client is tz-aware.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
