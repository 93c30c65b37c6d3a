"""The migration's order and counting, on in-memory source and target."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId

from safechat.services.encryption import Encryptor, legacy_encrypt
from safechat.services.migration import migrate
from safechat.services.migration.media import Bucket

T0 = datetime(2025, 1, 1, tzinfo=UTC)
SECRET = "s"
Doc = dict[str, Any]


class Source:
    def __init__(self, users: list[Doc], groups: list[Doc], messages: list[Doc]) -> None:
        self.data = {"users": users, "groups": groups, "messages": messages}

    async def count(self, collection: str) -> int:
        return len(self.data[collection])

    async def users(self) -> AsyncIterator[Doc]:
        for d in self.data["users"]:
            yield d

    async def groups(self) -> AsyncIterator[Doc]:
        for d in self.data["groups"]:
            yield d

    async def count_messages(self, group_id: ObjectId) -> int:
        return sum(1 for m in self.data["messages"] if m.get("groupId") == group_id)

    async def messages(self, group_id: ObjectId) -> AsyncIterator[Doc]:
        mine = [m for m in self.data["messages"] if m.get("groupId") == group_id]
        for m in sorted(mine, key=lambda m: (m["createdAt"], m["_id"])):
            yield m

    async def count_orphans(self, group_ids: list[ObjectId]) -> int:
        return sum(1 for m in self.data["messages"] if m.get("groupId") not in group_ids)


class Target:
    def __init__(self) -> None:
        self.users: dict[str, Doc] = {}
        self.groups: dict[ObjectId, Doc] = {}
        self.messages: dict[ObjectId, Doc] = {}
        self.marks: dict[tuple[ObjectId, str], Doc] = {}

    async def put_users(self, docs: list[Doc]) -> list[str]:
        out = []
        for d in docs:
            out.append("already_present" if d["clerkId"] in self.users else "inserted")
            self.users.setdefault(d["clerkId"], d)
        return out

    async def group_state(self, group_id: ObjectId) -> tuple[int | None, dict[ObjectId, int]]:
        group = self.groups.get(group_id)
        seqs = {i: m["seq"] for i, m in self.messages.items() if m["groupId"] == group_id}
        return (group["lastSeq"] if group else None), seqs

    async def put_media(self, docs: list[Doc]) -> None:
        pass

    async def insert_messages(self, docs: list[Doc]) -> int:
        for d in docs:
            self.messages[d["_id"]] = d
        return 0

    async def put_read_marks(self, group_id: ObjectId, marks: dict[str, Doc]) -> None:
        self.marks.update({(group_id, u): m for u, m in marks.items()})

    async def put_group(self, doc: Doc) -> str:
        outcome = "unchanged" if self.groups.get(doc["_id"]) == doc else "inserted"
        self.groups[doc["_id"]] = doc
        return outcome


class Quiet:
    def stage(self, name: str, total: int) -> None:
        pass

    def advance(self, count: int) -> None:
        pass

    def close(self) -> None:
        pass


def message(gid: ObjectId, minute: int, sender: str | None, text: str) -> Doc:
    doc: Doc = {
        "_id": ObjectId(),
        "groupId": gid,
        "content": legacy_encrypt(text, str(gid), SECRET),
        "type": "text",
        "isDeleted": False,
        "readBy": [{"userId": "user_b", "readAt": T0}],
        "createdAt": T0 + timedelta(minutes=minute),
    }
    if sender is not None:
        doc["senderId"] = sender
    return doc


async def test_skips_are_counted_and_take_no_seq() -> None:
    gid = ObjectId()
    members = [{"userId": u, "role": "member", "joinedAt": T0} for u in ("user_a", "user_b")]
    source = Source(
        users=[{"clerkId": "user_a"}, {"clerkId": "user_b"}, {"clerkId": "user_a"}],
        groups=[{"_id": gid, "name": "g", "members": members, "createdBy": "user_a"}],
        messages=[
            message(gid, 1, "user_a", "one"),
            message(gid, 2, None, "no sender"),
            message(gid, 3, "user_b", "two"),
            message(ObjectId(), 1, "user_a", "orphan"),
        ],
    )
    enc = Encryptor.from_spec(f"k:{base64.b64encode(os.urandom(32)).decode()}", SECRET)
    target = Target()
    report = await migrate(source, target, enc, Bucket(), Quiet(), batch=1)
    assert report.get("users", "invalid") == 1  # the second user_a
    assert report.get("messages", "invalid") == 1
    assert report.get("messages", "orphaned") == 1
    assert report.skipped == 3
    stored = sorted(target.messages.values(), key=lambda m: m["seq"])
    assert [(m["seq"], enc.decrypt(m["content"], str(gid))) for m in stored] == [
        (1, "one"),
        (2, "two"),
    ]
    assert target.groups[gid]["lastSeq"] == 2
    assert target.groups[gid]["ownerId"] == "user_a"
    assert {u: m["lastReadSeq"] for (_, u), m in target.marks.items()} == {
        "user_a": 1,
        "user_b": 2,
    }

    # Used on SafeChat since: left alone, counted.
    target.groups[gid]["lastSeq"] = 3
    again = await migrate(source, target, enc, Bucket(), Quiet(), batch=1)
    assert again.get("groups", "changed_in_safechat") == 1
    assert len(target.messages) == 2
