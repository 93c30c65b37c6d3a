"""The `audit_events` collection: security-relevant actions, never content."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId

from safechat.repositories.db import Database


class AuditRepository:
    def __init__(self, db: Database) -> None:
        self._c = db.collection("audit_events")

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
        await self._c.insert_one(
            {
                "action": action,
                "actorId": actor_id,
                "groupId": group_id,
                "targetId": target_id,
                "details": details or {},
                "at": now,
            }
        )

    async def for_group(self, group_id: ObjectId, limit: int = 100) -> list[dict[str, Any]]:
        cursor = self._c.find({"groupId": group_id}).sort("at", -1).limit(limit)
        return [d async for d in cursor]
