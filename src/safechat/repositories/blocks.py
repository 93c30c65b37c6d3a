"""The `blocks` collection: who blocked whom (protocol §8)."""

from __future__ import annotations

from datetime import datetime

from pymongo.errors import DuplicateKeyError

from safechat.repositories.db import Database, Doc

MAX_LISTED = 1000


class BlockRepository:
    def __init__(self, db: Database) -> None:
        self._c = db.collection("blocks")

    async def add(self, blocker: str, blocked: str, now: datetime) -> bool:
        """True when the block is new (a repeat is a no-op)."""
        try:
            result = await self._c.update_one(
                {"blockerId": blocker, "blockedId": blocked},
                {"$setOnInsert": {"blockerId": blocker, "blockedId": blocked, "createdAt": now}},
                upsert=True,
            )
        except DuplicateKeyError:  # a concurrent identical block won
            return False
        return result.upserted_id is not None

    async def remove(self, blocker: str, blocked: str) -> bool:
        result = await self._c.delete_one({"blockerId": blocker, "blockedId": blocked})
        return result.deleted_count > 0

    async def by(self, blocker: str) -> list[Doc]:
        cursor = self._c.find({"blockerId": blocker}).sort("createdAt", -1).limit(MAX_LISTED)
        return [d async for d in cursor]

    async def blockers_of(self, user_id: str) -> set[str]:
        """Everyone who blocked `user_id` (the directory hides them from that user)."""
        cursor = self._c.find({"blockedId": user_id}, {"blockerId": 1})
        return {d["blockerId"] async for d in cursor}

    async def blocked_within(self, a: str, b: str) -> list[str]:
        """Which of the two is blocked by the other (0, 1 or both)."""
        cursor = self._c.find(
            {"$or": [{"blockerId": a, "blockedId": b}, {"blockerId": b, "blockedId": a}]},
            {"blockedId": 1},
        )
        return sorted({d["blockedId"] async for d in cursor})

    async def has(self, blocker: str, blocked: str) -> bool:
        doc = await self._c.find_one({"blockerId": blocker, "blockedId": blocked}, {"_id": 1})
        return doc is not None

    async def delete_by(self, blocker: str) -> int:
        """Account erasure: the blocks this user made."""
        result = await self._c.delete_many({"blockerId": blocker})
        return result.deleted_count
