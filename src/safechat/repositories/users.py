"""The `users` collection."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import DuplicateKeyError

from safechat.errors import Conflict, DuplicateKey
from safechat.models.user import User
from safechat.repositories.db import Database, Doc


class UserRepository:
    def __init__(self, db: Database) -> None:
        self._c = db.collection("users")

    async def upsert(self, user_id: str, fields: Doc, now: datetime) -> User:
        """Create or refresh a user from token claims (claims win over stored values).

        Raises DuplicateKey when `fields` has a username another user holds.
        """
        try:
            doc = await self._c.find_one_and_update(
                {"clerkId": user_id},
                {
                    "$set": {**fields, "isActive": True, "lastSeen": now, "updatedAt": now},
                    "$setOnInsert": {"clerkId": user_id, "createdAt": now},
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError as exc:
            raise DuplicateKey("username") from exc
        assert doc is not None
        return User.from_doc(doc)

    async def get(self, user_id: str) -> User | None:
        doc = await self._c.find_one({"clerkId": user_id})
        return User.from_doc(doc) if doc else None

    async def get_many(self, user_ids: Iterable[str]) -> dict[str, User]:
        ids = list(set(user_ids))
        if not ids:
            return {}
        return {
            d["clerkId"]: User.from_doc(d) async for d in self._c.find({"clerkId": {"$in": ids}})
        }

    async def existing_ids(self, user_ids: Iterable[str]) -> set[str]:
        ids = list(set(user_ids))
        cursor = self._c.find({"clerkId": {"$in": ids}}, {"clerkId": 1})
        return {d["clerkId"] async for d in cursor}

    async def update_profile(self, user_id: str, fields: Doc, now: datetime) -> User | None:
        try:
            doc = await self._c.find_one_and_update(
                {"clerkId": user_id},
                {"$set": {**fields, "updatedAt": now}},
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError as exc:
            raise Conflict("That username is taken") from exc
        return User.from_doc(doc) if doc else None

    async def touch_last_seen(self, user_id: str, now: datetime) -> None:
        await self._c.update_one({"clerkId": user_id}, {"$set": {"lastSeen": now}})

    async def seen_many(self, seen: list[tuple[str, datetime]]) -> None:
        """Several users' last sight, in one round trip; never moves one back."""
        if seen:
            await self._c.bulk_write(
                [UpdateOne({"clerkId": u}, {"$max": {"lastSeen": at}}) for u, at in seen],
                ordered=False,
            )
