"""Threads in the `messages` collection: a parent's counters and its replies."""

from __future__ import annotations

import asyncio
from datetime import datetime

from bson import ObjectId
from pymongo import ASCENDING, ReturnDocument

from safechat.models.message import StoredMessage
from safechat.repositories.db import Database, Doc


class ThreadRepository:
    def __init__(self, db: Database) -> None:
        self._durable = db.collection("messages", durable=True)
        self._c = db.collection("messages")

    async def count_replies(
        self, replies: dict[ObjectId, tuple[int, datetime]]
    ) -> dict[ObjectId, tuple[int, datetime]]:
        """Adds `n` replies at `at` to each parent: one atomic update per parent,
        all at once, so concurrent batches (on any node) add up exactly. Returns each
        parent's counters after its update (parents gone meanwhile are left out).

        `updatedAt` moves too, so a reconnecting client's `sync` brings the new count."""

        async def one(parent: ObjectId, n: int, at: datetime) -> tuple[ObjectId, Doc | None]:
            doc = await self._durable.find_one_and_update(
                {"_id": parent},
                {"$inc": {"replyCount": n}, "$max": {"lastReplyAt": at, "updatedAt": at}},
                projection={"replyCount": 1, "lastReplyAt": 1},
                return_document=ReturnDocument.AFTER,
            )
            return parent, doc

        done = await asyncio.gather(*(one(p, n, at) for p, (n, at) in replies.items()))
        return {
            parent: (int(doc["replyCount"]), doc["lastReplyAt"])
            for parent, doc in done
            if doc is not None
        }

    async def replies(self, parent: ObjectId, after_seq: int, limit: int) -> list[StoredMessage]:
        """The oldest `limit` replies after `after_seq`, oldest first. Exactly the
        (replyTo, seq) index's shape; a thread is as long as its replyCount."""
        cursor = (
            self._c.find({"replyTo": parent, "seq": {"$gt": after_seq}})
            .sort("seq", ASCENDING)
            .limit(limit)
        )
        return [StoredMessage.from_doc(d) async for d in cursor]
