"""The `ai_feedback` collection: ratings of AI suggestions."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId

from safechat.repositories.db import Database, Doc


class FeedbackRepository:
    def __init__(self, db: Database) -> None:
        self._c = db.collection("ai_feedback")

    async def insert(self, doc: Doc) -> None:
        await self._c.insert_one(doc)

    async def counts(
        self, group_id: ObjectId, since: datetime | None = None
    ) -> dict[str, dict[str, int]]:
        """{kind: {rating: count}} for a group."""
        match: Doc = {"groupId": group_id}
        if since is not None:
            match["createdAt"] = {"$gte": since}
        pipeline: list[Doc] = [
            {"$match": match},
            {"$group": {"_id": {"kind": "$kind", "rating": "$rating"}, "n": {"$sum": 1}}},
        ]
        out: dict[str, dict[str, int]] = {}
        async for row in await self._c.aggregate(pipeline):
            key = row["_id"]
            out.setdefault(str(key.get("kind") or "unknown"), {})[str(key["rating"])] = int(
                row["n"]
            )
        return out
