"""The `message_embeddings` collection: one vector per message and model.

Search is exact cosine over a group's vectors (numpy) or, with
VECTOR_SEARCH=atlas, a `$vectorSearch` stage on an Atlas vector index.
"""

from __future__ import annotations

import array
import asyncio
import importlib
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import Binary, ObjectId
from pymongo.errors import BulkWriteError

from safechat.repositories.db import Database, Doc
from safechat.repositories.messages import DUPLICATE_KEY_CODE

# Above this many vectors the matrix product leaves the event loop (below, < 1 ms).
THREAD_ABOVE = 1000
SEARCH_BATCH = 1000
# Vectors per insert command.
INSERT_CHUNK = 32


OFFLINE_PREFIX = "offline-hash-"


@dataclass(frozen=True, slots=True)
class VectorRow:
    group_id: ObjectId
    message_id: ObjectId
    sender_id: str
    vector: list[float]


def vector_index_definition(name: str, dimensions: int) -> Doc:
    """The Atlas Vector Search index `safechat doctor` expects (docs/ai.md)."""
    return {
        "name": name,
        "type": "vectorSearch",
        "definition": {
            "fields": [
                {"type": "vector", "path": "vector", "numDimensions": dimensions,
                 "similarity": "cosine"},
                {"type": "filter", "path": "groupId"},
                {"type": "filter", "path": "model"},
            ]
        },
    }  # fmt: skip


def atlas_pipeline(
    index: str, group_id: ObjectId, model: str, vector: list[float], limit: int
) -> list[Doc]:
    """`$vectorSearch` restricted to one group and one embedding model."""
    return [
        {
            "$vectorSearch": {
                "index": index,
                "path": "vector",
                "queryVector": vector,
                "numCandidates": max(100, limit * 20),
                "limit": limit,
                "filter": {"groupId": {"$eq": group_id}, "model": {"$eq": model}},
            }
        },
        {"$project": {"_id": 0, "messageId": 1, "score": {"$meta": "vectorSearchScore"}}},
    ]


def check_vector_index(indexes: list[Doc], name: str) -> tuple[bool, str]:
    """Does the listed search index `name` fit atlas_pipeline? (doctor)"""
    found = next((i for i in indexes if i.get("name") == name), None)
    if found is None:
        return False, f"vector index {name!r} missing on message_embeddings (see docs/ai.md)"
    fields = (found.get("latestDefinition") or found.get("definition") or {}).get("fields", [])
    paths = {(f.get("type"), f.get("path")) for f in fields}
    needed = {("vector", "vector"), ("filter", "groupId"), ("filter", "model")}
    if found.get("type", "vectorSearch") != "vectorSearch" or not needed <= paths:
        return False, f"vector index {name!r} lacks {sorted(needed - paths)}"
    status = found.get("status", "unknown")
    return status in ("READY", "unknown"), f"vector index {name!r} status {status}"


# numpy (~20 MiB) is imported by the functions that search, not by this module: a node
# stores vectors on every text message but may never be asked to search.


async def numpy_loaded() -> None:
    """The first search imports numpy (~85 ms) in a thread, not on the event loop."""
    if "numpy" not in sys.modules:
        await asyncio.to_thread(importlib.import_module, "numpy")


def encode_float32(vector: list[float]) -> bytes:
    """`vector` as little-endian float32 bytes, as numpy's `<f4` would write it."""
    packed = array.array("f", vector)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def top_cosine(
    ids: list[ObjectId], vectors: Any, query: list[float], limit: int
) -> list[tuple[ObjectId, float]]:
    import numpy as np

    matrix = np.asarray(vectors, dtype=np.float32)
    q = np.asarray(query, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(q) or 1.0)
    scores = (matrix @ q) / np.where(norms == 0, 1.0, norms)
    k = min(limit, len(ids))
    best = np.argpartition(-scores, k - 1)[:k]
    best = best[np.argsort(-scores[best])]
    return [(ids[i], float(scores[i])) for i in best]


def decode_vector(stored: Any) -> Any:
    """A stored vector as numbers: float32 bytes (exact mode) or an array (Atlas)."""
    import numpy as np

    if isinstance(stored, bytes):
        return np.frombuffer(stored, dtype="<f4")
    return stored


def stack(stored: list[Any]) -> Any:
    """Stored vectors as one float32 matrix; bytes are joined and read in one go."""
    import numpy as np

    if all(isinstance(v, bytes) for v in stored) and len({len(v) for v in stored}) == 1:
        return np.frombuffer(b"".join(stored), dtype="<f4").reshape(len(stored), -1)
    return np.asarray([decode_vector(v) for v in stored], dtype=np.float32)


class EmbeddingRepository:
    def __init__(self, db: Database, *, atlas_index: str | None = None) -> None:
        self._c = db.collection("message_embeddings")
        self._writes = db.collection("message_embeddings", writes=True)
        self._turns = db.turns
        self._atlas_index = atlas_index

    def _encode(self, vector: list[float]) -> Any:
        # $vectorSearch needs an array of numbers; exact search stores float32 bytes: a
        # quarter of the size of a BSON array of doubles, and far cheaper to write and read.
        if self._atlas_index is not None:
            return vector
        return Binary(encode_float32(vector))

    async def insert_many(self, rows: list[VectorRow], model: str, now: datetime) -> None:
        """Rows of new messages, in one round trip.

        Inserts, not upserts: an upsert must first find its document, which the embedded
        database does by scanning; the unique (messageId, model) index refuses repeats
        (an edit deletes the old vector first)."""
        if not rows:
            return
        docs = [
            {
                "groupId": row.group_id,
                "messageId": row.message_id,
                "senderId": row.sender_id,
                "model": model,
                "vector": self._encode(row.vector),
                "updatedAt": now,
            }
            for row in rows
        ]
        # In short commands, so that sends' inserts do not queue behind a long one on the
        # embedded database, which serves one command at a time.
        for start in range(0, len(docs), INSERT_CHUNK):
            await self._turns.background()
            try:
                await self._writes.insert_many(docs[start : start + INSERT_CHUNK], ordered=False)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if any(e.get("code") != DUPLICATE_KEY_CODE for e in errors):
                    raise

    # Deletion: a vector is derived from the message text and goes with it.

    async def delete_messages(self, message_ids: list[ObjectId]) -> int:
        if not message_ids:
            return 0
        result = await self._c.delete_many({"messageId": {"$in": message_ids}})
        return result.deleted_count

    async def delete_group(self, group_id: ObjectId) -> int:
        return (await self._c.delete_many({"groupId": group_id})).deleted_count

    async def delete_user(self, sender_id: str) -> int:
        """Every vector of the user's messages (account erasure). Unindexed: rare, and
        an index would cost every insert."""
        return (await self._c.delete_many({"senderId": sender_id})).deleted_count

    async def delete_models(self, models: list[str] | None = None) -> int:
        """Vectors of these models (all when None): retired or unsafe schemes."""
        query: Doc = {} if models is None else {"model": {"$in": models}}
        return (await self._c.delete_many(query)).deleted_count

    async def delete_stale_offline(self, current: str) -> int:
        """Offline vectors other than `current`: the unkeyed v1 scheme, or another key."""
        stale = {"$regex": f"^{OFFLINE_PREFIX}", "$ne": current}
        return (await self._c.delete_many({"model": stale})).deleted_count

    async def count(self, group_id: ObjectId) -> int:
        return await self._c.count_documents({"groupId": group_id})

    async def search(
        self, group_id: ObjectId, model: str, vector: list[float], limit: int
    ) -> list[tuple[ObjectId, float]]:
        """(messageId, cosine similarity), best first."""
        if self._atlas_index is not None:
            pipeline = atlas_pipeline(self._atlas_index, group_id, model, vector, limit)
            results = await self._c.aggregate(pipeline)
            # vectorSearchScore for cosine is (1 + cos) / 2; report the cosine.
            return [(d["messageId"], 2 * float(d["score"]) - 1) async for d in results]
        # Modest batches: each is decoded on the event loop, so a large group's vectors
        # arrive in ~1 ms slices rather than one 16 MB batch at a time.
        cursor = self._c.find(
            {"groupId": group_id, "model": model}, {"messageId": 1, "vector": 1}
        ).batch_size(SEARCH_BATCH)
        ids: list[ObjectId] = []
        stored: list[Any] = []
        async for doc in cursor:
            ids.append(doc["messageId"])
            stored.append(doc["vector"])
        if not ids:
            return []
        await numpy_loaded()
        if len(ids) > THREAD_ABOVE:
            # numpy releases the GIL: a thread is enough to keep the loop free.
            return await asyncio.to_thread(lambda: top_cosine(ids, stack(stored), vector, limit))
        return top_cosine(ids, stack(stored), vector, limit)

    async def list_search_indexes(self) -> list[Any]:
        cursor = await self._c.list_search_indexes()
        return [doc async for doc in cursor]
