"""Group bans: details in `group_bans`, the banned ids on the group document (`bannedIds`)
so that joins and adds refuse them in their own atomic write (repositories/groups.py)."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId

from safechat.repositories.db import Database, Doc


class BanRepository:
    def __init__(self, db: Database) -> None:
        self._bans = db.collection("group_bans")
        self._groups = db.collection("groups")

    async def put(
        self,
        group_id: ObjectId,
        user_id: str,
        *,
        by: str,
        reason: str | None,
        until: datetime | None,
        now: datetime,
    ) -> None:
        """Bans (or re-bans with new terms). The details are written first: a crash
        before the id reaches the group leaves an unenforced ban, never an enforced one
        nobody can see or lift."""
        await self._bans.update_one(
            {"groupId": group_id, "userId": user_id},
            {
                "$set": {"reason": reason, "until": until, "bannedBy": by, "createdAt": now},
                "$setOnInsert": {"groupId": group_id, "userId": user_id},
            },
            upsert=True,
        )
        await self._groups.update_one(
            {"_id": group_id}, {"$addToSet": {"bannedIds": user_id}, "$set": {"updatedAt": now}}
        )

    async def get(self, group_id: ObjectId, user_id: str) -> Doc | None:
        return await self._bans.find_one({"groupId": group_id, "userId": user_id})

    async def lift(self, group_id: ObjectId, user_id: str) -> bool:
        """Ends a ban; True when there was one. The details go first (see `put`)."""
        result = await self._bans.delete_one({"groupId": group_id, "userId": user_id})
        await self._groups.update_one({"_id": group_id}, {"$pull": {"bannedIds": user_id}})
        return result.deleted_count > 0

    async def of_group(self, group_id: ObjectId, limit: int = 1000) -> list[Doc]:
        cursor = self._bans.find({"groupId": group_id}).sort("createdAt", -1).limit(limit)
        return [d async for d in cursor]
