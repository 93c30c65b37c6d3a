"""The webhook outbox (`webhook_outbox`) and the messages whose webhooks are pending.

An outbox entry is one delivery: `_id` is its delivery id (unique, so a message queued
twice by two nodes is one entry), `state` pending -> delivering -> delivered | failed.
A claim is one atomic find-and-modify that moves `dueAt` to the end of its lease: a
node that dies mid-delivery leaves an entry another node claims again once the lease
has passed (at-least-once).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from bson import ObjectId
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import BulkWriteError

from safechat.repositories.db import Database, Doc

State = Literal["pending", "delivering", "delivered", "failed"]
DUPLICATE_KEY_CODE = 11000

OUTBOX_INDEXES = [IndexModel([("state", ASCENDING), ("dueAt", ASCENDING)], name="state_due")]
# Only when webhooks are on: every message insert would maintain it otherwise.
HOOK_INDEX = IndexModel([("hook", ASCENDING)], name="hook_pending")


class OutboxRepository:
    def __init__(self, db: Database) -> None:
        self._c = db.collection("webhook_outbox", durable=True)
        self._messages = db.collection("messages")
        self._db = db

    async def ensure_indexes(self) -> None:
        await self._c.create_indexes(OUTBOX_INDEXES)
        await self._messages.create_indexes([HOOK_INDEX])

    async def add_many(self, entries: list[Doc]) -> int:
        """Inserts entries; ones whose delivery id exists are skipped. Returns how
        many are new."""
        if not entries:
            return 0
        try:
            result = await self._c.insert_many(entries, ordered=False)
            return len(result.inserted_ids)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if exc.details.get("writeConcernErrors") or any(
                e.get("code") != DUPLICATE_KEY_CODE for e in errors
            ):
                raise
            return len(entries) - len(errors)

    async def claim(self, now: datetime, lease: timedelta, token: str, node: str) -> Doc | None:
        """The oldest due entry, pending or with an expired lease, now this caller's."""
        return await self._c.find_one_and_update(
            {"state": {"$in": ["pending", "delivering"]}, "dueAt": {"$lte": now}},
            {
                "$set": {
                    "state": "delivering",
                    "dueAt": now + lease,
                    "claim": token,
                    "claimNode": node,
                },
                "$inc": {"attempts": 1},
            },
            sort=[("dueAt", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )

    async def finish(
        self,
        delivery_id: str,
        token: str,
        state: State,
        now: datetime,
        *,
        due: datetime | None = None,
        status: int | None = None,
        error: str | None = None,
    ) -> bool:
        """Records an attempt's outcome, unless another claim took the entry over."""
        fields: Doc = {"state": state, "lastStatus": status, "lastError": error, "updatedAt": now}
        fields["dueAt"] = due or now
        if state == "delivered":
            fields["deliveredAt"] = now
        result = await self._c.update_one(
            {"_id": delivery_id, "state": "delivering", "claim": token}, {"$set": fields}
        )
        return result.modified_count == 1

    async def release_node(self, node: str, now: datetime) -> int:
        """Makes due again what an earlier run of `node` was delivering when it died:
        that run is certainly gone, so its leases need not be waited out."""
        result = await self._c.update_many(
            {"state": "delivering", "claimNode": node},
            {"$set": {"state": "pending", "dueAt": now}},
        )
        return result.modified_count

    async def count(self, state: State) -> int:
        return await self._c.count_documents({"state": state})

    async def prune_delivered(self, before: datetime) -> int:
        result = await self._c.delete_many({"state": "delivered", "dueAt": {"$lt": before}})
        return result.deleted_count

    async def get(self, delivery_id: str) -> Doc | None:
        return await self._c.find_one({"_id": delivery_id})

    # --- messages stored with their webhooks pending ---------------------------------

    async def hooked_messages(self, limit: int) -> list[Doc]:
        projection = {"_id": 1, "groupId": 1, "seq": 1, "senderId": 1, "type": 1}
        projection |= {"createdAt": 1, "mentions": 1, "replyTo": 1, "isDeleted": 1}
        cursor = self._messages.find({"hook": 1}, projection).limit(limit)
        return [d async for d in cursor]

    async def unhook(self, message_ids: list[ObjectId]) -> None:
        if message_ids:
            await self._messages.update_many(
                {"_id": {"$in": message_ids}}, {"$unset": {"hook": ""}}
            )

    async def message(self, message_id: ObjectId) -> dict[str, Any] | None:
        return await self._messages.find_one({"_id": message_id})
