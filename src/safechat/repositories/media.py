"""The `media` collection: one document per upload, from presign/upload to attach."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from safechat.models.media import MediaStatus, StoredMedia
from safechat.repositories.db import Database

UNATTACHED: list[MediaStatus] = ["pending", "ready"]


class MediaRepository:
    def __init__(self, db: Database) -> None:
        self._c = db.collection("media", durable=True)

    async def insert(self, media: StoredMedia) -> None:
        await self._c.insert_one(media.to_doc())

    async def get(self, media_id: ObjectId) -> StoredMedia | None:
        doc = await self._c.find_one({"_id": media_id})
        return StoredMedia.from_doc(doc) if doc else None

    async def find_many(self, ids: list[ObjectId]) -> dict[ObjectId, StoredMedia]:
        """The records among `ids` that exist (one query, for the file sweep)."""
        if not ids:
            return {}
        found = self._c.find({"_id": {"$in": ids}})
        return {d["_id"]: StoredMedia.from_doc(d) async for d in found}

    async def mark_ready(
        self, media_id: ObjectId, fields: dict[str, Any], now: datetime
    ) -> StoredMedia | None:
        """pending -> ready with what was learnt from the bytes; None if not pending."""
        doc = await self._c.find_one_and_update(
            {"_id": media_id, "status": "pending"},
            {"$set": {**fields, "status": "ready", "updatedAt": now}, "$unset": {"uploadKey": ""}},
            return_document=ReturnDocument.AFTER,
        )
        return StoredMedia.from_doc(doc) if doc else None

    async def attach(self, media_id: ObjectId, message_id: ObjectId, now: datetime) -> bool:
        """ready -> attached, once."""
        result = await self._c.update_one(
            {"_id": media_id, "status": "ready"},
            {"$set": {"status": "attached", "messageId": message_id, "updatedAt": now}},
        )
        return result.modified_count == 1

    async def unattached_before(self, cutoff: datetime, limit: int) -> list[StoredMedia]:
        cursor = (
            self._c.find({"status": {"$in": UNATTACHED}, "createdAt": {"$lt": cutoff}})
            .sort("createdAt", 1)
            .limit(limit)
        )
        return [StoredMedia.from_doc(d) async for d in cursor]

    async def remove_unattached(self, media_id: ObjectId) -> bool:
        """Deletes the record unless it was attached meanwhile (then the message wins)."""
        result = await self._c.delete_one({"_id": media_id, "status": {"$in": UNATTACHED}})
        return result.deleted_count == 1

    async def by_owner(
        self, owner_id: str, after: ObjectId | None, limit: int
    ) -> list[StoredMedia]:
        """The user's uploads, attached or not, in id order."""
        query: dict[str, Any] = {"ownerId": owner_id}
        if after is not None:
            query["_id"] = {"$gt": after}
        cursor = self._c.find(query).sort("_id", 1).limit(limit)
        return [StoredMedia.from_doc(d) async for d in cursor]

    async def remove(self, media_id: ObjectId) -> bool:
        """Deletes the record whatever its state (the account is being erased)."""
        result = await self._c.delete_one({"_id": media_id})
        return result.deleted_count == 1
