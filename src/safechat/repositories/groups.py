"""The `groups` collection: membership lives inside the group document."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument, UpdateOne

from safechat.models.group import Group, Role
from safechat.repositories.db import Database, Doc

ACTIVE = {"isActive": True}
# `lastSeq` updates per background command (~2 ms each on the embedded database).
SEQ_CHUNK = 8


class GroupRepository:
    def __init__(self, db: Database) -> None:
        self._c = db.collection("groups")
        self._durable = db.collection("groups", durable=True)
        self._seq_writes = db.collection("groups", durable=True, writes=True)
        self._turns = db.turns
        self._writes = db.group_writes

    async def insert(self, doc: Doc) -> Group:
        await self._c.insert_one(doc)
        return self._writes.group(doc)

    async def get(self, group_id: ObjectId) -> Group | None:
        doc = await self._c.find_one({"_id": group_id, **ACTIVE})
        return self._writes.group(doc) if doc else None

    async def ai_enabled_ids(self, group_ids: set[ObjectId]) -> set[ObjectId]:
        """Those of the active groups that allow AI (one query for a batch)."""
        cursor = self._c.find(
            {"_id": {"$in": list(group_ids)}, **ACTIVE, "aiEnabled": {"$ne": False}},
            {"_id": 1},
        )
        return {doc["_id"] async for doc in cursor}

    async def for_member(self, user_id: str) -> list[Group]:
        cursor = self._c.find({"members.userId": user_id, **ACTIVE}).sort("_id", 1)
        return [self._writes.group(d) async for d in cursor]

    async def ids_for_member(self, user_id: str) -> list[str]:
        cursor = self._c.find({"members.userId": user_id, **ACTIVE}, {"_id": 1})
        return [str(d["_id"]) async for d in cursor]

    async def discover(self, limit: int, cursor: ObjectId | None, q: str | None) -> list[Group]:
        query: Doc = {"isPrivate": False, **ACTIVE}
        if cursor is not None:
            query["_id"] = {"$lt": cursor}
        docs = self._c.find(query).sort("_id", -1)
        found: list[Group] = []
        needle = q.casefold() if q else None
        # Name filtering in Python keeps regex (and its injection risks) out of queries.
        async for d in docs:
            if d.get("type") == "direct":  # private anyway; never listed (§8)
                continue
            if needle is None or needle in str(d.get("name", "")).casefold():
                found.append(self._writes.group(d))
                if len(found) >= limit:
                    break
        return found

    async def update_fields(self, group_id: ObjectId, fields: Doc) -> Group | None:
        with self._writes.changing(group_id):
            doc = await self._c.find_one_and_update(
                {"_id": group_id, **ACTIVE},
                {"$set": fields},
                return_document=ReturnDocument.AFTER,
            )
        return self._writes.group(doc) if doc else None

    async def add_member(
        self, group_id: ObjectId, user_id: str, role: Role, now: datetime
    ) -> Group | None:
        """Adds atomically; None when the group is gone or the user is already in."""
        with self._writes.changing(group_id):
            doc = await self._c.find_one_and_update(
                # A banned user is refused by the same atomic step (services/groups/bans.py).
                {
                    "_id": group_id,
                    **ACTIVE,
                    "members.userId": {"$ne": user_id},
                    "bannedIds": {"$ne": user_id},
                },
                {
                    "$push": {"members": {"userId": user_id, "role": role.value, "joinedAt": now}},
                    "$set": {"updatedAt": now},
                },
                return_document=ReturnDocument.AFTER,
            )
        return self._writes.group(doc) if doc else None

    async def remove_member(self, group_id: ObjectId, user_id: str, now: datetime) -> Group | None:
        """Removes a non-owner; the owner can only leave after a transfer."""
        with self._writes.changing(group_id):
            doc = await self._c.find_one_and_update(
                {"_id": group_id, **ACTIVE, "ownerId": {"$ne": user_id}, "members.userId": user_id},
                {"$pull": {"members": {"userId": user_id}}, "$set": {"updatedAt": now}},
                return_document=ReturnDocument.AFTER,
            )
        return self._writes.group(doc) if doc else None

    async def retire_direct(self, group_id: ObjectId, user_id: str, now: datetime) -> Group | None:
        """An erased account leaves a direct conversation: the other person keeps it, and
        it stops being the pair's (`pairKey` goes), so a new one can be opened later."""
        with self._writes.changing(group_id):
            doc = await self._c.find_one_and_update(
                {"_id": group_id, **ACTIVE, "type": "direct", "members.userId": user_id},
                {
                    "$pull": {"members": {"userId": user_id}, "sendBlocked": user_id},
                    "$unset": {"pairKey": ""},
                    "$set": {"updatedAt": now},
                },
                return_document=ReturnDocument.AFTER,
            )
        return self._writes.group(doc) if doc else None

    async def set_role(
        self, group_id: ObjectId, user_id: str, role: Role, now: datetime
    ) -> Group | None:
        doc = await self._c.find_one_and_update(
            {
                "_id": group_id,
                **ACTIVE,
                "ownerId": {"$ne": user_id},
                "members.userId": user_id,
            },
            # arrayFilters, not the positional `$`: SecantusDB's findAndModify lacks the latter.
            {"$set": {"members.$[m].role": role.value, "updatedAt": now}},
            array_filters=[{"m.userId": user_id}],
            return_document=ReturnDocument.AFTER,
        )
        return self._writes.group(doc) if doc else None

    async def transfer_ownership(
        self, group_id: ObjectId, old_owner: str, new_owner: str, now: datetime
    ) -> Group | None:
        """One atomic update, so the group never has zero or two owners."""
        doc = await self._c.find_one_and_update(
            {"_id": group_id, **ACTIVE, "ownerId": old_owner, "members.userId": new_owner},
            {
                "$set": {
                    "ownerId": new_owner,
                    "members.$[new].role": Role.OWNER.value,
                    "members.$[old].role": Role.ADMIN.value,
                    "updatedAt": now,
                }
            },
            array_filters=[{"new.userId": new_owner}, {"old.userId": old_owner}],
            return_document=ReturnDocument.AFTER,
        )
        return self._writes.group(doc) if doc else None

    async def soft_delete(self, group_id: ObjectId, now: datetime) -> Group | None:
        with self._writes.changing(group_id):
            doc = await self._c.find_one_and_update(
                {"_id": group_id, **ACTIVE},
                {"$set": {"isActive": False, "deletedAt": now, "updatedAt": now}},
                return_document=ReturnDocument.BEFORE,
            )
        return self._writes.group(doc) if doc else None

    async def reserve_seqs(
        self, group_id: ObjectId, count: int, now: datetime, *, members: Sequence[str] = ()
    ) -> int | None:
        """Atomically take `count` sequence numbers; returns the last one taken.

        With `members`, only while every one of them is still a member: the membership
        check and the reservation are one atomic step, so a member removed meanwhile
        (on any node) cannot slip a message in. None when the group is gone or someone
        in `members` is not in it.
        """
        doc = await self._durable.find_one_and_update(
            {"_id": group_id, **ACTIVE, **_all_members(members)},
            {"$inc": {"lastSeq": count}, "$set": {"lastMessageAt": now}},
            projection={"lastSeq": 1},
            return_document=ReturnDocument.AFTER,
        )
        return int(doc["lastSeq"]) if doc else None

    async def advance_seqs(self, seqs: dict[ObjectId, tuple[int, datetime]]) -> None:
        """Moves each group's `lastSeq` up (never down) in one round trip: what the local
        seq allocator handed out in memory."""
        ops = [
            UpdateOne({"_id": gid}, {"$max": {"lastSeq": seq, "lastMessageAt": at}})
            for gid, (seq, at) in seqs.items()
        ]
        # In short commands, like the other background writes (read_state.py).
        for start in range(0, len(ops), SEQ_CHUNK):
            await self._turns.background()
            await self._seq_writes.bulk_write(ops[start : start + SEQ_CHUNK], ordered=False)

    async def has_members(self, group_id: ObjectId, members: Sequence[str]) -> bool:
        """True when the group is active and every one of `members` is in it."""
        doc = await self._c.find_one(
            {"_id": group_id, **ACTIVE, **_all_members(members)}, {"_id": 1}
        )
        return doc is not None

    async def last_seqs(self, group_ids: list[ObjectId]) -> dict[str, int]:
        cursor = self._c.find({"_id": {"$in": group_ids}}, {"lastSeq": 1})
        return {
            str(d["_id"]): self._writes.last_seq(d["_id"], int(d.get("lastSeq", 0)))
            async for d in cursor
        }


def _all_members(user_ids: Sequence[str]) -> Doc:
    """Every one of `user_ids` is a member allowed to send (not in `sendBlocked`, which
    only a direct conversation with a block has): the send path's check, in its write."""
    # $and of equalities rather than $all: SecantusDB's $all misses dotted array paths.
    if not user_ids:
        return {}
    senders = {"sendBlocked": {"$nin": list(user_ids)}}
    if len(user_ids) == 1:
        return {"members.userId": user_ids[0], **senders}
    return {"$and": [{"members.userId": u} for u in user_ids], **senders}


def new_group_doc(
    name: str,
    description: str | None,
    is_private: bool,
    owner_id: str,
    member_ids: list[str],
    now: datetime,
) -> dict[str, Any]:
    members = [{"userId": owner_id, "role": Role.OWNER.value, "joinedAt": now}]
    members += [
        {"userId": uid, "role": Role.MEMBER.value, "joinedAt": now}
        for uid in dict.fromkeys(member_ids)
        if uid != owner_id
    ]
    return {
        "_id": ObjectId(),
        "name": name,
        "description": description,
        "isPrivate": is_private,
        "isActive": True,
        "ownerId": owner_id,
        "members": members,
        "lastSeq": 0,
        "createdAt": now,
        "updatedAt": now,
    }
