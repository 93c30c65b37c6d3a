"""The `messages` collection. Content is always the encrypted envelope."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError

from safechat.errors import DuplicateKey
from safechat.models.message import StoredMessage
from safechat.repositories import seq_windows
from safechat.repositories.db import Database, Doc

DUPLICATE_KEY_CODE = 11000

# How many reaction keys of a message someone is in (a `$pull` may leave an empty list).
_KEYS: Doc = {
    "$size": {
        "$filter": {
            "input": {"$objectToArray": {"$ifNull": ["$reactions", {}]}},
            "cond": {"$gt": [{"$size": "$$this.v"}, 0]},
        }
    }
}


class MessageRepository:
    def __init__(self, db: Database) -> None:
        self._c = db.collection("messages")
        self._durable = db.collection("messages", durable=True)
        self._inserts = db.collection("messages", durable=True, writes=True)
        self._turns = db.turns

    async def insert(self, message: StoredMessage) -> None:
        """Raises DuplicateKey when (senderId, clientMessageId) or (groupId, seq) exists."""
        try:
            await self._durable.insert_one(message.to_doc())
        except DuplicateKeyError as exc:
            raise DuplicateKey("message") from exc

    async def insert_batch(self, messages: list[StoredMessage]) -> dict[int, bool]:
        """One unordered durable `insert_many`; each message stands or falls alone.

        Returns the positions that were not stored, mapped to True when a unique index
        (a reused tempId) refused them. Raises when the write as a whole failed, in which
        case any of them may or may not be stored.
        """
        if not messages:
            return {}
        docs = [m.to_doc() for m in messages]
        try:
            async with self._turns.foreground():
                await self._inserts.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            if exc.details.get("writeConcernErrors"):
                raise  # written, maybe, but not durably: the batch failed as a whole
            return {
                int(err["index"]): err.get("code") == DUPLICATE_KEY_CODE
                for err in exc.details.get("writeErrors", [])
            }
        return {}

    async def get(self, message_id: ObjectId) -> StoredMessage | None:
        doc = await self._c.find_one({"_id": message_id})
        return StoredMessage.from_doc(doc) if doc else None

    async def get_many(self, ids: list[ObjectId]) -> dict[ObjectId, StoredMessage]:
        cursor = self._c.find({"_id": {"$in": ids}})
        return {d["_id"]: StoredMessage.from_doc(d) async for d in cursor}

    async def by_client_ids(
        self, keys: list[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredMessage]:
        """Messages already stored under these (senderId, clientMessageId) pairs."""
        if not keys:
            return {}
        query = {"$or": [{"senderId": s, "clientMessageId": c} for s, c in keys]}
        found: dict[tuple[str, str], StoredMessage] = {}
        async for doc in self._c.find(query):
            message = StoredMessage.from_doc(doc)
            assert message.client_message_id is not None
            found[(message.sender_id, message.client_message_id)] = message
        return found

    async def page(
        self,
        group_id: ObjectId,
        limit: int,
        *,
        last_seq: int,
        before_seq: int | None = None,
        after_seq: int | None = None,
    ) -> list[StoredMessage]:
        """Up to `limit` messages, oldest first: the newest ones before a point,
        or the oldest ones after it. `last_seq` is the group's (it sizes the seq
        windows read, see seq_windows; it does not change the result)."""
        if after_seq is not None:
            docs = await seq_windows.oldest(
                self._c, group_id, limit, after_seq=after_seq, last_seq=last_seq
            )
            return [StoredMessage.from_doc(d) for d in docs]
        docs = await seq_windows.newest(
            self._c, group_id, limit, last_seq=last_seq, before_seq=before_seq
        )
        return [StoredMessage.from_doc(d) for d in reversed(docs)]

    async def updated_since(
        self, group_id: ObjectId, max_seq: int, since: datetime, limit: int
    ) -> list[StoredMessage]:
        """Messages up to `max_seq` changed (edited, deleted, reacted) since `since`.

        Inclusive, so a change in the same millisecond is not missed; messages never
        changed after they were created are left out. The query is exactly the
        (groupId, updatedAt) index's shape and the seq bound is applied here: with a
        seq clause as well, the embedded database would read the whole group."""
        cursor = self._c.find({"groupId": group_id, "updatedAt": {"$gte": since}})
        found = [StoredMessage.from_doc(d) async for d in cursor]
        found = sorted((m for m in found if m.seq <= max_seq), key=lambda m: m.seq)[:limit]
        return [m for m in found if m.updated_at > m.created_at]

    async def scan(self, after: ObjectId | None, limit: int) -> list[StoredMessage]:
        """Every message in _id order, a page at a time (maintenance, not a hot path)."""
        query: Doc = {"_id": {"$gt": after}} if after is not None else {}
        cursor = self._c.find(query).sort("_id", ASCENDING).limit(limit)
        return [StoredMessage.from_doc(d) async for d in cursor]

    async def replace_ciphertexts(
        self, message: StoredMessage, content: Any, edit_history: list[Doc]
    ) -> bool:
        """Swap in re-encrypted content unless the message changed since it was read.

        `updatedAt` is the guard and is left as is: nothing a client sees has changed.
        """
        result = await self._durable.update_one(
            {"_id": message.id, "updatedAt": message.updated_at},
            {"$set": {"content": content, "editHistory": edit_history}},
        )
        return result.modified_count == 1

    async def by_seq(self, group_id: ObjectId, seq: int) -> StoredMessage | None:
        doc = await self._c.find_one({"groupId": group_id, "seq": seq})
        return StoredMessage.from_doc(doc) if doc else None

    async def latest(self, last_seqs: dict[ObjectId, int]) -> dict[str, StoredMessage]:
        """The newest message of each group (given with its lastSeq), concurrently."""

        async def one(gid: ObjectId, last_seq: int) -> StoredMessage | None:
            docs = await seq_windows.newest(self._c, gid, 1, last_seq=last_seq)
            return StoredMessage.from_doc(docs[0]) if docs else None

        found = await asyncio.gather(*(one(g, s) for g, s in last_seqs.items()))
        return {str(m.group_id): m for m in found if m is not None}

    async def edit(
        self,
        message_id: ObjectId,
        sender_id: str,
        new_content: Any,
        previous: Doc,
        now: datetime,
        moderation: Doc | None = None,
    ) -> StoredMessage | None:
        changes: Doc = {"content": new_content, "editedAt": now, "updatedAt": now}
        update: Doc = {"$set": changes, "$push": {"editHistory": previous}}
        if moderation is not None:
            changes["moderation"] = moderation
        else:
            update["$unset"] = {"moderation": ""}
        doc = await self._durable.find_one_and_update(
            {"_id": message_id, "senderId": sender_id, "isDeleted": False},
            update,
            return_document=ReturnDocument.AFTER,
        )
        return StoredMessage.from_doc(doc) if doc else None

    async def soft_delete(
        self, message_id: ObjectId, deleted_by: str, now: datetime
    ) -> StoredMessage | None:
        """Content and edit history are wiped, not just hidden."""
        doc = await self._durable.find_one_and_update(
            {"_id": message_id, "isDeleted": False},
            {
                "$set": {
                    "isDeleted": True,
                    "deletedAt": now,
                    "deletedBy": deleted_by,
                    "content": "",
                    "editHistory": [],
                    "reactions": {},
                    "updatedAt": now,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return StoredMessage.from_doc(doc) if doc else None

    async def toggle_reaction(
        self, message_id: ObjectId, emoji: str, user_id: str, now: datetime, max_keys: int
    ) -> tuple[str, StoredMessage | None]:
        """Adds the reaction, or removes it when the user had it. Atomic per step.

        A new key is only added while the message holds fewer than `max_keys` keys with
        someone in them: the count is part of the update's filter, so concurrent toggles
        cannot overshoot it. Returns ("added"|"removed", message), ("full", None) when the
        cap refused a new key, or ("gone", None) when the message is deleted or missing.
        """
        key = f"reactions.{emoji}"
        live: Doc = {"_id": message_id, "isDeleted": False}
        doc = await self._c.find_one_and_update(
            {
                **live,
                key: {"$ne": user_id},
                "$or": [{f"{key}.0": {"$exists": True}}, {"$expr": {"$lt": [_KEYS, max_keys]}}],
            },
            {"$addToSet": {key: user_id}, "$set": {"updatedAt": now}},
            return_document=ReturnDocument.AFTER,
        )
        if doc:
            return "added", StoredMessage.from_doc(doc)
        doc = await self._c.find_one_and_update(
            {**live, key: user_id},
            {"$pull": {key: user_id}, "$set": {"updatedAt": now}},
            return_document=ReturnDocument.AFTER,
        )
        if doc:
            if not doc.get("reactions", {}).get(emoji):
                # Nobody holds it any more: drop the key (unless someone just rejoined).
                await self._c.update_one({**live, key: {"$size": 0}}, {"$unset": {key: ""}})
            return "removed", StoredMessage.from_doc(doc)
        if await self._c.find_one(live, {"_id": 1}) is not None:
            return "full", None
        return "gone", None

    async def unread_by(
        self, group_id: ObjectId, user_id: str, ids: list[ObjectId]
    ) -> list[tuple[ObjectId, int]]:
        """(id, seq) of the given messages this user has not read yet (own ones excluded).

        `_id` comes first: the embedded database serves a filter of several clauses from
        the first one that has an index, and `groupId` alone would be the whole group."""
        query: Doc = {
            "_id": {"$in": ids},
            "groupId": group_id,
            "senderId": {"$ne": user_id},
            "readBy.userId": {"$ne": user_id},
        }
        cursor = self._c.find(query, {"_id": 1, "seq": 1})
        return [(d["_id"], int(d["seq"])) async for d in cursor]

    async def unread_between(
        self, group_id: ObjectId, user_id: str, after_seq: int, up_to_seq: int
    ) -> tuple[list[tuple[ObjectId, int]], int]:
        """(id, seq) of the messages in (after_seq, up_to_seq] this user has not read
        (own ones excluded), and the highest seq up to which every seq was present.

        One bounded seq range, filtered here: any clause besides {groupId, seq} makes the
        embedded database read the whole group."""
        if up_to_seq <= after_seq:
            return [], after_seq
        docs = await seq_windows.between(
            self._c, group_id, after_seq, up_to_seq, {"seq": 1, "senderId": 1, "readBy.userId": 1}
        )
        unread = [
            (d["_id"], int(d["seq"]))
            for d in docs
            if d.get("senderId") != user_id
            and all(r.get("userId") != user_id for r in d.get("readBy") or [])
        ]
        through = seq_windows.contiguous_through(after_seq, [int(d["seq"]) for d in docs])
        return unread, through

    async def add_reads(self, ids: list[ObjectId], user_id: str, now: datetime) -> None:
        await self._c.update_many(
            {"_id": {"$in": ids}, "readBy.userId": {"$ne": user_id}},
            {"$push": {"readBy": {"userId": user_id, "readAt": now}}},
        )

    async def max_seq(self, group_id: ObjectId, ids: list[ObjectId]) -> int:
        # `_id` first: see unread_by.
        doc = await self._c.find_one(
            {"_id": {"$in": ids}, "groupId": group_id}, {"seq": 1}, sort=[("seq", DESCENDING)]
        )
        return int(doc["seq"]) if doc else 0

    async def highest_seq_after(self, group_id: ObjectId, seq: int) -> int:
        """The highest stored seq above `seq` (0 if none): an equality and one range,
        the shape the embedded database serves from `group_seq`."""
        docs = self._c.find({"groupId": group_id, "seq": {"$gt": seq}}, {"seq": 1})
        return max([int(d["seq"]) async for d in docs], default=0)

    async def by_ids(
        self, group_id: ObjectId, ids: list[ObjectId]
    ) -> dict[ObjectId, StoredMessage]:
        """Live (not deleted) messages of one group among `ids` (AI search hits)."""
        # `_id` first: see unread_by.
        cursor = self._c.find({"_id": {"$in": ids}, "groupId": group_id, "isDeleted": False})
        return {d["_id"]: StoredMessage.from_doc(d) async for d in cursor}

    async def since(self, group_id: ObjectId, since: datetime, limit: int) -> list[StoredMessage]:
        """The newest `limit` messages created at or after `since`, oldest first.

        Walks the group's newest seqs (the `group_seq` index) and stops at the first
        message older than `since`: a group's seqs follow its creation times, so no index
        on `createdAt` is needed (each index costs every insert, docs/performance.md)."""
        cursor = (
            self._c.find({"groupId": group_id})
            .sort("seq", DESCENDING)
            .hint([("groupId", ASCENDING), ("seq", ASCENDING)])
            .limit(limit)
        )
        found: list[StoredMessage] = []
        async for doc in cursor:
            created: datetime = doc["createdAt"]
            if (created if created.tzinfo else created.replace(tzinfo=UTC)) < since:
                break
            found.append(StoredMessage.from_doc(doc))
        found.reverse()
        return found

    # --- one user's data (GET /api/me/export, DELETE /api/me) -------------------------

    async def by_sender(
        self, sender_id: str, after: ObjectId | None, limit: int
    ) -> list[StoredMessage]:
        """The sender's live messages in id order, a page at a time (senderId index)."""
        query: Doc = {"senderId": sender_id, "isDeleted": False}
        if after is not None:
            query["_id"] = {"$gt": after}
        cursor = self._c.find(query).sort("_id", ASCENDING).limit(limit)
        return [StoredMessage.from_doc(d) async for d in cursor]

    async def reactions_page(
        self, group_ids: list[ObjectId], after: ObjectId | None, limit: int
    ) -> list[Doc]:
        """Ids and reactions of the groups' live messages with any reaction, in id order."""
        query: Doc = {
            "groupId": {"$in": group_ids},
            "isDeleted": False,
            "reactions": {"$nin": [{}, None]},
        }
        if after is not None:
            query["_id"] = {"$gt": after}
        projection = {"_id": 1, "groupId": 1, "reactions": 1}
        cursor = self._c.find(query, projection).sort("_id", ASCENDING).limit(limit)
        return [d async for d in cursor]
