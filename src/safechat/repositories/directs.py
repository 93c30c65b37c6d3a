"""Direct conversations: `groups` documents with `type: 'direct'` and a unique `pairKey`."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from safechat.errors import DuplicateKey
from safechat.models.group import Group, Role
from safechat.repositories.db import Database, Doc


def pair_key(a: str, b: str) -> str:
    """The same key whichever of the two asks (user ids cannot be empty)."""
    low, high = sorted((a, b))
    return f"{low}:{high}"


class DirectRepository:
    def __init__(self, db: Database) -> None:
        self._c = db.collection("groups")
        self._writes = db.group_writes

    async def by_pair(self, key: str) -> Group | None:
        doc = await self._c.find_one({"pairKey": key})
        return self._writes.group(doc) if doc else None

    async def insert(self, a: str, b: str, send_blocked: list[str], now: datetime) -> Group:
        """Creates the pair's conversation; DuplicateKey when it exists (the unique index
        decides between concurrent creators, on any node)."""
        doc: Doc = {
            "_id": ObjectId(),
            "type": "direct",
            "pairKey": pair_key(a, b),
            "name": "",
            "description": None,
            "isPrivate": True,
            "isActive": True,
            "ownerId": None,
            "members": [{"userId": u, "role": Role.MEMBER.value, "joinedAt": now} for u in (a, b)],
            "sendBlocked": send_blocked,
            "lastSeq": 0,
            "createdAt": now,
            "updatedAt": now,
        }
        try:
            await self._c.insert_one(doc)
        except DuplicateKeyError as exc:
            raise DuplicateKey("pairKey") from exc
        return self._writes.group(doc)

    async def set_send_blocked(self, key: str, user_id: str, blocked: bool) -> Group | None:
        """Adds or takes `user_id` off the pair's may-not-send list (a block or unblock)."""
        change = "$addToSet" if blocked else "$pull"
        # Found by its pair key: every group's cached membership is dropped.
        with self._writes.changing(None):
            doc = await self._c.find_one_and_update(
                {"pairKey": key},
                {change: {"sendBlocked": user_id}},
                return_document=ReturnDocument.AFTER,
            )
        return self._writes.group(doc) if doc else None
