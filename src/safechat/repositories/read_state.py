"""The `read_state` collection: (groupId, userId) -> lastReadSeq high-water mark."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId
from pymongo import UpdateOne

from safechat.repositories.db import Database


class ReadStateRepository:
    def __init__(self, db: Database) -> None:
        self._c = db.collection("read_state")

    async def advance(self, group_id: ObjectId, user_id: str, seq: int, now: datetime) -> None:
        """Moves the mark forward only ($max), so late or repeated reads are harmless."""
        await self._c.update_one(
            {"groupId": group_id, "userId": user_id},
            {"$max": {"lastReadSeq": seq}, "$set": {"updatedAt": now}},
            upsert=True,
        )

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
