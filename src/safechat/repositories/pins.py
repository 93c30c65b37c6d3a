"""The `pins` collection: one document per group, `{_id: groupId, pins: [{messageId,
pinnedBy, pinnedAt}]}`, so the cap is one atomic condition of one update."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from safechat.repositories.db import Database, Doc

PinOutcome = Literal["pinned", "exists", "full"]
# A refused pin is told apart (already pinned, or full) by one read; an unpin between
# the write and that read makes it neither, and the pin is tried again.
ATTEMPTS = 3


class PinRepository:
    def __init__(self, db: Database) -> None:
        self._c = db.collection("pins", durable=True)

    async def pin(
        self, group_id: ObjectId, message_id: ObjectId, by: str, now: datetime, cap: int
    ) -> tuple[PinOutcome, Doc | None]:
        """Adds the pin while the message is not pinned and the group holds fewer than
        `cap`: both are the update's filter, so concurrent pins never overshoot. With
        upsert, a filter that misses an existing document is a duplicate `_id`."""
        entry = {"messageId": message_id, "pinnedBy": by, "pinnedAt": now}
        for _ in range(ATTEMPTS):
            try:
                await self._c.find_one_and_update(
                    {
                        "_id": group_id,
                        "pins.messageId": {"$ne": message_id},
                        f"pins.{cap - 1}": {"$exists": False},
                    },
                    {"$push": {"pins": entry}},
                    upsert=True,
                    projection={"_id": 1},
                    return_document=ReturnDocument.AFTER,
                )
                return "pinned", entry
            except DuplicateKeyError:
                pass
            pins = await self.list(group_id)
            existing = next((p for p in pins if p["messageId"] == message_id), None)
            if existing is not None:
                return "exists", existing
            if len(pins) >= cap:
                return "full", None
        return "full", None

    async def unpin(self, group_id: ObjectId, message_id: ObjectId) -> bool:
        result = await self._c.update_one(
            {"_id": group_id, "pins.messageId": message_id},
            {"$pull": {"pins": {"messageId": message_id}}},
        )
        return result.modified_count == 1

    async def list(self, group_id: ObjectId) -> list[Doc]:
        """The group's pins, oldest first."""
        doc = await self._c.find_one({"_id": group_id})
        return list(doc.get("pins") or []) if doc else []
