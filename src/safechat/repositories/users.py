"""The `users` collection."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import DuplicateKeyError

from safechat.errors import Conflict, DuplicateKey
from safechat.models.user import User
from safechat.repositories.db import Database, Doc

# Bounds the work of one search whatever the exclusions (pages of limit + excluded + 1).
SEARCH_PAGES = 3
SEARCH_FIELDS = {
    "clerkId": 1,
    "firstName": 1,
    "lastName": 1,
    "username": 1,
    "profileImageUrl": 1,
    "isActive": 1,
}


def search_keys(doc: Doc) -> list[str]:
    """Lowercased username, first name, last name and "first last", each a prefix key."""
    first, last = doc.get("firstName"), doc.get("lastName")
    parts = [doc.get("username"), first, last, f"{first} {last}" if first and last else None]
    return sorted({p.casefold() for p in parts if isinstance(p, str) and p.strip()})


def search_filter(prefix: str) -> Doc:
    """Keys in [prefix, prefix with its last character's successor): a range the index
    bounds on both sides (an anchored regex is scanned by SecantusDB)."""
    after = ord(prefix[-1]) + 1
    if 0xD800 <= after <= 0xDFFF:  # surrogates are not text: the next character is E000
        after = 0xE000
    upper = prefix[:-1] + chr(after) if after <= 0x10FFFF else prefix + "\U0010ffff"
    return {"searchKeys": {"$gte": prefix, "$lt": upper}}


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
        return User.from_doc(await self._keep_search_keys(doc))

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

    async def get_current(self, user_id: str) -> User | None:
        """The stored user for a sign-in's comparison, or None when the document needs
        the sign-in's write anyway: missing, or its directory keys lag its names (users
        stored before the directory existed get theirs at their next sign-in)."""
        doc = await self._c.find_one({"clerkId": user_id})
        if doc is None or doc.get("searchKeys") != search_keys(doc):
            return None
        return User.from_doc(doc)

    async def get_active(self, user_id: str) -> User | None:
        doc = await self._c.find_one({"clerkId": user_id})
        return User.from_doc(doc) if doc and doc.get("isActive", True) else None

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
        return User.from_doc(await self._keep_search_keys(doc)) if doc else None

    async def _keep_search_keys(self, doc: Doc) -> Doc:
        """The directory's keys follow the names; written only when they changed (a
        sign-in with the same claims costs nothing more)."""
        keys = search_keys(doc)
        if doc.get("searchKeys") != keys:
            await self._c.update_one({"_id": doc["_id"]}, {"$set": {"searchKeys": keys}})
            doc = {**doc, "searchKeys": keys}
        return doc

    async def search(self, prefix: str, limit: int, exclude: set[str]) -> list[User]:
        """Active users with a name key starting with `prefix` (already casefolded).

        The filter is the key range alone, so the index serves it (SecantusDB plans a scan
        for the same range with more conditions, and a hint there returns wrong rows):
        inactive and excluded users are dropped here, reading on in pages while needed."""
        found: dict[str, User] = {}
        page = limit + len(exclude) + 1
        skip = 0
        for _ in range(SEARCH_PAGES):
            cursor = self._c.find(search_filter(prefix), SEARCH_FIELDS).skip(skip).limit(page)
            docs = [d async for d in cursor]
            for d in docs:
                uid = d["clerkId"]
                if d.get("isActive", True) and uid not in exclude and uid not in found:
                    found[uid] = User.from_doc(d)
            if len(found) >= limit or len(docs) < page:
                break
            skip += page
        return list(found.values())[:limit]

    async def touch_last_seen(self, user_id: str, now: datetime) -> None:
        await self._c.update_one({"clerkId": user_id}, {"$set": {"lastSeen": now}})

    async def seen_many(self, seen: list[tuple[str, datetime]]) -> None:
        """Several users' last sight, in one round trip; never moves one back."""
        if seen:
            await self._c.bulk_write(
                [UpdateOne({"clerkId": u}, {"$max": {"lastSeen": at}}) for u, at in seen],
                ordered=False,
            )

    async def delete(self, user_id: str) -> bool:
        result = await self._c.delete_one({"clerkId": user_id})
        return result.deleted_count == 1
