"""Reads the old Node service's MongoDB (users, groups, messages); never writes to it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

Doc = dict[str, Any]


class NodeMongoSource:
    def __init__(self, db: AsyncDatabase[Doc], batch: int) -> None:
        self._db = db
        self._batch = batch
        self.name = db.name

    async def count(self, collection: str) -> int:
        return await self._db[collection].count_documents({})

    async def users(self) -> AsyncIterator[Doc]:
        async for doc in self._db.users.find({}).sort("_id", ASCENDING).batch_size(self._batch):
            yield doc

    async def groups(self) -> AsyncIterator[Doc]:
        async for doc in self._db.groups.find({}).sort("_id", ASCENDING).batch_size(self._batch):
            yield doc

    async def count_messages(self, group_id: ObjectId) -> int:
        return await self._db.messages.count_documents({"groupId": group_id})

    async def messages(self, group_id: ObjectId) -> AsyncIterator[Doc]:
        cursor = (
            self._db.messages.find({"groupId": group_id}, {"vectorEmbedding": 0})
            .sort([("createdAt", ASCENDING), ("_id", ASCENDING)])
            .batch_size(self._batch)
            .allow_disk_use(True)
        )
        async for doc in cursor:
            yield doc

    async def count_orphans(self, group_ids: list[ObjectId]) -> int:
        return await self._db.messages.count_documents({"groupId": {"$nin": group_ids}})


@contextlib.asynccontextmanager
async def open_node_source(
    uri: str, name: str, *, batch: int, timeout_ms: int
) -> AsyncIterator[NodeMongoSource]:
    client: AsyncMongoClient[Doc] = AsyncMongoClient(
        uri, serverSelectionTimeoutMS=timeout_ms, tz_aware=True
    )
    try:
        db = client[name]
        await db.command("ping")
        yield NodeMongoSource(db, batch)
    finally:
        await client.close()
