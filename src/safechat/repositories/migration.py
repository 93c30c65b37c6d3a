"""SafeChat's collections as `safechat migrate-from-node` writes them.

Every write is keyed by the source's ids and idempotent; with `dry_run` nothing is
written and each write answers what it would have done (from reads only)."""

from __future__ import annotations

from typing import Any, Literal

from bson import ObjectId
from pymongo import ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from safechat.repositories.db import Database, Doc
from safechat.repositories.messages import DUPLICATE_KEY_CODE
from safechat.repositories.users import search_keys

UserOutcome = Literal["inserted", "already_present", "username_dropped"]
GroupOutcome = Literal["inserted", "updated", "unchanged"]


class MigrationTarget:
    def __init__(self, db: Database, *, dry_run: bool = False) -> None:
        self._users = db.collection("users", durable=True)
        self._groups = db.collection("groups", durable=True)
        self._messages = db.collection("messages", durable=True)
        self._media = db.collection("media", durable=True)
        self._reads = db.collection("read_state", durable=True)
        self._dry = dry_run

    async def put_users(self, docs: list[Doc]) -> list[UserOutcome]:
        """Inserted when new; a user already there (signed in to SafeChat, or migrated
        before) is left as it is. A username another user holds is dropped."""
        if not docs:
            return []
        found = {
            d["clerkId"]
            async for d in self._users.find(
                {"clerkId": {"$in": [d["clerkId"] for d in docs]}}, {"clerkId": 1}
            )
        }
        outcomes: list[UserOutcome] = [
            "already_present" if d["clerkId"] in found else "inserted" for d in docs
        ]
        new = [d for d in docs if d["clerkId"] not in found]
        if self._dry or not new:
            return outcomes
        try:
            await self._users.bulk_write([_set_on_insert(d) for d in new], ordered=False)
        except BulkWriteError as exc:
            failed = list(exc.details.get("writeErrors", []))
            if any(e.get("code") != DUPLICATE_KEY_CODE for e in failed):
                raise
            for e in failed:
                doc = new[int(e["index"])]
                outcomes[docs.index(doc)] = await self._retry_user(doc)
        return outcomes

    async def _retry_user(self, doc: Doc) -> UserOutcome:
        """A duplicate: this clerkId arrived meanwhile, or the username is taken."""
        if await self._users.find_one({"clerkId": doc["clerkId"]}, {"_id": 1}):
            return "already_present"
        rest = {k: v for k, v in doc.items() if k != "username"}
        rest["searchKeys"] = search_keys(rest)  # without the username it no longer has
        try:
            await self._users.bulk_write([_set_on_insert(rest)])
        except (BulkWriteError, DuplicateKeyError):
            rest.pop("_id", None)  # the id is another user's: SafeChat keys users by clerkId
            await self._users.bulk_write([_set_on_insert(rest)])
        return "username_dropped"

    async def group_state(self, group_id: ObjectId) -> tuple[int | None, dict[ObjectId, int]]:
        group = await self._groups.find_one({"_id": group_id}, {"lastSeq": 1})
        cursor = self._messages.find({"groupId": group_id}, {"_id": 1, "seq": 1})
        seqs = {d["_id"]: int(d["seq"]) async for d in cursor}
        return (int(group.get("lastSeq", 0)) if group else None), seqs

    async def put_media(self, docs: list[Doc]) -> None:
        if docs and not self._dry:
            await self._media.bulk_write(
                [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in docs], ordered=False
            )

    async def insert_messages(self, docs: list[Doc]) -> int:
        if not docs or self._dry:
            return 0
        try:
            await self._messages.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if exc.details.get("writeConcernErrors") or any(
                e.get("code") != DUPLICATE_KEY_CODE for e in errors
            ):
                raise
            return len(errors)
        return 0

    async def put_read_marks(self, group_id: ObjectId, marks: dict[str, Doc]) -> None:
        """Moved forward only ($max): marks a user made on SafeChat since stay."""
        if not marks or self._dry:
            return
        await self._reads.bulk_write(
            [
                UpdateOne({"groupId": group_id, "userId": uid}, {"$max": mark}, upsert=True)
                for uid, mark in marks.items()
            ],
            ordered=False,
        )

    async def put_group(self, doc: Doc) -> GroupOutcome:
        stored = await self._groups.find_one({"_id": doc["_id"]})
        if stored is not None and _same(stored, doc):
            return "unchanged"
        if not self._dry:
            await self._groups.replace_one({"_id": doc["_id"]}, doc, upsert=True)
        return "inserted" if stored is None else "updated"


def _set_on_insert(doc: Doc) -> UpdateOne:
    return UpdateOne({"clerkId": doc["clerkId"]}, {"$setOnInsert": doc}, upsert=True)


def _same(stored: Doc, doc: Doc) -> bool:
    return bool(_plain(stored) == _plain(doc))


def _plain(doc: Any) -> Any:
    """Stored datetimes come back rounded to milliseconds: compare at that precision."""
    from datetime import datetime

    if isinstance(doc, dict):
        return {k: _plain(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_plain(v) for v in doc]
    if isinstance(doc, datetime):
        return doc.replace(microsecond=doc.microsecond // 1000 * 1000)
    return doc
