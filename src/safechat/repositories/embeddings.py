"""The `message_embeddings` collection: one vector per message and model.

Search is exact cosine over a group's vectors (numpy) or, with
VECTOR_SEARCH=atlas, a `$vectorSearch` stage on an Atlas vector index.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import numpy as np
from bson import Binary, ObjectId
from pymongo.errors import BulkWriteError

from safechat.repositories.db import Database, Doc
from safechat.repositories.messages import DUPLICATE_KEY_CODE

# Above this many vectors the matrix product leaves the event loop.
THREAD_ABOVE = 2000


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


def top_cosine(
    ids: list[ObjectId], vectors: list[Any], query: list[float], limit: int
) -> list[tuple[ObjectId, float]]:
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
    if isinstance(stored, bytes):
        return np.frombuffer(stored, dtype="<f4")
    return stored


class EmbeddingRepository:
    def __init__(self, db: Database, *, atlas_index: str | None = None) -> None:
        self._c = db.collection("message_embeddings")
        self._atlas_index = atlas_index

    def _encode(self, vector: list[float]) -> Any:
        # $vectorSearch needs an array of numbers; exact search stores float32 bytes: a
        # quarter of the size of a BSON array of doubles, and far cheaper to write and read.
        if self._atlas_index is not None:
            return vector
        return Binary(np.asarray(vector, dtype="<f4").tobytes())

    async def upsert(
        self, group_id: ObjectId, message_id: ObjectId, model: str, vector: list[float],
        now: datetime,
    ) -> None:  # fmt: skip
        await self._c.update_one(
            {"messageId": message_id, "model": model},
            {"$set": {"groupId": group_id, "vector": self._encode(vector), "updatedAt": now}},
            upsert=True,
        )

    async def insert_many(
        self, rows: list[tuple[ObjectId, ObjectId, list[float]]], model: str, now: datetime
    ) -> None:
        """(groupId, messageId, vector) rows of new messages, in one round trip.

        Inserts, not upserts: an upsert must first find its document, which the embedded
        database does by scanning; the unique (messageId, model) index refuses repeats."""
        if not rows:
            return
        docs = [
            {
                "groupId": group_id,
                "messageId": message_id,
                "model": model,
                "vector": self._encode(vector),
                "updatedAt": now,
            }
            for group_id, message_id, vector in rows
        ]
        try:
            await self._c.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != DUPLICATE_KEY_CODE for e in exc.details.get("writeErrors", [])):
                raise

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
        cursor = self._c.find({"groupId": group_id, "model": model}, {"messageId": 1, "vector": 1})
        ids: list[ObjectId] = []
        vectors: list[Any] = []
        async for doc in cursor:
            ids.append(doc["messageId"])
            vectors.append(decode_vector(doc["vector"]))
        if not ids:
            return []
        if len(ids) > THREAD_ABOVE:
            return await asyncio.to_thread(top_cosine, ids, vectors, vector, limit)
        return top_cosine(ids, vectors, vector, limit)

    async def list_search_indexes(self) -> list[Any]:
        cursor = await self._c.list_search_indexes()
        return [doc async for doc in cursor]
