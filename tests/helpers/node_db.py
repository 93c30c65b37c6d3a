"""A database in the old Node service's shape, and what SafeChat must show after migrating it.

The generator writes users, groups and messages as that service did: text content in its
legacy envelope (AES-128-CBC), a few plain and a few corrupt ones, deleted ones, media
messages (in SafeChat's bucket and elsewhere), readBy receipts, groups whose creator left,
an inactive group, a group whose members are listed by the user documents' ObjectIds, and
one message of a group that no longer exists. `Expected` is computed from the generated
documents alone, independently of the migration code.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo import MongoClient

from safechat.services.encryption import legacy_encrypt

SECRET = "node-service-secret"
BUCKET = "node-media"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
USERS = ["alice", "bob", "carol", "dave", "erin", "frank"]


def uid(name: str) -> str:
    return f"user_{name}"


@dataclass
class ExpectedMessage:
    id: str
    sender: str
    type: str
    content: str  # '' when deleted (or undecryptable)
    deleted: bool
    media: str | None = None  # "s3" | "external"
    url: str | None = None


@dataclass
class ExpectedGroup:
    id: str
    name: str
    active: bool
    owner: str
    roles: dict[str, str]
    messages: list[ExpectedMessage] = field(default_factory=list)
    unread: dict[str, int] = field(default_factory=dict)


@dataclass
class Expected:
    groups: dict[str, ExpectedGroup]
    total_messages: int  # in the source, the orphan included
    undecryptable: int
    plain: int
    deleted: int


@dataclass
class _Spec:
    name: str
    creator: str
    members: list[tuple[str, str, int]]  # (user, role, joined minutes after T0)
    messages: int
    active: bool = True
    by_object_id: bool = False


SPECS = [
    _Spec(
        "general",
        "alice",
        [("alice", "admin", 0), ("bob", "member", 1), ("carol", "member", 2), ("dave", "admin", 3)],
        1100,
    ),
    # The creator (frank) left: the earliest admin (dave) becomes owner, carol stays admin.
    _Spec(
        "creator left",
        "frank",
        [("bob", "member", 1), ("carol", "admin", 5), ("dave", "admin", 3)],
        600,
    ),
    # The creator left and there is no admin: the earliest member (carol) becomes owner.
    _Spec("no admins", "frank", [("erin", "member", 9), ("carol", "member", 4)], 250),
    _Spec("archived", "alice", [("alice", "admin", 0), ("bob", "member", 0)], 40, active=False),
    _Spec(
        "by object id",
        "erin",
        [("erin", "admin", 0), ("alice", "member", 2)],
        60,
        by_object_id=True,
    ),
]


def build(uri: str, db_name: str, seed: int = 14) -> Expected:
    rnd = random.Random(seed)
    client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
    db = client[db_name]
    user_oids = {name: ObjectId() for name in USERS}
    db.users.insert_many(
        [
            {
                "_id": user_oids[name],
                "clerkId": uid(name),
                "email": f"{name}@example.com",
                "firstName": name.title(),
                "lastName": "Node",
                "username": name,
                "isActive": True,
                "lastSeen": T0,
                "createdAt": T0,
                "updatedAt": T0,
            }
            for name in USERS
        ]
    )
    groups: dict[str, ExpectedGroup] = {}
    counts = {"undecryptable": 0, "plain": 0, "deleted": 0}
    total = 0
    for spec in SPECS:
        gid = ObjectId()
        ref = (lambda n: user_oids[n]) if spec.by_object_id else uid
        db.groups.insert_one(
            {
                "_id": gid,
                "name": spec.name,
                "description": f"the {spec.name} group",
                "isActive": spec.active,
                "members": [
                    {"userId": ref(n), "role": r, "joinedAt": T0 + timedelta(minutes=m)}
                    for n, r, m in spec.members
                ],
                "createdBy": ref(spec.creator),
                "createdAt": T0,
                "updatedAt": T0,
            }
        )
        docs, group = _messages(rnd, spec, gid, ref, counts)
        groups[spec.name] = group
        # Inserted shuffled: the order must come from createdAt (then _id), not from storage.
        rnd.shuffle(docs)
        db.messages.insert_many(docs)
        total += len(docs)
    db.messages.insert_one(
        {
            "_id": ObjectId(),
            "groupId": ObjectId(),  # its group is gone
            "senderId": uid("bob"),
            "content": "orphan",
            "type": "text",
            "isDeleted": False,
            "readBy": [],
            "createdAt": T0,
            "updatedAt": T0,
        }
    )
    db.sessions.insert_one({"userId": uid("bob"), "socketId": "abc"})  # not migrated
    client.close()
    return Expected(groups, total + 1, counts["undecryptable"], counts["plain"], counts["deleted"])


def _messages(
    rnd: random.Random, spec: _Spec, gid: ObjectId, ref: Any, counts: dict[str, int]
) -> tuple[list[dict[str, Any]], ExpectedGroup]:
    members = [n for n, _, _ in spec.members]
    senders = members + ([spec.creator] if spec.creator not in members else [])
    owner = _owner(spec)
    roles = {n: ("owner" if n == owner else r) for n, r, _ in spec.members}
    group = ExpectedGroup(str(gid), spec.name, spec.active, uid(owner), {})
    group.roles = {uid(n): r for n, r in roles.items()}
    # How far each member has read (a fraction of the history), plus a few reads beyond.
    read_upto = {n: rnd.choice([1.0, 0.9, 0.5, 0.0]) for n in members}
    planned = []
    for i in range(spec.messages):
        # Minutes with several messages in the same millisecond: ties go by _id.
        at = T0 + timedelta(minutes=10 + i // 3)
        planned.append((at, ObjectId(), i))
    planned.sort(key=lambda p: (p[0], p[1]))
    docs = []
    last_seen: dict[str, int] = {}
    n = len(planned)
    for seq, (at, oid, i) in enumerate(planned, start=1):
        sender = senders[i % len(senders)]
        text = f"{spec.name} #{seq} from {sender} ✓"
        doc: dict[str, Any] = {
            "_id": oid,
            "groupId": gid,
            "senderId": ref(sender),
            "type": "text",
            "isDeleted": False,
            "aiModerated": True,
            "vectorEmbedding": [0.1, 0.2, 0.3],
            "createdAt": at,
            "updatedAt": at + timedelta(hours=1),
        }
        expected = ExpectedMessage(str(oid), uid(sender), "text", text, False)
        if seq % 53 == 11:
            doc["content"] = legacy_encrypt(text, str(gid), SECRET)
            doc["isDeleted"] = True
            expected.content, expected.deleted = "", True
            counts["deleted"] += 1
        elif seq % 97 == 5:
            doc["content"] = text  # the old service stored plain text when encryption failed
            counts["plain"] += 1
        elif seq % 331 == 7:
            # Corrupt: truncated ciphertext, or a wrong key.
            bad = json.loads(legacy_encrypt(text, str(gid), "another secret"))
            if seq % 2:
                bad["encrypted"] = bad["encrypted"][:-6]
            doc["content"] = json.dumps(bad)
            expected.content, expected.deleted = "", True
            counts["undecryptable"] += 1
        elif seq % 89 == 3:
            _media(doc, expected, seq, rnd)
        else:
            doc["content"] = legacy_encrypt(text, str(gid), SECRET)
        readers = []
        for member in members:
            if member == sender:
                continue
            if seq <= read_upto[member] * n or rnd.random() < 0.002:
                readers.append({"userId": ref(member), "readAt": at + timedelta(minutes=30)})
                last_seen[member] = seq
        doc["readBy"] = readers
        if sender in members:
            last_seen[sender] = max(last_seen.get(sender, 0), seq)
        docs.append(doc)
        group.messages.append(expected)
    group.unread = {uid(m): n - last_seen.get(m, 0) for m in members}
    return docs, group


def _media(doc: dict[str, Any], expected: ExpectedMessage, seq: int, rnd: random.Random) -> None:
    caption = f"photo {seq}"
    in_bucket = rnd.random() < 0.5
    name = f"p{seq}.jpg"
    url = (
        f"https://{BUCKET}.s3.eu-west-1.amazonaws.com/uploads/{name}"
        if in_bucket
        else f"https://cdn.example.com/files/{name}"
    )
    doc.update(
        type="image",
        content=json.dumps({"caption": caption, "filename": name, "size": 1234}),
        mediaUrl=url,
        mediaMetadata={"filename": name, "originalFilename": name, "size": 1234, "width": 64},
    )
    expected.type, expected.content = "image", caption
    expected.media = "s3" if in_bucket else "external"
    expected.url = None if in_bucket else url


def _owner(spec: _Spec) -> str:
    names = [n for n, _, _ in spec.members]
    if spec.creator in names:
        return spec.creator
    admins = sorted((m, n) for n, r, m in spec.members if r == "admin")
    if admins:
        return admins[0][1]
    return sorted((m, n) for n, _, m in spec.members)[0][1]
