"""The database handle and the indexes every collection needs."""

from __future__ import annotations

from typing import Any

import pymongo
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel, WriteConcern
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from safechat.repositories.group_writes import GroupWrites
from safechat.repositories.write_turns import WriteTurns

Doc = dict[str, Any]

# An acknowledged message must survive a crash: journaled, majority writes.
DURABLE = WriteConcern(w="majority", j=True)

INDEXES: dict[str, list[IndexModel]] = {
    "users": [
        IndexModel([("clerkId", ASCENDING)], unique=True, name="clerkId_unique"),
        IndexModel(
            [("username", ASCENDING)],
            unique=True,
            name="username_unique",
            partialFilterExpression={"username": {"$type": "string"}},
        ),
        # The directory's prefix search: lowercased names, a range query on this index
        # (repositories/directory.py).
        IndexModel([("searchKeys", ASCENDING)], name="search_keys"),
    ],
    "groups": [
        IndexModel([("members.userId", ASCENDING), ("isActive", ASCENDING)], name="members"),
        IndexModel(
            [("isPrivate", ASCENDING), ("isActive", ASCENDING), ("_id", DESCENDING)],
            name="discover",
        ),
        # One direct conversation per pair: "<min>:<max>" of the two user ids. Sparse, not
        # partial: SecantusDB answers lookups from a sparse index but scans for a partial one.
        IndexModel([("pairKey", ASCENDING)], unique=True, sparse=True, name="direct_pair"),
    ],
    "messages": [
        IndexModel([("groupId", ASCENDING), ("seq", ASCENDING)], unique=True, name="group_seq"),
        IndexModel(
            [("senderId", ASCENDING), ("clientMessageId", ASCENDING)],
            unique=True,
            name="sender_client_id",
            partialFilterExpression={"clientMessageId": {"$type": "string"}},
        ),
        IndexModel([("groupId", ASCENDING), ("updatedAt", ASCENDING)], name="group_updated"),
        # Media: an upload belongs to one message at most.
        IndexModel(
            [("media.mediaId", ASCENDING)],
            unique=True,
            name="media_id_unique",
            partialFilterExpression={"media.mediaId": {"$type": "string"}},
        ),
        # Threads: a parent's replies in seq order. Not partial: the embedded database
        # cannot use a partial index.
        IndexModel([("replyTo", ASCENDING), ("seq", ASCENDING)], name="reply_to_seq"),
    ],
    "read_state": [
        IndexModel([("groupId", ASCENDING), ("userId", ASCENDING)], unique=True, name="group_user"),
        IndexModel([("userId", ASCENDING)], name="user"),
    ],
    "sessions": [
        IndexModel([("sessionId", ASCENDING)], unique=True, name="session_id"),
        IndexModel([("userId", ASCENDING), ("endedAt", ASCENDING)], name="user_live"),
    ],
    # AI (docs/ai.md)
    "message_embeddings": [
        IndexModel(
            [("messageId", ASCENDING), ("model", ASCENDING)], unique=True, name="message_model"
        ),
        IndexModel([("groupId", ASCENDING), ("model", ASCENDING)], name="group_model"),
    ],
    "ai_feedback": [
        IndexModel([("groupId", ASCENDING), ("createdAt", DESCENDING)], name="group_at"),
    ],
    # Media: the orphan sweep reads by (status, createdAt).
    "media": [
        IndexModel([("status", ASCENDING), ("createdAt", ASCENDING)], name="status_created"),
        IndexModel([("ownerId", ASCENDING), ("createdAt", ASCENDING)], name="owner_created"),
    ],
    # Mentions: a user's, newest first (GET /api/me/mentions).
    "mentions": [
        IndexModel([("userId", ASCENDING), ("messageId", DESCENDING)], name="user_message"),
    ],
    "blocks": [
        IndexModel([("blockerId", ASCENDING), ("blockedId", ASCENDING)], unique=True, name="pair"),
        IndexModel([("blockedId", ASCENDING)], name="blocked"),
    ],
    "group_bans": [
        IndexModel([("groupId", ASCENDING), ("userId", ASCENDING)], unique=True, name="group_user"),
    ],
    "audit_events": [
        IndexModel([("groupId", ASCENDING), ("at", DESCENDING)], name="group_at"),
        IndexModel([("actorId", ASCENDING), ("at", DESCENDING)], name="actor_at"),
    ],
}


# Indexes earlier versions created that no query needs any more: each costs every write
# (docs/performance.md), so startup drops them.
OBSOLETE_INDEXES: dict[str, list[str]] = {"messages": ["group_created"]}


class Database:
    """Owns the client; repositories take collections from it."""

    def __init__(
        self,
        client: AsyncMongoClient[Doc],
        name: str,
        *,
        writer: AsyncMongoClient[Doc] | None = None,
    ) -> None:
        """`writer`: a second client for the bulk of the writes (see `collection`)."""
        self.client = client
        self.writer = writer
        self.db: AsyncDatabase[Doc] = client[name]
        self._writes: AsyncDatabase[Doc] = (writer or client)[name]
        # This node's writes to group documents, for the caches of membership.
        self.group_writes = GroupWrites()
        # Sends' inserts before background writes on the writer's one connection.
        self.turns = WriteTurns(enabled=writer is not None)

    def collection(
        self, name: str, *, durable: bool = False, writes: bool = False
    ) -> AsyncCollection[Doc]:
        """`writes`: the send path's inserts and the write-behind, through the writer client
        when there is one (the embedded database: one connection, so those commands reach
        it one at a time, docs/performance.md); reads keep the shared pool."""
        coll = (self._writes if writes else self.db)[name]
        return coll.with_options(write_concern=DURABLE) if durable else coll

    async def ensure_indexes(self) -> None:
        """Idempotent: creating an existing identical index is a no-op.

        Without the per-operation deadline (0 = none): building a new index on a large
        collection at startup may take longer than any request should. The ping first,
        with the deadline: a database that is not there fails here instead of waiting
        without end."""
        await self.ping()
        with pymongo.timeout(0):
            for name, models in INDEXES.items():
                await self.db[name].create_indexes(models)
            for name, obsolete in OBSOLETE_INDEXES.items():
                present = {i["name"] async for i in await self.db[name].list_indexes()}
                for index in set(obsolete) & present:
                    await self.db[name].drop_index(index)

    async def ping(self) -> None:
        await self.db.command("ping")

    async def close(self) -> None:
        if self.writer is not None:
            await self.writer.close()
        await self.client.close()
